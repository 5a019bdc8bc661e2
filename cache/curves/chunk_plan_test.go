package curves

import (
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

const (
	ms  = int64(time.Millisecond)
	sec = int64(time.Second)
	mn  = int64(time.Minute)
	hr  = int64(time.Hour)
)

func TestMinGridWidthIsTheGrid(t *testing.T) {
	if got := int64(daqbuf.GridWidths()[0]); got != minGridWidth {
		t.Errorf("grid starts at %d, minGridWidth is %d", got, minGridWidth)
	}
}

func TestBinWidthOf(t *testing.T) {
	r := daqbuf.Range{Beg: 1000 * hr, End: 1000*hr + 10*mn}
	tests := []struct {
		name   string
		q      daqbuf.BinnedQuery
		want   int64
		wantOK bool
	}{
		{"10 min n=1920 → 200ms", daqbuf.BinnedQuery{Range: r, BinCount: 1920}, 200 * ms, true},
		{"10 min n=20 (default) → 20s", daqbuf.BinnedQuery{Range: r}, 20 * sec, true},
		{"10 min n=10 → 1m", daqbuf.BinnedQuery{Range: r, BinCount: 10}, mn, true},
		{"binWidth 45s snaps to 1m", daqbuf.BinnedQuery{Range: r, BinWidth: 45 * time.Second}, mn, true},
		{"off grid: 10 min n=100000 → 6ms", daqbuf.BinnedQuery{Range: r, BinCount: 100_000}, 6 * ms, false},
		{"both count and width", daqbuf.BinnedQuery{Range: r, BinCount: 5, BinWidth: time.Second}, 0, false},
		{"empty range", daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: 5, End: 5}, BinCount: 5}, 0, false},
		{"negative count", daqbuf.BinnedQuery{Range: r, BinCount: -1}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := binWidthOf(tt.q)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("got %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestPlanBins(t *testing.T) {
	const base = 1_024_000 * hr // aligned to every chunk span used below (up to 128 h)
	tests := []struct {
		name        string
		q           daqbuf.BinnedQuery
		now         int64
		wantWidth   int64
		wantWindow  daqbuf.Range
		wantSpans   []daqbuf.Range
		wantSettled []bool
		wantNeed    []int64
	}{
		{
			name: "past, aligned: two chunks, both settled",
			q:    daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: base, End: base + 256*sec}, BinCount: 256},
			now:  base + 10*hr, wantWidth: sec,
			wantWindow:  daqbuf.Range{Beg: base, End: base + 256*sec},
			wantSpans:   []daqbuf.Range{{Beg: base, End: base + 128*sec}, {Beg: base + 128*sec, End: base + 256*sec}},
			wantSettled: []bool{true, true},
			wantNeed:    []int64{base + 128*sec, base + 256*sec},
		},
		{
			name: "unaligned start and end widen to chunk edges; window starts on the bin grid",
			q:    daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: base + 100*sec + 300*ms, End: base + 200*sec + 1}, BinCount: 99},
			now:  base + 10*hr, wantWidth: sec,
			wantWindow:  daqbuf.Range{Beg: base + 100*sec, End: base + 200*sec + 1},
			wantSpans:   []daqbuf.Range{{Beg: base, End: base + 128*sec}, {Beg: base + 128*sec, End: base + 256*sec}},
			wantSettled: []bool{true, true},
			wantNeed:    []int64{base + 128*sec, base + 201*sec},
		},
		{
			name: "live: the chunk holding now needs nothing, recent chunks are not settled, future ones dropped",
			q:    daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: base, End: base + 640*sec}, BinCount: 640},
			now:  base + 300*sec, wantWidth: sec,
			wantWindow:  daqbuf.Range{Beg: base, End: base + 640*sec},
			wantSpans:   []daqbuf.Range{{Beg: base, End: base + 128*sec}, {Beg: base + 128*sec, End: base + 256*sec}, {Beg: base + 256*sec, End: base + 384*sec}},
			wantSettled: []bool{true, false, false},
			wantNeed:    []int64{base + 128*sec, base + 256*sec, base + 256*sec},
		},
		{
			name: "settle is at least two bins: 1h bins need 2h",
			q:    daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: base, End: base + 128*hr}, BinWidth: time.Hour},
			now:  base + 129*hr, wantWidth: hr,
			wantWindow:  daqbuf.Range{Beg: base, End: base + 128*hr},
			wantSpans:   []daqbuf.Range{{Beg: base, End: base + 128*hr}},
			wantSettled: []bool{false},
			wantNeed:    []int64{base + 128*hr},
		},
		{
			name: "entirely in the future: no chunks",
			q:    daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: base + hr, End: base + 2*hr}, BinCount: 60},
			now:  base, wantWidth: mn,
			wantWindow: daqbuf.Range{Beg: base + hr, End: base + 2*hr},
		},
		{
			name: "before the epoch (negative times) floor correctly",
			q:    daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: -130 * sec, End: -10 * sec}, BinCount: 120},
			now:  base, wantWidth: sec,
			wantWindow:  daqbuf.Range{Beg: -130 * sec, End: -10 * sec},
			wantSpans:   []daqbuf.Range{{Beg: -256 * sec, End: -128 * sec}, {Beg: -128 * sec, End: 0}},
			wantSettled: []bool{true, true},
			wantNeed:    []int64{-128 * sec, -10 * sec},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := planBins(tt.q, 128, tt.now, time.Minute, 0)
			if !ok {
				t.Fatal("not planned")
			}
			if p.Width != tt.wantWidth || p.Window != tt.wantWindow {
				t.Errorf("width %d window %+v; want %d %+v", p.Width, p.Window, tt.wantWidth, tt.wantWindow)
			}
			if len(p.Chunks) != len(tt.wantSpans) {
				t.Fatalf("%d chunks, want %d: %+v", len(p.Chunks), len(tt.wantSpans), p.Chunks)
			}
			for i, c := range p.Chunks {
				if c.Span != tt.wantSpans[i] || c.Settled != tt.wantSettled[i] || c.Need != tt.wantNeed[i] {
					t.Errorf("chunk %d: %+v; want span %+v settled %v need %d", i, c, tt.wantSpans[i], tt.wantSettled[i], tt.wantNeed[i])
				}
				if c.Fetch.Beg != c.Span.Beg || c.Fetch.End != min(c.Span.End, tt.now) {
					t.Errorf("chunk %d: fetch %+v, want the span cut at now", i, c.Fetch)
				}
			}
		})
	}
	if _, ok := planBins(daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: 0, End: sec}, BinCount: 100}, 128, base, time.Minute, 0); ok {
		t.Error("an off-grid request was planned")
	}
}

// TestLayChunksTailAge: a bound on the tail's age raises only the Need of the chunk holding now, to
// now − maxTailAge (a copy fetched earlier ends before it), never below the chunk's start.
func TestLayChunksTailAge(t *testing.T) {
	const base = 1_024_000 * hr
	r := daqbuf.Range{Beg: base, End: base + 300*sec}
	tests := []struct {
		name       string
		now        int64
		maxTailAge int64
		wantNeed   []int64
	}{
		{"no bound: any fresh copy of the tail", base + 300*sec, 0, []int64{base + 128*sec, base + 256*sec, base + 256*sec}},
		{"1 s: a copy fetched in the last second", base + 300*sec, sec, []int64{base + 128*sec, base + 256*sec, base + 299*sec}},
		{"bound reaching before the tail chunk: its start", base + 300*sec, 100 * sec, []int64{base + 128*sec, base + 256*sec, base + 256*sec}},
		{"now on a chunk edge: the chunk ending there needs all of it", base + 256*sec, sec, []int64{base + 128*sec, base + 256*sec}},
		{"all in the past: nothing holds now", base + hr, sec, []int64{base + 128*sec, base + 256*sec, base + 300*sec}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := layChunks(r, 128*sec, tt.now, mn, tt.maxTailAge)
			if len(got) != len(tt.wantNeed) {
				t.Fatalf("%d chunks, want %d: %+v", len(got), len(tt.wantNeed), got)
			}
			for i, c := range got {
				if c.Need != tt.wantNeed[i] {
					t.Errorf("chunk %d (%+v): need %d, want %d", i, c.Span, c.Need-base, tt.wantNeed[i]-base)
				}
			}
		})
	}
}

func TestEventSpanFor(t *testing.T) {
	tests := []struct {
		length, want int64
	}{
		{1, 20 * ms},
		{64 * 20 * ms, 20 * ms},
		{64*20*ms + 1, 50 * ms},
		{2 * mn, 2 * sec},
		{10 * mn, 10 * sec},
		{hr, mn},
		{24 * hr, hr}, // 24h/64 = 22.5 min → 1h
		{1000 * 24 * hr, 16 * 24 * hr},
		{10000 * 24 * hr, 64 * 24 * hr},
	}
	for _, tt := range tests {
		if got := eventSpanFor(tt.length, 64); got != tt.want {
			t.Errorf("eventSpanFor(%s) = %s, want %s", time.Duration(tt.length), time.Duration(got), time.Duration(tt.want))
		}
	}
}

func TestPlanEvents(t *testing.T) {
	base := int64(1_000_000) * hr
	now := base + 5*sec
	// 10 min 3 s: 10 s chunks (64 of them would be 640 s).
	p, ok := planEvents(daqbuf.EventsQuery{Range: daqbuf.Range{Beg: now - 9*mn - 3*sec, End: now + mn}, BegExcl: true}, 64, now, time.Minute, 0)
	if !ok || p.Span != 10*sec || !p.BegExcl {
		t.Fatalf("plan %+v, %v", p, ok)
	}
	if n := len(p.Chunks); n != 55 {
		t.Errorf("%d chunks, want 55 (from base-540s to the chunk holding now)", n)
	}
	if first := p.Chunks[0].Span; first.Beg != base-540*sec {
		t.Errorf("first chunk %+v", first)
	}
	last := p.Chunks[len(p.Chunks)-1]
	if last.Span.End != base+10*sec || last.Fetch.End != now || last.Need != last.Span.Beg || last.Settled {
		t.Errorf("last chunk %+v", last)
	}
	for _, q := range []daqbuf.EventsQuery{
		{Range: daqbuf.Range{Beg: 0, End: sec}, OneBeforeRange: true},
		{Range: daqbuf.Range{Beg: sec, End: sec}},
	} {
		if _, ok := planEvents(q, 64, now, time.Minute, 0); ok {
			t.Errorf("%+v planned", q)
		}
	}
}

func TestDecideStore(t *testing.T) {
	ttl := storeTTLs{Final: 7 * 24 * time.Hour, Tail: 5 * time.Second, Stale: time.Hour, Recheck: 10 * time.Minute}
	const now = 1000 * sec
	settled := chunk{Span: daqbuf.Range{Beg: 0, End: 10 * sec}, Fetch: daqbuf.Range{Beg: 0, End: 10 * sec}, Settled: true}
	open := chunk{Span: daqbuf.Range{Beg: 995 * sec, End: 1005 * sec}, Fetch: daqbuf.Range{Beg: 995 * sec, End: now}}
	tests := []struct {
		name string
		o    fetchOutcome
		ch   chunk
		want storeDecision
	}{
		{"complete and settled: final", fetchOutcome{Complete: true}, settled,
			storeDecision{Store: true, Header: chunkHeader{Final: true, Covered: 10 * sec}, TTL: ttl.Final}},
		{"complete, not settled: fresh for TailTTL, kept for StaleTTL", fetchOutcome{Complete: true}, open,
			storeDecision{Store: true, Header: chunkHeader{FreshUntil: now + 5*sec, Covered: now}, TTL: time.Hour}},
		{"open tail without a completion marker", fetchOutcome{OpenTail: true}, open,
			storeDecision{Store: true, Header: chunkHeader{FreshUntil: now + 5*sec, Covered: now}, TTL: time.Hour}},
		{"settled but incomplete (truncated): not stored", fetchOutcome{}, settled, storeDecision{}},
		{"settled, clean end, bins short of the end: rechecked, never final", fetchOutcome{Complete: true, Unverified: true}, settled,
			storeDecision{Store: true, Header: chunkHeader{FreshUntil: now + 600*sec, Covered: 10 * sec}, TTL: time.Hour}},
		{"open but incomplete: not stored", fetchOutcome{}, open, storeDecision{}},
	}
	for _, tt := range tests {
		if got := decideStore(tt.o, tt.ch, now, ttl); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	enc := func(h chunkHeader) []byte {
		v, err := encodeBins(h, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name      string
		val       []byte
		now, need int64
		want      chunkState
	}{
		{"absent", nil, 10, 0, chunkMissing},
		{"garbage", []byte("xyz"), 10, 0, chunkMissing},
		{"final, any time", enc(chunkHeader{Final: true}), 1 << 62, 1 << 62, chunkFresh},
		{"fresh and covering", enc(chunkHeader{FreshUntil: 11, Covered: 5}), 10, 5, chunkFresh},
		{"fresh but short of need: a hole", enc(chunkHeader{FreshUntil: 11, Covered: 5}), 10, 6, chunkStale},
		{"expired freshness", enc(chunkHeader{FreshUntil: 10, Covered: 5}), 10, 0, chunkStale},
	}
	for _, tt := range tests {
		if got := classify(tt.val, kindBins, tt.now, tt.need); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := classify(enc(chunkHeader{Final: true}), kindEvents, 0, 0); got != chunkMissing {
		t.Errorf("bins value read as events: %v", got)
	}
}

// seqBins makes n bins of width w from beg with values i.
func seqBins(beg, w int64, n int) *daqbuf.BinBatch {
	b := &daqbuf.BinBatch{}
	for i := range n {
		b.Ts1, b.Ts2 = append(b.Ts1, beg+int64(i)*w), append(b.Ts2, beg+int64(i+1)*w)
		b.Counts = append(b.Counts, uint64(i))
		b.Mins, b.Maxs, b.Avgs = append(b.Mins, float64(i)), append(b.Maxs, float64(i)), append(b.Avgs, float64(i))
	}
	return b
}

func TestCutBins(t *testing.T) {
	b := seqBins(100, 10, 10) // bins at 100, 110, ..., 190
	tests := []struct {
		w         daqbuf.Range
		wantFirst int64
		wantN     int
	}{
		{daqbuf.Range{Beg: 100, End: 200}, 100, 10},
		{daqbuf.Range{Beg: 120, End: 151}, 120, 4}, // 120, 130, 140, 150
		{daqbuf.Range{Beg: 120, End: 150}, 120, 3},
		{daqbuf.Range{Beg: 0, End: 1000}, 100, 10},
		{daqbuf.Range{Beg: 300, End: 400}, 0, 0},
		{daqbuf.Range{Beg: 0, End: 100}, 0, 0},
	}
	for _, tt := range tests {
		got := cutBins(b, tt.w)
		if got.Len() != tt.wantN || (tt.wantN > 0 && got.Ts1[0] != tt.wantFirst) ||
			len(got.Avgs) != tt.wantN || len(got.Counts) != tt.wantN || len(got.Ts2) != tt.wantN {
			t.Errorf("cut %+v: %d bins from %v, want %d from %d", tt.w, got.Len(), got.Ts1, tt.wantN, tt.wantFirst)
		}
	}
}

func TestMergeEvents(t *testing.T) {
	batch := func(ts ...int64) *daqbuf.EventBatch {
		b := &daqbuf.EventBatch{ScalarType: "f64", Ts: ts, Pulses: make([]uint64, len(ts)),
			Values: daqbuf.Values{Kind: daqbuf.KindFloat, Width: 2}}
		for _, x := range ts {
			b.Values.Floats = append(b.Values.Floats, float64(x), -float64(x))
		}
		return b
	}
	parts := [][]*daqbuf.EventBatch{
		{batch(5, 10, 15), batch(18)},
		nil,
		{batch(20, 25), batch()},
		{batch(30, 35, 40)},
	}
	tests := []struct {
		name    string
		w       daqbuf.Range
		begExcl bool
		want    []int64
	}{
		{"all", daqbuf.Range{Beg: 0, End: 100}, false, []int64{5, 10, 15, 18, 20, 25, 30, 35, 40}},
		{"cut both ends", daqbuf.Range{Beg: 10, End: 35}, false, []int64{10, 15, 18, 20, 25, 30}},
		{"begExcl", daqbuf.Range{Beg: 10, End: 35}, true, []int64{15, 18, 20, 25, 30}},
		{"nothing", daqbuf.Range{Beg: 41, End: 50}, false, nil},
	}
	for _, tt := range tests {
		got := mergeEvents(parts, tt.w, tt.begExcl)
		var ts []int64
		for _, b := range got {
			if b.Len() == 0 {
				t.Errorf("%s: empty batch in the answer", tt.name)
			}
			for i, x := range b.Ts {
				if b.Values.Floats[2*i] != float64(x) || b.Values.Floats[2*i+1] != -float64(x) || len(b.Pulses) != b.Len() {
					t.Errorf("%s: columns misaligned at ts %d", tt.name, x)
				}
			}
			ts = append(ts, b.Ts...)
		}
		if !equalInts(ts, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, ts, tt.want)
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestChunkKeys(t *testing.T) {
	name := channelKeyPrefix(daqbuf.ChannelRef{Backend: "sf-databuffer", Name: "A:B"})
	longer := channelKeyPrefix(daqbuf.ChannelRef{Backend: "sf-databuffer", Name: "A:B:b1:20"})
	id := channelKeyPrefix(daqbuf.ChannelRef{Backend: "sf-databuffer", Name: "A:B", SeriesID: 42})
	otherBackend := channelKeyPrefix(daqbuf.ChannelRef{Backend: "sf-data", Name: "buffer"})
	if strings.HasPrefix(longer, name) || strings.HasPrefix(name, longer) {
		t.Errorf("%q and %q: one channel's keys are a prefix of the other's", name, longer)
	}
	if id == name || !strings.HasPrefix(id, curveKeyPrefix) || strings.HasPrefix(otherBackend, name[:len(curveKeyPrefix)+4]) {
		t.Errorf("prefixes %q %q %q", name, id, otherBackend)
	}
	ref := daqbuf.ChannelRef{Backend: "b", SeriesID: 7}
	if string(binKeyBase(ref, daqbuf.ModeDefault, sec)) != string(binKeyBase(ref, daqbuf.ModeJSONFramed, sec)) {
		t.Error("default and explicit JSON-framed bins do not share keys")
	}
	if string(binKeyBase(ref, daqbuf.ModeCBOR, sec)) == string(binKeyBase(ref, daqbuf.ModeJSONFramed, sec)) {
		t.Error("CBOR and JSON bins share keys")
	}
	if string(eventKeyBase(ref, daqbuf.ModeDefault, "", sec)) != string(eventKeyBase(ref, daqbuf.ModeCBOR, "", sec)) {
		t.Error("default and explicit CBOR events do not share keys")
	}
	keys := chunkKeys(binKeyBase(ref, 0, sec), []chunk{{Span: daqbuf.Range{Beg: -128 * sec}}, {Span: daqbuf.Range{Beg: 0}}})
	if keys[0] == keys[1] || !strings.HasSuffix(keys[0], ":-128000000000") || !strings.HasSuffix(keys[1], ":0") {
		t.Errorf("keys %q", keys)
	}
}

// FuzzPlanBins checks the plan's invariants for arbitrary requests, and that bins split into the
// planned chunks, encoded, decoded, merged and cut are exactly the bins of the window.
func FuzzPlanBins(f *testing.F) {
	f.Add(int64(1_700_000_000_000_000_000), int64(600*sec), 1920, int64(300*sec), 128)
	f.Add(int64(-5*hr), int64(hr), 100, int64(2*hr), 16)
	f.Add(int64(0), int64(20*ms*3), 3, int64(0), 1)
	f.Fuzz(func(t *testing.T, beg, length int64, n int, nowOff int64, perChunk int) {
		if length <= 0 || length > 1000*24*hr || n < 1 || n > 100_000 || perChunk < 1 || perChunk > 512 ||
			beg < -(1<<61) || beg > 1<<61 || nowOff < -(1<<60) || nowOff > 1<<60 {
			return
		}
		q := daqbuf.BinnedQuery{Range: daqbuf.Range{Beg: beg, End: beg + length}, BinCount: n}
		now := beg + nowOff
		p, ok := planBins(q, perChunk, now, time.Minute, 0)
		if !ok {
			if w := daqbuf.WidthForCount(q.Range, n); w >= minGridWidth {
				t.Fatalf("on-grid width %d not planned", w)
			}
			return
		}
		w, span := p.Width, p.Width*int64(perChunk)
		g := daqbuf.GridRange(q.Range, w)
		if p.Window.Beg != g.Beg || p.Window.End != q.Range.End {
			t.Fatalf("window %+v, grid %+v", p.Window, g)
		}
		for i, c := range p.Chunks {
			if c.Span.End-c.Span.Beg != span || c.Span.Beg%span != 0 {
				t.Fatalf("chunk %d %+v: not an aligned chunk of %d", i, c.Span, span)
			}
			if i == 0 && (c.Span.Beg > g.Beg || c.Span.End <= g.Beg) {
				t.Fatalf("first chunk %+v does not hold the window start %d", c.Span, g.Beg)
			}
			if i > 0 && c.Span.Beg != p.Chunks[i-1].Span.End {
				t.Fatalf("chunk %d not contiguous", i)
			}
			if c.Span.Beg >= now || c.Fetch.End > now || c.Fetch.End <= c.Fetch.Beg {
				t.Fatalf("chunk %d %+v at or after now %d", i, c, now)
			}
			if c.Settled && c.Span.End > now-max(2*w, int64(time.Minute)) {
				t.Fatalf("chunk %d settled too early", i)
			}
		}
		if len(p.Chunks) > 0 {
			last := p.Chunks[len(p.Chunks)-1].Span
			if last.End < min(g.End, now) {
				t.Fatalf("chunks end at %d, before the data (%d)", last.End, min(g.End, now))
			}
		}
		if len(p.Chunks) > 64 {
			return // the merge check below is for small plans
		}
		// Every bin of the grid up to now, then split per chunk, round-tripped and merged.
		first := p.Window.Beg
		if len(p.Chunks) > 0 {
			first = p.Chunks[0].Span.Beg
		}
		var all *daqbuf.BinBatch
		if len(p.Chunks) > 0 {
			end := min(p.Chunks[len(p.Chunks)-1].Span.End, (now/w+2)*w)
			all = seqBins(first, w, int((end-first)/w))
		} else {
			all = &daqbuf.BinBatch{}
		}
		acc := &daqbuf.BinBatch{}
		for _, c := range p.Chunks {
			part := cutBins(all, daqbuf.Range{Beg: c.Span.Beg, End: c.Fetch.End})
			val, err := encodeBins(chunkHeader{}, part)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeBinsAppend(val, acc); err != nil {
				t.Fatal(err)
			}
		}
		got := cutBins(acc, p.Window)
		want := cutBins(all, daqbuf.Range{Beg: p.Window.Beg, End: min(p.Window.End, now)})
		if d := diffBins([]*daqbuf.BinBatch{got}, []*daqbuf.BinBatch{want}); d != "" {
			t.Fatalf("merge+cut: %s", d)
		}
	})
}
