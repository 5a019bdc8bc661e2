package curves

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// TestRedisDownRequestsStillSucceed: Redis going away mid-run costs no failed request (all answered
// from data-api), the breaker opens so requests stop waiting on Redis, and hits resume once Redis is
// reachable again. Redis itself stays up: a forwarder in front of it is stopped and started.
func TestRedisDownRequestsStillSucceed(t *testing.T) {
	e := newSimEnv(t)
	fwd := newForwarder(t, redistest.Addr(t))
	rs := store.NewRedis(redistest.ClientVia(t, fwd.addr), store.RedisConfig{
		Prefix: redistest.Prefix(t), Timeout: 100 * time.Millisecond, BreakerFailures: 5, BreakerCooldown: 200 * time.Millisecond,
	})
	c := e.curves(rs, Config{})
	ch := e.channel(t, "SIM-F64:SINE", false)
	queries := make([]daqbuf.BinnedQuery, 0, 20)
	for i := range 20 {
		beg := e.now() - int64(time.Duration(i+2)*time.Hour)
		queries = append(queries, daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: beg, End: beg + int64(30*time.Minute)}, BinCount: 500})
	}
	mustBins(t, c, queries[0])
	if _, st := mustBins(t, c, queries[0]); st != curve.StatusHit {
		t.Fatalf("Redis up: status %s, want hit", st)
	}

	fwd.stop()
	start := time.Now()
	for i, q := range queries {
		got, st, err := c.Bins(context.Background(), q)
		if err != nil {
			t.Fatalf("Redis down, request %d failed: %v", i, err)
		}
		if d := diffBins(got, directBins(t, e, q)); d != "" {
			t.Errorf("Redis down, request %d: %s", i, d)
		}
		if st != curve.StatusMiss {
			t.Errorf("Redis down, request %d: status %s, want miss", i, st)
		}
	}
	state, trips := rs.Breaker()
	if state != store.BreakerOpen && state != store.BreakerHalfOpen || trips == 0 {
		t.Errorf("breaker %s after %d trips, want open", state, trips)
	}
	if s := c.Stats(); s.StoreErrors == 0 || s.Errors != 0 {
		t.Errorf("stats %+v: want store errors and no failed requests", s)
	}
	t.Logf("20 requests with Redis down took %s", time.Since(start))

	fwd.start()
	redistest.Eventually(t, time.Minute, "hits after Redis is back", func() bool {
		_, st, err := c.Bins(context.Background(), queries[1])
		return err == nil && st == curve.StatusHit
	})
	if state, _ := rs.Breaker(); state != store.BreakerClosed {
		t.Errorf("breaker %s after recovery, want closed", state)
	}
}

// TestRedisAtClosedPort: a Redis store pointing at a port where nothing listens never fails a request.
func TestRedisAtClosedPort(t *testing.T) {
	addr := redistest.ClosedAddr(t)
	e := newSimEnv(t)
	rs := store.NewRedis(redistest.ClientVia(t, addr), store.RedisConfig{BreakerCooldown: time.Hour})
	c := e.curves(rs, Config{})
	q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-ENUM:MODE", false),
		Range: daqbuf.Range{Beg: e.now() - int64(time.Hour), End: e.now()}, BinCount: 300}
	want := directBins(t, e, q)
	for i := range 10 {
		got, _, err := c.Bins(context.Background(), q)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if d := diffBins(got, want); d != "" {
			t.Fatalf("request %d: %s", i, d)
		}
	}
	if state, _ := rs.Breaker(); state != store.BreakerOpen {
		t.Errorf("breaker %s, want open", state)
	}
	// Open: calls are refused without trying Redis (TestBreaker in package store covers the timing
	// rules on a fake clock; a wall-clock bound here would fail on a loaded machine).
	if _, err := rs.GetMany(context.Background(), []string{"x"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("open breaker: err %v, want store.ErrUnavailable", err)
	}
	if state, _ := rs.Breaker(); state != store.BreakerOpen {
		t.Errorf("breaker %s after a refused call, want still open (no probe during the cooldown)", state)
	}
}

// TestRedisKilledInProcessTier (issue 12, point 1): a steady mix of past and live windows runs with
// Redis up, then with Redis gone (its forwarder stopped). The bounded in-process tier in front of
// Redis answers the hot chunks meanwhile: upstream requests rise at most 3× over the Redis-up figure,
// and no request fails. Before: 6 upstream requests with Redis up, 6 501 with Redis down.
func TestRedisKilledInProcessTier(t *testing.T) {
	e := newSimEnv(t)
	fwd := newForwarder(t, redistest.Addr(t))
	rs := store.NewRedis(redistest.ClientVia(t, fwd.addr), store.RedisConfig{
		Prefix: redistest.Prefix(t), Timeout: time.Second, BreakerFailures: 5, BreakerCooldown: 200 * time.Millisecond,
	})
	tiered := store.NewTiered(rs, store.TieredConfig{Now: e.clock.Now})
	c := e.curves(tiered, Config{FreshTail: time.Second})
	var mix []daqbuf.BinnedQuery
	for i, name := range []string{"SIM-F64:SINE", "SIM-F64:RAMP", "SIM-ENUM:MODE", "SIM-SPARSE:TEMP"} {
		ch := e.channel(t, name, false)
		for k := range 5 {
			end := e.now() - int64(time.Duration(k*7+i+1)*time.Hour)
			mix = append(mix, daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: end - int64(time.Hour), End: end}, BinCount: 500})
		}
	}
	live := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:SINE", false), BinCount: 600}
	const rounds = 10
	var mixPhase func(what string, c *Curves) int
	// phase runs the mix for some rounds through c and returns the upstream requests it cost.
	phase := func(what string) int {
		return mixPhase(what, c)
	}
	mixPhase = func(what string, c *Curves) int {
		before := c.Stats().UpstreamFetches
		for r := range rounds {
			e.clock.Advance(time.Second)
			live.Range = daqbuf.Range{Beg: e.now() - int64(10*time.Minute), End: e.now()}
			for i, q := range append(mix, live) {
				got, _, err := c.Bins(t.Context(), q)
				if err != nil {
					t.Fatalf("%s, round %d, request %d: %v", what, r, i, err)
				}
				if r == rounds-1 && i < len(mix) { // (the live window's tail may be up to FreshTail old)
					if d := diffBins(got, directBins(t, e, q)); d != "" {
						t.Errorf("%s, request %d: %s", what, i, d)
					}
				}
			}
		}
		return int(c.Stats().UpstreamFetches - before)
	}
	phase("warm-up")
	up := phase("Redis up")
	fwd.stop()
	down := phase("Redis down")
	// The same mix on an instance without the in-process tier (as before): every chunk goes upstream.
	plain := mixPhase("Redis down, no in-process tier", e.curves(rs, Config{FreshTail: time.Second}))
	t.Logf("%d requests (%d windows × %d rounds): %d upstream requests with Redis up, %d with Redis down "+
		"(%d in-process fallbacks); without the in-process tier, Redis down: %d",
		rounds*(len(mix)+1), len(mix)+1, rounds, up, down, tiered.Fallbacks(), plain)
	if plain <= 3*max(up, 1) {
		t.Errorf("without the tier: %d upstream requests; the mix does not show what the tier is for", plain)
	}
	if down > 3*max(up, 1) {
		t.Errorf("Redis down: %d upstream requests, want at most 3 × %d", down, up)
	}
	if c.Stats().Errors != 0 {
		t.Errorf("%d failed requests", c.Stats().Errors)
	}
	fwd.start()
}

// cpuHog keeps every core busy until the test ends: a host shared with other work.
func cpuHog(t *testing.T) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			x := 0
			for !stop.Load() {
				for i := range 10_000 {
					x += i
				}
			}
			_ = x
		})
	}
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
}

// TestBusyHostKeepsCoalescing (issue 12, point 2): Redis healthy but every round trip slower than the
// 100 ms starting deadline (a forwarder delays it, and a CPU hog shares the cores): the deadline grows
// from measurements, timeouts are slowness and not absence, the breakers of two instances stay closed,
// and 200 concurrent cold requests over the two instances still fetch every chunk once. Before: the
// breaker opened, and chunks were fetched up to 4 times.
func TestBusyHostKeepsCoalescing(t *testing.T) {
	e := newSimEnv(t)
	fwd := newForwarder(t, redistest.Addr(t))
	fwd.delay.Store(int64(60 * time.Millisecond)) // each way: a round trip takes more than 120 ms
	prefix := redistest.Prefix(t)
	// Production settings: 100 ms starting deadline, 5 failures open the breaker.
	ra := store.NewRedis(redistest.ClientVia(t, fwd.addr), store.RedisConfig{Prefix: prefix})
	rb := store.NewRedis(redistest.ClientVia(t, fwd.addr), store.RedisConfig{Prefix: prefix})
	a, b := e.curves(ra, Config{}), e.curves(rb, Config{})
	cpuHog(t)
	q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:RAMP", true),
		Range: daqbuf.Range{Beg: e.now() - int64(40*time.Minute), End: e.now()}, BinCount: 2000}
	got := concurrentBins(t, []*Curves{a, b}, 200, q)
	checkOneFetchPerChunk(t, e, q)
	n, _ := e.upstream()
	_, tripsA := ra.Breaker()
	_, tripsB := rb.Breaker()
	t.Logf("200 cold requests over 2 instances, Redis round trips > 120 ms, CPU hog: %d upstream requests; "+
		"deadlines now %s and %s; breaker trips %d and %d; store errors %d and %d",
		n, ra.Deadline(), rb.Deadline(), tripsA, tripsB, a.Stats().StoreErrors, b.Stats().StoreErrors)
	if tripsA != 0 || tripsB != 0 {
		t.Errorf("breakers opened %d and %d times: a slow Redis was taken for a dead one", tripsA, tripsB)
	}
	fwd.delay.Store(0)
	if d := diffBins(got, directBins(t, e, q)); d != "" {
		t.Error(d)
	}
}
