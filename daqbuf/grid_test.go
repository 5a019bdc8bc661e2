package daqbuf

import (
	"reflect"
	"testing"
	"time"
)

func TestGridWidthsIsACopy(t *testing.T) {
	g := GridWidths()
	if len(g) != 26 || g[0] != 20*time.Millisecond || g[len(g)-1] != 64*24*time.Hour {
		t.Fatalf("grid %v", g)
	}
	for i := 1; i < len(g); i++ {
		if g[i] <= g[i-1] {
			t.Fatalf("grid not ascending at %d: %v", i, g)
		}
	}
	g[0] = 0
	if GridWidths()[0] != 20*time.Millisecond {
		t.Error("GridWidths exposes the package's array")
	}
}

func TestWidthForCount(t *testing.T) {
	h := int64(time.Hour)
	day0 := utc(2024, 1, 1, 0, 0, 0)
	cases := []struct {
		name  string
		r     Range
		n     int
		width time.Duration
		bins  int64
		grid  Range
	}{
		// docs/daqbuf.md §7.2, from data-api's unit tests.
		{"1 h, n=10", Range{day0, day0 + h}, 10, 5 * time.Minute, 12, Range{day0, day0 + h}},
		{"00:20:10-10:20:30, n=10", Range{day0 + int64(20*time.Minute+10*time.Second), day0 + 10*h + int64(20*time.Minute+30*time.Second)},
			10, time.Hour, 11, Range{day0, day0 + 11*h}},
		{"exact grid value", Range{0, int64(20 * time.Second)}, 20, time.Second, 20, Range{0, int64(20 * time.Second)}},
		{"just below a grid value", Range{0, int64(20*time.Second) - 1}, 20, 500 * time.Millisecond, 40, Range{0, int64(20 * time.Second)}},
		{"off grid below 20 ms", Range{1000, 1000 + 100_000_000}, 10, 10 * time.Millisecond, 11, Range{0, 110_000_000}},
		{"tiny range", Range{5, 8}, 10, 1, 3, Range{5, 8}},
		{"above 64 days", Range{0, 1000 * 24 * h}, 2, 64 * 24 * time.Hour, 16, Range{0, 16 * 64 * 24 * h}},
		{"default count", Range{0, 20 * int64(time.Minute)}, 0, time.Minute, 20, Range{0, 20 * int64(time.Minute)}},
		{"negative times floor", Range{-int64(90 * time.Second), int64(30 * time.Second)}, 2, time.Minute, 3,
			Range{-int64(2 * time.Minute), int64(time.Minute)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := WidthForCount(c.r, c.n)
			if w != int64(c.width) {
				t.Fatalf("width %v, want %v", time.Duration(w), c.width)
			}
			if got := GridRange(c.r, w); got != c.grid {
				t.Errorf("grid %v, want %v", got, c.grid)
			}
			if got := GridBins(c.r, w); got != c.bins {
				t.Errorf("%d bins, want %d", got, c.bins)
			}
		})
	}
}

// Property: the chosen width gives at least n bins and fewer than about 3n+2 (§7.2: neighbouring
// grid widths differ by up to 3×), and the grid covers the range.
func TestWidthForCountBounds(t *testing.T) {
	for _, span := range []time.Duration{time.Second, 7 * time.Minute, 3 * time.Hour, 100 * time.Hour, 400 * 24 * time.Hour} {
		for _, n := range []int{1, 3, 10, 100, 1000} {
			r := Range{Beg: 1_700_000_123_456_789_000, End: 1_700_000_123_456_789_000 + int64(span)}
			w := WidthForCount(r, n)
			bins := GridBins(r, w)
			g := GridRange(r, w)
			if g.Beg > r.Beg || g.End < r.End || g.Beg%w != 0 || g.End%w != 0 {
				t.Errorf("span %v n %d: grid %v does not cover %v aligned", span, n, g, r)
			}
			if w >= int64(20*time.Millisecond) && w < int64(64*24*time.Hour) && (bins < int64(n) || bins > 3*int64(n)+2) {
				t.Errorf("span %v n %d: width %v gives %d bins", span, n, time.Duration(w), bins)
			}
		}
	}
}

func TestSnapWidth(t *testing.T) {
	d := 24 * time.Hour
	for _, c := range []struct{ in, want time.Duration }{
		// docs/daqbuf.md §7.3 examples.
		{30 * time.Second, 20 * time.Second},
		{45 * time.Second, time.Minute},
		{3 * time.Minute, 5 * time.Minute},
		{90 * time.Second, 2 * time.Minute},
		{150 * time.Minute, 4 * time.Hour},
		// Exact, clamped, sub-millisecond.
		{5 * time.Minute, 5 * time.Minute},
		{time.Millisecond, 20 * time.Millisecond},
		{0, 20 * time.Millisecond},
		{-time.Second, 20 * time.Millisecond},
		{1000 * d, 64 * d},
		{64 * d, 64 * d},
		{time.Second + 999*time.Microsecond, time.Second},
		// Round-up rule at its boundary: v2 ≥ 2d picks v1.
		{25 * time.Millisecond, 20 * time.Millisecond}, // v2=50ms = 2·25ms
		{26 * time.Millisecond, 50 * time.Millisecond},
		{6 * time.Hour, 4 * time.Hour}, // v2=12h = 2·6h
		{7 * time.Hour, 12 * time.Hour},
		{40 * d, 64 * d},
		{33 * d, 64 * d}, // 64d < 2·33d: round up
	} {
		if got := SnapWidth(c.in); got != c.want {
			t.Errorf("SnapWidth(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFormatWidth(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want string
	}{
		{20 * time.Millisecond, "20ms"}, {time.Second, "1s"}, {90 * time.Second, "90s"}, {5 * time.Minute, "5m"},
		{2 * time.Hour, "2h"}, {64 * 24 * time.Hour, "64d"}, {1500 * time.Millisecond, "1500ms"},
	} {
		if got := FormatWidth(c.in); got != c.want {
			t.Errorf("FormatWidth(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	// Every grid width is sent in one exact unit, so the proxy's re-formatting keeps it (§7.3).
	for _, w := range GridWidths() {
		if SnapWidth(w) != w {
			t.Errorf("grid width %v does not snap to itself", w)
		}
	}
}

func TestChunks(t *testing.T) {
	w := int64(5 * time.Minute)
	span := ChunkSpan(w, 128)
	if span != 128*w {
		t.Fatalf("ChunkSpan = %d", span)
	}
	if ChunkSpan(w, 0) != w {
		t.Error("ChunkSpan with 0 bins per chunk is not one bin")
	}
	cases := []struct {
		name string
		r    Range
		span int64
		want []Range
	}{
		{"inside one chunk", Range{105, 110}, 100, []Range{{100, 200}}},
		{"aligned exactly", Range{100, 300}, 100, []Range{{100, 200}, {200, 300}}},
		{"straddling", Range{150, 250}, 100, []Range{{100, 200}, {200, 300}}},
		{"negative", Range{-150, -50}, 100, []Range{{-200, -100}, {-100, 0}}},
		{"empty", Range{100, 100}, 100, nil},
		{"bad span", Range{0, 100}, 0, nil},
	}
	for _, c := range cases {
		if got := AlignedChunks(c.r, c.span); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Chunks of whole bins: every chunk edge is a bin edge of the grid.
	r := Range{Beg: 1_700_000_000_123_000_000, End: 1_700_000_000_123_000_000 + int64(30*24*time.Hour)}
	for _, ch := range AlignedChunks(r, span) {
		if ch.Beg%w != 0 || ch.End-ch.Beg != span {
			t.Fatalf("chunk %v not made of aligned %d-ns bins", ch, w)
		}
	}
}
