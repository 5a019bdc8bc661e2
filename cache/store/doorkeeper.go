package store

import (
	"hash/maphash"
	"sync/atomic"
)

// Doorkeeper remembers which keys were asked for recently, so that a cache keeps a value only when its
// key is asked for a second time: a key asked once (a load of distinct windows, each person's own
// "last 3 days" shifted by seconds, random windows over a year) would only push useful values out and
// cost the work of keeping it. It is a fixed table of key hashes in which each key has two slots: a key
// is forgotten once other keys took both since (direct-mapped, two keys of one window sharing a slot
// pushed each other out on every request, so neither was ever kept), which only delays keeping its
// value; a hash collision only keeps a value one request early. Nothing it says can change a value,
// only whether it is kept.
//
// It is safe for concurrent use and never allocates after NewDoorkeeper.
type Doorkeeper struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Uint64
}

// DefaultDoorkeeperSlots is the table size NewDoorkeeper uses for slots ≤ 0: 65 536 keys, 512 KiB.
const DefaultDoorkeeperSlots = 1 << 16

// NewDoorkeeper returns an empty doorkeeper of slots entries (8 bytes each), rounded up to a power of
// two; DefaultDoorkeeperSlots for slots ≤ 0.
func NewDoorkeeper(slots int) *Doorkeeper {
	n := 1
	for n < slots {
		n <<= 1
	}
	if slots <= 0 {
		n = DefaultDoorkeeperSlots
	}
	return &Doorkeeper{seed: maphash.MakeSeed(), mask: uint64(n - 1), slots: make([]atomic.Uint64, n)}
}

// Seen notes key and says whether it was noted before (and not forgotten since).
func (d *Doorkeeper) Seen(key string) bool {
	h := maphash.String(d.seed, key) | 1 // never 0, the empty slot
	first, second := &d.slots[h&d.mask], &d.slots[(h>>32)&d.mask]
	switch a, b := first.Load(), second.Load(); {
	case a == h || b == h:
		return true
	case a == 0 || (b != 0 && h&(1<<31) == 0): // an empty slot first; between two taken ones, by a hash bit
		first.Store(h)
	default:
		second.Store(h)
	}
	return false
}

// Bytes is the table's size.
func (d *Doorkeeper) Bytes() int64 { return int64(len(d.slots)) * 8 }
