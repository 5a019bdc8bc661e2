package curve

import (
	"context"
	"errors"
	"net/http"

	"github.com/databoard/databoard/daqbuf"
)

// Details of the contract's error answers for curves.
const (
	DetailTimeout         = "Request timed out"
	DetailChannelNotFound = "Channel not found in backend"
	DetailUpstream        = "Error fetching data from backend"
)

// ErrorStatus is the HTTP status and `detail` that GET /channels/curve answers for err, the one mapping
// of curve and data-api errors shared by the HTTP API and the live stream's error messages. ok is false
// for errors it does not know.
func ErrorStatus(err error) (status int, detail string, ok bool) {
	var ie *InvalidError
	switch {
	case errors.As(err, &ie):
		return http.StatusBadRequest, ie.Detail, true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, daqbuf.ErrTimeout):
		return http.StatusGatewayTimeout, DetailTimeout, true
	case errors.Is(err, daqbuf.ErrChannelNotFound):
		return http.StatusNotFound, DetailChannelNotFound, true
	case errors.Is(err, daqbuf.ErrUpstream), errors.Is(err, daqbuf.ErrBadRequest),
		errors.Is(err, daqbuf.ErrConnectionClosed), errors.Is(err, daqbuf.ErrNoContent):
		return http.StatusInternalServerError, DetailUpstream, true
	}
	return 0, "", false
}
