package curves

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
)

// upstreamByPath counts the data requests of the simulator's log by path.
func (e *simEnv) upstreamByPath() (binned, events int) {
	for _, r := range e.sim.Requests() {
		switch r.Path {
		case "/api/4/binned":
			binned++
		case "/api/4/events":
			events++
		}
	}
	return binned, events
}

// TestColdWindowOneRequestPerMode (issue 12, point 3): a first load of a window costs one upstream
// request per mode (one contiguous missing run), not one per chunk, and answers exactly what the
// uncached request does. Before: 10 min of a sparse channel cost 24 binned and 61 events requests.
func TestColdWindowOneRequestPerMode(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		c := e.curves(newStore(), Config{})
		for _, name := range []string{"SIM-SPARSE:TEMP", "SIM-F64:SINE"} {
			ch := e.channel(t, name, false)
			for _, window := range []time.Duration{10 * time.Minute, 6 * time.Hour} {
				r := daqbuf.Range{Beg: e.now() - int64(window), End: e.now()}
				bq := daqbuf.BinnedQuery{Channel: ch, Range: r, BinCount: 1000}
				eq := daqbuf.EventsQuery{Channel: ch, Range: r}
				plan, _ := planBins(bq, 128, e.now(), time.Minute, 0)
				eplan, _ := planEvents(eq, 64, e.now(), time.Minute, 0)
				e.sim.ResetRequests()
				got, _ := mustBins(t, c, bq)
				ev, _, err := c.Events(t.Context(), eq)
				if err != nil {
					t.Fatal(err)
				}
				binned, events := e.upstreamByPath()
				t.Logf("%s, cold %s: %d binned requests for %d chunks, %d events requests for %d chunks",
					name, window, binned, len(plan.Chunks), events, len(eplan.Chunks))
				if binned != 1 || events != 1 {
					t.Errorf("%s, cold %s: %d binned and %d events requests, want 1 and 1", name, window, binned, events)
				}
				if d := diffBins(got, directBins(t, e, bq)); d != "" {
					t.Errorf("%s %s bins: %s", name, window, d)
				}
				if d := diffEvents(ev, directEvents(t, e, eq)); d != "" {
					t.Errorf("%s %s events: %s", name, window, d)
				}
				e.clock.Advance(time.Second) // no chunk fresh in the store for the next window's tail
			}
		}
	})
}

// TestAbandonedFetchesStop (issue 12, point 7): shared fetches that no request waits for any more are
// cancelled: queued ones never reach data-api, and a running one for a result that would not be final
// (the open tail) is cut off. Only the running fetches of final results finish. Before: every fetch ran
// on for up to FetchTimeout after its clients left (300 upstream requests after 80 clients gave up).
func TestAbandonedFetchesStop(t *testing.T) {
	e := newSimEnv(t)
	const slots, clients = 2, 20
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{FetchConcurrency: slots, FetchTimeout: time.Hour})
	ch := e.channel(t, "SIM-F64:SINE", false)
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/", Latency: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range clients {
		// Windows days apart: each its own settled chunk, none adjacent to another.
		beg := e.now() - int64(time.Duration(i+2)*24*time.Hour)
		q := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: beg, End: beg + int64(10*time.Minute)}, BinCount: 100}
		wg.Go(func() { _, _, _ = c.Bins(ctx, q) })
	}
	// And one live window: its tail chunk would not be final.
	live := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: e.now() - int64(10*time.Minute), End: e.now()}, BinCount: 100}
	wg.Go(func() { _, _, _ = c.Bins(ctx, live) })
	redistest.Eventually(t, 2*time.Minute, "fetches queued and running", func() bool {
		return c.Stats().SharedFetches == clients+1 && c.Stats().FetchesInFlight == slots
	})
	cancel() // every client gives up
	wg.Wait()
	e.sim.ClearFault()
	// The kept fetches (final results already asked for) wait for data-api for an hour: Close ends them.
	redistest.Eventually(t, 2*time.Minute, "abandoned fetches gone", func() bool {
		return c.Stats().SharedFetches <= slots
	})
	n, _ := e.upstream()
	t.Logf("%d clients gave up: %d upstream requests, %d shared fetches cancelled, %d still running",
		clients+1, n, c.Stats().AbandonedFetches, c.Stats().SharedFetches)
	if n > slots {
		t.Errorf("%d upstream requests after every client left, want at most %d (those already running)", n, slots)
	}
	if s := c.Stats(); s.AbandonedFetches < clients+1-slots {
		t.Errorf("%d fetches cancelled, want at least %d", s.AbandonedFetches, clients+1-slots)
	}
}

// TestSlowDataAPIQueueingIsNotATimeout (issue 12, point 6): with data-api slow and more chunks than
// fetch slots, fetches queue for a slot; the time queued does not count against FetchTimeout, so
// every request is answered. Before: the fetch timeout included the queueing, and most requests of
// a slow data-api failed with a timeout.
func TestSlowDataAPIQueueingIsNotATimeout(t *testing.T) {
	e := newSimEnv(t)
	const clients = 10
	const latency = 500 * time.Millisecond
	// One slot: the last fetch queues for (clients-1)·latency = 4.5 s, longer than FetchTimeout, which
	// leaves each fetch six times its latency (a loaded machine must not make a fetch itself time out).
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{FetchConcurrency: 1, FetchTimeout: 3 * time.Second})
	ch := e.channel(t, "SIM-F64:SINE", false)
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/", Latency: latency})
	errs := make([]error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		beg := e.now() - int64(time.Duration(i+2)*24*time.Hour)
		q := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: beg, End: beg + int64(10*time.Minute)}, BinCount: 100}
		wg.Go(func() { _, _, errs[i] = c.Bins(t.Context(), q) })
	}
	wg.Wait()
	t.Logf("%d requests over 1 slot with %s upstream latency answered in %s", clients, latency, time.Since(start))
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if n, _ := e.upstream(); n != clients {
		t.Errorf("%d upstream requests, want %d", n, clients)
	}
}

// TestLiveWindowDegradesGracefully (issue 12, point 4): with data-api failing, a live window whose
// newest chunk has no copy is answered from what is cached (X-Cache: stale), complete up to the end
// of the old tail's copy, the missing newest part left out; the failure is remembered, so the next
// request does not ask data-api again; with data-api hanging, the same answer comes after StaleAfter.
// Before: such a window failed whole (500, or 504 after 30 s) although almost all of it was cached.
func TestLiveWindowDegradesGracefully(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{StaleAfter: 300 * time.Millisecond, FetchTimeout: time.Hour})
	ch := e.channel(t, "SIM-F64:SINE", false)
	window := func() daqbuf.BinnedQuery {
		return daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: e.now() - int64(10*time.Minute), End: e.now()}, BinCount: 600}
	}
	mustBins(t, c, window())
	t0 := e.now() // where the cached tail's copy ends
	check := func(what string, fault sim.Fault) {
		t.Helper()
		e.clock.Advance(3 * time.Minute) // a new chunk holds now: it has no copy
		q := window()
		e.sim.ClearFault()
		direct := directBins(t, e, q)
		e.sim.SetFault(fault)
		ctx, comp := WithCompleteness(t.Context())
		got, st, err := c.Bins(ctx, q)
		if err != nil || st != curve.StatusStale {
			t.Fatalf("%s: status %q, err %v; want stale", what, st, err)
		}
		until, ok := comp.Until()
		if !ok || until.UnixNano() != t0 {
			t.Errorf("%s: complete until %v (%v), want %v", what, until, ok, time.Unix(0, t0))
		}
		w, _ := binWidthOf(q)
		settled := daqbuf.Range{Beg: q.Range.Beg, End: t0 / w * w} // the bins complete before t0
		flatDirect := flatBins(direct)
		want := cutBins(&flatDirect, settled)
		flat := flatBins(got)
		if d := diffBins([]*daqbuf.BinBatch{cutBins(&flat, settled)}, []*daqbuf.BinBatch{want}); d != "" || want.Len() == 0 {
			t.Errorf("%s: cached part: %s (%d bins)", what, d, want.Len())
		}
		if n := flat.Len(); n == 0 || flat.Ts1[n-1] >= t0 {
			t.Errorf("%s: %d bins, the last at %d: want none from %d on", what, n, flat.Ts1[max(n-1, 0)], t0)
		}
	}

	check("data-api failing", sim.Fault{PathPrefix: "/api/4/", Status: 500})
	// 26 ms later, as in the issue: the failure is remembered, data-api is not asked again.
	e.sim.ResetRequests()
	e.clock.Advance(26 * time.Millisecond)
	ctx, comp := WithCompleteness(t.Context())
	if _, st, err := c.Bins(ctx, window()); err != nil || st != curve.StatusStale {
		t.Errorf("again: status %q, err %v; want stale", st, err)
	}
	if _, ok := comp.Until(); !ok {
		t.Error("again: no completeness noted")
	}
	if n, _ := e.upstream(); n != 0 {
		t.Errorf("again, 26 ms later: %d upstream requests, want 0 (the failure is remembered)", n)
	}

	check("data-api hanging", sim.Fault{PathPrefix: "/api/4/", Latency: time.Hour})
	if s := c.Stats(); s.DroppedTails < 2 || s.FailuresRecalled == 0 {
		t.Errorf("stats %+v: want dropped tails and recalled failures", s)
	}
}

// TestFreshHitIsFresh (issue 12, point 5): a "last 10 minutes" window probed every 2 s holds what
// data-api has at the request (no TailTTL-old tail), and costs at most one upstream request per mode:
// the delta after the cached tail, or, when chunks that are not settled yet are due again too, one
// request for them and the tail together — never the window. A probe 0.5 s after the last one holds
// everything up to 1 s before it. Before: answers marked hit missed up to 5 s of newest data (3 001,
// 2 991, 2 981 points); and a refresh cost a request per unsettled chunk (11 for a 1 920-bin curve
// with raw-when-sparse).
func TestFreshHitIsFresh(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{FreshTail: time.Second})
	ch := e.channel(t, "SIM-F64:SINE", false)
	probe := func(what string, exact bool) {
		t.Helper()
		now := e.now()
		r := daqbuf.Range{Beg: now - int64(10*time.Minute), End: now}
		bq := daqbuf.BinnedQuery{Channel: ch, Range: r, BinCount: 600}
		eq := daqbuf.EventsQuery{Channel: ch, Range: r}
		e.sim.ResetRequests()
		got, _ := mustBins(t, c, bq)
		ev, _, err := c.Events(t.Context(), eq)
		if err != nil {
			t.Fatal(err)
		}
		// The most a request may ask for: the unsettled minute, the chunk holding now and the one that
		// settled since the last probe (chunk lengths: 128 bins of 1 s; the events grid step).
		bp, _ := planBins(bq, c.cfg.BinsPerChunk, now, c.cfg.Settle, 0)
		ep, _ := planEvents(eq, c.cfg.EventChunks, now, c.cfg.Settle, 0)
		most := map[string]time.Duration{
			"/api/4/binned": c.cfg.Settle + time.Duration(2*(bp.Chunks[0].Span.End-bp.Chunks[0].Span.Beg)),
			"/api/4/events": c.cfg.Settle + time.Duration(2*ep.Span),
		}
		asked := map[string]int{}
		for _, q := range e.sim.Requests() {
			asked[q.Path]++
			if d := time.Duration(q.End - q.Beg); d > most[q.Path] {
				t.Errorf("%s: %s asked for %s, want at most %s", what, q.Path, d, most[q.Path])
			}
		}
		if asked["/api/4/binned"] > 1 || asked["/api/4/events"] > 1 {
			t.Errorf("%s: requests %v, want at most 1 per mode", what, asked)
		}
		// Everything data-api has up to 1 s before the request (all of it when the tail was fetched).
		upTo := now - int64(time.Second)
		if exact {
			upTo = now
		}
		w, _ := binWidthOf(bq)
		complete := daqbuf.Range{Beg: r.Beg - w, End: upTo / w * w}
		gotB, wantB := flatBins(got), flatBins(directBins(t, e, bq))
		if d := diffBins([]*daqbuf.BinBatch{cutBins(&gotB, complete)}, []*daqbuf.BinBatch{cutBins(&wantB, complete)}); d != "" {
			t.Errorf("%s: bins %s", what, d)
		}
		evWindow := daqbuf.Range{Beg: r.Beg, End: upTo}
		if d := diffEvents(mergeEvents([][]*daqbuf.EventBatch{ev}, evWindow, false),
			mergeEvents([][]*daqbuf.EventBatch{directEvents(t, e, eq)}, evWindow, false)); d != "" {
			t.Errorf("%s: events %s", what, d)
		}
	}
	warm := daqbuf.Range{Beg: e.now() - int64(10*time.Minute), End: e.now()}
	mustBins(t, c, daqbuf.BinnedQuery{Channel: ch, Range: warm, BinCount: 600})
	if _, _, err := c.Events(t.Context(), daqbuf.EventsQuery{Channel: ch, Range: warm}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		e.clock.Advance(2 * time.Second)
		probe(fmt.Sprintf("probe %d, 2 s later", i), true)
		e.clock.Advance(500 * time.Millisecond)
		probe(fmt.Sprintf("probe %d, 0.5 s later", i), false)
	}
	if s := c.Stats(); s.DeltaFetches == 0 {
		t.Errorf("stats %+v: no delta fetches", s)
	}
}
