package curves

import (
	"context"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
)

// binWindow is a binned request relative to the fake clock's now.
type binWindow struct {
	name     string
	beg, end time.Duration // relative to now
	n        int
	width    time.Duration // binWidth instead of n
	shift    float64       // shift both ends by this fraction of the bin width
	slowOnly bool          // only for channels of ≥ 1 s period (long windows)
}

func binWindows() []binWindow {
	return []binWindow{
		{name: "past 10m n=1920", beg: -70 * time.Minute, end: -60 * time.Minute, n: 1920},
		{name: "past 10m n=1920 shifted 1/3 bin", beg: -70 * time.Minute, end: -60 * time.Minute, n: 1920, shift: 1. / 3},
		{name: "past 10m n=1920 shifted 0.9 bin", beg: -70 * time.Minute, end: -60 * time.Minute, n: 1920, shift: 0.9},
		{name: "last 10m n=100", beg: -10 * time.Minute, n: 100},
		{name: "last 10m n=1920", beg: -10 * time.Minute, n: 1920},
		{name: "last 10m shifted back half a bin", beg: -10 * time.Minute, n: 600, shift: -0.5},
		{name: "last 1h n=200", beg: -time.Hour, n: 200},
		{name: "into the future", beg: -30 * time.Minute, end: 5 * time.Minute, n: 50},
		{name: "short 3s n=50", beg: -50 * time.Second, end: -47 * time.Second, n: 50},
		{name: "off grid n=100 over 1s", beg: -2 * time.Second, end: -time.Second, n: 100},
		{name: "binWidth 1m last 2h", beg: -2 * time.Hour, width: time.Minute},
		{name: "binWidth 45s (snapped) last 1h", beg: -time.Hour, width: 45 * time.Second},
		{name: "past day n=300", beg: -25 * time.Hour, end: -time.Hour, n: 300, slowOnly: true},
		{name: "last 3 days n=50", beg: -72 * time.Hour, n: 50, slowOnly: true},
	}
}

func (w binWindow) query(ch daqbuf.ChannelRef, now int64) daqbuf.BinnedQuery {
	q := daqbuf.BinnedQuery{Channel: ch, Range: daqbuf.Range{Beg: now + int64(w.beg), End: now + int64(w.end)}, BinCount: w.n, BinWidth: w.width}
	if w.shift != 0 {
		bw := daqbuf.WidthForCount(q.Range, w.n)
		d := int64(float64(bw) * w.shift)
		q.Range.Beg += d
		q.Range.End += d
	}
	return q
}

// TestBinsIdenticalToDirect: for every simulator channel type and many windows, the cached answer
// (cold, then warm) is value for value the uncached request's.
func TestBinsIdenticalToDirect(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{})
	now := e.now()
	for _, simCh := range e.sim.Channels(testBackend) {
		for _, byID := range []bool{false, true} {
			ch := e.channel(t, simCh.Name, byID)
			for _, w := range binWindows() {
				if w.slowOnly && simCh.Period < time.Second {
					continue
				}
				q := w.query(ch, now)
				want := directBins(t, e, q)
				for round, wantStatus := range []curve.Status{curve.StatusMiss, curve.StatusHit} {
					got, st := mustBins(t, c, q)
					if d := diffBins(got, want); d != "" {
						t.Errorf("%s byID=%v %s round %d: %s", simCh.Name, byID, w.name, round, d)
					}
					if _, ok := planBins(q, 128, now, time.Minute, 0); ok && round == 1 && st != wantStatus {
						t.Errorf("%s %s round %d: status %s, want %s", simCh.Name, w.name, round, st, wantStatus)
					}
				}
			}
		}
	}
	if s := c.Stats(); s.Bypassed == 0 || s.Hits == 0 || s.ChunkHits == 0 {
		t.Errorf("stats %+v: want bypassed requests, hits and chunk hits", s)
	}
}

// TestBinsBeforeDataStart: a window before any data and one straddling the start of the data.
func TestBinsBeforeDataStart(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{})
	ch := e.channel(t, "SIM-F64:SINE", false)
	for _, r := range []daqbuf.Range{
		{Beg: sim.DataStart - int64(2*time.Hour), End: sim.DataStart - int64(time.Hour)},
		{Beg: sim.DataStart - int64(17*time.Minute), End: sim.DataStart + int64(23*time.Minute)},
	} {
		q := daqbuf.BinnedQuery{Channel: ch, Range: r, BinCount: 500}
		want := directBins(t, e, q)
		for round := range 2 {
			got, _ := mustBins(t, c, q)
			if d := diffBins(got, want); d != "" {
				t.Errorf("%+v round %d: %s", r, round, d)
			}
		}
	}
}

// eventWindow is an events request relative to now.
type eventWindow struct {
	name     string
	beg, end time.Duration
	begExcl  bool // start exactly at an event and exclude it
}

func eventWindows() []eventWindow {
	return []eventWindow{
		{name: "last 2m", beg: -2 * time.Minute},
		{name: "past 5m", beg: -65 * time.Minute, end: -60 * time.Minute},
		{name: "past 5m from an event, begExcl", beg: -65 * time.Minute, end: -60 * time.Minute, begExcl: true},
		{name: "past 5m from an event, inclusive", beg: -65 * time.Minute, end: -60 * time.Minute},
		{name: "into the future", beg: -90 * time.Second, end: 30 * time.Second},
		{name: "past 20s", beg: -80 * time.Second, end: -60 * time.Second},
	}
}

// TestEventsIdenticalToDirect: same events, same order, for every channel type.
func TestEventsIdenticalToDirect(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{})
	now := e.now()
	for _, simCh := range e.sim.Channels(testBackend) {
		ch := e.channel(t, simCh.Name, simCh.Name == "SIM-U64:BIG")
		for _, w := range eventWindows() {
			q := daqbuf.EventsQuery{Channel: ch, Range: daqbuf.Range{Beg: now + int64(w.beg), End: now + int64(w.end)}, BegExcl: w.begExcl}
			if w.begExcl || w.name == "past 5m from an event, inclusive" {
				// Start exactly at an event's timestamp so that begExcl matters.
				evs := e.sim.Events(simCh, q.Range.Beg, q.Range.Beg+int64(simCh.Period)+1000)
				if len(evs) == 0 {
					t.Fatalf("%s: no event near the window start", simCh.Name)
				}
				q.Range.Beg = evs[0].Ts
			}
			want := directEvents(t, e, q)
			for round := range 2 {
				got, st, err := c.Events(context.Background(), q)
				if err != nil {
					t.Fatalf("%s %s: %v", simCh.Name, w.name, err)
				}
				if d := diffEvents(got, want); d != "" {
					t.Errorf("%s %s round %d: %s", simCh.Name, w.name, round, d)
				}
				if round == 1 && st != curve.StatusHit {
					t.Errorf("%s %s: second round status %s, want hit", simCh.Name, w.name, st)
				}
			}
		}
	}
}

// TestEventsOneBeforeRangeBypasses: oneBeforeRange depends on data before the window, so it is not
// chunked, and still answers like data-api.
func TestEventsOneBeforeRangeBypasses(t *testing.T) {
	e := newSimEnv(t)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{})
	q := daqbuf.EventsQuery{
		Channel:        e.channel(t, "SIM-SPARSE:TEMP", false),
		Range:          daqbuf.Range{Beg: e.now() - int64(7*time.Minute), End: e.now() - int64(6*time.Minute)},
		OneBeforeRange: true,
	}
	want := directEvents(t, e, q)
	got, st, err := c.Events(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffEvents(got, want); d != "" || len(flatEvents(got)) != 1 {
		t.Errorf("oneBeforeRange: %q, %d events (want the one before)", d, len(flatEvents(got)))
	}
	if st != curve.StatusMiss || c.Stats().Bypassed != 1 {
		t.Errorf("status %s, stats %+v: want a bypassed miss", st, c.Stats())
	}
}
