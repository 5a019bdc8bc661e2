package curves

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
)

// testBackend is the simulator backend the curve tests use.
const testBackend = "sf-databuffer"

// fakeClock is a settable clock shared by the simulator, the client and Curves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testStart is the fake clock's start: not aligned to any grid width.
var testStart = time.Date(2024, 3, 1, 12, 0, 7, 123_456_789, time.UTC)

// simEnv is the simulator over real HTTP with a fake clock, and a client and Direct source on it.
type simEnv struct {
	t      testing.TB
	sim    *sim.Sim
	clock  *fakeClock
	client *daqbuf.Client
	direct Direct
}

func newSimEnv(t testing.TB) *simEnv {
	t.Helper()
	clock := &fakeClock{t: testStart}
	s := sim.New(sim.Config{Now: clock.Now})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client, err := daqbuf.New(daqbuf.Config{BaseURL: srv.URL + "/api/4", Now: clock.Now, MaxConnsPerHost: 64})
	if err != nil {
		t.Fatal(err)
	}
	return &simEnv{t: t, sim: s, clock: clock, client: client, direct: Direct{Client: client}}
}

func (e *simEnv) now() int64 { return e.clock.Now().UnixNano() }

// curves builds a Curves on s with the env's clock (cfg's other fields are kept), closed when the
// test ends so that no fetch outlives it.
func (e *simEnv) curves(s store.Store, cfg Config) *Curves {
	cfg.Now = e.clock.Now
	c := New(e.client, s, cfg)
	e.t.Cleanup(c.Close)
	return c
}

// channel returns a simulator channel addressed by name (byID false) or by series id.
func (e *simEnv) channel(t testing.TB, name string, byID bool) daqbuf.ChannelRef {
	t.Helper()
	ch, ok := e.sim.Channel(testBackend, name)
	if !ok {
		t.Fatalf("no simulator channel %s", name)
	}
	if byID {
		return daqbuf.ChannelRef{Backend: testBackend, SeriesID: ch.SeriesID}
	}
	return daqbuf.ChannelRef{Backend: testBackend, Name: name}
}

// upstream sums what data-api was asked for since the last reset: the number of data requests and
// the total length of their ranges.
func (e *simEnv) upstream() (n int, total time.Duration) {
	for _, r := range e.sim.Requests() {
		if r.Path == "/api/4/binned" || r.Path == "/api/4/events" {
			n++
			total += time.Duration(r.End - r.Beg)
		}
	}
	return n, total
}

// storeKinds returns the stores every curve test runs against: in process, and Redis under a
// unique prefix.
func storeKinds(t testing.TB) map[string]func() store.Store {
	t.Helper()
	return map[string]func() store.Store{
		"memory": func() store.Store { return store.NewMemory(store.MemoryConfig{}) },
		"redis": func() store.Store {
			return store.NewRedis(redistest.Client(t), store.RedisConfig{Prefix: redistest.Prefix(t), Timeout: time.Second})
		},
	}
}

// flatBins concatenates batches.
func flatBins(bs []*daqbuf.BinBatch) daqbuf.BinBatch {
	var out daqbuf.BinBatch
	for _, b := range bs {
		out.Ts1, out.Ts2 = append(out.Ts1, b.Ts1...), append(out.Ts2, b.Ts2...)
		out.Counts = append(out.Counts, b.Counts...)
		out.Mins, out.Maxs, out.Avgs = append(out.Mins, b.Mins...), append(out.Maxs, b.Maxs...), append(out.Avgs, b.Avgs...)
	}
	return out
}

func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool {
		return x == y || (math.IsNaN(x) && math.IsNaN(y)) // bit-exact apart from NaN payloads
	})
}

// diffBins describes the first difference between two bin answers, or "".
func diffBins(got, want []*daqbuf.BinBatch) string {
	g, w := flatBins(got), flatBins(want)
	if len(g.Ts1) != len(w.Ts1) {
		return fmt.Sprintf("%d bins, want %d", len(g.Ts1), len(w.Ts1))
	}
	switch {
	case !slices.Equal(g.Ts1, w.Ts1):
		return "Ts1 differ"
	case !slices.Equal(g.Ts2, w.Ts2):
		return "Ts2 differ"
	case !slices.Equal(g.Counts, w.Counts):
		return "counts differ"
	case !sameFloats(g.Mins, w.Mins):
		return "mins differ"
	case !sameFloats(g.Maxs, w.Maxs):
		return "maxs differ"
	case !sameFloats(g.Avgs, w.Avgs):
		return "avgs differ"
	}
	return ""
}

// flatEvent is one event with everything it carries, for comparisons across batch boundaries.
type flatEvent struct {
	ScalarType string
	Ts         int64
	Pulse      uint64
	HasPulse   bool
	Kind       daqbuf.ValueKind
	Width      int
	Floats     []float64
	Ints       []int64
	Uints      []uint64
	Bools      []bool
	Strings    []string
	Label      string
	HasLabel   bool
}

func flatEvents(bs []*daqbuf.EventBatch) []flatEvent {
	var out []flatEvent
	for _, b := range bs {
		w := max(b.Values.Width, 1)
		part := func(i int, n int) (int, int) { return min(i*w, n), min((i+1)*w, n) }
		for i := range b.Len() {
			e := flatEvent{ScalarType: b.ScalarType, Ts: b.Ts[i], Kind: b.Values.Kind, Width: b.Values.Width}
			if b.Pulses != nil {
				e.Pulse, e.HasPulse = b.Pulses[i], true
			}
			v := b.Values
			if a, z := part(i, len(v.Floats)); z > a {
				e.Floats = v.Floats[a:z]
			}
			if a, z := part(i, len(v.Ints)); z > a {
				e.Ints = v.Ints[a:z]
			}
			if a, z := part(i, len(v.Uints)); z > a {
				e.Uints = v.Uints[a:z]
			}
			if a, z := part(i, len(v.Bools)); z > a {
				e.Bools = v.Bools[a:z]
			}
			if a, z := part(i, len(v.Strings)); z > a {
				e.Strings = v.Strings[a:z]
			}
			if i < len(v.Labels) {
				e.Label, e.HasLabel = v.Labels[i], true
			}
			out = append(out, e)
		}
	}
	return out
}

// diffEvents describes the first difference between two event answers, or "".
func diffEvents(got, want []*daqbuf.EventBatch) string {
	g, w := flatEvents(got), flatEvents(want)
	if len(g) != len(w) {
		return fmt.Sprintf("%d events, want %d", len(g), len(w))
	}
	for i := range g {
		a, b := g[i], w[i]
		same := a.ScalarType == b.ScalarType && a.Ts == b.Ts && a.Pulse == b.Pulse && a.HasPulse == b.HasPulse &&
			a.Kind == b.Kind && a.Width == b.Width && sameFloats(a.Floats, b.Floats) && slices.Equal(a.Ints, b.Ints) &&
			slices.Equal(a.Uints, b.Uints) && slices.Equal(a.Bools, b.Bools) && slices.Equal(a.Strings, b.Strings) &&
			a.Label == b.Label && a.HasLabel == b.HasLabel
		if !same {
			return fmt.Sprintf("event %d: got %+v, want %+v", i, a, b)
		}
	}
	return ""
}

// mustBins runs Curves.Bins and fails the test on error.
func mustBins(t testing.TB, c *Curves, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, curve.Status) {
	t.Helper()
	b, st, err := c.Bins(context.Background(), q)
	if err != nil {
		t.Fatalf("Bins(%+v): %v", q, err)
	}
	return b, st
}

// directBins runs the uncached request.
func directBins(t testing.TB, e *simEnv, q daqbuf.BinnedQuery) []*daqbuf.BinBatch {
	t.Helper()
	b, _, err := e.direct.Bins(context.Background(), q)
	if err != nil {
		t.Fatalf("Direct.Bins(%+v): %v", q, err)
	}
	return b
}

// directEvents runs the uncached events request.
func directEvents(t testing.TB, e *simEnv, q daqbuf.EventsQuery) []*daqbuf.EventBatch {
	t.Helper()
	ev, _, err := e.direct.Events(context.Background(), q)
	if err != nil {
		t.Fatalf("Direct.Events(%+v): %v", q, err)
	}
	return ev
}

// forwarder is a TCP proxy to Redis that the test can stop (connections refused, open ones cut)
// and start again on the same address, while the real Redis stays up.
type forwarder struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup

	delay atomic.Int64 // ns added before every chunk of bytes forwarded: a slow Redis, or a busy host
}

func newForwarder(t testing.TB, target string) *forwarder {
	t.Helper()
	f := &forwarder{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.stop)
	return f
}

func (f *forwarder) serve(ln net.Listener) {
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", f.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			if !f.track(c, up) {
				return
			}
			f.wg.Add(2)
			go f.pipe(up, c)
			go f.pipe(c, up)
		}
	}()
}

// track registers a connection pair unless the forwarder was stopped meanwhile.
func (f *forwarder) track(a, b net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln == nil {
		_, _ = a.Close(), b.Close()
		return false
	}
	f.conns[a], f.conns[b] = struct{}{}, struct{}{}
	return true
}

func (f *forwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	defer func() { _, _ = dst.Close(), src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := time.Duration(f.delay.Load()); d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stop closes the listener and every open connection and waits for the goroutines.
func (f *forwarder) stop() {
	f.mu.Lock()
	if f.ln != nil {
		_ = f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		_ = c.Close()
	}
	clear(f.conns)
	f.mu.Unlock()
	f.wg.Wait()
}

// start listens on the same address again.
func (f *forwarder) start() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatalf("forwarder: listen again on %s: %v", f.addr, err)
	}
	f.serve(ln)
}
