package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
	"github.com/databoard/databoard/server"
)

// fastClock runs speed times faster than the wall clock from a start in the past, so a test sees
// minutes of simulated data in seconds. The simulator, the curve computation, the REST API and the
// hub all read it.
type fastClock struct {
	base, start time.Time
	speed       int64
}

func newFastClock(speed int64) *fastClock {
	now := time.Now()
	return &fastClock{base: now.Add(-time.Hour), start: now, speed: speed}
}

func (c *fastClock) Now() time.Time {
	return c.base.Add(time.Duration(c.speed) * time.Since(c.start))
}

// testEnv is a hub and the REST API on one loopback server, over the simulator.
type testEnv struct {
	sim    *sim.Sim
	clock  *fastClock
	hub    *Hub
	curves *curve.Service // the REST API's
	// pollCurves is the hub's: through the curve cache's Within view when the env has the cache.
	pollCurves *curve.Service
	channels   *catalogue.List
	base       string // http://127.0.0.1:port
	reg        *prometheus.Registry
	set        envSettings
}

// envSettings are what envOptions change: the hub's Config and the clock's speed.
type envSettings struct {
	cfg        Config
	speed      int64
	curveCache bool
}

type envOption func(*envSettings)

// withConfig changes the hub's Config.
func withConfig(f func(*Config)) envOption { return func(s *envSettings) { f(&s.cfg) } }

// withCurveCache puts the chunked curve cache (in memory) under the curve computation, and the hub's
// pollers read through its Within view, as cmd wires them.
func withCurveCache() envOption { return func(s *envSettings) { s.curveCache = true } }

// withSpeed sets how many times faster than the wall clock the clock runs (default 20).
func withSpeed(speed int64) envOption { return func(s *envSettings) { s.speed = speed } }

// newTestEnv starts the simulator, the channel list, the hub (polling every 100 ms of wall time) and
// the REST API. The clock runs 20 times faster than the wall clock.
func newTestEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	set := envSettings{speed: 20}
	for _, o := range opts {
		o(&set)
	}
	e := &testEnv{clock: newFastClock(set.speed), reg: prometheus.NewRegistry()}
	e.sim = sim.New(sim.Config{Now: e.clock.Now})
	simSrv := httptest.NewServer(e.sim)
	t.Cleanup(simSrv.Close)
	client, err := daqbuf.New(daqbuf.Config{BaseURL: simSrv.URL + "/api/4"})
	if err != nil {
		t.Fatal(err)
	}
	e.channels = catalogue.New(client, catalogue.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.channels.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	e.curves = curve.New(curves.Direct{Client: client}, e.channels, curve.Config{Now: e.clock.Now})
	e.pollCurves = e.curves
	if set.curveCache {
		cc := curves.New(client, store.NewMemory(store.MemoryConfig{MaxBytes: 64 << 20}), curves.Config{Now: e.clock.Now})
		t.Cleanup(cc.Close)
		e.curves = curve.New(cc, e.channels, curve.Config{Now: e.clock.Now})
		// Wall-time poll periods of 100 ms are 2 s of this clock: the tail may be one period old.
		e.pollCurves = e.curves.WithSource(cc.Within(2 * time.Second))
	}
	e.set = set
	e.startHub(t)
	return e
}

// startHub starts e's hub and REST API on a new loopback server.
func (e *testEnv) startHub(t *testing.T) {
	t.Helper()
	cfg := e.set.cfg
	cfg.Now = e.clock.Now
	if cfg.PollMin == 0 {
		cfg.PollMin, cfg.PollMax = 100*time.Millisecond, 100*time.Millisecond
	}
	e.hub = New(cfg, e.pollCurves, e.reg)
	rest := server.New(server.Config{Now: e.clock.Now}, server.Deps{Channels: e.channels, Curves: e.curves})
	mux := http.NewServeMux()
	mux.Handle("/stream", e.hub)
	mux.Handle("/", rest.Handler())
	srv := httptest.NewServer(mux)
	hub := e.hub
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := hub.Close(ctx); err != nil {
			t.Errorf("hub close: %v", err)
		}
		srv.Close()
	})
	e.base = srv.URL
}

// sibling is another instance on the same simulator, clock and Redis: its own hub, metrics and server.
func (e *testEnv) sibling(t *testing.T) *testEnv {
	t.Helper()
	s := *e
	s.reg = prometheus.NewRegistry()
	s.startHub(t)
	return &s
}

// withRedis coordinates the hubs through the test Redis under a fresh prefix, with a 2 s poller lease.
func withRedis(t *testing.T) envOption {
	client, prefix := redistest.Client(t), redistest.Prefix(t)
	return withConfig(func(c *Config) { c.Redis, c.RedisPrefix, c.LeaseTTL = client, prefix, 2*time.Second })
}

// testClient is a stream client written from the protocol alone: it keeps each subscription's curve as
// ordered maps of raw JSON values and applies messages as docs/streaming.md says.
type testClient struct {
	t      *testing.T
	ws     *websocket.Conn
	msgp   bool
	curves map[string]*clientCurve
	last   map[string]resumePoint // id -> epoch and offset of the last applied message
}

func (e *testEnv) dial(t *testing.T, subprotocols ...string) *testClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/stream",
		&websocket.DialOptions{Subprotocols: subprotocols})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	c := &testClient{t: t, ws: ws, msgp: ws.Subprotocol() == subprotocolMsgpack,
		curves: map[string]*clientCurve{}, last: map[string]resumePoint{}}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return c
}

func (c *testClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(websocket.MessageText, b)
}

func (c *testClient) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatal(err)
	}
}

// message is one decoded server message.
type message struct {
	fields map[string]json.RawMessage
	raw    []byte
}

func (m message) str(k string) string {
	var s string
	_ = json.Unmarshal(m.fields[k], &s)
	return s
}

func (m message) int(k string) int64 {
	n, _ := strconv.ParseInt(string(m.fields[k]), 10, 64)
	return n
}

// read returns the next message; it fails the test after 60 s without one.
func (c *testClient) read() message {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if c.msgp {
		if typ != websocket.MessageBinary {
			c.t.Fatalf("text frame on a MessagePack connection: %s", b)
		}
		js, err := decodeMsgpackMessage(b)
		if err != nil {
			c.t.Fatalf("undecodable MessagePack: %v", err)
		}
		b = js
	} else if typ != websocket.MessageText {
		c.t.Fatalf("binary frame on a JSON connection")
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("message is not a JSON object: %s", b)
	}
	return message{fields: f, raw: b}
}

// readUntil reads messages, applying each, until one satisfies stop.
func (c *testClient) readUntil(stop func(m message) bool) message {
	c.t.Helper()
	for {
		m := c.read()
		c.apply(m)
		if stop(m) {
			return m
		}
	}
}

// apply applies a snapshot, resumed or append to the client's state.
func (c *testClient) apply(m message) {
	c.t.Helper()
	id := m.str("id")
	switch m.str("type") {
	case typeSnapshot:
		cc := &clientCurve{}
		cc.set(c.t, m.fields["curve"])
		c.curves[id] = cc
	case typeAppend:
		cc := c.curves[id]
		if cc == nil {
			c.t.Fatalf("append before a snapshot: %s", m.raw)
		}
		trim, _ := strconv.ParseInt(m.str("trim_before"), 10, 64)
		rep, hasRep := int64(math.MaxInt64), false
		if _, ok := m.fields["replace_from"]; ok {
			rep, _ = strconv.ParseInt(m.str("replace_from"), 10, 64)
			hasRep = true
		}
		cc.apply(c.t, trim, rep, hasRep, m.fields["curve"])
	case typeResumed:
	default:
		return
	}
	off, _ := strconv.ParseInt(m.str("offset"), 10, 64)
	if prev, ok := c.last[id]; ok && m.str("type") == typeAppend && prev.epoch == m.str("epoch") && off <= prev.offset {
		c.t.Errorf("offset %d after %d in epoch %s", off, prev.offset, prev.epoch)
	}
	c.last[id] = resumePoint{epoch: m.str("epoch"), offset: off}
}

// kv is one entry of a JSON object, in document order.
type kv struct {
	key string
	val string
}

// orderedObject reads a JSON object's entries in order.
func orderedObject(t *testing.T, raw []byte) []kv {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var out []kv
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, kv{key: tok.(string), val: string(v)})
	}
	return out
}

// clientCurve is one subscription's curve: every point map by name (pointMeta under "<name>.pointMeta")
// and the meta's scalars.
type clientCurve struct {
	maps    map[string][]kv
	scalars map[string]string
}

func (cc *clientCurve) set(t *testing.T, curveRaw []byte) {
	cc.maps, cc.scalars = map[string][]kv{}, map[string]string{}
	cc.add(t, curveRaw)
}

func (cc *clientCurve) add(t *testing.T, curveRaw []byte) {
	for _, m := range orderedObject(t, curveRaw) {
		if strings.HasSuffix(m.key, "_meta") {
			for _, f := range orderedObject(t, []byte(m.val)) {
				if f.key == "pointMeta" {
					cc.maps[m.key+".pointMeta"] = append(cc.maps[m.key+".pointMeta"], orderedObject(t, []byte(f.val))...)
				} else {
					cc.scalars[f.key] = f.val
				}
			}
			continue
		}
		cc.maps[m.key] = append(cc.maps[m.key], orderedObject(t, []byte(m.val))...)
	}
}

// pointTime is a key's time: the integer, or the part before _ of a waveform key.
func pointTime(key string) int64 {
	if i := strings.IndexByte(key, '_'); i >= 0 {
		key = key[:i]
	}
	n, _ := strconv.ParseInt(key, 10, 64)
	return n
}

func (cc *clientCurve) apply(t *testing.T, trim, rep int64, hasRep bool, curveRaw []byte) {
	for name, pts := range cc.maps {
		kept := pts[:0]
		for _, p := range pts {
			tm := pointTime(p.key)
			if tm >= trim && (!hasRep || tm < rep) {
				kept = append(kept, p)
			}
		}
		cc.maps[name] = kept
	}
	cc.add(t, curveRaw)
}

// checkExact compares the client's curve of a subscription with GET /channels/curve for the window of
// its last message, point for point except at or after the settle line. It returns the number of
// points compared.
func (e *testEnv) checkExact(t *testing.T, cc *clientCurve, q url.Values, beginMs, endMs int64, all bool) int {
	t.Helper()
	q = cloneValues(q)
	q.Set("begin_time", strconv.FormatInt(beginMs, 10))
	q.Set("end_time", strconv.FormatInt(endMs, 10))
	resp, err := http.Get(e.base + "/channels/curve?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("REST %d: %s", resp.StatusCode, body)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	want := &clientCurve{}
	want.set(t, top["curve"])

	line := int64(math.MaxInt64)
	if !all {
		settle := int64(time.Minute)
		if n, _ := strconv.Atoi(q.Get("num_bins")); n > 0 {
			rng := daqbuf.Range{Beg: beginMs * 1e6, End: endMs * 1e6}
			settle = max(settle, 2*daqbuf.WidthForCount(rng, n))
		}
		line = max(endMs*1e6-settle, beginMs*1e6)
	}
	settled := func(pts []kv) []kv {
		var out []kv
		for _, p := range pts {
			if pointTime(p.key) < line {
				out = append(out, p)
			}
		}
		return out
	}
	names := map[string]bool{}
	for n := range want.maps {
		names[n] = true
	}
	for n := range cc.maps {
		names[n] = true
	}
	compared := 0
	for n := range names {
		got, exp := settled(cc.maps[n]), settled(want.maps[n])
		if !sort.SliceIsSorted(cc.maps[n], func(i, j int) bool { return pointTime(cc.maps[n][i].key) < pointTime(cc.maps[n][j].key) }) {
			t.Errorf("map %s: keys not in ascending time order", n)
		}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("map %s differs from the REST answer for [%d, %d] before the settle line:\n got %d points %.300v\nwant %d points %.300v",
				n, beginMs, endMs, len(got), got, len(exp), exp)
		}
		compared += len(exp)
	}
	if all && fmt.Sprint(cc.scalars) != fmt.Sprint(want.scalars) {
		t.Errorf("meta scalars: got %v, want %v", cc.scalars, want.scalars)
	}
	return compared
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// subscribeMsg is a subscribe for channel with the given window and flags.
func subscribeMsg(id, channel string, extra map[string]any) map[string]any {
	m := map[string]any{"type": "subscribe", "id": id, "channel_name": channel, "backend": "sf-databuffer"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// restQuery is the /channels/curve query with a subscription's flags.
func restQuery(channel string, numBins int, rawIfSparse bool) url.Values {
	q := url.Values{"channel_name": {channel}, "backend": {"sf-databuffer"}}
	if numBins > 0 {
		q.Set("num_bins", strconv.Itoa(numBins))
	}
	if rawIfSparse {
		q.Set("useEventsIfBinCountTooLarge", "true")
	}
	return q
}
