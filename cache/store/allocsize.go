package store

import (
	"slices"
	"sync"
)

// allocSize is how many bytes the Go allocator takes for n bytes of a byte slice: n rounded up to its
// size class, or to whole pages above the largest class. A value of 2 400 bytes takes 2 688, one of
// 29 000 takes 32 768: counting lengths alone undercounted what a full store holds by 5–15 %.
func allocSize(n int) int {
	if n == 0 {
		return 0 // an empty slice allocates nothing
	}
	classes := sizeClasses()
	if i, _ := slices.BinarySearch(classes, n); i < len(classes) {
		return classes[i]
	}
	last := classes[len(classes)-1]
	page := last - classes[len(classes)-2]
	return last + (n-last+page-1)/page*page
}

// sizeClasses are the sizes the allocator hands out for byte slices up to sizeClassesUpTo, learnt
// once from append (slices.Grow), which rounds a new slice's capacity up to what the allocator gives
// it: nothing of the runtime's own table is copied, so another Go version's classes are counted right.
// Above its largest class (32 KiB) the allocator rounds to whole pages, so the table ends with steps of
// one page, which allocSize continues.
var sizeClasses = sync.OnceValue(func() []int {
	var out []int
	for n := 1; n <= sizeClassesUpTo; {
		c := cap(slices.Grow([]byte(nil), n))
		out = append(out, c)
		n = c + 1
	}
	return out
})

// sizeClassesUpTo is where the probing of sizeClasses stops: twice the allocator's largest size class,
// so that the table ends in page-sized steps.
const sizeClassesUpTo = 64 << 10
