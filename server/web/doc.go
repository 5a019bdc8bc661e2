// Package web holds the browser files databoard serves from its own binary: stream.js, the client of
// the live stream (docs/streaming.md, "Using stream.js"), and the /live page (live.html, live.css,
// live.js) that plots live curves with it. Nothing is fetched from the network: no build step, no
// script, font or stylesheet from elsewhere.
//
// The files are embedded with go:embed; package server serves them (routes in server/routes.go).
// This package has no logic and imports nothing of databoard.
package web
