package curves

import (
	"context"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// answerQuery is a binned /channels/curve query over [beg, end) ns of a simulator channel.
func answerQuery(ch daqbuf.ChannelRef, beg, end int64, bins int, removeEmpty bool) curve.Query {
	return curve.Query{
		Request: curve.Request{Name: ch.Name, Backend: ch.Backend, BeginMs: beg / 1e6, EndMs: end / 1e6, NumBins: int64(bins),
			RemoveEmpty: removeEmpty},
		Channel: daqbuf.Channel{Backend: ch.Backend, Name: ch.Name},
	}
}

// answer writes q's answer: from fragments when src offers them (FetchAnswer), else decoded.
func answer(t testing.TB, src curve.Source, q curve.Query) (string, curve.Status) {
	t.Helper()
	a, st, err := curve.New(src, nil, curve.Config{}).FetchAnswer(context.Background(), q)
	if err != nil {
		t.Fatalf("FetchAnswer(%+v): %v", q.Request, err)
	}
	return string(a.AppendJSON(nil)), st
}

func withFragments(cfg Config) Config {
	cfg.Fragments = store.NewMemory(store.MemoryConfig{MaxBytes: 16 << 20})
	return cfg
}

// TestFragmentAnswersIdenticalToDirect: for every simulator channel type and many windows, with and
// without removeEmptyBins, the answer written from fragments is byte for byte the uncached one: cold
// (fragments made, not kept), asked again (made and kept), then from the kept fragments (read against
// the store, or trusted without reading it).
func TestFragmentAnswersIdenticalToDirect(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), withFragments(Config{}))
	now := e.now()
	for _, simCh := range e.sim.Channels(testBackend) {
		ch := e.channel(t, simCh.Name, false)
		for _, w := range binWindows() {
			if w.width > 0 || (w.slowOnly && simCh.Period < time.Second) {
				continue // binWidth is not a parameter of the HTTP API
			}
			bq := w.query(ch, now)
			for _, removeEmpty := range []bool{false, true} {
				q := answerQuery(ch, bq.Range.Beg, bq.Range.End, w.n, removeEmpty)
				want, _ := answer(t, e.direct, q)
				for round := range 3 {
					if got, _ := answer(t, c, q); got != want {
						t.Errorf("%s %s removeEmpty=%v round %d:\n got %.200s\nwant %.200s", simCh.Name, w.name, removeEmpty, round, got, want)
					}
				}
			}
		}
	}
	if s := c.Stats(); s.FragmentHits == 0 || s.FragmentsMade == 0 || s.TrustedChunks == 0 {
		t.Errorf("stats %+v: want fragments made, used after reading the store and trusted", s)
	}
}

// TestChangedChunkGetsANewFragment: a chunk whose value changed in the store (another instance
// refetched it after a flush or an eviction; the open tail, refetched every few seconds) is never
// answered from the fragment made for its old value.
func TestChangedChunkGetsANewFragment(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		s := newStore()
		// Every answer reads the store (no trust, trust_test.go has it).
		c := e.curves(s, withFragments(Config{TailTTL: 5 * time.Second, FragmentTrust: -1}))
		ch := e.channel(t, "SIM-F64:SINE", false)
		now := e.now()
		past := answerQuery(ch, now-int64(26*time.Hour), now-int64(2*time.Hour), 2000, true)
		answer(t, c, past)
		first, _ := answer(t, c, past) // asked twice: the fragments are kept
		if st := c.Stats(); st.FragmentsMade == 0 || st.TrustedChunks != 0 {
			t.Fatalf("stats %+v: want fragments made and none trusted", st)
		}

		// Another instance stored other values for every chunk of the window.
		keys := changeChunks(t, c, s, ch, past)
		made := c.Stats().FragmentsMade
		got, st := answer(t, c, past)
		want := decodedAnswer(t, c, past)
		if got != want || got == first || st != curve.StatusHit {
			t.Errorf("after the chunks changed: status %s, equals the decoded answer %v, equals the old answer %v",
				st, got == want, got == first)
		}
		if n := c.Stats().FragmentsMade - made; n != uint64(len(keys)) {
			t.Errorf("%d fragments made for %d changed chunks", n, len(keys))
		}

		// A live window: its tail chunk is refetched once TailTTL has passed.
		live := answerQuery(ch, now-int64(3*time.Hour), now, 2000, true)
		answer(t, c, live)
		e.clock.Advance(6 * time.Second)
		got, st = answer(t, c, answerQuery(ch, now-int64(3*time.Hour), e.now(), 2000, true))
		want, _ = answer(t, e.direct, answerQuery(ch, now-int64(3*time.Hour), e.now(), 2000, true))
		if got != want || st != curve.StatusPartial {
			t.Errorf("live window after TailTTL: status %s, equals the uncached answer %v", st, got == want)
		}
	})
}

// changeChunks stores other values (every average + 1) for the chunks of q's window, as another
// instance would that fetched them again after a flush or an eviction and got other data, and returns
// their keys.
func changeChunks(t testing.TB, c *Curves, s store.Store, ch daqbuf.ChannelRef, q curve.Query) []string {
	t.Helper()
	ctx := context.Background()
	read, ok, err := c.readBins(ctx, daqbuf.BinnedQuery{Channel: ch, Range: q.Range(), BinCount: int(q.NumBins)}, 0)
	if !ok || err != nil {
		t.Fatalf("readBins: %v %v", ok, err)
	}
	for i, val := range read.vals {
		h, b, err := decodeBins(val)
		if err != nil {
			t.Fatal(err)
		}
		for k := range b.Avgs {
			b.Avgs[k] += 1
		}
		changed, err := encodeBins(h, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, read.keys[i], changed, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	return read.keys
}

// TestFragmentKeptOnlyForChunksAskedBefore: a made fragment is kept only for a chunk asked for
// before (the doorkeeper): a window asked once keeps nothing, asked twice keeps a fragment per chunk,
// and the third answer uses them.
func TestFragmentKeptOnlyForChunksAskedBefore(t *testing.T) {
	e := newSimEnv(t)
	cfg := withFragments(Config{FragmentTrust: -1})
	c := e.curves(store.NewMemory(store.MemoryConfig{}), cfg)
	ch := e.channel(t, "SIM-F64:SINE", false)
	q := answerQuery(ch, e.now()-int64(26*time.Hour), e.now()-int64(2*time.Hour), 2000, false)
	read, ok := c.planBinRead(daqbuf.BinnedQuery{Channel: ch, Range: q.Range(), BinCount: 2000}, 0)
	if !ok {
		t.Fatal("window not chunked")
	}
	n := uint64(len(read.keys))
	want, _ := answer(t, e.direct, q)
	for _, round := range []struct {
		kept, made, hits uint64
	}{
		{0, n, 0},     // asked once: made, used, not kept
		{n, 2 * n, 0}, // asked again: made and kept
		{n, 2 * n, n}, // from the kept fragments
	} {
		if got, _ := answer(t, c, q); got != want {
			t.Fatal("answer differs from the uncached one")
		}
		st, _ := cfg.Fragments.Stats(context.Background())
		s := c.Stats()
		if uint64(st.Entries) != round.kept || s.FragmentsMade != round.made || s.FragmentHits != round.hits {
			t.Errorf("kept %d, made %d, hits %d; want %d, %d, %d", st.Entries, s.FragmentsMade, s.FragmentHits,
				round.kept, round.made, round.hits)
		}
	}
}

// TestFragmentMemoryBounded: many chunks asked once keep no fragment at all; asked twice, the kept
// fragments stay within their budget; the doorkeeper's table has a fixed size.
func TestFragmentMemoryBounded(t *testing.T) {
	e := newSimEnv(t)
	const budget = 256 << 10
	cfg := Config{Fragments: store.NewMemory(store.MemoryConfig{MaxBytes: budget})}
	c := e.curves(store.NewMemory(store.MemoryConfig{}), cfg)
	ch := e.channel(t, "SIM-F64:SINE", false)
	windows := make([]curve.Query, 60) // a day apart: no chunk in common
	for k := range windows {
		end := e.now() - int64(k+2)*int64(24*time.Hour)
		windows[k] = answerQuery(ch, end-int64(4*time.Hour), end, 500, false)
	}
	ctx := context.Background()
	size := func() store.Stats {
		st, _ := cfg.Fragments.Stats(ctx)
		return st
	}
	for _, q := range windows {
		answer(t, c, q)
	}
	if st, s := size(), c.Stats(); st.Entries != 0 || st.Bytes != 0 || s.FragmentsMade < uint64(len(windows)) {
		t.Errorf("after %d windows asked once: %d fragments kept (%d bytes), %d made; want none kept",
			len(windows), st.Entries, st.Bytes, s.FragmentsMade)
	}
	for _, q := range windows {
		answer(t, c, q)
	}
	if st := size(); st.Entries == 0 || st.Bytes > budget {
		t.Errorf("after the windows asked twice: %d fragments, %d bytes; want some, within %d", st.Entries, st.Bytes, budget)
	}
	if got := c.fragSeen.Bytes(); got != 8*store.DefaultDoorkeeperSlots {
		t.Errorf("doorkeeper: %d bytes, want %d", got, 8*store.DefaultDoorkeeperSlots)
	}
}

// decodedAnswer is q's answer written from the decoded chunks (Fetch, as the live stream reads).
func decodedAnswer(t testing.TB, c *Curves, q curve.Query) string {
	t.Helper()
	cv, _, err := curve.New(c, nil, curve.Config{}).Fetch(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return string(cv.AppendJSON(nil))
}

// TestFlushDropsFragments: the flushes give the fragments' memory back with the chunks'.
func TestFlushDropsFragments(t *testing.T) {
	e := newSimEnv(t)
	cfg := withFragments(Config{})
	c := e.curves(store.NewMemory(store.MemoryConfig{}), cfg)
	ctx := context.Background()
	now := e.now()
	count := func() int64 {
		st, _ := cfg.Fragments.Stats(ctx)
		return st.Entries
	}
	sine, noise := e.channel(t, "SIM-F64:SINE", false), e.channel(t, "SIM-F64:NOISE", false)
	for _, ch := range []daqbuf.ChannelRef{sine, noise} {
		for range 2 { // asked twice: kept
			answer(t, c, answerQuery(ch, now-int64(5*time.Hour), now-int64(time.Hour), 500, false))
		}
	}
	before := count()
	if _, err := c.FlushChannel(ctx, testBackend, sine.Name, 0); err != nil {
		t.Fatal(err)
	}
	if after := count(); before == 0 || after == 0 || after >= before {
		t.Errorf("fragments: %d before flushing one of two channels, %d after", before, after)
	}
	if _, err := c.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Errorf("%d fragments left after FlushAll", n)
	}
}

// TestNoFragmentsWithoutTheirCache: without Config.Fragments, BinFragments declines and answers are
// decoded.
func TestNoFragmentsWithoutTheirCache(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{})
	ch := e.channel(t, "SIM-F64:SINE", false)
	q := answerQuery(ch, e.now()-int64(5*time.Hour), e.now()-int64(time.Hour), 500, false)
	if _, _, ok, err := c.BinFragments(context.Background(), daqbuf.BinnedQuery{Channel: ch, Range: q.Range(), BinCount: 500}); ok || err != nil {
		t.Errorf("BinFragments without a fragment cache: ok %v, err %v", ok, err)
	}
	got, _ := answer(t, c, q)
	if want, _ := answer(t, e.direct, q); got != want {
		t.Error("decoded answer differs from the uncached one")
	}
}
