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
// without removeEmptyBins, the answer written from fragments (cold, then warm) is byte for byte the
// uncached one.
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
				for round := range 2 {
					if got, _ := answer(t, c, q); got != want {
						t.Errorf("%s %s removeEmpty=%v round %d:\n got %.200s\nwant %.200s", simCh.Name, w.name, removeEmpty, round, got, want)
					}
				}
			}
		}
	}
	if s := c.Stats(); s.FragmentHits == 0 || s.FragmentsMade == 0 {
		t.Errorf("stats %+v: want fragments made and used", s)
	}
}

// TestChangedChunkGetsANewFragment: a chunk whose value changed in the store (another instance
// refetched it after a flush or an eviction; the open tail, refetched every few seconds) is never
// answered from the fragment made for its old value.
func TestChangedChunkGetsANewFragment(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		s := newStore()
		c := e.curves(s, withFragments(Config{TailTTL: 5 * time.Second}))
		ch := e.channel(t, "SIM-F64:SINE", false)
		now := e.now()
		past := answerQuery(ch, now-int64(26*time.Hour), now-int64(2*time.Hour), 2000, true)
		first, _ := answer(t, c, past)

		// Another instance stored other values for every chunk of the window.
		ctx := context.Background()
		read, ok, err := c.readBins(ctx, daqbuf.BinnedQuery{Channel: ch, Range: past.Range(), BinCount: 2000}, 0)
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
		made := c.Stats().FragmentsMade
		got, st := answer(t, c, past)
		want := decodedAnswer(t, c, past)
		if got != want || got == first || st != curve.StatusHit {
			t.Errorf("after the chunks changed: status %s, equals the decoded answer %v, equals the old answer %v",
				st, got == want, got == first)
		}
		if n := c.Stats().FragmentsMade - made; n != uint64(len(read.keys)) {
			t.Errorf("%d fragments made for %d changed chunks", n, len(read.keys))
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
		answer(t, c, answerQuery(ch, now-int64(5*time.Hour), now-int64(time.Hour), 500, false))
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
