package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/databoard/databoard/daqbuf/curve"
)

// requestContextKey is the fasthttp user-value key under which the edge hands the net/http request's
// context to the Fiber app, so a client that goes away cancels upstream work.
const requestContextKey = "databoard.requestContext"

// edge is the net/http front of a Fiber app (docs/ARCHITECTURE.md: one port for the Fiber routes and the WebSocket
// at /stream). Unlike Fiber's adaptor it reads a request body only for the routes that take one
// (bodyRoutes), bounds it (413, never a buffered giant body), bounds the bodies held at once
// (BodyBudget), gives its reading a deadline (408: the listener's header timeout does not cover the
// body, so a client that declares 1 000 bytes and sends 12 would hold a connection and a goroutine
// forever) and passes the request context through.
//
// Any other route's body is left unread: the handler sees none, and net/http discards at most 256 KiB
// of it after the answer, then closes the connection. So 20 GET /health with 39 MB bodies cost nothing.
func (s *Server) edge(app *fiber.App) http.Handler {
	handler := app.Handler()
	limit := s.cfg.BodyLimit
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(fiber.DefaultMethods, r.Method) {
			// Fiber answers a method it does not know with a plain-text 400; no route takes one, and
			// every error here is {"detail": ...}.
			s.writeEdgeError(w, r, http.StatusMethodNotAllowed, msgMethodNotAllowed)
			return
		}
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		if r.Body != nil && r.Body != http.NoBody && s.takesBody(r.Method, r.URL.Path) {
			if r.ContentLength > limit {
				s.writeEdgeError(w, r, http.StatusRequestEntityTooLarge, msgBodyTooLarge)
				return
			}
			// The body stays in memory until the handler is done with it, so its share of the budget is
			// held until then; a body of unknown length may be up to the limit.
			share := r.ContentLength
			if share < 0 {
				share = limit
			}
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.BodyTimeout)
			err := s.bodies.Acquire(ctx, share)
			cancel()
			if err != nil {
				s.writeEdgeError(w, r, http.StatusServiceUnavailable, msgBodiesBusy)
				return
			}
			defer s.bodies.Release(share)
			n, err := s.readBody(w, r, req.BodyWriter(), limit)
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				s.writeEdgeError(w, r, http.StatusRequestEntityTooLarge, msgBodyTooLarge)
				return
			case errors.Is(err, os.ErrDeadlineExceeded):
				s.writeEdgeError(w, r, http.StatusRequestTimeout, msgBodyTimeout)
				return
			case err != nil:
				s.writeEdgeError(w, r, http.StatusBadRequest, "could not read request body: "+err.Error())
				return
			}
			req.Header.SetContentLength(int(n))
		}
		req.Header.SetMethod(r.Method)
		req.SetRequestURI(r.RequestURI)
		req.SetHost(r.Host)
		for k, vs := range r.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		remote, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
		if err != nil {
			remote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
		}
		var fctx fasthttp.RequestCtx
		fctx.Init(req, remote, nil)
		fctx.SetUserValue(requestContextKey, r.Context())
		handler(&fctx)

		fctx.Response.Header.VisitAll(func(k, v []byte) {
			w.Header().Add(string(k), string(v))
		})
		w.WriteHeader(fctx.Response.StatusCode())
		_, _ = w.Write(fctx.Response.Body())
		fctx.Response.Reset()
	})
}

// takesBody says whether method and path name a route that reads a request body (the route table's
// body flag). It matches as the router does, a :param standing for one segment and a trailing slash
// ignored; a path it matches that the router would not is only read, within the limits, and refused.
func (s *Server) takesBody(method, path string) bool {
	path = strings.TrimSuffix(path, "/")
	for _, r := range s.bodyRoutes {
		if r.method == method && pathMatches(strings.TrimSuffix(r.path, "/"), path) {
			return true
		}
	}
	return false
}

func pathMatches(pattern, path string) bool {
	for {
		p, prest, pmore := strings.Cut(pattern, "/")
		q, qrest, qmore := strings.Cut(path, "/")
		if pmore != qmore || !(p == q || strings.HasPrefix(p, ":") && q != "") {
			return false
		}
		if !pmore {
			return true
		}
		pattern, path = prest, qrest
	}
}

// readBody copies at most limit bytes of r's body to dst within the body deadline. The deadline is lifted
// again once the body is read: net/http keeps reading the connection in the background while the handler
// runs (to notice a client that hangs up), and a deadline passing then would cancel the request.
// A writer without deadlines (HTTP/2 in some setups, a test recorder) reads without one.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, dst io.Writer, limit int64) (int64, error) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout)); err == nil {
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	return io.Copy(dst, http.MaxBytesReader(w, r.Body, limit))
}

// requestContext is the net/http request context the edge attached, or Background in tests through
// app.Test.
func requestContext(c *fiber.Ctx) context.Context {
	if ctx, ok := c.Context().UserValue(requestContextKey).(context.Context); ok {
		return ctx
	}
	return context.Background()
}

// writeEdgeError answers a request the Fiber app never sees, with the CORS headers its middleware would
// have set: without them a cross-origin frontend cannot read the status.
func (s *Server) writeEdgeError(w http.ResponseWriter, r *http.Request, status int, detail string) {
	id := r.Header.Get(headerRequestID)
	if !validRequestID(id) {
		id = newRequestID()
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("request_id", id),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.String("error", detail))
	var b bytes.Buffer
	b.WriteString(`{"detail":`)
	b.Write(curve.AppendJSONString(nil, detail))
	b.WriteString("}")
	h := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		if s.originAllowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		h.Add("Vary", "Origin")
	}
	h.Set("Content-Type", "application/json")
	h.Set(headerRequestID, id)
	h.Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
