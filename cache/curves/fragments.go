package curves

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// Fragments: a chunk hit used to decode the chunk and format every float of it again for every
// answer, which was most of a cached answer's CPU. BinFragments instead hands the answer each chunk as
// a fragment (curve.AppendFragment: the chunk's entries of the four maps, already written), made once
// per chunk value and kept in process (Config.Fragments), so that an answer over cached chunks is
// mostly copying.
//
// A kept fragment is stored with the exact chunk value it was made from, and used only while the
// store still holds that value: the chunks are read from the store (the source of truth, shared by
// every instance), and a chunk that changed there (the open tail, refetched every few seconds; a chunk
// fetched again after a flush or an eviction, here or on another instance) no longer matches, so its
// fragment is made again. The one exception is a window whose chunks are all final and were all found
// unchanged within Config.FragmentTrust: it is written from the kept fragments without reading the
// store (trust.go says why that is safe and what it can miss: a final chunk replaced with other data,
// seen at most FragmentTrust late). The flushes drop fragments and those vouches too.
//
// A kept value is: the length of the chunk value (uint32, little-endian), the chunk value, the
// fragment.
//
// A made fragment is kept only for a chunk asked for before (Curves.fragSeen, a store.Doorkeeper): a
// chunk asked for once (a distinct window's edge chunks, a window nobody asks again) would only push a
// fragment that is used again out, and cost its copy. A fragment not kept still writes the answer it
// was made for.

// BinFragments is Bins with the bins as fragments cut to q's window (curve.FragmentSource). ok is
// false when q is not chunked (Bins then goes to data-api as it is), when there is no fragment cache,
// or when a chunk cannot be read (Bins then answers from data-api).
func (c *Curves) BinFragments(ctx context.Context, q daqbuf.BinnedQuery) ([]curve.Fragment, curve.Status, bool, error) {
	if c.cfg.Fragments == nil {
		return nil, "", false, nil
	}
	read, ok := c.planBinRead(q, 0)
	if !ok {
		return nil, "", false, nil
	}
	if frags, ok := c.trustedFragments(ctx, read); ok {
		c.stats.count(curve.StatusHit)
		return cutFragments(frags, read.plan.Window), curve.StatusHit, true, nil
	}
	epoch := c.trust.current()
	read, err := c.loadBins(ctx, read)
	if err != nil {
		return nil, "", true, err
	}
	frags, err := c.fragments(ctx, read.keys, read.vals, epoch)
	if err != nil {
		// Cannot happen with values this code wrote; Bins answers correctly anyway.
		c.log.Error("curve cache: undecodable bins chunk", "err", err)
		return nil, "", false, nil
	}
	c.stats.count(read.status)
	return cutFragments(frags, read.plan.Window), read.status, true, nil
}

var _ curve.FragmentSource = (*Curves)(nil)

// cutFragments cuts frags to w, dropping those left empty; it reuses frags' array.
func cutFragments(frags []curve.Fragment, w daqbuf.Range) []curve.Fragment {
	out := frags[:0]
	for _, f := range frags {
		if f = f.Cut(w); f.Len() > 0 {
			out = append(out, f)
		}
	}
	return out
}

// trustedFragments returns the kept fragments of a planned read when every chunk of it is final and
// vouched for (trust.go); ok is false otherwise, and the store must be read.
func (c *Curves) trustedFragments(ctx context.Context, read binChunks) ([]curve.Fragment, bool) {
	if c.cfg.FragmentTrust < 0 {
		return nil, false
	}
	sums, ok := c.trust.sums(read.keys, read.now)
	if !ok {
		return nil, false
	}
	kept, err := c.cfg.Fragments.GetMany(ctx, read.keys)
	if err != nil {
		return nil, false
	}
	out := make([]curve.Fragment, len(kept))
	for i, blob := range kept {
		val, f, ok := parseKept(blob)
		if !ok {
			return nil, false // evicted meanwhile
		}
		if c.trust.sum(val) != sums[i] {
			return nil, false // made from another value than the one vouched for (trust.go)
		}
		if h, err := readHeader(val, kindBins); err != nil || !h.Final {
			return nil, false // replaced meanwhile by the fragment of a non-final value
		}
		out[i] = f
	}
	n := uint64(len(out))
	c.stats.chunkHits.Add(n)
	c.stats.trustedChunks.Add(n)
	return out, true
}

// fragments returns the fragment of every chunk value in vals (stored under keys), up to the first nil
// value (the chunks left out of a live window): the kept one when it was made from the same value,
// else a new one, which is kept when its chunk was asked for before. Final chunks whose fragment is kept
// are vouched for (trust.go) unless a flush happened since epoch, taken before vals were read.
func (c *Curves) fragments(ctx context.Context, keys []string, vals [][]byte, epoch uint64) ([]curve.Fragment, error) {
	n := 0
	for n < len(vals) && vals[n] != nil {
		n++
	}
	kept, err := c.cfg.Fragments.GetMany(ctx, keys[:n])
	if err != nil {
		kept = make([][]byte, n) // Memory does not fail; were it to, everything is made again
	}
	out := make([]curve.Fragment, n)
	var made []store.Entry
	var trusted []string
	var sums []uint64
	madeCount := 0
	for i := range n {
		f, ok := keptFragment(kept[i], vals[i])
		if !ok {
			blob, err := c.newFragment(vals[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", keys[i], err)
			}
			if f, ok = keptFragment(blob, vals[i]); !ok {
				return nil, fmt.Errorf("%s: %w", keys[i], errCorrupt) // a fragment that does not parse: a bug
			}
			madeCount++
			if !c.fragSeen.Seen(keys[i]) {
				out[i] = f // asked for the first time: used, not kept
				continue
			}
			made = append(made, store.Entry{Key: keys[i], Val: blob, TTL: c.cfg.FinalTTL})
		}
		out[i] = f
		if h, err := readHeader(vals[i], kindBins); err == nil && h.Final && c.cfg.FragmentTrust > 0 {
			trusted = append(trusted, keys[i])
			sums = append(sums, c.trust.sum(vals[i]))
		}
	}
	c.stats.fragmentHits.Add(uint64(n - madeCount))
	c.stats.fragmentsMade.Add(uint64(madeCount))
	if len(made) > 0 {
		_ = c.cfg.Fragments.SetMany(ctx, made)
	}
	if c.cfg.FragmentTrust > 0 {
		now := c.cfg.Now().UnixNano()
		c.trust.vouch(epoch, trusted, sums, now, now+int64(c.cfg.FragmentTrust))
	}
	return out, nil
}

// newFragment decodes a chunk value and encodes it as a kept fragment: the value, then its fragment.
// It is written in a pooled buffer and copied out at its size: written in a buffer of a guessed size,
// it kept enough spare room that the store copied it again, and a made fragment cost two allocations
// (~50 KB for 128 bins) where distinct windows make fragments for most chunks they ask for.
func (c *Curves) newFragment(val []byte) ([]byte, error) {
	_, b, err := decodeBins(val)
	if err != nil {
		return nil, err
	}
	buf, _ := c.fragmentBufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	*buf = binary.LittleEndian.AppendUint32((*buf)[:0], uint32(len(val)))
	*buf = append(*buf, val...)
	*buf = curve.AppendFragment(*buf, b)
	blob := slices.Clone(*buf)
	c.fragmentBufs.Put(buf)
	return blob, nil
}

// keptFragment reads a kept fragment; ok only when it was made from exactly val.
func keptFragment(blob, val []byte) (curve.Fragment, bool) {
	made, f, ok := parseKept(blob)
	if !ok || !bytes.Equal(made, val) {
		return curve.Fragment{}, false
	}
	return f, true
}

// parseKept splits a kept fragment into the chunk value it was made from and the fragment.
func parseKept(blob []byte) ([]byte, curve.Fragment, bool) {
	if len(blob) < 4 {
		return nil, curve.Fragment{}, false
	}
	n := uint64(binary.LittleEndian.Uint32(blob))
	if uint64(len(blob)-4) < n {
		return nil, curve.Fragment{}, false
	}
	f, err := curve.ParseFragment(blob[4+n:])
	return blob[4 : 4+n], f, err == nil
}
