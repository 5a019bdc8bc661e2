package daqbuf

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// errorBody covers both error shapes of data-api (docs/daqbuf.md §6.1): {"message","requestid"} of the
// data endpoints and {"reason","msg"} of search.
type errorBody struct {
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
	Reason    string `json:"reason"`
	Msg       string `json:"msg"`
}

// maxErrMessage bounds the message kept from a non-JSON error body.
const maxErrMessage = 512

// statusError maps a non-200 answer to an *UpstreamError (docs/daqbuf.md §6.2, §9.6).
func statusError(status int, headerRequestID string, body []byte) error {
	e := &UpstreamError{Status: status, RequestID: headerRequestID}
	var eb errorBody
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
		if json.Unmarshal(trimmed, &eb) == nil {
			e.Message = eb.Message
			if e.Message == "" {
				e.Message = eb.Msg
			}
			if eb.RequestID != "" {
				e.RequestID = eb.RequestID
			}
		} else {
			e.Message = clip(string(trimmed))
		}
	}
	switch {
	case status == http.StatusNoContent:
		e.Kind = ErrNoContent
	case status == http.StatusNotFound:
		e.Kind = ErrChannelNotFound
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind = ErrTimeout
	case status == http.StatusBadRequest || eb.Reason == "BadRequest":
		e.Kind = ErrBadRequest
	case status == http.StatusInternalServerError && strings.Contains(strings.ToLower(e.Message), "malformed request"):
		e.Kind = ErrBadRequest
	default:
		e.Kind = ErrUpstream
	}
	return e
}

func clip(s string) string {
	if len(s) <= maxErrMessage {
		return s
	}
	s = s[:maxErrMessage]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// idleBody cancels its request when a Read does not complete within d: a stalled body then fails
// with errIdleTimeout as the request's cause instead of hanging until the caller's deadline.
type idleBody struct {
	rc    io.ReadCloser
	d     time.Duration
	timer *time.Timer
}

func newIdleBody(rc io.ReadCloser, d time.Duration, cancel func(error)) *idleBody {
	b := &idleBody{rc: rc, d: d}
	b.timer = time.AfterFunc(d, func() { cancel(errIdleTimeout) })
	b.timer.Stop()
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.d)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.rc.Close()
}
