package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const (
	localRequestID  = "requestID"
	headerRequestID = "X-Request-ID"
)

// requestID takes a well-formed X-Request-ID from the client (e.g. nginx's $request_id) or makes one,
// echoes it, and starts the request's context from the edge's.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(headerRequestID)
	if !validRequestID(id) {
		id = newRequestID()
	}
	c.Locals(localRequestID, id)
	c.Set(headerRequestID, id)
	c.SetUserContext(requestContext(c))
	return c.Next()
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// logger is the server logger with the request id attached.
func (s *Server) logger(c *fiber.Ctx) *slog.Logger {
	if id, ok := c.Locals(localRequestID).(string); ok {
		return s.log.With(slog.String("request_id", id))
	}
	return s.log
}

// recoverPanics turns a panic in a handler into a 500 and a logged stack, keeping the process alive.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.logger(c).Error("panic in handler", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			err = newHTTPError(http.StatusInternalServerError, msgInternal)
		}
	}()
	return c.Next()
}

// accessLog writes one line per request. The query string is left out: it may be long, and only the
// route matters for operations.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		// Let the error handler write the status now, so the line shows what the client got.
		if herr := s.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	took := time.Since(start)
	s.metrics.observe(c, took)
	s.logger(c).LogAttrs(c.UserContext(), slog.LevelInfo, "request",
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.Int("status", c.Response().StatusCode()),
		slog.Duration("duration", took),
		slog.Int("bytes", len(c.Response().Body())),
	)
	return nil
}

// cors allows the configured origins (Config.AllowOrigins) every method and header with credentials;
// by default every origin, as the old backend (Starlette's CORSMiddleware with allow_origins=["*"] and
// allow_credentials): the origin is echoed, since "*" is not allowed together with credentials. Another
// origin's request is served without CORS headers, so its page cannot read the answer (nor send a
// preflighted request).
func (s *Server) cors(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return c.Next()
	}
	if !s.originAllowed(origin) {
		c.Vary(fiber.HeaderOrigin)
		return c.Next()
	}
	c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
	c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
	c.Vary(fiber.HeaderOrigin)
	if c.Method() == fiber.MethodOptions && c.Get(fiber.HeaderAccessControlRequestMethod) != "" {
		c.Set(fiber.HeaderAccessControlAllowMethods, "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
		if h := c.Get(fiber.HeaderAccessControlRequestHeaders); h != "" {
			c.Set(fiber.HeaderAccessControlAllowHeaders, h)
		}
		c.Set(fiber.HeaderAccessControlMaxAge, "600")
		return c.SendStatus(http.StatusOK)
	}
	return c.Next()
}

// originAllowed says whether a page of origin may read the answers.
func (s *Server) originAllowed(origin string) bool {
	return len(s.cfg.AllowOrigins) == 0 || slices.Contains(s.cfg.AllowOrigins, strings.ToLower(origin))
}

// deadline bounds the request by d; work still running then is cancelled and the answer is 504.
func (s *Server) deadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		err := c.Next()
		if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return newHTTPError(http.StatusGatewayTimeout, msgTimeout)
		}
		return err
	}
}

// maintenanceAuth checks the maintenance token when one is configured. The token travels only as
// "Authorization: Bearer <token>" (RFC 6750): the scheme name in any case, followed by one or more spaces
// (RFC 9110 §11.4). The undocumented X-Maintenance-Token header it also took is gone: no documented
// client used it, the OpenAPI security scheme describes only the standard one, and one header is all a
// proxy needs to strip or redact from its logs. A refusal carries WWW-Authenticate, as 401 must.
func (s *Server) maintenanceAuth(c *fiber.Ctx) error {
	want := s.cfg.MaintenanceToken
	if want == "" {
		return c.Next()
	}
	if !tokenMatches(bearerToken(c.Get(fiber.HeaderAuthorization)), want) {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="maintenance"`)
		return newHTTPError(http.StatusUnauthorized, msgMaintenanceDenied)
	}
	return c.Next()
}

// bearerToken is the credentials of an Authorization header of the Bearer scheme, or "".
func bearerToken(auth string) string {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.Trim(token, " \t")
}

// tokenMatches compares in constant time. Both sides are hashed first: subtle.ConstantTimeCompare
// returns at once when the lengths differ, which would tell an attacker the token's length.
func tokenMatches(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return got != "" && subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// jsonBytes sends pre-encoded JSON, gzipped per request when the client accepts it and the body is
// large (sendJSON).
func jsonBytes(c *fiber.Ctx, status int, body []byte) error {
	return sendJSON(c, status, body, nil)
}

func pathID(c *fiber.Ctx) string { return c.Params("id") }
