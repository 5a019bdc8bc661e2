package stream

import (
	"strconv"
	"testing"
	"time"
)

// UpdateTimes lists every append a subscriber received, by epoch and offset, with a time between the
// subscribe and the receipt (the hub's clock), increasing with the offset.
func TestUpdateTimesListsWhatWasSent(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	before := e.clock.Now()
	c.send(subscribeMsg("s", "SIM-F64:NOISE", map[string]any{"window_ms": 60_000, "num_bins": 60}))
	type key struct {
		epoch  string
		offset int64
	}
	got := map[key]time.Time{} // received appends -> when (hub clock)
	for len(got) < 3 {
		m := c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
		off, err := strconv.ParseInt(m.str("offset"), 10, 64)
		if err != nil {
			t.Fatalf("offset %q: %v", m.str("offset"), err)
		}
		got[key{m.str("epoch"), off}] = e.clock.Now()
	}

	times := map[key]time.Time{}
	var prev UpdateTime
	for i, u := range e.hub.UpdateTimes() {
		times[key{u.Epoch, u.Offset}] = u.At
		if i > 0 && u.Epoch == prev.Epoch && (u.Offset <= prev.Offset || u.At.Before(prev.At)) {
			t.Errorf("update %s/%d at %v after %s/%d at %v: not in order", u.Epoch, u.Offset, u.At, prev.Epoch, prev.Offset, prev.At)
		}
		prev = u
	}
	for k, received := range got {
		at, ok := times[k]
		switch {
		case !ok:
			t.Errorf("append %s/%d was received but is not listed", k.epoch, k.offset)
		case at.Before(before) || at.After(received):
			t.Errorf("append %s/%d made at %v: not between the subscribe (%v) and its receipt (%v)", k.epoch, k.offset, at, before, received)
		}
	}
}
