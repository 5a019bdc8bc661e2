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
// store still holds that value: the chunks are still read from the store for every request (it is the
// source of truth, shared by every instance), and a chunk that changed there (the open tail, refetched
// every few seconds; a chunk fetched again after a flush or an eviction, here or on another instance)
// no longer matches, so its fragment is made again. A stale fragment can therefore never be served;
// the flushes drop fragments too, only to give their memory back sooner.
//
// A kept value is: the length of the chunk value (uint32, little-endian), the chunk value, the
// fragment.

// BinFragments is Bins with the bins as fragments cut to q's window (curve.FragmentSource). ok is
// false when q is not chunked (Bins then goes to data-api as it is), when there is no fragment cache,
// or when a chunk cannot be read (Bins then answers from data-api).
func (c *Curves) BinFragments(ctx context.Context, q daqbuf.BinnedQuery) ([]curve.Fragment, curve.Status, bool, error) {
	if c.cfg.Fragments == nil {
		return nil, "", false, nil
	}
	read, ok, err := c.readBins(ctx, q, 0)
	if !ok || err != nil {
		return nil, "", ok, err
	}
	frags, err := c.fragments(ctx, read.keys, read.vals)
	if err != nil {
		// Cannot happen with values this code wrote; Bins answers correctly anyway.
		c.log.Error("curve cache: undecodable bins chunk", "err", err)
		return nil, "", false, nil
	}
	c.stats.count(read.status)
	out := frags[:0]
	for _, f := range frags {
		if f = f.Cut(read.plan.Window); f.Len() > 0 {
			out = append(out, f)
		}
	}
	return out, read.status, true, nil
}

var _ curve.FragmentSource = (*Curves)(nil)

// fragments returns the fragment of every chunk value in vals (stored under keys), up to the first nil
// value (the chunks left out of a live window): the kept one when it was made from the same value,
// else a new one, which is then kept.
func (c *Curves) fragments(ctx context.Context, keys []string, vals [][]byte) ([]curve.Fragment, error) {
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
	for i := range n {
		if f, ok := keptFragment(kept[i], vals[i]); ok {
			out[i] = f
			continue
		}
		blob, err := c.newFragment(vals[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keys[i], err)
		}
		f, ok := keptFragment(blob, vals[i])
		if !ok {
			return nil, fmt.Errorf("%s: %w", keys[i], errCorrupt) // a fragment that does not parse: a bug
		}
		out[i] = f
		made = append(made, store.Entry{Key: keys[i], Val: blob, TTL: c.cfg.FinalTTL})
	}
	c.stats.fragmentHits.Add(uint64(n - len(made)))
	c.stats.fragmentsMade.Add(uint64(len(made)))
	if len(made) > 0 {
		_ = c.cfg.Fragments.SetMany(ctx, made)
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
	if len(blob) < 4 {
		return curve.Fragment{}, false
	}
	n := binary.LittleEndian.Uint32(blob)
	if uint64(n) != uint64(len(val)) || len(blob)-4 < len(val) || !bytes.Equal(blob[4:4+n], val) {
		return curve.Fragment{}, false
	}
	f, err := curve.ParseFragment(blob[4+n:])
	return f, err == nil
}
