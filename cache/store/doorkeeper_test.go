package store

import (
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
