package curve

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

// fragmentBins is a batch of n bins of width w from t0, with avg, min and max from f(i) (NaN allowed)
// and counts from count(i).
func fragmentBins(n int, t0, w int64, f func(i int) float64, count func(i int) uint64) *daqbuf.BinBatch {
	b := &daqbuf.BinBatch{}
	for i := range n {
		b.Ts1, b.Ts2 = append(b.Ts1, t0+int64(i)*w), append(b.Ts2, t0+int64(i+1)*w)
		v := f(i)
		b.Avgs, b.Mins, b.Maxs = append(b.Avgs, v), append(b.Mins, v-0.25), append(b.Maxs, v*3)
		b.Counts = append(b.Counts, count(i))
	}
	return b
}

// sliceBins is bins [lo, hi) of b.
func sliceBins(b *daqbuf.BinBatch, lo, hi int) *daqbuf.BinBatch {
	return &daqbuf.BinBatch{Ts1: b.Ts1[lo:hi], Ts2: b.Ts2[lo:hi], Counts: b.Counts[lo:hi],
		Avgs: b.Avgs[lo:hi], Mins: b.Mins[lo:hi], Maxs: b.Maxs[lo:hi]}
}

// inWindow is the bins of b whose start lies in w (what the cache answers for a window).
func inWindow(b *daqbuf.BinBatch, w daqbuf.Range) *daqbuf.BinBatch {
	lo, hi := 0, b.Len()
	for lo < hi && b.Ts1[lo] < w.Beg {
		lo++
	}
	for hi > lo && b.Ts1[hi-1] >= w.End {
		hi--
	}
	return sliceBins(b, lo, hi)
}

// fragmentsOf encodes b in chunks of size bins and cuts each to w, as the cache does.
func fragmentsOf(t *testing.T, b *daqbuf.BinBatch, size int, w daqbuf.Range) []Fragment {
	t.Helper()
	var out []Fragment
	for lo := 0; lo < b.Len(); lo += size {
		f, err := ParseFragment(AppendFragment([]byte("prefix"), sliceBins(b, lo, min(lo+size, b.Len())))[len("prefix"):])
		if err != nil {
			t.Fatal(err)
		}
		if f = f.Cut(w); f.Len() > 0 {
			out = append(out, f)
		}
	}
	return out
}

// The answer written from fragments is byte for byte Curve.AppendJSON's over the same bins: NaN bins
// left out, count-0 bins kept or removed, windows cutting chunks at either edge, irregular widths
// (the interval statistics are exact), names that need escaping.
func TestFragmentCurveEqualsCurve(t *testing.T) {
	const t0, w = int64(1_733_000_000_123_000_000), int64(60 * time.Second)
	sine := func(i int) float64 { return math.Sin(float64(i)/7) * 1e3 }
	some := func(i int) uint64 { return uint64(i % 5) } // every fifth bin is empty but has values
	full := func(int) uint64 { return 60 }
	nanEvery := func(k int) func(i int) float64 {
		return func(i int) float64 {
			if i%k == 0 {
				return math.NaN()
			}
			return sine(i)
		}
	}
	irregular := fragmentBins(300, t0, w, sine, full)
	for i := range irregular.Ts1 { // a gap and width changes, as a channel that paused
		if i >= 100 {
			irregular.Ts1[i] += 7 * w
			irregular.Ts2[i] += 7*w + int64(i%3)*int64(time.Second)
		}
	}
	all := daqbuf.Range{Beg: 0, End: math.MaxInt64}
	for _, tc := range []struct {
		name   string
		bins   *daqbuf.BinBatch
		chunk  int
		window daqbuf.Range
	}{
		{"one chunk, all bins", fragmentBins(128, t0, w, sine, full), 128, all},
		{"chunks of 128, window cuts both ends", fragmentBins(600, t0, w, sine, full), 128,
			daqbuf.Range{Beg: t0 + 37*w, End: t0 + 511*w + 1}},
		{"chunks of 3, window inside one chunk", fragmentBins(20, t0, w, sine, full), 3,
			daqbuf.Range{Beg: t0 + 4*w, End: t0 + 5*w}},
		{"single-bin chunks", fragmentBins(9, t0, w, sine, some), 1, all},
		{"NaN bins have no entries", fragmentBins(400, t0, w, nanEvery(3), full), 128,
			daqbuf.Range{Beg: t0 + 3*w, End: t0 + 390*w}},
		{"empty bins with values", fragmentBins(400, t0, w, sine, some), 128,
			daqbuf.Range{Beg: t0 + 5*w, End: t0 + 300*w}},
		{"empty NaN bins", fragmentBins(200, t0, w, nanEvery(5), some), 64, all},
		{"every bin NaN", fragmentBins(50, t0, w, func(int) float64 { return math.NaN() }, full), 16, all},
		{"irregular widths", irregular, 128, all},
		{"window before every bin", fragmentBins(50, t0, w, sine, full), 16, daqbuf.Range{Beg: 1, End: t0}},
		{"tiny and huge values", fragmentBins(60, t0, w, func(i int) float64 { return math.Pow(10, float64(i-30)) }, full), 7, all},
	} {
		for _, removeEmpty := range []bool{false, true} {
			name := `a"<ch>` + "\u2028"
			want := (&Curve{name: name, bins: []*daqbuf.BinBatch{inWindow(tc.bins, tc.window)}, removeEmpty: removeEmpty}).AppendJSON(nil)
			fc := &FragmentCurve{name: name, frags: fragmentsOf(t, tc.bins, tc.chunk, tc.window), removeEmpty: removeEmpty}
			got := fc.AppendJSON(nil)
			if string(got) != string(want) {
				t.Errorf("%s removeEmpty=%v:\n got %.300s\nwant %.300s", tc.name, removeEmpty, got, want)
			}
			if hint := fc.SizeHint(); hint < len(got) {
				t.Errorf("%s: SizeHint %d below the answer's %d bytes", tc.name, hint, len(got))
			}
		}
	}
}

func TestParseFragmentRefusesCorruptLayouts(t *testing.T) {
	good := AppendFragment(nil, fragmentBins(10, 1e18, 1e9, func(i int) float64 { return float64(i) }, func(int) uint64 { return 1 }))
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other version", append([]byte{9}, good[1:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"bin count beyond the value", append(append([]byte{}, good[:2]...), 0xff, 0xff, 0xff, 0x7f)},
	} {
		if _, err := ParseFragment(tc.b); err == nil {
			t.Errorf("%s: parsed", tc.name)
		}
	}
	if _, err := ParseFragment(good); err != nil {
		t.Errorf("good fragment: %v", err)
	}
}

// fragmentSource serves fixed bins both ways: as batches, and as fragments of chunk bins each.
type fragmentSource struct {
	countingSource
	chunk int
	ok    bool // false: BinFragments declines, as the cache does for requests it does not chunk
	t     *testing.T
}

func (s *fragmentSource) BinFragments(_ context.Context, q daqbuf.BinnedQuery) ([]Fragment, Status, bool, error) {
	if !s.ok {
		return nil, "", false, nil
	}
	var out []Fragment
	for _, b := range s.bins {
		out = append(out, fragmentsOf(s.t, b, s.chunk, daqbuf.Range{Beg: 0, End: math.MaxInt64})...)
	}
	return out, StatusHit, true, nil
}

// FetchAnswer writes what Fetch writes, whichever way it goes: fragments, raw when sparse (events
// fetched), waveforms kept binned, a source that declines.
func TestFetchAnswerEqualsFetch(t *testing.T) {
	const beg, end = 1_700_000_000_000, 1_700_000_100_000
	scalar := daqbuf.Channel{Backend: "b", Name: "S", Type: "f64"}
	wave := daqbuf.Channel{Backend: "b", Name: "W", Type: "f64", Shape: []uint32{4}}
	for _, tc := range []struct {
		name          string
		ch            daqbuf.Channel
		numBins       int64
		sparse, ok    bool
		bins          []*daqbuf.BinBatch
		events        []*daqbuf.EventBatch
		wantFragments bool
		wantEvents    bool
	}{
		{"dense: fragments", scalar, 10, true, true, binsOver(beg, end, 10, 5), nil, true, false},
		{"sparse scalars go raw", scalar, 20, true, true, binsOver(beg, end, 10, 1), eventsOf(beg, 10, 0), false, true},
		{"sparse without the flag: fragments", scalar, 20, false, true, binsOver(beg, end, 10, 1), nil, true, false},
		{"sparse waveforms stay binned", wave, 20, true, true, binsOver(beg, end, 10, 1), eventsOf(beg, 10, 4), true, true},
		{"a single sparse waveform goes raw", wave, 20, true, true, binsOver(beg, end, 10, 0), eventsOf(beg, 1, 4), false, true},
		{"source declines: decoded bins", scalar, 10, false, false, binsOver(beg, end, 10, 5), nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &fragmentSource{countingSource: countingSource{bins: tc.bins, events: tc.events}, chunk: 4, ok: tc.ok, t: t}
			svc := New(src, oneChannel{tc.ch}, Config{Now: func() time.Time { return time.UnixMilli(end + 1) }})
			q, err := svc.Resolve(context.Background(), Request{Name: tc.ch.Name, Backend: "b", BeginMs: beg, EndMs: end,
				NumBins: tc.numBins, RawIfSparse: tc.sparse, RemoveEmpty: true})
			if err != nil {
				t.Fatal(err)
			}
			want, wantStatus, err := svc.Fetch(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			src.eventsCalled.Store(0)
			got, status, err := svc.FetchAnswer(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.AppendJSON(nil)) != string(want.AppendJSON(nil)) {
				t.Errorf("answers differ:\n got %.300s\nwant %.300s", got.AppendJSON(nil), want.AppendJSON(nil))
			}
			if _, isFrag := got.(*FragmentCurve); isFrag != tc.wantFragments {
				t.Errorf("answer is %T, want fragments %v", got, tc.wantFragments)
			}
			if asked := src.eventsCalled.Load() > 0; asked != tc.wantEvents {
				t.Errorf("events asked %v, want %v", asked, tc.wantEvents)
			}
			if tc.ok && status != Combine(StatusHit, wantStatus) && status != StatusHit {
				t.Errorf("status %s", status)
			}
		})
	}
}

// FuzzFragment: any bytes either fail to parse or make an answer without faulting.
func FuzzFragment(f *testing.F) {
	b := fragmentBins(20, 1e18, 1e9, func(i int) float64 { return float64(i) / 3 }, func(i int) uint64 { return uint64(i % 2) })
	f.Add(AppendFragment(nil, b), int64(1e18+3e9), int64(1e18+15e9))
	f.Add(AppendFragment(nil, &daqbuf.BinBatch{}), int64(0), int64(1))
	f.Fuzz(func(t *testing.T, data []byte, beg, end int64) {
		fr, err := ParseFragment(data)
		if err != nil {
			return
		}
		for _, removeEmpty := range []bool{false, true} {
			fc := &FragmentCurve{name: "x", frags: []Fragment{fr.Cut(daqbuf.Range{Beg: beg, End: end})}, removeEmpty: removeEmpty}
			_ = fc.AppendJSON(nil)
		}
	})
}
