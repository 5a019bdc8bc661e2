package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// Limits of client messages (docs/streaming.md).
const (
	maxClientMessage = 64 << 10 // bytes
	maxIDLength      = 128      // characters
)

// Client message types.
const (
	typeSubscribe   = "subscribe"
	typeUnsubscribe = "unsubscribe"
	typePing        = "ping"
)

// Params is everything in a subscribe but id and resume: subscriptions with equal Params share one
// series stream. Zero values are the defaults of /channels/curve.
type Params struct {
	ChannelName string
	Backend     string
	// WindowMs > 0: a rolling window [now − WindowMs, now]. Otherwise BeginMs, and EndMs when HasEnd.
	WindowMs    int64
	BeginMs     int64
	EndMs       int64
	HasEnd      bool
	NumBins     int64
	RawIfSparse bool
	RemoveEmpty bool
	// IsString: 0 absent, 1 false, 2 true (comparable, so Params can be a map key).
	IsString int8
}

// resumePoint is a subscribe's resume: the last message the client applied.
type resumePoint struct {
	epoch  string
	offset int64
}

// clientMessage is a decoded, checked client message.
type clientMessage struct {
	typ     string
	id      string
	params  Params
	resume  *resumePoint
	data    json.RawMessage // ping
	hasData bool
}

// protocolError is a client message refused with an error message; id is set when one could be read.
type protocolError struct {
	status int
	detail string
	id     string
	hasID  bool
}

func (e *protocolError) Error() string { return e.detail }

func badMessage(detail string) *protocolError { return &protocolError{status: 400, detail: detail} }

// decodeMsgpackMessage turns a MessagePack client message into its JSON equivalent, so both encodings
// are checked by the same code.
func decodeMsgpackMessage(b []byte) ([]byte, error) {
	var v any
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// parseClientMessage decodes and checks one JSON client message.
func parseClientMessage(b []byte) (clientMessage, *protocolError) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		return clientMessage{}, badMessage("message is not a JSON object")
	}
	f := fieldReader{fields: fields}
	m := clientMessage{typ: f.str("type", true)}
	if rawID, ok := fields["id"]; ok {
		// Read the id first, so that every later error can name it.
		var id string
		if json.Unmarshal(rawID, &id) == nil {
			m.id = id
		}
	}
	if f.err != nil {
		return m, f.fail(m)
	}
	switch m.typ {
	case typePing:
		m.data, m.hasData = fields["data"]
		return m, nil
	case typeUnsubscribe:
		m.id = f.id()
	case typeSubscribe:
		m.id = f.id()
		m.params = f.params()
		m.resume = f.resume()
	default:
		return m, f.fail(m, fmt.Errorf("unknown message type %q", m.typ))
	}
	if f.err != nil {
		return m, f.fail(m)
	}
	return m, nil
}

// fieldReader reads typed fields and keeps the first error.
type fieldReader struct {
	fields map[string]json.RawMessage
	err    error
}

func (f *fieldReader) fail(m clientMessage, err ...error) *protocolError {
	if len(err) > 0 {
		f.err = err[0]
	}
	e := badMessage(f.err.Error())
	if m.id != "" {
		e.id, e.hasID = m.id, true
	}
	return e
}

func (f *fieldReader) set(err error) {
	if f.err == nil {
		f.err = err
	}
}

// raw returns the field's JSON, or nil when it is absent or null.
func (f *fieldReader) raw(name string, required bool) json.RawMessage {
	v, ok := f.fields[name]
	if !ok || string(v) == "null" {
		if required {
			f.set(fmt.Errorf("%s is required", name))
		}
		return nil
	}
	return v
}

func (f *fieldReader) str(name string, required bool) string {
	v := f.raw(name, required)
	if v == nil {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		f.set(fmt.Errorf("%s must be a string", name))
	}
	return s
}

// int reads an integer field; present reports whether it was given.
func (f *fieldReader) int(name string, required bool) (n int64, present bool) {
	v := f.raw(name, required)
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		f.set(fmt.Errorf("%s must be an integer", name))
	}
	return n, true
}

func (f *fieldReader) bool(name string) (v, present bool) {
	raw := f.raw(name, false)
	if raw == nil {
		return false, false
	}
	if json.Unmarshal(raw, &v) != nil {
		f.set(fmt.Errorf("%s must be true or false", name))
	}
	return v, true
}

func (f *fieldReader) id() string {
	id := f.str("id", true)
	if n := utf8.RuneCountInString(id); f.err == nil && (n < 1 || n > maxIDLength) {
		f.set(fmt.Errorf("id must be 1 to %d characters", maxIDLength))
	}
	return id
}

func (f *fieldReader) params() Params {
	p := Params{ChannelName: f.str("channel_name", true), Backend: f.str("backend", false)}
	if f.err == nil && p.ChannelName == "" {
		f.set(errors.New("channel_name must not be empty"))
	}
	if p.Backend == "" {
		p.Backend = "sf-databuffer"
	}
	window, hasWindow := f.int("window_ms", false)
	begin, hasBegin := f.int("begin_time", false)
	end, hasEnd := f.int("end_time", false)
	p.NumBins, _ = f.int("num_bins", false)
	p.RawIfSparse, _ = f.bool("useEventsIfBinCountTooLarge")
	p.RemoveEmpty, _ = f.bool("removeEmptyBins")
	if s, ok := f.bool("isString"); ok {
		p.IsString = 1
		if s {
			p.IsString = 2
		}
	}
	if f.err != nil {
		return p
	}
	switch {
	case hasWindow && (hasBegin || hasEnd):
		f.set(errors.New("give either window_ms or begin_time (with an optional end_time), not both"))
	case hasWindow && window <= 0:
		f.set(errors.New("window_ms must be positive"))
	case hasWindow:
		p.WindowMs = window
	case !hasBegin:
		f.set(errors.New("window_ms or begin_time is required"))
	case begin <= 0 || (hasEnd && end <= 0):
		f.set(errors.New("begin_time or end_time is invalid, must be valid unix time (milliseconds)"))
	case hasEnd && begin > end:
		f.set(errors.New("begin_time must not be after end_time"))
	default:
		p.BeginMs, p.EndMs, p.HasEnd = begin, end, hasEnd
	}
	return p
}

func (f *fieldReader) resume() *resumePoint {
	raw := f.raw("resume", false)
	if raw == nil || f.err != nil {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		f.set(errors.New("resume must be an object with epoch and offset"))
		return nil
	}
	r := fieldReader{fields: fields}
	epoch := r.str("epoch", true)
	offText := r.str("offset", true)
	if r.err != nil {
		f.set(fmt.Errorf("resume: %w", r.err))
		return nil
	}
	off, err := strconv.ParseInt(offText, 10, 64)
	if err != nil || off < 0 {
		f.set(errors.New("resume: offset must be a decimal integer string"))
		return nil
	}
	return &resumePoint{epoch: epoch, offset: off}
}
