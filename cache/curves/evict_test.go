package curves

import (
	"context"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// Issue 13: the cache is not authoritative, so Redis may evict any key (maxmemory with allkeys-lru): a
// chunk that vanished between two requests is a miss, fetched again, and the answer is the same.
func TestEvictedChunksAreMisses(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newSimEnv(t)
		s := newStore()
		c := e.curves(s, Config{})
		q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:NOISE", true),
			Range: daqbuf.Range{Beg: e.now() - int64(6*time.Hour), End: e.now() - int64(2*time.Hour)}, BinCount: 500}
		first, _ := mustBins(t, c, q)
		if _, st := mustBins(t, c, q); st != curve.StatusHit {
			t.Fatalf("second request: %s, want hit", st)
		}
		if _, err := s.DeletePrefix(context.Background(), ""); err != nil { // every key evicted
			t.Fatal(err)
		}
		e.sim.ResetRequests()
		again, st := mustBins(t, c, q)
		if n, _ := e.upstream(); n == 0 || st == curve.StatusHit {
			t.Errorf("after eviction: %d data-api calls, status %s; want a fetch", n, st)
		}
		if d := diffBins(again, first); d != "" {
			t.Errorf("after eviction the answer differs: %s", d)
		}
	})
}
