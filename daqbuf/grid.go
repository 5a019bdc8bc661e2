package daqbuf

import (
	"time"
)

// DefaultBinCount is data-api's bin count when a binned query gives neither binCount nor binWidth.
const DefaultBinCount = 20

const day = 24 * time.Hour

// gridWidths is data-api's bin grid (docs/daqbuf.md §7.1), ascending. Read-only.
var gridWidths = [...]time.Duration{
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
	20 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	20 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 12 * time.Hour, day, 2 * day,
	4 * day, 8 * day, 16 * day, 32 * day, 64 * day,
}

// GridWidths returns data-api's allowed bin widths, ascending (20ms … 64d). The slice is a copy.
func GridWidths() []time.Duration { return append([]time.Duration(nil), gridWidths[:]...) }

// WidthForCount is the bin width in ns data-api picks for binCount = n over r (docs/daqbuf.md §7.2): the
// largest grid width not above L = (end − beg)/n, or L itself (off the grid) when L is below 20 ms.
// n < 1 means DefaultBinCount. The result is at least 1 ns.
func WidthForCount(r Range, n int) int64 {
	if n < 1 {
		n = DefaultBinCount
	}
	l := (r.End - r.Beg) / int64(n)
	if l < int64(gridWidths[0]) {
		return max(l, 1)
	}
	w := gridWidths[0]
	for _, g := range gridWidths {
		if int64(g) > l {
			break
		}
		w = g
	}
	return int64(w)
}

// SnapWidth is the grid width data-api uses for a requested binWidth d (docs/daqbuf.md §7.3): d is
// clamped to [20ms, 64d] with its sub-millisecond part dropped; an exact grid value is kept;
// otherwise, between neighbours v1 < d < v2, v2 (rounding up) unless v2 ≥ 2·d, then v1.
func SnapWidth(d time.Duration) time.Duration {
	d = d.Truncate(time.Millisecond)
	d = min(max(d, gridWidths[0]), gridWidths[len(gridWidths)-1])
	for i := 1; i < len(gridWidths); i++ {
		v1, v2 := gridWidths[i-1], gridWidths[i]
		switch {
		case d == v1:
			return v1
		case d < v2:
			if v2 >= 2*d {
				return v1
			}
			return v2
		}
	}
	return gridWidths[len(gridWidths)-1]
}

// GridRange is r widened to whole bins of width w ns aligned to the epoch: from floor(beg/w)·w to
// ceil(end/w)·w (docs/daqbuf.md §7.2). A non-positive w returns r unchanged.
func GridRange(r Range, w int64) Range {
	if w <= 0 {
		return r
	}
	return Range{Beg: floorDiv(r.Beg, w) * w, End: ceilDiv(r.End, w) * w}
}

// GridBins is the number of bins of width w ns data-api emits at most for r: ceil(end/w) − floor(beg/w).
func GridBins(r Range, w int64) int64 {
	if w <= 0 || r.End <= r.Beg {
		return 0
	}
	g := GridRange(r, w)
	return (g.End - g.Beg) / w
}

// ChunkSpan is the length in ns of a cache chunk of binsPerChunk bins of width w ns (at least one bin).
// Chunks of this span aligned to the epoch contain whole, aligned bins, because the span is a
// multiple of w.
func ChunkSpan(w int64, binsPerChunk int) int64 {
	return w * int64(max(binsPerChunk, 1))
}

// AlignedChunks cuts the epoch-aligned grid of span ns into the chunks that cover r: the first
// starts at floor(beg/span)·span, the last ends at ceil(end/span)·span. Empty r or span ≤ 0: nil.
func AlignedChunks(r Range, span int64) []Range {
	if span <= 0 || r.End <= r.Beg {
		return nil
	}
	g := GridRange(r, span)
	out := make([]Range, 0, (g.End-g.Beg)/span)
	for beg := g.Beg; beg < g.End; beg += span {
		out = append(out, Range{Beg: beg, End: beg + span})
	}
	return out
}

// floorDiv and ceilDiv round towards −∞ and +∞ (Go's / truncates towards zero); d > 0.
func floorDiv(a, d int64) int64 {
	q := a / d
	if a%d != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, d int64) int64 {
	q := a / d
	if a%d != 0 && a > 0 {
		q++
	}
	return q
}
