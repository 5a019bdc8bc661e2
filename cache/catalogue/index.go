package catalogue

import (
	"cmp"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unsafe"

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
	// size approximates the bytes the index holds (see bytes).
	size int64
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
	x.size = x.measure()
	return x
}

// measure approximates what x holds: the channel values with their names, descriptions and shapes
// (backend, source, type and unit are interned: a few strings shared by all), the series table, the
// folded names and their starts.
func (x *channelIndex) measure() int64 {
	n := int64(cap(x.list))*int64(unsafe.Sizeof(daqbuf.Channel{})) +
		int64(cap(x.series))*int64(unsafe.Sizeof(seriesEntry{})) +
		int64(len(x.folded)) + int64(cap(x.starts))*4
	for i := range x.list {
		ch := &x.list[i]
		n += int64(len(ch.Name) + len(ch.Description) + 4*cap(ch.Shape))
	}
	return n
}

// bytes is x's approximate size in memory; 0 for nil.
func (x *channelIndex) bytes() int64 {
	if x == nil {
		return 0
	}
	return x.size
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

// search returns the channels of backend ("" = all) whose name m matches, in list order, as
// marks over the backend's span of the list.
func (x *channelIndex) search(m *nameMatcher, backend string) matchPart {
	if x.len() == 0 {
		return matchPart{}
	}
	lo, hi := x.span(backend)
	if lo >= hi {
		return matchPart{}
	}
	part := matchPart{chs: x.list[lo:hi:hi], at: lo}
	// The span holds only backend's channels, unless the list is not grouped by backend.
	mixed := backend != "" && x.ranges == nil
	if m.all && !mixed {
		part.n = hi - lo // the whole span
		return part
	}
	part.marks = make([]uint64, (hi-lo+63)/64)
	mark := func(i int) { part.marks[(i-lo)/64] |= 1 << ((i - lo) % 64) }
	switch {
	case m.all:
		for i := lo; i < hi; i++ {
			if x.list[i].Backend == backend {
				mark(i)
			}
		}
	case len(m.lits) == 0:
		x.scan(m, backend, lo, hi, part.marks)
	default:
		// Mark the candidates of every literal, then decide them in list order, unless containing
		// a literal is matching (litContains, litAnyOf) and the span holds only backend.
		for _, lit := range m.lits {
			x.candidates(lit, lo, hi, mark)
		}
		if mixed || (m.mode != litContains && m.mode != litAnyOf) {
			x.decide(m, backend, lo, part.marks)
		}
	}
	part.n = countMarks(part.marks)
	return part
}

// decide clears the marks (over the list from lo) of the candidates m does not match.
func (x *channelIndex) decide(m *nameMatcher, backend string, lo int, marks []uint64) {
	run := m.runner()
	for w, word := range marks {
		for rest := word; rest != 0; rest &= rest - 1 {
			b := bits.TrailingZeros64(rest)
			if !x.accept(m, run, backend, lo+w*64+b) {
				word &^= 1 << b
			}
		}
		marks[w] = word
	}
}

// scanPart is the fewest names one goroutine of a full scan takes: below it starting one costs more
// than it saves.
const scanPart = 8192

// scan is the full scan: every name of [lo, hi) through m (the DFA, ~25 ns a name here, or RE2,
// ~300 ns), marking matches in marks (over the list from lo), split over the available cores.
func (x *channelIndex) scan(m *nameMatcher, backend string, lo, hi int, marks []uint64) {
	scanRange := func(from, to int) {
		run := m.runner()
		for i := from; i < to; i++ {
			if ch := &x.list[i]; (backend == "" || ch.Backend == backend) && m.match(run, ch.Name) {
				marks[(i-lo)/64] |= 1 << ((i - lo) % 64)
			}
		}
	}
	parts := min(runtime.GOMAXPROCS(0), (hi-lo)/scanPart)
	if parts <= 1 {
		scanRange(lo, hi)
		return
	}
	// Boundaries at multiples of 64 names from lo: each goroutine owns whole words of marks.
	words := (hi - lo + 63) / 64
	var wg sync.WaitGroup
	for p := range parts {
		from, to := lo+words*p/parts*64, min(hi, lo+words*(p+1)/parts*64)
		wg.Go(func() { scanRange(from, to) })
	}
	wg.Wait()
}

// accept decides candidate i.
func (x *channelIndex) accept(m *nameMatcher, run *dfaRunner, backend string, i int) bool {
	ch := &x.list[i]
	if backend != "" && ch.Backend != backend {
		return false
	}
	if m.mode != litVerify {
		return m.matchFolded(x.foldedName(i))
	}
	return m.match(run, ch.Name)
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
		i := x.nameAt(int32(base+pos+j), next, hi)
		fn(i)
		next = i + 1
		pos = int(x.starts[next]) - base
	}
}

// nameAt is the name holding offset at of folded, among names [from, hi): the last start <= at.
// It gallops from from, since the next hit is often a few names on (a literal that tens of
// thousands of names contain): a few steps instead of a binary search over the whole rest.
func (x *channelIndex) nameAt(at int32, from, hi int) int {
	step := 1
	for from+step < hi && x.starts[from+step] <= at {
		from += step
		step *= 2
	}
	// starts[from] <= at < starts[min(from+step, hi)]
	end := min(from+step, hi)
	return from + sort.Search(end-from, func(k int) bool { return x.starts[from+k] > at }) - 1
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
