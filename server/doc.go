// Package server is databoard's HTTP API: the Fiber app with every route of the old Data Board backend
// (docs/api.md), parameter parsing, the one place where package errors become HTTP
// statuses, middleware (CORS, request id, deadlines, recover, access log, body limit) and the OpenAPI
// description. A net/http edge in front of the Fiber app serves everything on one port.
//
// Handlers stay thin: parse, call a dashboards/cache/daqbuf method, encode. Server must not reach into
// storage internals, and nothing imports server except cmd.
package server
