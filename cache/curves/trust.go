package curves

import (
	"hash/maphash"
	"sync"
)

// Trusted fragments: BinFragments reads a request's chunks from the store for every answer, so that a
// fragment is used only while the store holds exactly the value it was made from. For a final chunk
// that read tells almost nothing new: a final chunk is never written again while it is in the store
// (load fetches only missing and out-of-date chunks), so its value there changes only when it was
// deleted (a flush, here or on another instance; an eviction; its FinalTTL) and fetched again, and a
// final chunk fetched again holds the same settled data unless data-api changed the past, which the
// cache assumes it does not for FinalTTL. Yet the read is about a third of a distinct window's cost
// through Redis (a round trip of ~17 values, and copying them into the in-process copy).
//
// So an answer that found the store holding exactly the value a final chunk's fragment was made from
// vouches for that chunk for Config.FragmentTrust; an answer whose every chunk is vouched for is written
// from the kept fragments without reading the store. What a vouch can miss is bounded: a flush on this
// instance drops every vouch at once, one on another instance within the flush epoch's watch interval
// (cache.Admin calls DropTrusted, as for the kept answers and the in-process copy of Redis); a final
// chunk deleted and fetched again with other data, which only a change of the past upstream can cause,
// is seen at most FragmentTrust late — the settled-answer cache (server/answers.go) serves whole
// answers on the same assumption for ten minutes. Non-final chunks (the open tail, chunks to recheck)
// are never vouched for: they are read every time.
//
// A vouch is for a value, not only a key: it holds a hash of the value the store held, and a kept
// fragment is used only while it was made from a value with that hash. An answer that read the store
// before a flush may keep its (old) fragment after an answer that read the new value has vouched for
// the key; the hashes differ, so the store is read again instead of serving what the flush removed.

// maxTrusted bounds the vouches kept at once (a key and its deadline each, ~100 bytes: about 3 MiB):
// past it the expired ones go, and if that is not enough, all of them (answers then read the store
// again until they vouch anew).
const maxTrusted = 1 << 15

// trust holds the vouches: chunk key → until when (ns) a kept fragment made from a value with the
// vouched hash is taken as the store's value.
type trust struct {
	seed maphash.Seed // set by New, then only read

	mu    sync.Mutex
	until map[string]vouched
	// epoch changes with every drop: a vouch prepared by a read that began before a drop (and may
	// have read what the drop's flush deleted) is refused.
	epoch uint64
}

// vouched is one vouch: until when, for the value with this hash.
type vouched struct {
	until int64
	sum   uint64
}

// sum is the hash a vouch holds of a chunk value.
func (t *trust) sum(val []byte) uint64 { return maphash.Bytes(t.seed, val) }

// current is the epoch to hand to vouch, taken before reading the store.
func (t *trust) current() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.epoch
}

// vouch notes keys as vouched for until the given time, each for the value whose hash is sums[i], unless
// a drop happened since epoch was taken.
func (t *trust) vouch(epoch uint64, keys []string, sums []uint64, now, until int64) {
	if len(keys) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if epoch != t.epoch {
		return
	}
	if t.until == nil {
		t.until = make(map[string]vouched, len(keys))
	}
	if len(t.until)+len(keys) > maxTrusted {
		for k, u := range t.until {
			if u.until <= now {
				delete(t.until, k)
			}
		}
		if len(t.until)+len(keys) > maxTrusted {
			clear(t.until)
		}
	}
	for i, k := range keys {
		t.until[k] = vouched{until: until, sum: sums[i]}
	}
}

// sums returns the hashes of the values every key is vouched for at now; ok is false when a key is not.
func (t *trust) sums(keys []string, now int64) (sums []uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sums = make([]uint64, len(keys))
	for i, k := range keys {
		v, ok := t.until[k]
		if !ok || v.until <= now {
			return nil, false
		}
		sums[i] = v.sum
	}
	return sums, len(keys) > 0
}

// drop forgets every vouch and refuses those prepared before it.
func (t *trust) drop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch++
	clear(t.until)
}

// DropTrusted makes the next answers read their chunks from the store again: another instance flushed
// chunks this instance may have vouched for (cache.Admin's flush epoch). Flushes through this Curves
// do it themselves.
func (c *Curves) DropTrusted() { c.trust.drop() }
