package stream

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// binnedRequests counts the simulator's binned requests since its log was reset.
func (e *testEnv) binnedRequests() int {
	n := 0
	for _, r := range e.sim.Requests() {
		if strings.Contains(r.Path, "/binned") {
			n++
		}
	}
	return n
}

// 100 subscribers of one series over two instances sharing Redis: one poller in the deployment, so
// data-api is asked once per poll, and every subscriber on either instance gets the appends, exact.
func TestStreamTwoInstancesOnePoll(t *testing.T) {
	a := newTestEnv(t, withRedis(t))
	b := a.sibling(t)
	extra := map[string]any{"window_ms": 300_000, "num_bins": 100}
	var clients []*testClient
	for i := 0; i < 10; i++ {
		env := a
		if i%2 == 1 {
			env = b
		}
		c := env.dial(t)
		for j := 0; j < 10; j++ {
			c.send(subscribeMsg("s"+strconv.Itoa(j), "SIM-F64:SINE", extra))
		}
		clients = append(clients, c)
	}
	for _, c := range clients {
		for j := 0; j < 10; j++ {
			c.readUntil(func(m message) bool { return m.str("type") == typeSnapshot || m.str("type") == typeResumed })
		}
	}
	leases := gaugeValue(t, a.reg, "databoard_stream_leases_held") + gaugeValue(t, b.reg, "databoard_stream_leases_held")
	if leases != 1 {
		t.Errorf("%v poller leases held for one series", leases)
	}
	a.sim.ResetRequests()
	polls := func() float64 {
		return counterValue(t, a.reg, "databoard_stream_polls_total") + counterValue(t, b.reg, "databoard_stream_polls_total")
	}
	p0 := polls()
	waitFor(t, "5 more polls", func() bool { return polls()-p0 >= 5 })
	if n, p := a.binnedRequests(), polls()-p0; float64(n) > p+1 {
		t.Errorf("%d binned upstream requests for %v polls across two instances", n, p)
	}
	for i, c := range clients {
		env := a
		if i%2 == 1 {
			env = b
		}
		m := c.readUntil(func(m message) bool { return m.str("type") == typeAppend && m.str("id") == "s0" })
		// Equal offsets and epochs everywhere: the same stream.
		env.checkExact(t, c.curves["s0"], restQuery("SIM-F64:SINE", 100, false), m.int("begin_time"), m.int("end_time"), false)
	}
}

// The instance holding the poller lease goes away: the other takes over within about the lease's
// lifetime, in the same epoch, and its subscribers keep receiving, exact.
func TestStreamLeaseTakeover(t *testing.T) {
	a := newTestEnv(t, withRedis(t))
	b := a.sibling(t)
	extra := map[string]any{"window_ms": 300_000, "num_bins": 100}
	ca, cb := a.dial(t), b.dial(t)
	ca.send(subscribeMsg("x", "SIM-F64:RAMP", extra))
	ca.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	cb.send(subscribeMsg("x", "SIM-F64:RAMP", extra))
	cb.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	holder, other, otherClient := a, b, cb
	if gaugeValue(t, b.reg, "databoard_stream_leases_held") == 1 {
		holder, other, otherClient = b, a, ca
	}
	epoch := otherClient.last["x"].epoch
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		// The holder's own client answers the close handshake.
		for {
			if _, _, err := map[*testEnv]*testClient{a: ca, b: cb}[holder].ws.Read(ctx); err != nil {
				return
			}
		}
	}()
	if err := holder.hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other instance to take the lease", func() bool {
		return gaugeValue(t, other.reg, "databoard_stream_leases_held") == 1
	})
	for i := 0; i < 3; i++ {
		m := otherClient.readUntil(func(m message) bool { return m.str("type") == typeAppend || m.str("type") == typeSnapshot })
		other.checkExact(t, otherClient.curves["x"], restQuery("SIM-F64:RAMP", 100, false), m.int("begin_time"), m.int("end_time"), false)
	}
	if got := otherClient.last["x"].epoch; got != epoch {
		t.Errorf("epoch changed at takeover: %s, was %s", got, epoch)
	}
}

// A client that reconnects to another instance resumes there from the shared history.
func TestStreamResumeOnOtherInstance(t *testing.T) {
	a := newTestEnv(t, withRedis(t), withConfig(func(c *Config) { c.History = time.Hour }))
	b := a.sibling(t)
	extra := map[string]any{"window_ms": 300_000, "num_bins": 100}
	keep := a.dial(t) // keeps the series alive on a
	keep.send(subscribeMsg("k", "SIM-F64:NOISE", extra))
	c := a.dial(t)
	c.send(subscribeMsg("r", "SIM-F64:NOISE", extra))
	c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	last, state := c.last["r"], c.curves["r"]
	_ = c.ws.CloseNow()
	time.Sleep(300 * time.Millisecond) // appends the client misses
	c = b.dial(t)
	c.curves["r"], c.last["r"] = state, last
	withResume := map[string]any{"resume": map[string]any{"epoch": last.epoch, "offset": itoa(last.offset)}}
	for k, v := range extra {
		withResume[k] = v
	}
	c.send(subscribeMsg("r", "SIM-F64:NOISE", withResume))
	m := c.readUntil(func(m message) bool { return m.str("type") == typeResumed || m.str("type") == typeSnapshot })
	if m.str("type") != typeResumed {
		t.Fatalf("resume of %s/%d on the other instance answered %.200s", last.epoch, last.offset, m.raw)
	}
	m = c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	b.checkExact(t, c.curves["r"], restQuery("SIM-F64:NOISE", 100, false), m.int("begin_time"), m.int("end_time"), false)
}
