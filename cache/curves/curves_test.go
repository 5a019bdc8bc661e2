package curves

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
)

// forEachStore runs f once with the in-process store and once with Redis.
func forEachStore(t *testing.T, f func(t *testing.T, newStore func() store.Store)) {
	for name, mk := range storeKinds(t) {
		t.Run(name, func(t *testing.T) { f(t, mk) })
	}
}

func TestSameRequestTwiceIsAHit(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		c := e.curves(newStore(), Config{})
		q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:NOISE", true),
			Range: daqbuf.Range{Beg: e.now() - int64(10*time.Minute), End: e.now()}, BinCount: 1920}
		first, st := mustBins(t, c, q)
		if st != curve.StatusMiss {
			t.Errorf("first: status %s, want miss", st)
		}
		e.sim.ResetRequests()
		second, st := mustBins(t, c, q)
		if n, _ := e.upstream(); n != 0 {
			t.Errorf("second request made %d data-api calls, want 0", n)
		}
		if st != curve.StatusHit {
			t.Errorf("second: status %s, want hit", st)
		}
		if d := diffBins(second, first); d != "" || len(flatBins(first).Ts1) < 1920 {
			t.Errorf("second answer differs (%s) or is short (%d bins)", d, len(flatBins(first).Ts1))
		}

		eq := daqbuf.EventsQuery{Channel: q.Channel, Range: daqbuf.Range{Beg: e.now() - int64(3*time.Minute), End: e.now()}}
		ev1, _, err := c.Events(context.Background(), eq)
		if err != nil {
			t.Fatal(err)
		}
		e.sim.ResetRequests()
		ev2, st, err := c.Events(context.Background(), eq)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := e.upstream(); n != 0 || st != curve.StatusHit {
			t.Errorf("second events request: %d data-api calls, status %s; want 0, hit", n, st)
		}
		if d := diffEvents(ev2, ev1); d != "" || len(flatEvents(ev1)) < 170 {
			t.Errorf("second events answer differs (%s) or is short (%d)", d, len(flatEvents(ev1)))
		}
	})
}

// TestMovingWindowFetchesLittle: a past window moved on by 60 s, and a live "last 10 min" refreshed
// 60 s later, fetch only the new extent (plus the unsettled tail for the live one).
func TestMovingWindowFetchesLittle(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		c := e.curves(newStore(), Config{})
		ch := e.channel(t, "SIM-F64:SINE", false)
		const window = 10 * time.Minute

		// Past window, moved on by 60 s.
		beg := e.now() - int64(3*time.Hour)
		q := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: beg, End: beg + int64(window)}, BinCount: 1920}
		mustBins(t, c, q)
		e.sim.ResetRequests()
		q.Range.Beg += int64(time.Minute)
		q.Range.End += int64(time.Minute)
		got, st := mustBins(t, c, q)
		n, total := e.upstream()
		t.Logf("past window moved 60 s: %d requests over %s (%.1f%% of the window)", n, total, 100*float64(total)/float64(window))
		if limit := window * 15 / 100; total > limit || n == 0 {
			t.Errorf("moved past window: asked data-api for %s in %d requests, want > 0 and at most %s", total, n, limit)
		}
		if st != curve.StatusPartial {
			t.Errorf("moved past window: status %s, want partial", st)
		}
		if d := diffBins(got, directBins(t, e, q)); d != "" {
			t.Errorf("moved past window: %s", d)
		}

		// Live window refreshed 60 s later.
		live := func() daqbuf.BinnedQuery {
			return daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: e.now() - int64(window), End: e.now()}, BinCount: 1920}
		}
		mustBins(t, c, live())
		e.clock.Advance(time.Minute)
		e.sim.ResetRequests()
		q = live()
		got, _ = mustBins(t, c, q)
		n, total = e.upstream()
		plan, _ := planBins(q, 128, e.now(), time.Minute, 0)
		span := time.Duration(plan.Width * 128)
		// New extent + the part that was not settled at the first request (settle, rounded out to a chunk).
		t.Logf("live window 60 s later: %d requests over %s (chunk span %s)", n, total, span)
		if limit := time.Minute + time.Minute + span; total > limit || n == 0 {
			t.Errorf("live window: asked data-api for %s in %d requests, want > 0 and at most %s", total, n, limit)
		}
		if d := diffBins(got, directBins(t, e, q)); d != "" {
			t.Errorf("live window: %s", d)
		}
	})
}

// TestShiftedAndOverlappingWindowsShareChunks: a window shifted by less than one bin, and a window
// overlapping another, reuse the chunks they share.
func TestShiftedAndOverlappingWindowsShareChunks(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{})
	ch := e.channel(t, "SIM-I32:COUNTER", false)
	beg := e.now() - int64(5*time.Hour)
	q := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: beg, End: beg + int64(time.Hour)}, BinCount: 1000}
	mustBins(t, c, q)
	w := daqbuf.WidthForCount(q.Range, q.BinCount)
	span := time.Duration(w * 128)

	for _, shift := range []int64{w / 3, w - 1, -w / 2} {
		s := q
		s.Range.Beg += shift
		s.Range.End += shift
		e.sim.ResetRequests()
		got, _ := mustBins(t, c, s)
		n, total := e.upstream()
		if n > 1 || total > span {
			t.Errorf("shift %s: %d requests over %s, want at most one chunk (%s)", time.Duration(shift), n, total, span)
		}
		if d := diffBins(got, directBins(t, e, s)); d != "" {
			t.Errorf("shift %s: %s", time.Duration(shift), d)
		}
	}

	o := q
	o.Range.Beg += int64(30 * time.Minute)
	o.Range.End += int64(30 * time.Minute)
	e.sim.ResetRequests()
	got, st := mustBins(t, c, o)
	_, total := e.upstream()
	if limit := 30*time.Minute + span; total > limit || st != curve.StatusPartial {
		t.Errorf("overlapping window: asked for %s (status %s), want at most %s and partial", total, st, limit)
	}
	if d := diffBins(got, directBins(t, e, o)); d != "" {
		t.Errorf("overlapping window: %s", d)
	}
}

// checkOneFetchPerChunk asserts that every chunk of q was asked from data-api exactly once.
func checkOneFetchPerChunk(t *testing.T, e *simEnv, q daqbuf.BinnedQuery) {
	t.Helper()
	plan, ok := planBins(q, 128, e.now(), time.Minute, 0)
	if !ok {
		t.Fatal("query not chunked")
	}
	for _, ch := range plan.Chunks {
		n := 0
		for _, r := range e.sim.Requests() {
			if r.Path == "/api/4/binned" && r.Beg <= ch.Fetch.Beg && ch.Fetch.End <= r.End {
				n++
			}
		}
		if n != 1 {
			t.Errorf("chunk at %d fetched %d times, want 1", ch.Span.Beg, n)
		}
	}
}

// concurrentBins runs the same request from n goroutines, over the given Curves in turn, and checks
// every answer against want.
func concurrentBins(t *testing.T, cs []*Curves, n int, q daqbuf.BinnedQuery) []*daqbuf.BinBatch {
	t.Helper()
	answers := make([][]*daqbuf.BinBatch, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i], _, errs[i] = cs[i%len(cs)].Bins(context.Background(), q)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if d := diffBins(answers[i], answers[0]); d != "" {
			t.Fatalf("request %d differs from request 0: %s", i, d)
		}
	}
	return answers[0]
}

func TestConcurrentColdRequestsFetchEachChunkOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		c := e.curves(newStore(), Config{})
		q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:RAMP", false),
			Range: daqbuf.Range{Beg: e.now() - int64(40*time.Minute), End: e.now()}, BinCount: 2000}
		got := concurrentBins(t, []*Curves{c}, 200, q)
		checkOneFetchPerChunk(t, e, q)
		if s := c.Stats(); s.CoalescedWaiters == 0 {
			t.Errorf("stats %+v: want coalesced waiters", s)
		}
		if d := diffBins(got, directBins(t, e, q)); d != "" {
			t.Error(d)
		}
	})
}

// TestConcurrentColdRequestsTwoInstances: two Curves (separate singleflight groups, as two
// processes) sharing one store coalesce through the store's lock.
func TestConcurrentColdRequestsTwoInstances(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		shared := newStore()
		a, b := e.curves(shared, Config{}), e.curves(shared, Config{})
		q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:RAMP", true),
			Range: daqbuf.Range{Beg: e.now() - int64(40*time.Minute), End: e.now()}, BinCount: 2000}
		got := concurrentBins(t, []*Curves{a, b}, 200, q)
		checkOneFetchPerChunk(t, e, q)
		if d := diffBins(got, directBins(t, e, q)); d != "" {
			t.Error(d)
		}
	})
}

// TestHolderDiesOtherInstanceFetches: a lock whose holder never stores a value (it died) delays the
// other instance at most LockTTL, which then fetches itself.
func TestHolderDiesOtherInstanceFetches(t *testing.T) {
	e := newSimEnv(t)
	mem := store.NewMemory(store.MemoryConfig{})
	c := e.curves(mem, Config{LockTTL: 150 * time.Millisecond})
	q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:SINE", false),
		Range: daqbuf.Range{Beg: e.now() - int64(2*time.Hour), End: e.now() - int64(time.Hour)}, BinCount: 100}
	plan, _ := planBins(q, 128, e.now(), time.Minute, 0)
	keys := chunkKeys(binKeyBase(q.Channel, q.Mode, plan.Width), plan.Chunks)
	for _, k := range keys {
		// Taken for LockTTL, as a holder takes it; the holder died, so nobody renews it.
		if ok, _ := mem.Lock(context.Background(), lockKeyPrefix+k, 150*time.Millisecond); !ok {
			t.Fatal("could not take the lock")
		}
	}
	start := time.Now()
	got, _ := mustBins(t, c, q)
	if d := diffBins(got, directBins(t, e, q)); d != "" {
		t.Error(d)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("answered after %s: did not wait for the holder", el)
	}
}

// TestLateTailDataAfterTailTTL: within TailTTL the open tail is served as cached; after it, the
// next request refetches it and shows the data that arrived meanwhile.
func TestLateTailDataAfterTailTTL(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		c := e.curves(newStore(), Config{TailTTL: 5 * time.Second})
		ch := e.channel(t, "SIM-F64:SINE", false)
		t0 := e.now()
		q := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: t0 - int64(10*time.Minute), End: t0 + int64(time.Minute)}, BinCount: 600}
		first, _ := mustBins(t, c, q)
		// 10-min window: 10 s event chunks; the clock (…:07.12) stays inside one for the next 2 s.
		eq := daqbuf.EventsQuery{Channel: ch, Range: daqbuf.Range{Beg: t0 - int64(9*time.Minute), End: t0 + int64(time.Minute)}}
		firstEv, _, err := c.Events(context.Background(), eq)
		if err != nil {
			t.Fatal(err)
		}

		e.clock.Advance(2 * time.Second)
		e.sim.ResetRequests()
		cached, st := mustBins(t, c, q)
		cachedEv, evSt, err := c.Events(context.Background(), eq)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := e.upstream(); n != 0 || st != curve.StatusHit || evSt != curve.StatusHit {
			t.Errorf("within TailTTL: %d data-api calls, status %s/%s; want 0, hit", n, st, evSt)
		}
		if diffBins(cached, first) != "" || diffEvents(cachedEv, firstEv) != "" {
			t.Error("within TailTTL: answer changed")
		}

		e.clock.Advance(4 * time.Second) // 6 s after the first request: the tail is stale
		e.sim.ResetRequests()
		fresh, st := mustBins(t, c, q)
		freshEv, _, err := c.Events(context.Background(), eq)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := e.upstream(); n == 0 || st != curve.StatusPartial {
			t.Errorf("after TailTTL: %d data-api calls, status %s; want a partial refetch", n, st)
		}
		if d := diffBins(fresh, directBins(t, e, q)); d != "" {
			t.Errorf("after TailTTL: %s", d)
		}
		last := flatBins(fresh)
		if len(last.Ts1) == 0 || last.Ts1[len(last.Ts1)-1] <= t0-int64(time.Second) || diffBins(fresh, first) == "" {
			t.Error("after TailTTL: the late data is missing")
		}
		wantEv := directEvents(t, e, eq)
		if d := diffEvents(freshEv, wantEv); d != "" || len(flatEvents(freshEv)) <= len(flatEvents(firstEv)) {
			t.Errorf("after TailTTL: events %q, %d events (had %d)", d, len(flatEvents(freshEv)), len(flatEvents(firstEv)))
		}
	})
}

// TestNoHoleBehindTheOldTail: a chunk fetched while it held now ends at that moment; once a later
// chunk exists, the old copy must not be used even within TailTTL, or the answer would have a hole.
func TestNoHoleBehindTheOldTail(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{TailTTL: 5 * time.Second})
	ch := e.channel(t, "SIM-DENSE:100HZ", false)
	t0 := e.now()
	// 2-min window: 2 s event chunks; 3 s later a new chunk holds now.
	eq := daqbuf.EventsQuery{Channel: ch, Range: daqbuf.Range{Beg: t0 - int64(time.Minute), End: t0 + int64(time.Minute)}}
	if _, _, err := c.Events(context.Background(), eq); err != nil {
		t.Fatal(err)
	}
	// 640 bins of 20 ms: 2.56 s chunks.
	bq := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: t0 - int64(10*time.Second), End: t0 + int64(3*time.Second)}, BinCount: 640}
	mustBins(t, c, bq)
	e.clock.Advance(3 * time.Second)
	got, _, err := c.Events(context.Background(), eq)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffEvents(got, directEvents(t, e, eq)); d != "" {
		t.Errorf("events 3 s later: %s", d)
	}
	bins, _ := mustBins(t, c, bq)
	if d := diffBins(bins, directBins(t, e, bq)); d != "" {
		t.Errorf("bins 3 s later: %s", d)
	}
}

// TestDataAPIDownServesStale: with data-api failing, a warm cache whose tail chunks are stale
// answers with the stale copies (curve.StatusStale) and keeps them as they were; a cold window fails and
// nothing of it is stored.
func TestDataAPIDownServesStale(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		shared := newStore()
		c := e.curves(shared, Config{})
		ch := e.channel(t, "SIM-F64:NULLS", false)
		q := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: e.now() - int64(10*time.Minute), End: e.now()}, BinCount: 1920}
		warm, _ := mustBins(t, c, q)
		eq := daqbuf.EventsQuery{Channel: ch, Range: daqbuf.Range{Beg: e.now() - int64(2*time.Minute), End: e.now()}}
		warmEv, _, err := c.Events(context.Background(), eq)
		if err != nil {
			t.Fatal(err)
		}
		plan, _ := planBins(q, 128, e.now(), time.Minute, 0)
		keys := chunkKeys(binKeyBase(ch, q.Mode, plan.Width), plan.Chunks)
		before, err := shared.GetMany(context.Background(), keys)
		if err != nil {
			t.Fatal(err)
		}

		e.clock.Advance(10 * time.Second)
		e.sim.SetFault(sim.Fault{Status: http.StatusInternalServerError})
		got, st, err := c.Bins(context.Background(), q)
		if err != nil || st != curve.StatusStale {
			t.Fatalf("data-api down, warm cache: status %s, err %v; want stale", st, err)
		}
		if d := diffBins(got, warm); d != "" {
			t.Errorf("stale answer: %s", d)
		}
		gotEv, st, err := c.Events(context.Background(), eq)
		if err != nil || st != curve.StatusStale || diffEvents(gotEv, warmEv) != "" {
			t.Errorf("events, data-api down: status %s, err %v; want the stale events", st, err)
		}
		after, err := shared.GetMany(context.Background(), keys)
		if err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if string(after[i]) != string(before[i]) {
				t.Errorf("chunk %d changed in the shared during the outage", i)
			}
		}

		// A cold window: no stale copy, so the error is returned, and nothing is stored.
		cold := q
		cold.Range.Beg -= int64(24 * time.Hour)
		cold.Range.End -= int64(24 * time.Hour)
		if _, _, err := c.Bins(context.Background(), cold); !errors.Is(err, daqbuf.ErrUpstream) {
			t.Errorf("cold window, data-api down: err %v, want ErrUpstream", err)
		}
		coldPlan, _ := planBins(cold, 128, e.now(), time.Minute, 0)
		coldVals, err := shared.GetMany(context.Background(), chunkKeys(binKeyBase(ch, q.Mode, coldPlan.Width), coldPlan.Chunks))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range coldVals {
			if v != nil {
				t.Errorf("cold chunk %d stored although its fetch failed", i)
			}
		}

		// A stream that fails midway is not stored either. (The failure above is remembered for
		// FailureTTL: without the clock moving on, data-api would not be asked.)
		e.clock.Advance(c.cfg.FailureTTL)
		e.sim.SetFault(sim.Fault{MidStreamError: true})
		if _, _, err := c.Bins(context.Background(), cold); err == nil {
			t.Error("mid-stream failure: no error")
		}
		// Shared fetches outlive the failed request: let them end while the fault holds.
		// Waiting for a slot or a lock counts too: a fetch that starts after ClearFault would succeed.
		redistest.Eventually(t, time.Minute, "fetches ended", func() bool { return c.Stats().SharedFetches == 0 })
		e.sim.ClearFault()
		coldVals, err = shared.GetMany(context.Background(), chunkKeys(binKeyBase(ch, q.Mode, coldPlan.Width), coldPlan.Chunks))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range coldVals {
			if v != nil {
				t.Errorf("cold chunk %d stored although its stream failed midway", i)
			}
		}
		if _, _, err := c.Bins(context.Background(), cold); err == nil {
			t.Error("right after the failure: no error, want the remembered one")
		}
		e.clock.Advance(c.cfg.FailureTTL)
		e.sim.ResetRequests()
		got, _ = mustBins(t, c, cold)
		if d := diffBins(got, directBins(t, e, cold)); d != "" {
			t.Errorf("after the outage: %s", d)
		}
	})
}

// TestFetchTimeoutIsAnError: a chunk fetch that takes longer than FetchTimeout fails the request
// (nothing stale to serve) with a timeout, and nothing is stored.
func TestFetchTimeoutIsAnError(t *testing.T) {
	e := newSimEnv(t)
	mem := store.NewMemory(store.MemoryConfig{})
	c := e.curves(mem, Config{FetchTimeout: 50 * time.Millisecond})
	e.sim.SetFault(sim.Fault{Latency: time.Second})
	q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:SINE", false),
		Range: daqbuf.Range{Beg: e.now() - int64(2*time.Hour), End: e.now() - int64(time.Hour)}, BinCount: 100}
	if _, _, err := c.Bins(context.Background(), q); !errors.Is(err, daqbuf.ErrTimeout) {
		t.Errorf("err %v, want ErrTimeout", err)
	}
	if s, _ := mem.Stats(context.Background()); s.Entries != 0 {
		t.Errorf("%d entries stored after a timeout", s.Entries)
	}
}

// TestCallerLeavingDoesNotFailOthers: the first caller of a shared fetch gives up; a second caller
// waiting on the same fetch still gets the answer.
func TestCallerLeavingDoesNotFailOthers(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{})
	// The second caller must join the fetch before it ends: 3 s leave it ample time on a loaded
	// machine (it starts right after the first fetch reached data-api).
	e.sim.SetFault(sim.Fault{Latency: 3 * time.Second})
	q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:SINE", false),
		Range: daqbuf.Range{Beg: e.now() - int64(2*time.Hour), End: e.now() - int64(time.Hour)}, BinCount: 100}
	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, _, err := c.Bins(ctx, q)
		firstErr <- err
	}()
	redistest.Eventually(t, time.Minute, "first fetch under way", func() bool { n, _ := e.upstream(); return n > 0 })
	secondDone := make(chan error, 1)
	go func() {
		_, _, err := c.Bins(context.Background(), q)
		secondDone <- err
	}()
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: %v, want context.Canceled", err)
	}
	if err := <-secondDone; err != nil {
		t.Errorf("second caller: %v", err)
	}
	checkOneFetchPerChunk(t, e, q)
}

func TestFlushChannelAndFlushAll(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		c := e.curves(newStore(), Config{})
		byName := e.channel(t, "SIM-F64:SINE", false)
		byID := e.channel(t, "SIM-F64:SINE", true)
		r := daqbuf.Range{Beg: e.now() - int64(3*time.Hour), End: e.now() - int64(time.Hour)}
		qs := []daqbuf.BinnedQuery{
			{Channel: byName, Range: r, BinCount: 1000},
			{Channel: byID, Range: r, BinCount: 1000},
			{Channel: e.channel(t, "SIM-F64:RAMP", false), Range: r, BinCount: 1000},
		}
		chunksPer := 0
		for _, q := range qs {
			mustBins(t, c, q)
			p, _ := planBins(q, 128, e.now(), time.Minute, 0)
			chunksPer = len(p.Chunks)
		}
		sine, _ := e.sim.Channel(testBackend, "SIM-F64:SINE")
		n, err := c.FlushChannel(context.Background(), testBackend, "SIM-F64:SINE", sine.SeriesID)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2*chunksPer {
			t.Errorf("FlushChannel deleted %d, want %d (by name and by id)", n, 2*chunksPer)
		}
		for i, q := range qs {
			e.sim.ResetRequests()
			got, st := mustBins(t, c, q)
			want := curve.StatusMiss
			if i == 2 {
				want = curve.StatusHit
			}
			if st != want {
				t.Errorf("after FlushChannel, query %d: status %s, want %s", i, st, want)
			}
			if d := diffBins(got, directBins(t, e, q)); d != "" {
				t.Errorf("after FlushChannel, query %d: %s", i, d)
			}
		}
		n, err = c.FlushAll(context.Background())
		if err != nil || n != 3*chunksPer {
			t.Errorf("FlushAll: %d, %v; want %d", n, err, 3*chunksPer)
		}
		for i, q := range qs {
			if _, st := mustBins(t, c, q); st != curve.StatusMiss {
				t.Errorf("after FlushAll, query %d: status %s, want miss", i, st)
			}
		}
		if _, st := mustBins(t, c, qs[0]); st != curve.StatusHit {
			t.Errorf("refilled: status %s, want hit", st)
		}
	})
}

// TestLargeChunksServedNotStored: chunks above MaxEntryBytes are answered but not kept.
func TestLargeChunksServedNotStored(t *testing.T) {
	e := newSimEnv(t)
	mem := store.NewMemory(store.MemoryConfig{})
	c := e.curves(mem, Config{MaxEntryBytes: 4096})
	eq := daqbuf.EventsQuery{Channel: e.channel(t, "SIM-DENSE:100HZ", false),
		Range: daqbuf.Range{Beg: e.now() - int64(3*time.Hour), End: e.now() - int64(3*time.Hour) + int64(5*time.Minute)}}
	for round := range 2 {
		got, st, err := c.Events(context.Background(), eq)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffEvents(got, directEvents(t, e, eq)); d != "" || len(flatEvents(got)) != 30000 {
			t.Errorf("round %d: %q, %d events", round, d, len(flatEvents(got)))
		}
		if st != curve.StatusMiss {
			t.Errorf("round %d: status %s, want miss (nothing stored)", round, st)
		}
	}
	if s, _ := mem.Stats(context.Background()); s.Entries != 0 || c.Stats().NotStored == 0 {
		t.Errorf("%d entries stored, %d not stored; want none stored", s.Entries, c.Stats().NotStored)
	}
}

// TestUnknownChannelIsAnError: data-api's 404 reaches the caller and nothing is stored.
func TestUnknownChannelIsAnError(t *testing.T) {
	e := newSimEnv(t)
	mem := store.NewMemory(store.MemoryConfig{})
	c := e.curves(mem, Config{})
	ch := daqbuf.ChannelRef{Backend: testBackend, Name: "NO-SUCH:CHANNEL"}
	r := daqbuf.Range{Beg: e.now() - int64(time.Hour), End: e.now()}
	if _, _, err := c.Bins(context.Background(), daqbuf.BinnedQuery{Channel: ch, Range: r, BinCount: 100}); !errors.Is(err, daqbuf.ErrChannelNotFound) {
		t.Errorf("bins: %v, want ErrChannelNotFound", err)
	}
	if _, _, err := c.Events(context.Background(), daqbuf.EventsQuery{Channel: ch, Range: r}); !errors.Is(err, daqbuf.ErrChannelNotFound) {
		t.Errorf("events: %v, want ErrChannelNotFound", err)
	}
	if s, _ := mem.Stats(context.Background()); s.Entries != 0 || c.Stats().Errors != 2 {
		t.Errorf("%d entries stored, %d errors counted", s.Entries, c.Stats().Errors)
	}
}

// A framed binned stream that data-api ends without its frames (a failure mid-stream has no marker,
// docs/daqbuf.md §6.2) must not be kept: once data-api is well again, the next answer is the right one.
func TestDroppedBinnedFramesAreNotKept(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		c := e.curves(newStore(), Config{})
		q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:SINE", true),
			Range: daqbuf.Range{Beg: e.now() - int64(5*time.Hour), End: e.now() - int64(4*time.Hour)}, BinCount: 300}
		e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/binned", DropFrames: true})
		bad, _ := mustBins(t, c, q)
		e.sim.ClearFault()
		if n := binsLen(bad); n != 0 {
			t.Fatalf("with frames dropped: %d bins, want 0 (the fault did not apply)", n)
		}
		got, st := mustBins(t, c, q)
		if st == curve.StatusHit {
			t.Error("the empty answer of a cut stream was served from the cache")
		}
		if d := diffBins(got, directBins(t, e, q)); d != "" {
			t.Error(d)
		}
	})
}

func binsLen(bs []*daqbuf.BinBatch) int {
	n := 0
	for _, b := range bs {
		n += b.Len()
	}
	return n
}

func TestBackendSemaphoresBounded(t *testing.T) {
	c := New(nil, store.NewMemory(store.MemoryConfig{}), Config{})
	for i := range 1000 {
		c.semFor(fmt.Sprintf("made-up-backend-%d", i))
	}
	if n := len(c.sems); n > maxBackendSems+1 {
		t.Errorf("%d semaphores for 1000 backend names, want at most %d", n, maxBackendSems+1)
	}
	if c.semFor("made-up-backend-999") != c.semFor("made-up-backend-998") {
		t.Error("names beyond the bound do not share one semaphore")
	}
}

// A binned request needing more chunks than MaxChunks goes to data-api as one request.
func TestHugeBinCountBypassesChunks(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{MaxChunks: 4})
	q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:SINE", true),
		Range: daqbuf.Range{Beg: e.now() - int64(3*time.Hour), End: e.now() - int64(2*time.Hour)}, BinCount: 3000}
	e.sim.ResetRequests()
	got, st := mustBins(t, c, q)
	if n := len(e.sim.Requests()); n != 1 || st != curve.StatusMiss {
		t.Errorf("%d data-api requests (status %s), want 1 direct request", n, st)
	}
	if d := diffBins(got, directBins(t, e, q)); d != "" {
		t.Error(d)
	}
}

// TestSlowDataAPIServesStale: data-api slower than StaleAfter with a warm cache → the stale copies are
// served without waiting for the fetch, which goes on in the background (and is stopped by Close at
// the end). data-api takes an hour: a request that waited for it would hang the test rather than
// fail a wall-clock bound that a loaded machine could miss.
func TestSlowDataAPIServesStale(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{StaleAfter: 100 * time.Millisecond})
	ch := e.channel(t, "SIM-F64:SINE", false)
	q := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: e.now() - int64(10*time.Minute), End: e.now()}, BinCount: 600}
	warm, _ := mustBins(t, c, q)
	e.clock.Advance(10 * time.Second) // the tail chunk is stale now
	e.sim.SetFault(sim.Fault{Latency: time.Hour, Count: 1})
	got, st, err := c.Bins(context.Background(), q)
	if err != nil || st != curve.StatusStale {
		t.Fatalf("slow data-api, warm cache: status %s, err %v; want stale", st, err)
	}
	if d := diffBins(got, warm); d != "" {
		t.Errorf("stale answer: %s", d)
	}
}

// TestSlowFetchHolderKeepsLock: a fetch slower than LockTTL keeps its lock alive, so another instance
// waits for it instead of asking data-api too. The lock lives 1 s and is renewed every 333 ms while
// data-api takes 2.5 s: a renewal would have to be 667 ms late for the other instance to take it (with
// the 150 ms it had, 100 ms of scheduling delay under -race on busy cores was enough).
func TestSlowFetchHolderKeepsLock(t *testing.T) {
	e := newSimEnv(t)
	prefix := redistest.Prefix(t)
	cfg := Config{LockTTL: time.Second}
	a := e.curves(store.NewRedis(redistest.Client(t), store.RedisConfig{Prefix: prefix, Timeout: time.Second}), cfg)
	b := e.curves(store.NewRedis(redistest.Client(t), store.RedisConfig{Prefix: prefix, Timeout: time.Second}), cfg)
	q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:RAMP", true),
		Range: daqbuf.Range{Beg: e.now() - int64(3*time.Hour), End: e.now() - int64(2*time.Hour)}, BinCount: 100}
	e.sim.ResetRequests()
	e.sim.SetFault(sim.Fault{Latency: 2500 * time.Millisecond})
	got := concurrentBins(t, []*Curves{a, b}, 20, q)
	e.sim.ClearFault()
	checkOneFetchPerChunk(t, e, q)
	if d := diffBins(got, directBins(t, e, q)); d != "" {
		t.Error(d)
	}
}
