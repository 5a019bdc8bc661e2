package stream

import (
	"testing"
)

// A send queue too small for the appends of all its subscriptions conflates them: waiting appends are
// dropped and each such subscription gets one fresh snapshot, so every curve stays exact.
func TestStreamConflationKeepsCurvesExact(t *testing.T) {
	e := newTestEnv(t, withConfig(func(c *Config) { c.SendQueueBytes = 1 }))
	c := e.dial(t)
	ids := []string{"a", "b", "c", "d", "e", "f"}
	for _, id := range ids {
		c.send(subscribeMsg(id, "SIM-F64:SINE", map[string]any{"window_ms": 300_000, "num_bins": 100}))
	}
	last := map[string]message{}
	c.readUntil(func(m message) bool {
		if m.str("type") == typeSnapshot || m.str("type") == typeAppend {
			last[m.str("id")] = m
		}
		return len(last) == len(ids) && counterValue(t, e.reg, "databoard_stream_slow_consumer_snapshots_total") > 0
	})
	for _, id := range ids {
		m := last[id]
		e.checkExact(t, c.curves[id], restQuery("SIM-F64:SINE", 100, false), m.int("begin_time"), m.int("end_time"), false)
	}
}

// The queue policy on its own: an overflow drops the waiting appends of every subscription that has
// some, marks them behind, keeps other messages, and hands the behind ones out for snapshots once the
// queue has room.
func TestSendQueueOverflow(t *testing.T) {
	h := New(Config{SendQueueBytes: 1000}, nil, nil)
	// writing: a writer is taken to be busy, so nothing is sent (there is no socket here).
	c := &conn{hub: h, writing: true, subs: map[string]*subscription{}}
	a, b := &subscription{id: "a", conn: c}, &subscription{id: "b", conn: c}
	big := func(n int) *update {
		u := &update{offset: int64(n)}
		u.bodies[formatJSON] = body{b: make([]byte, 400)}
		return u
	}
	c.enqueueUpdate(a, big(1))
	c.enqueueControl(typePong, "", false, body{b: []byte(`,"data":1`)})
	c.enqueueUpdate(b, big(2))
	c.enqueueUpdate(a, big(3)) // over 1000 bytes: a and b fall behind
	if !a.behind || !b.behind {
		t.Fatalf("behind: a %v, b %v", a.behind, b.behind)
	}
	if len(c.queue) != 1 || c.queue[0].typ != typePong {
		t.Fatalf("queue after overflow: %+v", c.queue)
	}
	c.enqueueUpdate(a, big(4)) // dropped: a snapshot is due
	if len(c.queue) != 1 {
		t.Errorf("append queued for a subscription that is behind")
	}
	_, resnap, _ := c.next()
	if resnap != a {
		t.Errorf("first snapshot due for %v, want a", resnap)
	}
	_, resnap, _ = c.next()
	if resnap != b {
		t.Errorf("second snapshot due for %v, want b", resnap)
	}
	if it, _, ok := c.next(); !ok || it.typ != typePong {
		t.Errorf("then the pong: %+v", it)
	}
}
