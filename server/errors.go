package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/dashboards"
)

// httpError is an error with the status and `detail` text the client sees.
type httpError struct {
	status int
	detail string
}

func (e *httpError) Error() string { return e.detail }

func newHTTPError(status int, detail string) error { return &httpError{status: status, detail: detail} }

// Messages of the contract (and of the old backend where the contract is silent).
const (
	msgTimeout           = curve.DetailTimeout
	msgDashboardNotFound = "Dashboard not found"
	msgValidationFailed  = "Dashboard validation failed."
	msgProtected         = "Dashboard is protected and read-only"
	msgChannelNotFound   = curve.DetailChannelNotFound
	msgUpstream          = curve.DetailUpstream
	msgStoreUnavailable  = "Dashboard storage is unavailable, try again later"
	msgInternal          = "Internal Server Error"
	msgBodyTooLarge      = "Request body too large"
	msgBodyTimeout       = "Request body not received in time"
	msgBodiesBusy        = "Too many request bodies in progress, try again later"
	msgMaintenanceDenied = "Maintenance routes require a valid token"
	msgUnknownRoute      = "Not Found"
	msgMethodNotAllowed  = "Method Not Allowed"
	msgClientClosed      = "Client Closed Request"
)

// statusClientClosed is nginx's status for a request whose client hung up before the answer: it is
// logged, never seen by the client, and is the client's doing, not a server error.
const statusClientClosed = 499

// statusOf maps any error a handler returns to the status and detail the client sees. It is the only
// place where package errors become HTTP statuses; curve and data-api errors go through
// curve.ErrorStatus, which the live stream's error messages share.
func statusOf(err error) (int, string) {
	var he *httpError
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
		return he.status, he.detail
	case errors.Is(err, dashboards.ErrNotFound):
		return http.StatusNotFound, msgDashboardNotFound
	case errors.Is(err, dashboards.ErrProtected):
		return http.StatusForbidden, msgProtected
	case errors.Is(err, dashboards.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, tooLargeDetail(err)
	case errors.Is(err, dashboards.ErrInvalid):
		return http.StatusUnprocessableEntity, msgValidationFailed
	case errors.Is(err, dashboards.ErrUnavailable):
		// Before the deadline case: the driver's server-selection timeout wraps context.DeadlineExceeded,
		// but MongoDB being down is 503. (A passed route deadline is 504 in the deadline middleware.)
		return http.StatusServiceUnavailable, msgStoreUnavailable
	case errors.As(err, &fe):
		return fe.Code, fe.Message
	case errors.Is(err, context.Canceled):
		// Only the client going away (or the server shutting down, which drops the answer too) cancels
		// a request's context; a passed deadline is DeadlineExceeded, 504.
		return statusClientClosed, msgClientClosed
	}
	if status, detail, ok := curve.ErrorStatus(err); ok {
		return status, detail
	}
	return http.StatusInternalServerError, msgInternal
}

// errorHandler writes every error as `{"detail": "..."}` and logs server-side failures.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var ve *validationError
	if errors.As(err, &ve) {
		return c.Status(http.StatusUnprocessableEntity).JSON(fiber.Map{"detail": ve.items})
	}
	status, detail := statusOf(err)
	if requestContext(c).Err() != nil {
		// The client is gone: whatever failed failed because of that (an upstream read cut short, a
		// store call cancelled), and nobody reads the answer.
		status, detail = statusClientClosed, msgClientClosed
	}
	if status >= 500 {
		s.logger(c).LogAttrs(c.UserContext(), slog.LevelError, "request failed",
			slog.Int("status", status), slog.String("error", err.Error()))
	}
	return c.Status(status).JSON(fiber.Map{"detail": detail})
}

// tooLargeDetail is the old backend's 413 text, "Size N exceeds max M"; a size limit the database
// itself enforced has no figures to give.
func tooLargeDetail(err error) string {
	var se *dashboards.SizeError
	if errors.As(err, &se) {
		return "Size " + strconv.FormatInt(se.Size, 10) + " exceeds max " + strconv.FormatInt(se.Max, 10)
	}
	return "Dashboard too large"
}
