package daqbuf

import (
	"errors"
	"fmt"
)

// Sentinel errors at the package edge. Errors returned by the client wrap one of them (errors.Is),
// usually inside an *UpstreamError that carries data-api's own message and request id.
var (
	// ErrChannelNotFound: data-api answered 404 (unknown channel or series).
	ErrChannelNotFound = errors.New("daqbuf: channel not found")
	// ErrNoContent: data-api answered 204 (no events or bins in the range).
	ErrNoContent = errors.New("daqbuf: no content")
	// ErrTimeout: data-api or its proxy timed out (408/504), or the request deadline passed.
	ErrTimeout = errors.New("daqbuf: upstream timeout")
	// ErrBadRequest: data-api rejected the request (400, or 500 "malformed request").
	ErrBadRequest = errors.New("daqbuf: bad request")
	// ErrUpstream: any other failure of data-api (500, in-band error frame, undecodable body).
	ErrUpstream = errors.New("daqbuf: upstream failure")
	// ErrConnectionClosed: the connection closed without an HTTP response (docs/daqbuf.md §6.2).
	ErrConnectionClosed = errors.New("daqbuf: connection closed without response")
)

// UpstreamError is a failed data-api call: the HTTP status (0 for in-band or transport errors),
// data-api's message and request id, and the sentinel it wraps.
type UpstreamError struct {
	Kind      error // one of the sentinels above
	Status    int
	Message   string
	RequestID string
}

func (e *UpstreamError) Error() string {
	s := e.Kind.Error()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " [requestid " + e.RequestID + "]"
	}
	return s
}

func (e *UpstreamError) Unwrap() error { return e.Kind }
