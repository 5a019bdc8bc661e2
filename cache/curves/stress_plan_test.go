package curves

import (
	"slices"
	"testing"

	"github.com/databoard/databoard/daqbuf"
)

// TestFetchRuns: adjacent chunks without a fresh copy (missing or stale) share one upstream request;
// a fresh chunk, a gap, the run limit and the chunk cut at now each end a run.
func TestFetchRuns(t *testing.T) {
	const (
		F = chunkFresh
		M = chunkMissing
		S = chunkStale
	)
	// Ten adjacent chunks of 10 s; the last one holds now (cut at 95 s).
	lay := func(n int) []chunk {
		out := make([]chunk, n)
		for i := range out {
			beg := int64(i) * 10 * sec
			out[i] = chunk{Span: daqbuf.Range{Beg: beg, End: beg + 10*sec}, Fetch: daqbuf.Range{Beg: beg, End: beg + 10*sec}}
		}
		return out
	}
	cutLast := func(cs []chunk) []chunk {
		cs[len(cs)-1].Fetch.End -= 5 * sec
		return cs
	}
	gapAt := func(cs []chunk, i int) []chunk { // chunk i is not adjacent to chunk i-1
		for k := i; k < len(cs); k++ {
			cs[k].Span.Beg += 100 * sec
			cs[k].Span.End += 100 * sec
			cs[k].Fetch = cs[k].Span
		}
		return cs
	}
	for _, tc := range []struct {
		name   string
		states []chunkState
		chunks []chunk
		maxRun int
		want   []run
	}{
		{"all fresh", []chunkState{F, F, F}, lay(3), 64, nil},
		{"cold window: one run", []chunkState{M, M, M, M, M}, lay(5), 64, []run{{0, 5}}},
		{"cold window with the tail", []chunkState{M, M, M}, cutLast(lay(3)), 64, []run{{0, 3}}},
		{"fresh splits", []chunkState{M, M, F, M, M}, lay(5), 64, []run{{0, 2}, {3, 5}}},
		{"stale joins its neighbours", []chunkState{M, S, M, M}, lay(4), 64, []run{{0, 4}}},
		{"stale then stale", []chunkState{S, S}, lay(2), 64, []run{{0, 2}}},
		{"refresh of a live window: unsettled chunks and the new ones", []chunkState{F, F, S, S, S, M, M}, cutLast(lay(7)), 64, []run{{2, 7}}},
		{"run limit", []chunkState{M, M, M, M, M}, lay(5), 2, []run{{0, 2}, {2, 4}, {4, 5}}},
		{"gap", []chunkState{M, M, M, M}, gapAt(lay(4), 2), 64, []run{{0, 2}, {2, 4}}},
		{"moving window: stale tail, new chunk", []chunkState{F, F, S, M}, cutLast(lay(4)), 64, []run{{2, 4}}},
		{"stale limit", []chunkState{S, S, S}, lay(3), 2, []run{{0, 2}, {2, 3}}},
	} {
		got := fetchRuns(tc.states, tc.chunks, tc.maxRun)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: runs %v, want %v", tc.name, got, tc.want)
		}
	}
	// The chunk cut at now ends a run, whatever follows (nothing does in a plan).
	cs := lay(3)
	cs[1].Fetch.End -= sec
	if got := fetchRuns([]chunkState{M, M, M}, cs, 64); !slices.Equal(got, []run{{0, 2}, {2, 3}}) {
		t.Errorf("cut chunk: runs %v", got)
	}
	if got := runRange(cutLast(lay(3))); got != (daqbuf.Range{Beg: 0, End: 25 * sec}) {
		t.Errorf("runRange %+v", got)
	}
}

// TestSplitBinsAndEvents: one answer for a run is cut into the chunks' own answers, by bin start and
// event time, with empty chunks empty.
func TestSplitBinsAndEvents(t *testing.T) {
	chunks := []chunk{
		{Span: daqbuf.Range{Beg: 0, End: 10 * sec}},
		{Span: daqbuf.Range{Beg: 10 * sec, End: 20 * sec}},
		{Span: daqbuf.Range{Beg: 20 * sec, End: 30 * sec}},
	}
	b := &daqbuf.BinBatch{}
	for _, ts := range []int64{0, 5, 10, 25} {
		b.Ts1, b.Ts2 = append(b.Ts1, ts*sec), append(b.Ts2, (ts+5)*sec)
		b.Counts = append(b.Counts, uint64(ts))
		b.Mins, b.Maxs, b.Avgs = append(b.Mins, 0), append(b.Maxs, 0), append(b.Avgs, 0)
	}
	parts := splitBins(b, chunks)
	var got [][]int64
	for _, p := range parts {
		got = append(got, p.Ts1)
	}
	want := [][]int64{{0, 5 * sec}, {10 * sec}, {25 * sec}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("bins of chunk %d: %v, want %v", i, got[i], want[i])
		}
	}
	ev := &daqbuf.EventBatch{ScalarType: "f64", Ts: []int64{1 * sec, 9 * sec, 10 * sec, 29 * sec},
		Values: daqbuf.Values{Kind: daqbuf.KindFloat, Floats: []float64{1, 2, 3, 4}}}
	evParts := splitEvents([]*daqbuf.EventBatch{ev}, chunks)
	wantEv := [][]int64{{sec, 9 * sec}, {10 * sec}, {29 * sec}}
	for i, p := range evParts {
		var ts []int64
		for _, b := range p {
			ts = append(ts, b.Ts...)
		}
		if !slices.Equal(ts, wantEv[i]) {
			t.Errorf("events of chunk %d: %v, want %v", i, ts, wantEv[i])
		}
	}
	if p := splitEvents(nil, chunks); len(p) != 3 || p[1] != nil {
		t.Errorf("no events: %v", p)
	}
}

// TestTailDroppableAndCompleteUntil: only the open newest run of a window with a copy of everything
// before it may be left out; completeness ends at the first short stale copy or the first chunk left out.
func TestTailDroppableAndCompleteUntil(t *testing.T) {
	const (
		F = chunkFresh
		M = chunkMissing
		S = chunkStale
	)
	chunks := []chunk{
		{Span: daqbuf.Range{Beg: 0, End: 10 * sec}, Fetch: daqbuf.Range{Beg: 0, End: 10 * sec}, Settled: true},
		{Span: daqbuf.Range{Beg: 10 * sec, End: 20 * sec}, Fetch: daqbuf.Range{Beg: 10 * sec, End: 20 * sec}},
		{Span: daqbuf.Range{Beg: 20 * sec, End: 30 * sec}, Fetch: daqbuf.Range{Beg: 20 * sec, End: 25 * sec}},
	}
	settledTail := append([]chunk(nil), chunks...)
	settledTail[2].Settled = true
	for _, tc := range []struct {
		name   string
		states []chunkState
		chunks []chunk
		last   run
		want   bool
	}{
		{"live tail, rest cached", []chunkState{F, S, M}, chunks, run{2, 3}, true},
		{"live tail run of two", []chunkState{F, M, M}, chunks, run{1, 3}, true},
		{"all missing", []chunkState{M, M, M}, chunks, run{0, 3}, false},
		{"one run from a stale first chunk", []chunkState{S, S, M}, chunks, run{0, 3}, true},
		{"one run from a missing first chunk", []chunkState{M, S, M}, chunks, run{0, 3}, false},
		{"hole before", []chunkState{M, F, M}, chunks, run{2, 3}, false},
		{"settled window", []chunkState{F, F, M}, settledTail, run{2, 3}, false},
		{"not the end", []chunkState{F, M, F}, chunks, run{1, 2}, false},
	} {
		if got := tailDroppable(tc.states, tc.chunks, tc.last); got != tc.want {
			t.Errorf("%s: droppable %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name    string
		covered []int64
		n       int
		want    int64
		ok      bool
	}{
		{"complete", []int64{0, 0, 0}, 3, 0, false},
		{"stale settled copy is complete", []int64{10 * sec, 0, 0}, 3, 0, false},
		{"short stale copy", []int64{0, 14 * sec, 0}, 3, 14 * sec, true},
		{"tail left out", []int64{0, 0, 0}, 2, 20 * sec, true},
		{"short copy before the cut", []int64{0, 14 * sec, 0}, 2, 14 * sec, true},
	} {
		got, ok := completeUntil(chunks, tc.covered, tc.n)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestDeltaFromAndMerge: only a fresh, non-final copy of the chunk holding now that covers part of
// it is extended; bins restart at the bin holding the copy's end, events right at it; the merge keeps
// the copy before that point and appends the delta.
func TestDeltaFromAndMerge(t *testing.T) {
	now := 25*sec + 300
	tail := chunk{Span: daqbuf.Range{Beg: 20 * sec, End: 30 * sec}, Fetch: daqbuf.Range{Beg: 20 * sec, End: now}}
	past := chunk{Span: daqbuf.Range{Beg: 10 * sec, End: 20 * sec}, Fetch: daqbuf.Range{Beg: 10 * sec, End: 20 * sec}}
	fresh := chunkHeader{FreshUntil: now + sec, Covered: 23*sec + 500}
	for _, tc := range []struct {
		name string
		h    chunkHeader
		ch   chunk
		w    int64
		from int64
		ok   bool
	}{
		{"events", fresh, tail, 0, 23*sec + 500, true},
		{"bins of 1 s", fresh, tail, sec, 23 * sec, true},
		{"final", chunkHeader{Final: true, Covered: 30 * sec}, tail, 0, 0, false},
		{"past FreshUntil", chunkHeader{FreshUntil: now, Covered: 23 * sec}, tail, 0, 0, false},
		{"not the chunk holding now", chunkHeader{FreshUntil: now + sec, Covered: 15 * sec}, past, 0, 0, false},
		{"covers nothing", chunkHeader{FreshUntil: now + sec, Covered: 20 * sec}, tail, 0, 0, false},
		{"covers all", chunkHeader{FreshUntil: now + sec, Covered: now}, tail, 0, 0, false},
		{"bin before the chunk", chunkHeader{FreshUntil: now + sec, Covered: 20*sec + 1}, tail, 7 * sec, 20 * sec, true},
	} {
		from, ok := deltaFrom(tc.h, tc.ch, now, tc.w)
		if from != tc.from || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, from, ok, tc.from, tc.ok)
		}
	}

	bins := func(ts ...int64) *daqbuf.BinBatch {
		b := &daqbuf.BinBatch{}
		for _, x := range ts {
			b.Ts1, b.Ts2 = append(b.Ts1, x*sec), append(b.Ts2, (x+1)*sec)
			b.Counts = append(b.Counts, uint64(x))
			b.Mins, b.Maxs, b.Avgs = append(b.Mins, 0), append(b.Maxs, 0), append(b.Avgs, 0)
		}
		return b
	}
	// The copy's last bin (23 s) was partial: the delta's replaces it.
	got := mergeBinsDelta(bins(20, 21, 22, 23), bins(23, 24, 25), 23*sec)
	if want := bins(20, 21, 22, 23, 24, 25); !slices.Equal(got.Ts1, want.Ts1) || !slices.Equal(got.Counts, want.Counts) {
		t.Errorf("merged bins %v", got.Ts1)
	}
	ev := func(ts ...int64) []*daqbuf.EventBatch {
		b := &daqbuf.EventBatch{ScalarType: "f64", Values: daqbuf.Values{Kind: daqbuf.KindFloat}}
		for _, x := range ts {
			b.Ts, b.Values.Floats = append(b.Ts, x), append(b.Values.Floats, float64(x))
		}
		return []*daqbuf.EventBatch{b}
	}
	var ts []int64
	for _, b := range mergeEventsDelta(ev(1, 2, 3), ev(4, 5), 4) {
		ts = append(ts, b.Ts...)
	}
	if !slices.Equal(ts, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("merged events %v", ts)
	}
}
