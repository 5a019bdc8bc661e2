package daqbuf

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("daqbuf: stream closed")

// Events opens a stream of raw events (GET /events, docs/daqbuf.md §2.3), CBOR-framed by default.
//
// A 204 answer (no events) is an empty stream, not an error: Next returns io.EOF at once,
// NoContent reports true and RangeFinal false (data-api also answers 204 when it ran out of time
// before finding anything, so an empty answer is not proof of an empty range).
//
// When an answer ends without rangeFinal although the range ended in the past (a truncated plain
// JSON answer, a timed-out collection), the stream re-requests the rest from the last event's
// timestamp with begExcl=true and drops events at or before it, at most Config.MaxContinuations
// times and only while each round makes progress. RangeFinal then says whether the whole range was
// delivered in the end.
//
// ctx bounds the whole stream, including continuation requests; Close must be called.
func (c *Client) Events(ctx context.Context, q EventsQuery) (*EventStream, error) {
	if _, err := q.params(); err != nil {
		return nil, err
	}
	if q.Mode == ModeDefault {
		q.Mode = ModeCBOR
	}
	s := &EventStream{c: c, ctx: ctx, q: q}
	if err := s.open(q); err != nil {
		return nil, err
	}
	return s, nil
}

// EventStream is an open events answer, read batch by batch with Next. It keeps the context of the
// Events call because continuation requests belong to the same logical call.
type EventStream struct {
	c   *Client
	ctx context.Context
	q   EventsQuery

	resp   *response
	dec    *EventDecoder
	err    error
	closed bool

	last      int64 // timestamp of the last event returned
	haveLast  bool
	progress  bool // the current round returned at least one event
	rounds    int  // continuation requests made
	noContent bool
	final     bool
	timedOut  bool
}

func (s *EventStream) open(q EventsQuery) error {
	v, err := q.params()
	if err != nil {
		return err
	}
	r, err := s.c.get(s.ctx, "/events", v, q.Mode.accept())
	if err != nil {
		return err
	}
	s.resp, s.progress = r, false
	if r.status == http.StatusNoContent {
		s.noContent = true
		s.dec = NewEventDecoder(http.NoBody, ModeJSON, "")
		return nil
	}
	s.noContent = false
	s.dec = NewEventDecoder(r.body, modeOf(r.contentType, q.Mode), q.ValueType)
	return nil
}

// Next returns the next batch of events, io.EOF after the last one, or a typed error. The batch
// belongs to the caller.
func (s *EventStream) Next() (*EventBatch, error) {
	for s.err == nil {
		if s.closed {
			return nil, ErrClosed
		}
		b, err := s.dec.Next()
		if err == nil {
			if b = s.dropSeen(b); b.Len() > 0 {
				s.last, s.haveLast, s.progress = b.Ts[b.Len()-1], true, true
				return b, nil
			}
			continue
		}
		if err != io.EOF {
			s.err = s.c.transportErr(s.ctx, s.resp.ctx, err, true)
			break
		}
		s.final, s.timedOut = s.dec.RangeFinal(), s.dec.TimedOut()
		if !s.shouldContinue() {
			s.err = io.EOF
			break
		}
		s.resp.Close()
		s.rounds++
		next := s.q
		next.Range.Beg, next.BegExcl, next.OneBeforeRange = s.last, true, false
		if err := s.open(next); err != nil {
			s.err = err
		}
	}
	return nil, s.err
}

// shouldContinue: the answer ended without rangeFinal, the range is over (more data cannot be
// arriving), the last round brought events (so asking again can make progress) and rounds remain.
func (s *EventStream) shouldContinue() bool {
	return !s.final && !s.noContent && s.progress && s.haveLast && s.last < s.q.Range.End-1 &&
		s.c.maxCont > 0 && s.rounds < s.c.maxCont && s.q.Range.End <= s.c.now().UnixNano()
}

// dropSeen removes events at or before the last one returned: a continuation starts at that
// timestamp, and the proxy's µs rounding of begDate can repeat events.
func (s *EventStream) dropSeen(b *EventBatch) *EventBatch {
	if !s.haveLast || s.rounds == 0 {
		return b
	}
	k := 0
	for k < b.Len() && b.Ts[k] <= s.last {
		k++
	}
	if k == 0 {
		return b
	}
	return sliceEvents(b, k)
}

// sliceEvents drops the first k events of b.
func sliceEvents(b *EventBatch, k int) *EventBatch {
	out := &EventBatch{ScalarType: b.ScalarType, Ts: b.Ts[k:]}
	if b.Pulses != nil {
		out.Pulses = b.Pulses[k:]
	}
	v, w := b.Values, max(b.Values.Width, 1)
	out.Values = Values{Kind: v.Kind, Width: v.Width}
	switch v.Kind {
	case KindFloat:
		out.Values.Floats = v.Floats[k*w:]
	case KindInt, KindEnum:
		out.Values.Ints = v.Ints[k*w:]
	case KindUint:
		out.Values.Uints = v.Uints[k*w:]
	case KindBool:
		out.Values.Bools = v.Bools[k*w:]
	case KindString:
		out.Values.Strings = v.Strings[k*w:]
	}
	if v.Labels != nil {
		out.Values.Labels = v.Labels[k:]
	}
	return out
}

// RangeFinal reports whether data-api said the whole requested range was delivered (after any
// continuation). Meaningful once Next returned io.EOF; false for a 204 answer.
func (s *EventStream) RangeFinal() bool { return s.final }

// TimedOut reports whether the last answer said data-api stopped at its collection deadline.
func (s *EventStream) TimedOut() bool { return s.timedOut }

// NoContent reports whether the last answer was 204 No Content.
func (s *EventStream) NoContent() bool { return s.noContent }

// Continuations is the number of extra requests made to complete truncated answers.
func (s *EventStream) Continuations() int { return s.rounds }

// Close releases the connection, cancelling the request if the body was not read to the end.
// It is safe to call more than once.
func (s *EventStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.resp.Close()
	return nil
}

// Binned opens a stream of time bins (GET /binned, docs/daqbuf.md §2.4), JSON-framed by default. A 204
// answer is an empty stream (NoContent true), as for Events. Binned answers are not continued:
// current servers send no completion marker for bins (RangeFinal is only set by legacy servers).
func (c *Client) Binned(ctx context.Context, q BinnedQuery) (*BinStream, error) {
	v, err := q.params()
	if err != nil {
		return nil, err
	}
	if q.Mode == ModeDefault {
		q.Mode = ModeJSONFramed
	}
	r, err := c.get(ctx, "/binned", v, q.Mode.accept())
	if err != nil {
		return nil, err
	}
	s := &BinStream{c: c, ctx: ctx, resp: r}
	if r.status == http.StatusNoContent {
		s.noContent = true
		s.dec = NewBinDecoder(http.NoBody, ModeJSON)
	} else {
		s.dec = NewBinDecoder(r.body, modeOf(r.contentType, q.Mode))
	}
	return s, nil
}

// BinStream is an open binned answer, read batch by batch with Next.
type BinStream struct {
	c         *Client
	ctx       context.Context
	resp      *response
	dec       *BinDecoder
	err       error
	closed    bool
	noContent bool
}

// Next returns the next batch of bins, io.EOF after the last one, or a typed error. The batch
// belongs to the caller.
func (s *BinStream) Next() (*BinBatch, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if s.err != nil {
		return nil, s.err
	}
	b, err := s.dec.Next()
	if err != nil {
		if err != io.EOF {
			err = s.c.transportErr(s.ctx, s.resp.ctx, err, true)
		}
		s.err = err
		return nil, err
	}
	return b, nil
}

// RangeFinal reports whether a rangeFinal marker was read (legacy servers only).
func (s *BinStream) RangeFinal() bool { return s.dec.RangeFinal() }

// TimedOut reports whether data-api said it stopped at its deadline (legacy servers, plain JSON).
func (s *BinStream) TimedOut() bool { return s.dec.TimedOut() }

// NoContent reports whether the answer was 204 No Content.
func (s *BinStream) NoContent() bool { return s.noContent }

// Close releases the connection, cancelling the request if the body was not read to the end.
func (s *BinStream) Close() error {
	if !s.closed {
		s.closed = true
		s.resp.Close()
	}
	return nil
}
