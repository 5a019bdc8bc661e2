package stream

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/databoard/databoard/daqbuf"
)

// Every channel type: a rolling window's snapshot and appends reconstruct, point for point, what
// /channels/curve answers for each message's window, over more than a minute of simulated clock.
func TestStreamExactForEveryChannelType(t *testing.T) {
	e := newTestEnv(t, withSpeed(60))
	channels := []string{"SIM-F64:SINE", "SIM-F64:NULLS", "SIM-F32:SINE", "SIM-I32:COUNTER", "SIM-U64:BIG",
		"SIM-BOOL:TOGGLE", "SIM-STRING:STATE", "SIM-ENUM:MODE", "SIM-WAVE:SPECTRUM", "SIM-PULSED:BPM",
		"SIM-SPARSE:TEMP", "SIM-DENSE:100HZ", "SIM-F64:RAMP", "SIM-F64:NOISE"}
	type mode struct {
		name    string
		window  int64
		bins    int
		sparse  bool
		minMsgs int
	}
	modes := []mode{
		{"binned", 600_000, 200, false, 4},
		{"raw", 300_000, 0, false, 4},
	}
	for _, ch := range channels {
		for _, md := range modes {
			if md.bins == 0 && (ch == "SIM-PULSED:BPM" || ch == "SIM-DENSE:100HZ") {
				md.window = 90_000 // 100 Hz: 9 000 events, 30 s of them before the settle line
			}
			t.Run(ch+"/"+md.name, func(t *testing.T) {
				t.Parallel()
				c := e.dial(t)
				extra := map[string]any{"window_ms": md.window, "num_bins": md.bins}
				c.send(subscribeMsg("s", ch, extra))
				q := restQuery(ch, md.bins, md.sparse)
				start := e.clock.Now()
				msgs, compared := 0, 0
				var prevBegin, prevEnd int64
				for msgs < md.minMsgs || e.clock.Now().Sub(start) < 70*time.Second {
					m := c.readUntil(func(m message) bool {
						typ := m.str("type")
						if typ == typeError {
							t.Fatalf("error: %s", m.raw)
						}
						return typ == typeSnapshot || typ == typeAppend
					})
					msgs++
					compared += e.checkExact(t, c.curves["s"], q, m.int("begin_time"), m.int("end_time"), false)
					if m.str("type") == typeAppend {
						// Appends are small: they carry what is new since the previous message and the
						// open part it replaces (the last two bins), never older, unchanged points.
						var maps map[string]json.RawMessage
						_ = json.Unmarshal(m.fields["curve"], &maps)
						slack := int64(0)
						if md.bins > 0 {
							slack = 2 * daqbuf.WidthForCount(daqbuf.Range{Beg: prevBegin * 1e6, End: prevEnd * 1e6}, md.bins)
						}
						for _, p := range orderedObject(t, maps[ch]) {
							if pointTime(p.key) < prevEnd*1e6-slack {
								t.Errorf("an append resent point %s, older than the previous message's end %d − %d ns",
									p.key, prevEnd, slack)
								break
							}
						}
					}
					prevBegin, prevEnd = m.int("begin_time"), m.int("end_time")
				}
				if compared == 0 && ch != "SIM-SPARSE:TEMP" {
					t.Errorf("no settled point was compared over %d messages", msgs)
				}
			})
		}
	}
}

// An absolute window that ended long enough ago gets its snapshot and complete; the curve then equals
// the REST answer in every point and scalar.
func TestStreamAbsoluteWindowCompletes(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	end := e.clock.Now().Add(-10 * time.Minute).UnixMilli()
	c.send(subscribeMsg("a", "SIM-F64:SINE", map[string]any{"begin_time": end - 600_000, "end_time": end, "num_bins": 100}))
	m := c.readUntil(func(m message) bool { return m.str("type") == typeComplete })
	if m.str("id") != "a" {
		t.Errorf("complete for %q", m.str("id"))
	}
	if n := e.checkExact(t, c.curves["a"], restQuery("SIM-F64:SINE", 100, false), end-600_000, end, true); n < 100 {
		t.Errorf("only %d points compared", n)
	}
}

// An absolute window reaching into the future grows with the clock until its end has settled, then
// completes, exact.
func TestStreamGrowingAbsoluteWindowCompletesExact(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	now := e.clock.Now().UnixMilli()
	begin, end := now-120_000, now+20_000
	c.send(subscribeMsg("g", "SIM-F64:RAMP", map[string]any{"begin_time": begin, "end_time": end}))
	var last message
	c.readUntil(func(m message) bool {
		if m.str("type") == typeError {
			t.Fatalf("error: %s", m.raw)
		}
		if m.str("type") == typeSnapshot || m.str("type") == typeAppend {
			last = m
			if m.int("end_time") > end {
				t.Errorf("end_time %d beyond the window's end %d", m.int("end_time"), end)
			}
		}
		return m.str("type") == typeComplete
	})
	if last.int("end_time") != end {
		t.Errorf("last end_time %d, want %d", last.int("end_time"), end)
	}
	e.checkExact(t, c.curves["g"], restQuery("SIM-F64:RAMP", 0, false), begin, end, true)
}

// Many subscribers of one series share it: data-api is asked once per poll, not once per subscriber.
func TestStreamOnePollPerSeries(t *testing.T) {
	e := newTestEnv(t)
	const conns, perConn = 10, 10
	clients := make([]*testClient, conns)
	for i := range clients {
		clients[i] = e.dial(t)
		for j := 0; j < perConn; j++ {
			clients[i].send(subscribeMsg(strings.Repeat("x", j+1), "SIM-F64:NOISE", map[string]any{"window_ms": 60_000, "num_bins": 60}))
		}
	}
	for _, c := range clients {
		for j := 0; j < perConn; j++ {
			c.readUntil(func(m message) bool { return m.str("type") == typeSnapshot })
		}
	}
	e.sim.ResetRequests()
	polls0 := counterValue(t, e.reg, "databoard_stream_polls_total")
	waitFor(t, "5 more polls", func() bool { return counterValue(t, e.reg, "databoard_stream_polls_total")-polls0 >= 5 })
	binned := 0
	for _, r := range e.sim.Requests() {
		if strings.Contains(r.Path, "/binned") {
			binned++
		}
	}
	polls := counterValue(t, e.reg, "databoard_stream_polls_total") - polls0
	// Every subscriber still receives the series' appends.
	for _, c := range clients {
		c.readUntil(func(m message) bool { return m.str("type") == typeAppend && m.str("id") == "x" })
	}
	if series := gaugeValue(t, e.reg, "databoard_stream_series"); series != 1 {
		t.Errorf("%v series for one set of parameters", series)
	}
	// One binned request per poll (the window fits in one request); allow the poll in flight.
	if float64(binned) > polls+1 {
		t.Errorf("%d binned upstream requests for %v polls with %d subscribers", binned, polls, conns*perConn)
	}
}

// A connection dropped without a close frame frees every goroutine and subscription of its own.
func TestStreamAbruptCloseFreesEverything(t *testing.T) {
	e := newTestEnv(t, withConfig(func(c *Config) { c.Linger = time.Millisecond }))
	warm := e.dial(t)
	warm.send(subscribeMsg("w", "SIM-F64:SINE", map[string]any{"window_ms": 60_000}))
	warm.readUntil(func(m message) bool { return m.str("type") == typeSnapshot })
	_ = warm.ws.CloseNow()
	waitFor(t, "series to end", func() bool { return gaugeValue(t, e.reg, "databoard_stream_series") == 0 })

	for i := 0; i < 5; i++ {
		c := e.dial(t)
		c.send(subscribeMsg("a", "SIM-F64:SINE", map[string]any{"window_ms": 60_000}))
		c.send(subscribeMsg("b", "SIM-I32:COUNTER", map[string]any{"window_ms": 60_000, "num_bins": 10}))
		c.readUntil(func(m message) bool { return m.str("type") == typeSnapshot })
		_ = c.ws.CloseNow() // no close frame
	}
	waitFor(t, "connections, subscriptions and series to be freed", func() bool {
		return gaugeValue(t, e.reg, "databoard_stream_connections") == 0 &&
			gaugeValue(t, e.reg, "databoard_stream_subscriptions") == 0 &&
			gaugeValue(t, e.reg, "databoard_stream_series") == 0
	})
	waitFor(t, "the stream's goroutines to end", func() bool { return streamGoroutines() == "" })
}

// streamGoroutines returns the stacks of goroutines running code of the hub, its connections or series,
// or of the WebSocket library ("" when there are none). HTTP keep-alive connections to the simulator
// are left out: they idle for the transport's own timeout.
func streamGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "databoard/stream.(*") || strings.Contains(g, "coder/websocket") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// waitFor polls cond until it holds; the test's own timeout bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The hub answers pings, and stops cleanly on Close with connections open.
func TestStreamPingAndClose(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t)
	c.sendRaw(websocket.MessageText, []byte(`{"type":"ping","data":{"n":[1,2,3],"s":"x"}}`))
	m := c.read()
	if m.str("type") != typePong || string(m.fields["data"]) != `{"n":[1,2,3],"s":"x"}` {
		t.Errorf("pong: %s", m.raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	readErr := make(chan error, 1)
	go func() { _, _, err := c.ws.Read(ctx); readErr <- err }() // answers the close handshake
	if err := e.hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("after Close: %v, want going away", err)
	}
}

// Polls read through the curve cache: once the window is cached, each poll asks data-api only for the
// chunk holding now, never for the whole window, and the curve stays exact.
func TestStreamPollsAskForTheTailOnly(t *testing.T) {
	e := newTestEnv(t, withCurveCache())
	c := e.dial(t)
	const window = 3_600_000 // 1 h in 200 bins: 20 s bins, 128-bin chunks of about 43 min
	c.send(subscribeMsg("t", "SIM-F64:SINE", map[string]any{"window_ms": window, "num_bins": 200}))
	c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	e.sim.ResetRequests()
	var m message
	for i := 0; i < 5; i++ {
		m = c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	}
	reqs := e.sim.Requests()
	if len(reqs) == 0 {
		t.Fatal("no upstream request in 5 polls")
	}
	for _, r := range reqs {
		if span := time.Duration(r.End - r.Beg); span > 45*time.Minute {
			t.Errorf("a poll asked data-api for %v (%s), more than the chunk holding now", span, r.Path)
		}
	}
	e.checkExact(t, c.curves["t"], restQuery("SIM-F64:SINE", 200, false), m.int("begin_time"), m.int("end_time"), false)
}

// An idle connection gets heartbeats (its writer starts only for them), and answers pings after them.
func TestStreamHeartbeatWhenIdle(t *testing.T) {
	e := newTestEnv(t, withConfig(func(c *Config) { c.Heartbeat = 200 * time.Millisecond }))
	c := e.dial(t)
	for i := 0; i < 2; i++ {
		if m := c.read(); m.str("type") != typeHeartbeat || m.int("time") <= 0 {
			t.Fatalf("idle connection sent %s, want a heartbeat", m.raw)
		}
	}
	c.send(map[string]any{"type": "ping", "data": "x"})
	if m := c.readUntil(func(m message) bool { return m.str("type") != typeHeartbeat }); m.str("type") != typePong {
		t.Errorf("after heartbeats: %s", m.raw)
	}
}
