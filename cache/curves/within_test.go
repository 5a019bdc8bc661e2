package curves

import (
	"context"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// TestWithinRefetchesAnOlderTail: on the simulator's clock, plain Bins and Events reuse the copy of
// the chunk holding now for TailTTL (5 s), while Within(1 s) reuses it only while it is at most 1 s
// old, and then asks data-api for that chunk alone, up to now. Answers stay identical to data-api's.
func TestWithinRefetchesAnOlderTail(t *testing.T) {
	steps := []struct {
		name    string
		advance time.Duration
		fresh   bool // through Within(1 s)
		fetches int  // data-api requests for the chunk holding now: 0 or 1 (-1: not counted)
	}{
		{"cold", 0, false, -1},
		{"plain, tail 1.5 s old", 1500 * time.Millisecond, false, 0},
		{"Within(1s), tail 1.5 s old", 0, true, 1},
		{"Within(1s), tail 0.5 s old", 500 * time.Millisecond, true, 0},
		{"plain, tail 1.5 s old again", time.Second, false, 0},
		{"Within(1s), tail 1.5 s old again", 0, true, 1},
		{"plain, tail 4.5 s old", 4500 * time.Millisecond, false, 0},
		{"plain, tail 5.5 s old: past TailTTL", time.Second, false, 1},
	}
	for _, kind := range []string{"bins", "events"} {
		t.Run(kind, func(t *testing.T) {
			e := newSimEnv(t) // the clock starts 7 s into a 20 s (or longer) chunk: 8.5 s stay in it
			c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{TailTTL: 5 * time.Second})
			fresh := c.Within(time.Second)
			ch := e.channel(t, "SIM-F64:SINE", false)
			// A fixed window reaching past now: the same chunks for every call while the clock moves on.
			r := daqbuf.Range{Beg: e.now() - int64(10*time.Minute), End: e.now() + int64(time.Minute)}
			// call asks src; compare then checks its answer against data-api's.
			call := func(src curve.Source) (compare func() string, err error) {
				if kind == "bins" {
					q := daqbuf.BinnedQuery{Channel: ch, Range: r, BinCount: 660}
					got, _, err := src.Bins(context.Background(), q)
					return func() string { return diffBins(got, directBins(t, e, q)) }, err
				}
				q := daqbuf.EventsQuery{Channel: ch, Range: r}
				got, _, err := src.Events(context.Background(), q)
				return func() string { return diffEvents(got, directEvents(t, e, q)) }, err
			}
			for _, s := range steps {
				e.clock.Advance(s.advance)
				e.sim.ResetRequests()
				src := curve.Source(c)
				if s.fresh {
					src = fresh
				}
				compare, err := call(src)
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				// Only the tail's requests reach now. (Chunks behind it that are not settled yet are
				// tails too, for TailTTL after their fetch: with events' 20 s chunks, some are.)
				tail := 0
				for _, req := range e.sim.Requests() {
					if req.End == e.now() {
						tail++
					}
				}
				if s.fetches >= 0 && tail != s.fetches {
					t.Errorf("%s: %d data-api requests for the tail, want %d", s.name, tail, s.fetches)
				}
				// A reused tail lacks what arrived since it was fetched (that is the point); a
				// fetched one is what data-api answers now.
				if s.fetches != 0 {
					if d := compare(); d != "" {
						t.Errorf("%s: %s", s.name, d)
					}
				}
			}
		})
	}
}
