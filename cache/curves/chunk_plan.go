package curves

import (
	"math"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

// This file is the range algebra of the curve cache: pure functions, no I/O, no clock. The I/O
// shell (curves.go, fetch.go) only reads, fetches and stores what these decide.

// chunk is one cache chunk of a request.
type chunk struct {
	// Span is the chunk's fixed, epoch-aligned extent [Beg, End); Span.Beg names it in the key.
	Span daqbuf.Range
	// Fetch is what data-api is asked for: Span cut at now (nothing exists later).
	Fetch daqbuf.Range
	// Settled: the chunk ended at least the settle time before now, so a complete upstream answer
	// for it is final.
	Settled bool
	// Need is how far a stored copy must reach (its Covered) to be used: the chunk's end, or the
	// window's if earlier. A copy fetched while the chunk held now ends at that moment; behind a
	// later chunk it would leave a hole. Only the chunk holding now accepts any copy that is still
	// fresh (its staleness is bounded by TailTTL), or, for a caller asking for a fresher tail, a copy
	// fetched at most that long ago: such a copy ends where its fetch did, at the fetch time.
	Need int64
}

// binPlan is the chunk layout of one binned request.
type binPlan struct {
	Width int64 // ns, on data-api's grid
	// Window holds the start of every bin the uncached request returns: [floor(beg/w)·w, end).
	Window daqbuf.Range
	Chunks []chunk
}

// minGridWidth is data-api's smallest grid width (daqbuf.GridWidths()[0], checked by a test): below
// it data-api bins with the exact, unaligned length, which cannot be chunked.
const minGridWidth = int64(20 * time.Millisecond)

// binWidthOf is the width data-api uses for q, and whether q is valid and on the grid.
func binWidthOf(q daqbuf.BinnedQuery) (int64, bool) {
	switch {
	case q.Range.End <= q.Range.Beg || q.BinCount < 0 || q.BinWidth < 0 || (q.BinCount > 0 && q.BinWidth > 0):
		return 0, false // invalid: the uncached path reports the error
	case q.BinWidth > 0:
		return int64(daqbuf.SnapWidth(q.BinWidth)), true
	}
	w := daqbuf.WidthForCount(q.Range, q.BinCount)
	return w, w >= minGridWidth
}

// settleFor is how long after its end a chunk of bins of width w may still change: at least two
// bins and at least minSettle.
func settleFor(w int64, minSettle time.Duration) int64 {
	return max(2*w, int64(minSettle))
}

// planBins cuts a binned request into chunks of binsPerChunk bins aligned to binsPerChunk·w. ok is
// false when the request cannot be chunked (invalid, or a width off the grid): it then goes to
// data-api as it is. Chunks starting at or after now are left out: they hold no data. maxTailAge > 0
// bounds the age of the copy of the chunk holding now (see layChunks).
func planBins(q daqbuf.BinnedQuery, binsPerChunk int, now int64, minSettle, maxTailAge time.Duration) (binPlan, bool) {
	w, ok := binWidthOf(q)
	if !ok {
		return binPlan{}, false
	}
	g := daqbuf.GridRange(q.Range, w)
	p := binPlan{Width: w, Window: daqbuf.Range{Beg: g.Beg, End: q.Range.End}}
	p.Chunks = layChunks(g, daqbuf.ChunkSpan(w, binsPerChunk), now, settleFor(w, minSettle), int64(maxTailAge))
	return p, true
}

// layChunks lays the aligned chunks of span over r, dropping those that start at or after now. Their
// data must reach r.End (or their own end), except for the chunk holding now: any fresh copy of it
// does, or with maxTailAge > 0 only one fetched at most maxTailAge before now (its Covered, where the
// fetch ended, is the fetch time).
func layChunks(r daqbuf.Range, span, now, settle, maxTailAge int64) []chunk {
	spans := daqbuf.AlignedChunks(r, span)
	out := make([]chunk, 0, len(spans))
	for _, s := range spans {
		if s.Beg >= now {
			break
		}
		c := chunk{
			Span:    s,
			Fetch:   daqbuf.Range{Beg: s.Beg, End: min(s.End, now)},
			Settled: s.End <= now-settle,
			Need:    min(s.End, r.End),
		}
		if s.End > now {
			c.Need = s.Beg
			if maxTailAge > 0 {
				c.Need = max(s.Beg, now-maxTailAge)
			}
		}
		out = append(out, c)
	}
	return out
}

// eventPlan is the chunk layout of one events request.
type eventPlan struct {
	Span    int64 // chunk length, ns
	Window  daqbuf.Range
	BegExcl bool // Window.Beg itself is excluded
	Chunks  []chunk
}

// eventSpanFor picks the events chunk length for a window of length ns from a fixed ladder (data-api's
// bin grid): the shortest that covers the window in at most maxChunks chunks, so that any window
// costs a bounded number of keys and windows of similar length share chunks.
func eventSpanFor(length int64, maxChunks int) int64 {
	widths := daqbuf.GridWidths()
	for _, g := range widths {
		if int64(g)*int64(maxChunks) >= length {
			return int64(g)
		}
	}
	return int64(widths[len(widths)-1])
}

// planEvents cuts an events request into epoch-aligned time chunks. ok is false for requests the
// cache does not serve (invalid ranges, oneBeforeRange, which depends on data before the window).
// maxTailAge is as for planBins.
func planEvents(q daqbuf.EventsQuery, maxChunks int, now int64, settle, maxTailAge time.Duration) (eventPlan, bool) {
	if q.Range.End <= q.Range.Beg || q.OneBeforeRange {
		return eventPlan{}, false
	}
	span := eventSpanFor(q.Range.End-q.Range.Beg, maxChunks)
	return eventPlan{
		Span: span, Window: q.Range, BegExcl: q.BegExcl,
		Chunks: layChunks(q.Range, span, now, int64(settle), int64(maxTailAge)),
	}, true
}

// chunkHeader is the freshness stamp stored in front of every chunk value.
type chunkHeader struct {
	Final      bool  // complete and settled: valid until it expires from the store
	FreshUntil int64 // ns; a non-final chunk is used until then, and kept afterwards only as a fallback
	Covered    int64 // ns; the end of the range fetched (the chunk's end, or now when it was fetched)
}

// usable reports whether a stored chunk may be used as it is at now by a request needing its data
// up to need (chunk.Need).
func (h chunkHeader) usable(now, need int64) bool {
	return h.Final || (now < h.FreshUntil && h.Covered >= need)
}

// fetchOutcome is what an upstream answer for one chunk said about itself.
type fetchOutcome struct {
	// Complete: data-api said it delivered everything (events: rangeFinal; bins: a clean end).
	Complete bool
	// OpenTail: no completion marker, but the chunk reaches now, where none is due yet (events),
	// and data-api did not say it timed out.
	OpenTail bool
	// Unverified: a clean end of a binned stream whose bins stop short of what was asked (or are
	// none). Binned streams carry no completion marker, and a failure mid-stream may just end the
	// stream (docs/daqbuf.md §6.2), so such an answer cannot be told from a truncated one; it may also be
	// a channel that stopped recording, or a server that skips empty bins. Kept, but only for
	// Recheck, never as final.
	Unverified bool
}

// storeDecision says whether and how long a fetched chunk is kept.
type storeDecision struct {
	Store  bool
	Header chunkHeader
	TTL    time.Duration
}

// storeTTLs are the lifetimes of Config, for decideStore.
type storeTTLs struct {
	Final, Tail, Stale, Recheck time.Duration
}

// decideStore applies the caching rules to one successful upstream answer for ch: complete and
// settled → final, kept for ttl.Final, unless unverified (fresh for ttl.Recheck only); complete or an open tail → fresh for ttl.Tail, kept for
// ttl.Stale as a stale-if-error fallback; anything else (a truncated or timed-out answer) → not
// stored. Failed fetches never reach this function.
func decideStore(o fetchOutcome, ch chunk, now int64, ttl storeTTLs) storeDecision {
	h := chunkHeader{Covered: ch.Fetch.End}
	switch {
	case o.Complete && ch.Settled && o.Unverified:
		h.FreshUntil = now + int64(ttl.Recheck)
		return storeDecision{Store: true, Header: h, TTL: max(ttl.Stale, ttl.Recheck)}
	case o.Complete && ch.Settled:
		h.Final = true
		return storeDecision{Store: true, Header: h, TTL: ttl.Final}
	case o.Complete || o.OpenTail:
		h.FreshUntil = now + int64(ttl.Tail)
		return storeDecision{Store: true, Header: h, TTL: max(ttl.Stale, ttl.Tail)}
	}
	return storeDecision{}
}

// chunkState is the state of one chunk after the store was read.
type chunkState uint8

const (
	chunkMissing chunkState = iota // not in the store (or unreadable): fetch
	chunkFresh                     // usable as it is
	chunkStale                     // fetch, but keep the stored copy as a fallback
)

// classify reads a stored value's header: is it usable at now for a chunk needing data up to need?
func classify(val []byte, kind byte, now, need int64) chunkState {
	if val == nil {
		return chunkMissing
	}
	h, err := readHeader(val, kind)
	switch {
	case err != nil:
		return chunkMissing
	case h.usable(now, need):
		return chunkFresh
	}
	return chunkStale
}

// cutBins keeps the bins of b (ascending Ts1) whose start lies in w, sharing b's memory.
func cutBins(b *daqbuf.BinBatch, w daqbuf.Range) *daqbuf.BinBatch {
	lo, hi := 0, b.Len()
	for lo < hi && b.Ts1[lo] < w.Beg {
		lo++
	}
	for hi > lo && b.Ts1[hi-1] >= w.End {
		hi--
	}
	return &daqbuf.BinBatch{
		Ts1: b.Ts1[lo:hi], Ts2: b.Ts2[lo:hi], Counts: b.Counts[lo:hi],
		Mins: b.Mins[lo:hi], Maxs: b.Maxs[lo:hi], Avgs: b.Avgs[lo:hi],
	}
}

// mergeEvents concatenates the chunks' batches in order and keeps the events inside w (after
// w.Beg when begExcl), dropping empty batches. Batches share memory with parts.
func mergeEvents(parts [][]*daqbuf.EventBatch, w daqbuf.Range, begExcl bool) []*daqbuf.EventBatch {
	var out []*daqbuf.EventBatch
	for _, p := range parts {
		for _, b := range p {
			lo, hi := 0, b.Len()
			for lo < hi && (b.Ts[lo] < w.Beg || (begExcl && b.Ts[lo] == w.Beg)) {
				lo++
			}
			for hi > lo && b.Ts[hi-1] >= w.End {
				hi--
			}
			if hi > lo {
				out = append(out, sliceEventBatch(b, lo, hi))
			}
		}
	}
	return out
}

// sliceEventBatch returns events [lo, hi) of b, sharing its memory.
func sliceEventBatch(b *daqbuf.EventBatch, lo, hi int) *daqbuf.EventBatch {
	if lo == 0 && hi == b.Len() {
		return b
	}
	out := &daqbuf.EventBatch{ScalarType: b.ScalarType, Ts: b.Ts[lo:hi]}
	if b.Pulses != nil {
		out.Pulses = b.Pulses[lo:hi]
	}
	v, w := b.Values, max(b.Values.Width, 1)
	out.Values = daqbuf.Values{Kind: v.Kind, Width: v.Width}
	out.Values.Floats = span(v.Floats, lo*w, hi*w)
	out.Values.Ints = span(v.Ints, lo*w, hi*w)
	out.Values.Uints = span(v.Uints, lo*w, hi*w)
	out.Values.Bools = span(v.Bools, lo*w, hi*w)
	out.Values.Strings = span(v.Strings, lo*w, hi*w)
	out.Values.Labels = span(v.Labels, lo, hi)
	return out
}

// span is s[lo:hi] with both ends clamped to len(s), sharing s's memory; nil stays nil (the column is
// not used by the batch's kind).
func span[T any](s []T, lo, hi int) []T {
	if s == nil {
		return nil
	}
	return s[min(lo, len(s)):min(hi, len(s))]
}

// run is a stretch [lo, hi) of a request's chunks fetched in one upstream request.
type run struct{ lo, hi int }

// fetchRuns groups the chunks that need a fetch into runs, one upstream request each: adjacent chunks
// that are missing or hold a stale copy form one run, of at most maxRun chunks. A refresh of a live
// window finds its last chunks stale (not yet settled, older than TailTTL) and the newest missing:
// one run asks data-api for all of them at once, where a request per chunk cost 11 requests for one
// "last 10 min" curve. (load serves the stale copies of a run whose fetch fails or is slow.) A fresh
// chunk, a gap and the chunk cut at now (nothing follows it) end a run. states and chunks are parallel.
func fetchRuns(states []chunkState, chunks []chunk, maxRun int) []run {
	var out []run
	for i, st := range states {
		if st == chunkFresh {
			continue
		}
		if n := len(out); n > 0 {
			r := &out[n-1]
			prev := chunks[r.hi-1]
			if r.hi == i && r.hi-r.lo < maxRun && prev.Fetch.End == prev.Span.End && prev.Span.End == chunks[i].Span.Beg {
				r.hi++
				continue
			}
		}
		out = append(out, run{lo: i, hi: i + 1})
	}
	return out
}

// staleUntil is how far from r.lo on the run's chunks have stale copies: the end of the run when all
// have, else the first one without.
func staleUntil(states []chunkState, r run) int {
	i := r.lo
	for i < r.hi && states[i] == chunkStale {
		i++
	}
	return i
}

// runRange is what data-api is asked for to fetch chunks (adjacent, ascending) in one request.
func runRange(chunks []chunk) daqbuf.Range {
	return daqbuf.Range{Beg: chunks[0].Fetch.Beg, End: chunks[len(chunks)-1].Fetch.End}
}

// splitBins cuts the bins of one upstream answer for chunks (adjacent, ascending) into the bins of
// each chunk (those starting in its span), sharing b's memory.
func splitBins(b *daqbuf.BinBatch, chunks []chunk) []*daqbuf.BinBatch {
	out := make([]*daqbuf.BinBatch, len(chunks))
	for i, ch := range chunks {
		out[i] = cutBins(b, ch.Span)
	}
	return out
}

// splitEvents cuts the events of one upstream answer for chunks (adjacent, ascending) into the
// events of each chunk (those in its span), sharing the batches' memory.
func splitEvents(batches []*daqbuf.EventBatch, chunks []chunk) [][]*daqbuf.EventBatch {
	out := make([][]*daqbuf.EventBatch, len(chunks))
	for i, ch := range chunks {
		out[i] = mergeEvents([][]*daqbuf.EventBatch{batches}, ch.Span, false)
	}
	return out
}

// tailDroppable reports whether the last run may be left out of the answer from its first chunk
// without a copy on, when its fetch fails or is slow (its stale copies before that are served): it
// holds the window's newest chunk, which is still open (a live window), and every chunk before it has
// a copy (the answer is not empty, and has no hole).
func tailDroppable(states []chunkState, chunks []chunk, last run) bool {
	n := len(chunks)
	if last.hi != n || chunks[n-1].Settled {
		return false
	}
	if last.lo == 0 && states[0] != chunkStale { // nothing older to show
		return false
	}
	for _, st := range states[:last.lo] {
		if st == chunkMissing {
			return false
		}
	}
	return true
}

// completeUntil is the time up to which an answer made of the first n chunks is complete, ok false
// when it is complete to its end: the end of the first stale copy served that covers less than its
// chunk's fetch would (an old copy of the open tail), else the start of the first chunk left out.
// covered[i] is the Covered of chunk i's copy when a stale copy was served for it, else 0.
func completeUntil(chunks []chunk, covered []int64, n int) (int64, bool) {
	for i := range n {
		if covered[i] != 0 && covered[i] < chunks[i].Fetch.End {
			return covered[i], true
		}
	}
	if n < len(chunks) {
		return chunks[n].Fetch.Beg, true
	}
	return 0, false
}

// deltaFrom is where a delta fetch of the chunk holding now starts, given the header of its stored
// copy: only the part after the copy is asked for (from the start of the bin holding the copy's
// Covered for bins of width w, which was partial; from Covered itself for events, w 0) and merged
// into the copy. ok is false when the copy cannot be extended that way: final, not the chunk holding
// now (a chunk that no longer holds now is fetched whole again, picking up data that arrived late
// behind the copy's end), past its FreshUntil, or covering nothing or everything.
func deltaFrom(h chunkHeader, ch chunk, now, w int64) (int64, bool) {
	if h.Final || ch.Span.End <= now || now >= h.FreshUntil || h.Covered <= ch.Span.Beg || h.Covered >= ch.Fetch.End {
		return 0, false
	}
	from := h.Covered
	if w > 0 {
		from = from / w * w
	}
	return max(from, ch.Span.Beg), true
}

// mergeBinsDelta is base's bins starting before from, followed by delta's (a fresh copy of the bins
// from from on).
func mergeBinsDelta(base, delta *daqbuf.BinBatch, from int64) *daqbuf.BinBatch {
	kept := cutBins(base, daqbuf.Range{Beg: math.MinInt64, End: from})
	out := newBinBatch(kept.Len() + delta.Len())
	for _, b := range []*daqbuf.BinBatch{kept, delta} {
		out.Ts1, out.Ts2 = append(out.Ts1, b.Ts1...), append(out.Ts2, b.Ts2...)
		out.Counts = append(out.Counts, b.Counts...)
		out.Mins, out.Maxs, out.Avgs = append(out.Mins, b.Mins...), append(out.Maxs, b.Maxs...), append(out.Avgs, b.Avgs...)
	}
	return out
}

// mergeEventsDelta is base's events before from, followed by delta's (the events from from on).
func mergeEventsDelta(base, delta []*daqbuf.EventBatch, from int64) []*daqbuf.EventBatch {
	kept := mergeEvents([][]*daqbuf.EventBatch{base}, daqbuf.Range{Beg: math.MinInt64, End: from}, false)
	return append(kept, delta...)
}
