package store

import (
	"hash/maphash"
	"strconv"
	"testing"
)

func TestDoorkeeper(t *testing.T) {
	d := NewDoorkeeper(0)
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"a", false},
		{"a", true},
		{"b", false},
		{"a", true},
		{"b", true},
		{"", false},
		{"", true},
	} {
		if got := d.Seen(tc.key); got != tc.want {
			t.Errorf("Seen(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
	// A table full of other keys forgets: the doorkeeper is bounded, not a set of everything.
	for i := range 4 * DefaultDoorkeeperSlots {
		d.Seen(strconv.Itoa(i))
	}
	if d.Seen("a") && d.Seen("b") {
		t.Error("remembered both keys after four tables of others")
	}
}

func TestDoorkeeperSize(t *testing.T) {
	for _, tc := range []struct {
		slots int
		bytes int64
	}{
		{0, 8 * DefaultDoorkeeperSlots},
		{-3, 8 * DefaultDoorkeeperSlots},
		{1, 8},
		{1000, 8 * 1024},
		{1024, 8 * 1024},
	} {
		if got := NewDoorkeeper(tc.slots).Bytes(); got != tc.bytes {
			t.Errorf("NewDoorkeeper(%d).Bytes() = %d, want %d", tc.slots, got, tc.bytes)
		}
	}
}

// Two keys that share their first slot are both remembered (each has a second slot): direct-mapped,
// they pushed each other out on every request and a window holding both was never kept whole.
func TestDoorkeeperKeepsKeysSharingASlot(t *testing.T) {
	d := NewDoorkeeper(64)
	slots := func(k string) (uint64, uint64) {
		h := maphash.String(d.seed, k) | 1
		return h & d.mask, (h >> 32) & d.mask
	}
	var a, b string
	for i := 0; b == ""; i++ {
		k := strconv.Itoa(i)
		switch {
		case a == "":
			a = k
		default:
			a1, a2 := slots(a)
			if k1, k2 := slots(k); k1 == a1 && k2 != a2 && k2 != a1 {
				b = k
			}
		}
	}
	d.Seen(a)
	d.Seen(b)
	if !d.Seen(a) || !d.Seen(b) {
		t.Errorf("keys %q and %q share slot %d: one was forgotten", a, b, func() uint64 { s, _ := slots(a); return s }())
	}
}
