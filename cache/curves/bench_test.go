package curves

import (
	"context"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// benchHitBins measures a fully cached 2000-bin curve (1 s bins over 2000 s: 16 chunks).
func benchHitBins(b *testing.B, s store.Store) {
	e := newSimEnv(b)
	c := e.curves(s, Config{})
	q := benchQuery(b, e)
	got, _ := mustBins(b, c, q)
	if n := flatBins(got).Ts1; len(n) != 2000 {
		b.Fatalf("%d bins, want 2000", len(n))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, st, err := c.Bins(ctx, q)
		if err != nil || st != curve.StatusHit {
			b.Fatalf("status %s, err %v", st, err)
		}
	}
}

// benchQuery is a past 2000-s window on the chunk grid of 1 s bins: exactly 2000 bins in 16 chunks.
func benchQuery(b *testing.B, e *simEnv) daqbuf.BinnedQuery {
	span := int64(128 * time.Second)
	beg := (e.now() - int64(5*time.Hour)) / span * span
	return daqbuf.BinnedQuery{Channel: e.channel(b, "SIM-F64:SINE", false),
		Range: daqbuf.Range{Beg: beg, End: beg + int64(2000*time.Second)}, BinCount: 2000}
}

func BenchmarkBinsHitMemory(b *testing.B) { benchHitBins(b, store.NewMemory(store.MemoryConfig{})) }

func BenchmarkBinsHitRedis(b *testing.B) {
	benchHitBins(b, store.NewRedis(redistest.Client(b), store.RedisConfig{Prefix: redistest.Prefix(b)}))
}

// BenchmarkBinsDirect is the uncached request, for comparison.
func BenchmarkBinsDirect(b *testing.B) {
	e := newSimEnv(b)
	q := benchQuery(b, e)
	b.ReportAllocs()
	for b.Loop() {
		directBins(b, e, q)
	}
}

func BenchmarkDecodeBinsChunk(b *testing.B) {
	batch := seqBins(1_700_000_000_000_000_000, int64(time.Second), 128)
	for i := range batch.Avgs {
		batch.Avgs[i] = float64(float32(batch.Avgs[i] * 0.37))
	}
	val, err := encodeBins(chunkHeader{Final: true}, batch)
	if err != nil {
		b.Fatal(err)
	}
	acc := &daqbuf.BinBatch{}
	b.ReportAllocs()
	b.SetBytes(int64(len(val)))
	for b.Loop() {
		truncateBins(acc, 0)
		if _, err := decodeBinsAppend(val, acc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchBinsChunks is the miss path without the store: the 16 chunks of benchQuery fetched
// from the simulator in one request (a cold run) and encoded.
func BenchmarkFetchBinsChunks(b *testing.B) {
	e := newSimEnv(b)
	c := e.curves(store.NewMemory(store.MemoryConfig{}), Config{})
	q := benchQuery(b, e)
	plan, _ := planBins(q, 128, e.now(), time.Minute, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		fs, err := c.fetchBins(ctx, q, plan.Width, plan.Chunks)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range fs {
			if _, err := f.encode(chunkHeader{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
