package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// maxRelErr is the documented precision: a reported percentile is at most this fraction above the true value.
const maxRelErr = 1.0 / subBucketCount

func TestBucketsTileTheRange(t *testing.T) {
	var prevHi uint64
	for i := range histogramBuckets {
		lo, hi := bucketBounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if hi < lo {
			t.Fatalf("bucket %d: hi %d < lo %d", i, hi, lo)
		}
		if width := hi - lo + 1; width > 1 && float64(width) > float64(lo)*maxRelErr {
			t.Fatalf("bucket %d [%d, %d] is wider than %.2f%% of its lower edge", i, lo, hi, 100*maxRelErr)
		}
		if bucketIndex(lo) != i || bucketIndex(hi) != i {
			t.Fatalf("bucket %d [%d, %d]: index(lo)=%d index(hi)=%d", i, lo, hi, bucketIndex(lo), bucketIndex(hi))
		}
		prevHi = hi
	}
	if prevHi != math.MaxUint64 {
		t.Errorf("last bucket ends at %d, want MaxUint64", prevHi)
	}
}

func TestPercentile(t *testing.T) {
	seq := func(from, to, step time.Duration) []time.Duration {
		var ds []time.Duration
		for d := from; d <= to; d += step {
			ds = append(ds, d)
		}
		return ds
	}
	repeat := func(d time.Duration, n int) []time.Duration { return slices.Repeat([]time.Duration{d}, n) }
	tests := []struct {
		name   string
		values []time.Duration
		want   Latency // true nearest-rank values; reported ones may be up to maxRelErr higher
	}{
		{"empty", nil, Latency{}},
		{"one value", []time.Duration{7 * time.Millisecond}, Latency{
			Min: 7 * time.Millisecond, P50: 7 * time.Millisecond, P90: 7 * time.Millisecond,
			P99: 7 * time.Millisecond, P999: 7 * time.Millisecond, Max: 7 * time.Millisecond,
		}},
		// Below 512 ns every value has its own bucket, so these are exact.
		{"1..100 ns", seq(1, 100, 1), Latency{Min: 1, P50: 50, P90: 90, P99: 99, P999: 100, Max: 100}},
		{"two values", []time.Duration{20, 10}, Latency{Min: 10, P50: 10, P90: 20, P99: 20, P999: 20, Max: 20}},
		{"1..1000 µs", seq(time.Microsecond, time.Millisecond, time.Microsecond), Latency{
			Min: time.Microsecond, P50: 500 * time.Microsecond, P90: 900 * time.Microsecond,
			P99: 990 * time.Microsecond, P999: 999 * time.Microsecond, Max: time.Millisecond,
		}},
		{"one outlier in a thousand", append(repeat(time.Millisecond, 999), time.Second), Latency{
			Min: time.Millisecond, P50: time.Millisecond, P90: time.Millisecond,
			P99: time.Millisecond, P999: time.Millisecond, Max: time.Second,
		}},
		{"one outlier in a hundred", append(repeat(time.Millisecond, 99), time.Second), Latency{
			Min: time.Millisecond, P50: time.Millisecond, P90: time.Millisecond,
			P99: time.Millisecond, P999: time.Second, Max: time.Second,
		}},
		{"negative counts as zero", []time.Duration{-5, 3}, Latency{Min: 0, P50: 0, P90: 3, P99: 3, P999: 3, Max: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			for _, v := range tt.values {
				h.record(v)
			}
			if got := h.count(); got != uint64(len(tt.values)) {
				t.Errorf("count %d, want %d", got, len(tt.values))
			}
			checkLatency(t, h.summary(), tt.want)
		})
	}
}

// checkLatency fails unless every field of got is within the histogram's precision of want. Min and max are exact.
func checkLatency(t *testing.T, got, want Latency) {
	t.Helper()
	if got.Min != want.Min || got.Max != want.Max {
		t.Errorf("min/max %v/%v, want %v/%v", got.Min, got.Max, want.Min, want.Max)
	}
	for _, f := range []struct {
		name      string
		got, want time.Duration
	}{{"p50", got.P50, want.P50}, {"p90", got.P90, want.P90}, {"p99", got.P99, want.P99}, {"p99.9", got.P999, want.P999}} {
		if f.got < f.want || float64(f.got) > float64(f.want)*(1+maxRelErr) {
			t.Errorf("%s = %v, want %v (at most %.2f%% more)", f.name, f.got, f.want, 100*maxRelErr)
		}
	}
}

// TestPercentileMatchesSortedSample compares the histogram with exact nearest-rank percentiles of a skewed sample.
func TestPercentileMatchesSortedSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := make([]time.Duration, 100_000)
	var h histogram
	for i := range values {
		// Log-normal around 1 ms, a shape like real latencies: long right tail.
		values[i] = time.Duration(math.Exp(rng.NormFloat64()*1.5) * float64(time.Millisecond))
		h.record(values[i])
	}
	slices.Sort(values)
	exact := func(ppm int) time.Duration {
		rank := (ppm*len(values) + 999_999) / 1_000_000
		return values[rank-1]
	}
	want := Latency{
		Min: values[0], P50: exact(500_000), P90: exact(900_000), P99: exact(990_000), P999: exact(999_000),
		Max: values[len(values)-1],
	}
	checkLatency(t, h.summary(), want)
}

func TestHistogramConcurrentRecord(t *testing.T) {
	const goroutines, each = 8, 1000
	var (
		h  histogram
		wg sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				h.record(time.Duration(1000 + g*each + i)) // 1000 .. 8999 ns, each once
			}
		})
	}
	wg.Wait()
	if got := h.count(); got != goroutines*each {
		t.Errorf("count %d, want %d", got, goroutines*each)
	}
	checkLatency(t, h.summary(), Latency{Min: 1000, P50: 4999, P90: 8199, P99: 8919, P999: 8991, Max: 8999})
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h histogram
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(0)
		for pb.Next() {
			d = (d + 7919) % (50 * time.Millisecond)
			h.record(d)
		}
	})
}
