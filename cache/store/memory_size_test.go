package store

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestAllocSize(t *testing.T) {
	for _, n := range []int{0, 1, 8, 9, 100, 2400, 2688, 2689, 29_000, 32_768, 32_769, 65_536, 65_537, 100_000, 258_001, 1<<20 + 1} {
		// What the allocator gives a slice of n bytes, asked directly.
		want := cap(slices.Grow([]byte(nil), n))
		if got := allocSize(n); got != want {
			t.Errorf("allocSize(%d) = %d, want %d", n, got, want)
		}
	}
}

// The store's count matches the heap it holds: a store filled to its bound must not hold more than
// that. Before the count rounded like the allocator, values of 2 400 bytes held 11 % more.
func TestMemoryCountsWhatItHolds(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		len, cap int
		n        int
	}{
		{"chunk-sized", 2400, 2400, 20_000},
		{"fragment-sized with spare room", 28_000, 32_768, 2_000},
		{"cut from a larger buffer", 3000, 16_384, 10_000},
		{"answer-sized", 258_000, 258_000, 200},
		{"tiny", 10, 10, 100_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := make([]string, tc.n)
			for i := range keys {
				keys[i] = fmt.Sprintf("curves:v1:sf-databuffer:SIM-F64:SINE:bins:%08d", i)
			}
			m := NewMemory(MemoryConfig{MaxBytes: 1 << 40})
			before := heapInUse()
			for _, k := range keys {
				_ = m.Set(ctx, k, make([]byte, tc.len, tc.cap), time.Hour)
			}
			held := heapInUse() - before
			held += int64(len(keys)) * int64(allocSize(len(keys[0]))) // the keys, allocated before
			st, _ := m.Stats(ctx)
			if ratio := float64(held) / float64(st.Bytes); ratio < 0.9 || ratio > 1.03 {
				t.Errorf("%d entries hold %d heap bytes, counted %d (held/counted %.3f, want 0.9–1.03)",
					st.Entries, held, st.Bytes, ratio)
			}
			runtime.KeepAlive(m)
		})
	}
}

// heapInUse is the bytes of live heap objects after a collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
