package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
)

//go:embed stream.js live.html live.css live.js
var files embed.FS

// Asset is one embedded file with what an HTTP answer needs.
type Asset struct {
	Body        []byte
	ContentType string
	// ETag is a strong entity tag of Body (quoted), for conditional requests.
	ETag string
}

// Content types of the assets.
const (
	TypeJavaScript = "text/javascript; charset=utf-8"
	TypeHTML       = "text/html; charset=utf-8"
	TypeCSS        = "text/css; charset=utf-8"
)

// The assets, by the name package server serves them under.
var (
	StreamJS = load("stream.js", TypeJavaScript)
	LiveHTML = load("live.html", TypeHTML)
	LiveCSS  = load("live.css", TypeCSS)
	LiveJS   = load("live.js", TypeJavaScript)
)

func load(name, contentType string) Asset {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("web: embedded file missing: " + name) // go:embed guarantees it; a build error otherwise
	}
	sum := sha256.Sum256(b)
	return Asset{Body: b, ContentType: contentType, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// LiveCSP is the Content-Security-Policy of the /live page: its own script and stylesheet only, no
// inline code, connections to its own origin (REST) and to WebSockets (the stream), no frames.
const LiveCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
