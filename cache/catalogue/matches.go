package catalogue

import (
	"iter"
	"math/bits"

	"github.com/databoard/databoard/daqbuf"
)

// Matches is a search answer: channels in list order, read in place from the held list (or from a
// live answer), never copied. A search can match tens of thousands of channels; copying them out
// cost ~130 bytes each, megabytes a search, and the collections that caused. A Matches stays valid
// after the list is replaced (it holds the old list) and must not be modified through.
type Matches struct {
	parts [2]matchPart // the list's matches, then its additions'
	n     int
	// gen is the generation of the list the matches were read from, when listed (not a live
	// answer): their positions are then indices into that generation's All().
	gen    uint64
	listed bool
}

// matchPart is the matches among chs: all of them when marks is nil, else those whose bit is set
// (chs[k] is bit k%64 of marks[k/64]). A bitmap costs one bit per channel of the searched span
// (12.5 KB for 100 000) whatever the count, holds no pointer, and its writers can split it by word.
type matchPart struct {
	chs   []daqbuf.Channel
	marks []uint64
	n     int
	at    int // the index of chs[0] in All()
}

// sliceMatches is all of chs.
func sliceMatches(chs []daqbuf.Channel) Matches {
	return Matches{parts: [2]matchPart{{chs: chs, n: len(chs)}}, n: len(chs)}
}

// listMatches is the matches of the list of generation gen: base's, then extra's, whose
// positions follow base's in All().
func listMatches(gen uint64, base, extra matchPart) Matches {
	return Matches{parts: [2]matchPart{base, extra}, n: base.n + extra.n, gen: gen, listed: true}
}

// Len is the number of channels.
func (m *Matches) Len() int { return m.n }

// Generation reports the generation of the list (All) the matches were read from; ok is false
// for a live answer from data-api.
func (m *Matches) Generation() (gen uint64, ok bool) { return m.gen, m.listed }

// All yields the channels in order. They belong to the list: read them, do not modify or keep
// the pointers beyond the Matches.
func (m *Matches) All() iter.Seq[*daqbuf.Channel] {
	return func(yield func(*daqbuf.Channel) bool) {
		for i := range m.parts {
			p := &m.parts[i]
			if !p.each(func(k int) bool { return yield(&p.chs[k]) }) {
				return
			}
		}
	}
}

// Positions yields, in order, the index of every channel in the All() of the generation the
// matches were read from (see Generation): a caller holding something per channel of the list
// (its encoded form) can use it without a lookup. Meaningless for a live answer.
func (m *Matches) Positions() iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range m.parts {
			p := &m.parts[i]
			if !p.each(func(k int) bool { return yield(p.at + k) }) {
				return
			}
		}
	}
}

// Channels returns the channels as a slice: the held one when the matches are one whole slice,
// else a copy (meant for small answers and tests; large ones should be read with All).
func (m *Matches) Channels() []daqbuf.Channel {
	if p := &m.parts[0]; p.marks == nil && m.parts[1].n == 0 {
		return p.chs[:len(p.chs):len(p.chs)]
	}
	out := make([]daqbuf.Channel, 0, m.n)
	for ch := range m.All() {
		out = append(out, *ch)
	}
	return out
}

// each calls yield with the index in chs of every match, in order, until it returns false; it
// reports whether it ran to the end.
func (p *matchPart) each(yield func(k int) bool) bool {
	if p.n == 0 {
		return true
	}
	if p.marks == nil {
		for k := range p.chs {
			if !yield(k) {
				return false
			}
		}
		return true
	}
	for w, word := range p.marks {
		for word != 0 {
			if !yield(w*64 + bits.TrailingZeros64(word)) {
				return false
			}
			word &= word - 1
		}
	}
	return true
}

// countMarks is the number of set bits.
func countMarks(marks []uint64) int {
	n := 0
	for _, w := range marks {
		n += bits.OnesCount64(w)
	}
	return n
}
