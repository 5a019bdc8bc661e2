package catalogue

import (
	"cmp"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/databoard/databoard/daqbuf"
)

// seriesEntry is one row of the series-id index.
type seriesEntry struct {
	id  uint64
	idx int32
}

// channelIndex is an immutable, searchable set of channels: built once per list (or per change of
// the small additions set) and then only read, so searches need no lock.
type channelIndex struct {
	// list is sorted by backend, then name, when sorted is set (the refreshed list), so that
	// names are found by binary search; the additions, in arrival order, are scanned (few).
	// Neither index holds a pointer: 100 000 channels add nothing for the GC to mark.
	list   []daqbuf.Channel
	sorted bool
	// series holds (series id, index) sorted by id, then index.
	series []seriesEntry
	// folded holds every name case-folded (foldRune), each followed by nameSep; name i is
	// folded[starts[i] : starts[i+1]-1].
	folded string
	starts []int32
	// ranges maps a backend to its [lo, hi) slice of list when each backend's channels are
	// contiguous (the refreshed list is sorted by backend); nil otherwise.
	ranges map[string][2]int32
	// freq counts each byte of folded: the literal prefilter looks for a literal's rarest byte
	// (every name starts with "S"? then "s" is a poor byte to look for).
	freq [256]int32
}

// newChannelIndex indexes chs, which it keeps (the caller must not modify them afterwards).
func newChannelIndex(chs []daqbuf.Channel) *channelIndex {
	x := &channelIndex{
		list:   chs,
		sorted: slices.IsSortedFunc(chs, compareChannels),
		starts: make([]int32, len(chs)+1),
		ranges: backendRanges(chs),
	}
	size := 0
	for i := range chs {
		size += len(chs[i].Name) + 1
	}
	folded := make([]byte, 0, size+size/8)
	for i := range chs {
		ch := &chs[i]
		if ch.SeriesID != 0 {
			x.series = append(x.series, seriesEntry{ch.SeriesID, int32(i)})
		}
		x.starts[i] = int32(len(folded))
		folded = appendFolded(folded, ch.Name)
		folded = append(folded, nameSep)
	}
	x.starts[len(chs)] = int32(len(folded))
	for _, c := range folded {
		x.freq[c]++
	}
	x.folded = string(folded)
	slices.SortFunc(x.series, func(a, b seriesEntry) int {
		if a.id != b.id {
			return cmp.Compare(a.id, b.id)
		}
		return cmp.Compare(a.idx, b.idx)
	})
	return x
}

// compareChannels is the list's order: backend, then name.
func compareChannels(a, b daqbuf.Channel) int {
	if c := strings.Compare(a.Backend, b.Backend); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// backendRanges returns each backend's [lo, hi) in chs, or nil when some backend's channels are
// not contiguous.
func backendRanges(chs []daqbuf.Channel) map[string][2]int32 {
	r := map[string][2]int32{}
	for i := 0; i < len(chs); {
		b := chs[i].Backend
		j := i + 1
		for j < len(chs) && chs[j].Backend == b {
			j++
		}
		if _, seen := r[b]; seen {
			return nil
		}
		r[b] = [2]int32{int32(i), int32(j)}
		i = j
	}
	return r
}

func (x *channelIndex) len() int {
	if x == nil {
		return 0
	}
	return len(x.list)
}

// has reports whether the index holds ch with the same series id.
func (x *channelIndex) has(ch *daqbuf.Channel) bool {
	if x == nil {
		return false
	}
	found := false
	x.eachNamed(ch.Backend, ch.Name, func(i int) bool {
		found = x.list[i].SeriesID == ch.SeriesID
		return !found
	})
	return found
}

// eachNamed calls fn with the index of every channel named name in backend, in list order, until
// fn returns false.
func (x *channelIndex) eachNamed(backend, name string, fn func(i int) bool) {
	if !x.sorted {
		for i := range x.list {
			if ch := &x.list[i]; ch.Name == name && ch.Backend == backend && !fn(i) {
				return
			}
		}
		return
	}
	key := daqbuf.Channel{Backend: backend, Name: name}
	i, _ := slices.BinarySearchFunc(x.list, key, compareChannels)
	for ; i < len(x.list) && x.list[i].Name == name && x.list[i].Backend == backend; i++ {
		if !fn(i) {
			return
		}
	}
}

// lookup returns the first channel named name in backend.
func (x *channelIndex) lookup(backend, name string) (daqbuf.Channel, bool) {
	if x == nil {
		return daqbuf.Channel{}, false
	}
	at := -1
	x.eachNamed(backend, name, func(i int) bool { at = i; return false })
	if at < 0 {
		return daqbuf.Channel{}, false
	}
	return x.list[at], true
}

// lookupSeries returns the last channel of backend with series id (the last, as a map filled in
// list order would).
func (x *channelIndex) lookupSeries(backend string, id uint64) (daqbuf.Channel, bool) {
	if x == nil || id == 0 {
		return daqbuf.Channel{}, false
	}
	i, _ := slices.BinarySearchFunc(x.series, id, func(e seriesEntry, id uint64) int { return cmp.Compare(e.id, id) })
	at := -1
	for ; i < len(x.series) && x.series[i].id == id; i++ {
		if x.list[x.series[i].idx].Backend == backend {
			at = int(x.series[i].idx)
		}
	}
	if at < 0 {
		return daqbuf.Channel{}, false
	}
	return x.list[at], true
}

// span is the [lo, hi) part of the list that can hold channels of backend ("" = all).
func (x *channelIndex) span(backend string) (lo, hi int) {
	if backend == "" || x.ranges == nil {
		return 0, len(x.list)
	}
	r, ok := x.ranges[backend]
	if !ok {
		return 0, 0
	}
	return int(r[0]), int(r[1])
}

func (x *channelIndex) foldedName(i int) string {
	return x.folded[x.starts[i] : x.starts[i+1]-1]
}

// search appends to dst the channels of backend ("" = all) whose name m matches, in list order.
func (x *channelIndex) search(dst []daqbuf.Channel, m *nameMatcher, backend string) []daqbuf.Channel {
	if x.len() == 0 {
		return dst
	}
	lo, hi := x.span(backend)
	if lo >= hi {
		return dst
	}
	if m.all && (backend == "" || x.ranges != nil) {
		if len(dst) == 0 {
			// The whole span, shared (a search result is not modified; the cap stops appends).
			return x.list[lo:hi:hi]
		}
		return append(slices.Grow(dst, hi-lo), x.list[lo:hi]...)
	}
	var hits []int32
	switch {
	case m.all:
		for i := lo; i < hi; i++ {
			if backend == "" || x.list[i].Backend == backend {
				hits = append(hits, int32(i))
			}
		}
	case len(m.lits) == 0:
		hits = x.scan(m, backend, lo, hi)
	case len(m.lits) == 1:
		x.candidates(m.lits[0], lo, hi, func(i int) {
			if x.accept(m, backend, i) {
				hits = append(hits, int32(i))
			}
		})
	default:
		// Several literals: mark the candidates of each, then decide them in list order.
		marks := make([]uint64, (hi-lo+63)/64)
		for _, lit := range m.lits {
			x.candidates(lit, lo, hi, func(i int) { marks[(i-lo)/64] |= 1 << ((i - lo) % 64) })
		}
		for w, word := range marks {
			for word != 0 {
				i := lo + w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				if x.accept(m, backend, i) {
					hits = append(hits, int32(i))
				}
			}
		}
	}
	// One allocation of the exact size: results can be tens of thousands of channels.
	dst = slices.Grow(dst, len(hits))
	for _, i := range hits {
		dst = append(dst, x.list[i])
	}
	return dst
}

// scanPart is the fewest names one goroutine of a full scan takes: below it starting one costs more
// than it saves.
const scanPart = 8192

// scan is the full scan: RE2 on every name of [lo, hi), split over the available cores (RE2 costs
// ~300 ns a name, so 100 000 names take ~30 ms on one core).
func (x *channelIndex) scan(m *nameMatcher, backend string, lo, hi int) []int32 {
	scanRange := func(lo, hi int) []int32 {
		var hits []int32
		for i := lo; i < hi; i++ {
			if ch := &x.list[i]; (backend == "" || ch.Backend == backend) && m.re.MatchString(ch.Name) {
				hits = append(hits, int32(i))
			}
		}
		return hits
	}
	parts := min(runtime.GOMAXPROCS(0), (hi-lo)/scanPart)
	if parts <= 1 {
		return scanRange(lo, hi)
	}
	found := make([][]int32, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() { found[p] = scanRange(lo+(hi-lo)*p/parts, lo+(hi-lo)*(p+1)/parts) })
	}
	wg.Wait()
	return slices.Concat(found...)
}

// accept decides candidate i.
func (x *channelIndex) accept(m *nameMatcher, backend string, i int) bool {
	ch := &x.list[i]
	if backend != "" && ch.Backend != backend {
		return false
	}
	if m.mode != litVerify {
		return m.matchFolded(x.foldedName(i))
	}
	return m.re.MatchString(ch.Name)
}

// candidates calls fn, in ascending order and at most once each, with every i in [lo, hi) whose
// folded name contains lit.
func (x *channelIndex) candidates(lit string, lo, hi int, fn func(i int)) {
	text := x.folded[x.starts[lo]:x.starts[hi]]
	base := int(x.starts[lo])
	rare := 0
	for k := 1; k < len(lit); k++ {
		if x.freq[lit[k]] < x.freq[lit[rare]] {
			rare = k
		}
	}
	next := lo // names before next are done
	for pos := 0; pos < len(text); {
		j := indexAround(text[pos:], lit, rare)
		if j < 0 {
			return
		}
		at := int32(base + pos + j)
		// The name holding offset at: the last start <= at (searching only names not yet done).
		i := next + sort.Search(hi-next, func(k int) bool { return x.starts[next+k] > at }) - 1
		fn(i)
		next = i + 1
		pos = int(x.starts[next]) - base
	}
}

// indexAround is strings.Index(text, lit) driven by lit's byte at rare: IndexByte (vectorised)
// skips to the next occurrence of that byte, then the literal is compared around it. With a rare
// byte this is several times faster than strings.Index, which keys on the literal's first byte.
func indexAround(text, lit string, rare int) int {
	b := lit[rare]
	for off := rare; off < len(text); {
		j := strings.IndexByte(text[off:], b)
		if j < 0 {
			return -1
		}
		p := off + j - rare
		if p+len(lit) <= len(text) && text[p:p+len(lit)] == lit {
			return p
		}
		off += j + 1
	}
	return -1
}
