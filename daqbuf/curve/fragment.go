package curve

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/databoard/databoard/daqbuf"
)

// A fragment is one stretch of bins (a cache chunk) already written as the text of the answer's four
// maps, so that an answer over cached chunks is mostly copying: formatting the floats of a 2 000-bin
// curve costs several times as much as everything else a cache hit does. Each map's text is the
// chunk's entries, each ending with a comma; per bin an offset into each text says where its entry
// starts, so a window's edges cut a fragment by bin without parsing text.
//
// Layout (little-endian; every column has n elements, offsets n+1):
//
//	byte 0      fragmentVersion
//	byte 1      flags: fragmentEmptyKept when a bin with count 0 has entries (removeEmptyBins must
//	            skip it; data-api's empty bins are usually NaN and have none)
//	bytes 2-5   n, the number of bins
//	n × int64   Ts1, n × int64 midpoints (the keys), n × uint64 Counts
//	4 × (n+1) × uint32  entry offsets of the avg, min, max and pointMeta texts, each from its text's start
//	the four texts, in that order
//
// A bin whose avg, min or max is not finite has no entry (its offsets are equal): the answer never
// holds NaN, and value, min and max keep the same keys.
//
// Reading a fragment checks its sizes only, not every offset (a hit must stay cheap); offsets are
// clamped where they are used, so a corrupt fragment writes wrong text but cannot fault. Fragments
// are written and read by this process only.
const (
	fragmentVersion   = 1
	fragmentEmptyKept = 1
	fragmentHeaderLen = 6
	fragmentMaps      = 4 // avg, min, max, pointMeta: the order of the answer
)

// errFragment: a fragment whose layout does not hold together.
var errFragment = errors.New("curve: corrupt fragment")

// AppendFragment appends the fragment of b (the bins of one chunk, ascending) to dst.
func AppendFragment(dst []byte, b *daqbuf.BinBatch) []byte {
	n := b.Len()
	start := len(dst)
	dst = append(dst, fragmentVersion, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	for _, v := range b.Ts1 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
	}
	for i := range n {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(binMid(b, i)))
	}
	for _, c := range b.Counts {
		dst = binary.LittleEndian.AppendUint64(dst, c)
	}
	offsets := len(dst)
	dst = append(dst, make([]byte, fragmentMaps*(n+1)*4)...)
	var key []byte
	for m := range fragmentMaps {
		text := len(dst)
		for i := range n {
			binary.LittleEndian.PutUint32(dst[offsets+(m*(n+1)+i)*4:], uint32(len(dst)-text))
			if !binFinite(b, i) {
				continue
			}
			if m == 0 {
				if b.Counts[i] == 0 {
					dst[start+1] |= fragmentEmptyKept
				}
			}
			key = appendBinKey(key[:0], b, i)
			dst = appendEntry(append(dst, key...), b, i, m)
		}
		binary.LittleEndian.PutUint32(dst[offsets+(m*(n+1)+n)*4:], uint32(len(dst)-text))
	}
	return dst
}

// appendEntry writes the value of bin i in map m and the entry's closing comma.
func appendEntry(dst []byte, b *daqbuf.BinBatch, i, m int) []byte {
	switch m {
	case 0:
		dst = appendFloat(dst, b.Avgs[i])
	case 1:
		dst = appendFloat(dst, b.Mins[i])
	case 2:
		dst = appendFloat(dst, b.Maxs[i])
	default:
		dst = append(dst, `{"count":`...)
		dst = strconv.AppendUint(dst, b.Counts[i], 10)
		dst = append(dst, '}')
	}
	return append(dst, ',')
}

// appendBinKey writes bin i's map key, `"<midpoint>":`.
func appendBinKey(dst []byte, b *daqbuf.BinBatch, i int) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, binMid(b, i), 10)
	return append(dst, '"', ':')
}

// binFinite says whether bin i has entries at all (removeEmptyBins aside).
func binFinite(b *daqbuf.BinBatch, i int) bool {
	return finite(b.Avgs[i]) && finite(b.Mins[i]) && finite(b.Maxs[i])
}

// Fragment is a read-only view of an encoded fragment, cut to the bins [lo, hi). It shares the
// encoded bytes, which must not change while it is used.
type Fragment struct {
	n, lo, hi int
	emptyKept bool
	ts1, mids []byte // n × 8
	counts    []byte // n × 8
	offsets   []byte // fragmentMaps × (n+1) × 4
	texts     [fragmentMaps][]byte
}

// ParseFragment reads an encoded fragment (AppendFragment) without copying it; the view holds every
// bin.
func ParseFragment(b []byte) (Fragment, error) {
	if len(b) < fragmentHeaderLen || b[0] != fragmentVersion {
		return Fragment{}, errFragment
	}
	n := int(binary.LittleEndian.Uint32(b[2:6]))
	cols := 3 * 8 * n
	offLen := fragmentMaps * (n + 1) * 4
	if n > len(b) || fragmentHeaderLen+cols+offLen > len(b) {
		return Fragment{}, errFragment
	}
	f := Fragment{n: n, hi: n, emptyKept: b[1]&fragmentEmptyKept != 0}
	p := fragmentHeaderLen
	f.ts1, f.mids, f.counts = b[p:p+8*n], b[p+8*n:p+16*n], b[p+16*n:p+cols]
	p += cols
	f.offsets = b[p : p+offLen]
	p += offLen
	for m := range fragmentMaps {
		size := int(f.offset(m, n))
		if size > len(b)-p {
			return Fragment{}, errFragment
		}
		f.texts[m] = b[p : p+size]
		p += size
	}
	if p != len(b) {
		return Fragment{}, errFragment
	}
	return f, nil
}

func (f Fragment) offset(m, i int) uint32 {
	return binary.LittleEndian.Uint32(f.offsets[(m*(f.n+1)+i)*4:])
}

func (f Fragment) ts1At(i int) int64    { return int64(binary.LittleEndian.Uint64(f.ts1[8*i:])) }
func (f Fragment) midAt(i int) int64    { return int64(binary.LittleEndian.Uint64(f.mids[8*i:])) }
func (f Fragment) countAt(i int) uint64 { return binary.LittleEndian.Uint64(f.counts[8*i:]) }
func (f Fragment) emptyAt(i int) bool   { return f.countAt(i) == 0 && f.offset(0, i) != f.offset(0, i+1) }

// textAt is map m's offset of bin i clamped to [from, len(text)], so that slicing cannot fault.
func (f Fragment) textAt(m, i, from int) int {
	return min(max(int(f.offset(m, i)), from), len(f.texts[m]))
}

// size is the length of the view's text in the four maps.
func (f Fragment) size() int {
	n := 0
	for m := range fragmentMaps {
		n += f.textAt(m, f.hi, 0) - f.textAt(m, f.lo, 0)
	}
	return max(n, 0)
}

// Len is the number of bins in the view (with or without entries).
func (f Fragment) Len() int { return f.hi - f.lo }

// Cut narrows the view to its bins that start in w, as the uncached answer holds the bins whose start
// lies in the window.
func (f Fragment) Cut(w daqbuf.Range) Fragment {
	for f.lo < f.hi && f.ts1At(f.lo) < w.Beg {
		f.lo++
	}
	for f.hi > f.lo && f.ts1At(f.hi-1) >= w.End {
		f.hi--
	}
	return f
}

// events is the sum of the view's bin counts.
func (f Fragment) events() uint64 {
	var n uint64
	for i := f.lo; i < f.hi; i++ {
		n += f.countAt(i)
	}
	return n
}

// appendMap copies the view's entries of map m; with removeEmpty the entries of count-0 bins are
// skipped (one copy per stretch between them).
func (f Fragment) appendMap(dst []byte, m int, removeEmpty bool) []byte {
	text := f.texts[m]
	from := f.textAt(m, f.lo, 0)
	if removeEmpty && f.emptyKept {
		for i := f.lo; i < f.hi; i++ {
			if f.emptyAt(i) {
				dst = append(dst, text[from:f.textAt(m, i, from)]...)
				from = f.textAt(m, i+1, from)
			}
		}
	}
	return append(dst, text[from:f.textAt(m, f.hi, from)]...)
}

// FragmentCurve is a binned /channels/curve answer made of fragments (Service.FetchAnswer).
type FragmentCurve struct {
	name        string
	frags       []Fragment
	removeEmpty bool
}

var _ Answer = (*FragmentCurve)(nil)

// binCount is the number of bins data-api returned for the window (with or without entries).
func (c *FragmentCurve) binCount() int {
	n := 0
	for _, f := range c.frags {
		n += f.Len()
	}
	return n
}

func (c *FragmentCurve) events() uint64 {
	var n uint64
	for _, f := range c.frags {
		n += f.events()
	}
	return n
}

// SizeHint is the answer's size, up to the few digits of the interval statistics.
func (c *FragmentCurve) SizeHint() int {
	n := 256 + 4*len(c.name)
	for _, f := range c.frags {
		n += f.size()
	}
	return n
}

// AppendJSON appends `{"curve": {...}}`, byte for byte what Curve.AppendJSON writes for the same bins.
func (c *FragmentCurve) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"curve":{`...)
	if c.binCount() == 0 {
		dst = AppendJSONString(dst, c.name)
		return append(dst, `:{}}}`...)
	}
	avg, stddev := midStats(c.mids)
	for m, suffix := range []string{"", "_min", "_max"} {
		if m > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, c.name+suffix)
		dst = append(dst, `:{`...)
		dst = c.appendMap(dst, m)
	}
	dst = append(dst, ',')
	dst = AppendJSONString(dst, c.name+"_meta")
	dst = append(dst, `:{"raw":false,"waveform":false,"interval_avg":`...)
	dst = appendFloat(dst, avg)
	dst = append(dst, `,"interval_stddev":`...)
	dst = appendFloat(dst, stddev)
	dst = append(dst, `,"pointMeta":{`...)
	dst = c.appendMap(dst, fragmentMaps-1)
	return append(dst, `}}}`...)
}

// appendMap writes map m's entries and closes the map: the last entry's comma becomes the brace.
func (c *FragmentCurve) appendMap(dst []byte, m int) []byte {
	for _, f := range c.frags {
		dst = f.appendMap(dst, m, c.removeEmpty)
	}
	if dst[len(dst)-1] == ',' {
		dst[len(dst)-1] = '}'
		return dst
	}
	return append(dst, '}')
}

// mids yields the midpoint of every bin of the window, in order.
func (c *FragmentCurve) mids(yield func(int64)) {
	for _, f := range c.frags {
		for i := f.lo; i < f.hi; i++ {
			yield(f.midAt(i))
		}
	}
}

// midStats is the mean and population standard deviation of the differences between consecutive
// midpoints that each yields, in ns; 0 for fewer than two. Two passes, as numpy's mean and std: with
// means near 1e10 ns, E[d²]−E[d]² loses thousands of ns to rounding, while the deviations themselves
// are small and exact.
func midStats(each func(yield func(int64))) (mean, stddev float64) {
	var first, last int64
	n := -1 // number of differences
	each(func(mid int64) {
		if n < 0 {
			first = mid
		}
		last = mid
		n++
	})
	if n < 1 {
		return 0, 0
	}
	mean = float64(last-first) / float64(n) // the differences telescope
	var sumSq float64
	prev, havePrev := int64(0), false
	each(func(mid int64) {
		if havePrev {
			d := float64(mid-prev) - mean
			sumSq += d * d
		}
		prev, havePrev = mid, true
	})
	return mean, math.Sqrt(sumSq / float64(n))
}
