package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram is log-linear: each power of two is split into subBucketCount equal buckets, so a bucket
// is at most 1/subBucketCount (0.4%) of its lower edge wide, and values below 2*subBucketCount ns get a bucket of
// their own (exact). It needs no memory proportional to the run length and costs one atomic add per request, so
// recording does not perturb what is measured.
const (
	subBucketBits    = 8
	subBucketCount   = 1 << subBucketBits
	histogramBuckets = (64 - subBucketBits + 1) * subBucketCount
)

// bucketIndex returns the histogram bucket holding v nanoseconds.
func bucketIndex(v uint64) int {
	if v < 2*subBucketCount {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - subBucketBits // v>>shift keeps the leading one and subBucketBits more bits
	return shift*subBucketCount + int(v>>shift)
}

// bucketBounds returns the smallest and largest value that bucketIndex maps to i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < 2*subBucketCount {
		return uint64(i), uint64(i)
	}
	shift := i/subBucketCount - 1
	mantissa := uint64(i%subBucketCount + subBucketCount)
	lo = mantissa << shift
	return lo, lo + (1 << shift) - 1
}

// histogram records durations from many goroutines at once. Its zero value is empty and ready to use.
type histogram struct {
	counts [histogramBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64 // exact maximum
	// minGap is MaxInt64 minus the exact minimum, kept as a running maximum so that the zero value means
	// "no minimum yet" and one lock-free loop serves both extremes.
	minGap atomic.Int64
}

// record adds one duration; negative durations count as zero.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketIndex(uint64(v))].Add(1)
	h.total.Add(1)
	raiseTo(&h.max, v)
	raiseTo(&h.minGap, math.MaxInt64-v)
}

// raiseTo sets a to v if v is larger, safely against concurrent callers.
func raiseTo(a *atomic.Int64, v int64) {
	for cur := a.Load(); v > cur && !a.CompareAndSwap(cur, v); cur = a.Load() {
	}
}

// minimum returns the exact smallest recorded duration in nanoseconds (MaxInt64 when empty).
func (h *histogram) minimum() int64 { return math.MaxInt64 - h.minGap.Load() }

// count returns the number of recorded durations.
func (h *histogram) count() uint64 { return h.total.Load() }

// percentile returns the nearest-rank percentile for ppm parts per million (500000 = p50, 999000 = p99.9): the
// smallest recorded value v such that at least ppm/1e6 of all values are ≤ v, reported as the upper edge of v's
// bucket and clamped to the exact min and max. It returns 0 for an empty histogram.
func (h *histogram) percentile(ppm uint64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := max((min(ppm, 1_000_000)*total+999_999)/1_000_000, 1) // ceil(ppm*total/1e6), at least the first value
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			_, hi := bucketBounds(i)
			v := min(max(int64(hi), h.minimum()), h.max.Load())
			return time.Duration(v)
		}
	}
	return time.Duration(h.max.Load()) // unreachable while counts and total agree
}

// Latency summarises a latency distribution.
type Latency struct {
	Min, P50, P90, P99, P999, Max time.Duration
}

// summary returns the histogram's latency summary.
func (h *histogram) summary() Latency {
	if h.count() == 0 {
		return Latency{}
	}
	return Latency{
		Min:  time.Duration(h.minimum()),
		P50:  h.percentile(500_000),
		P90:  h.percentile(900_000),
		P99:  h.percentile(990_000),
		P999: h.percentile(999_000),
		Max:  time.Duration(h.max.Load()),
	}
}
