package dashboards

import (
	"runtime"
	"testing"
)

// BenchmarkGetExample reads the 71 KB reference dashboard from 16 goroutines, as the HTTP layer will at
// concurrency 16; it reports req/s. Run with -benchtime=5s against the suite's server.
func BenchmarkGetExample(b *testing.B) {
	benchmarkGet(b, Config{})
}

// BenchmarkGetExampleCached is the same with the answer cache on.
func BenchmarkGetExampleCached(b *testing.B) {
	benchmarkGet(b, Config{CacheBytes: 64 << 20})
}

func benchmarkGet(b *testing.B, cfg Config) {
	s, _ := newTestStore(b, cfg)
	ctx := testCtx(b)
	d, err := s.Create(ctx, referenceDashboards(b)["example.json"])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Get(ctx, d.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkGetDistinct reads 16 different copies of the example, one per goroutine, uncached: no read is
// shared, so this is the server's own cost per read.
func BenchmarkGetDistinct(b *testing.B) {
	s, _ := newTestStore(b, Config{})
	ctx := testCtx(b)
	ids := make(chan string, 16)
	for range 16 {
		d, err := s.Create(ctx, referenceDashboards(b)["example.json"])
		if err != nil {
			b.Fatal(err)
		}
		ids <- d.ID
	}
	b.ReportAllocs()
	b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := <-ids
		for pb.Next() {
			if _, err := s.Get(ctx, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkConvert measures the JSON→BSON→JSON conversion of the example dashboard alone.
func BenchmarkConvert(b *testing.B) {
	body := referenceDashboards(b)["example.json"]
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var doc, out []byte
	for b.Loop() {
		var err error
		if doc, err = jsonToBSON(doc[:0], body); err != nil {
			b.Fatal(err)
		}
		if out, err = bsonToJSON(out[:0], doc); err != nil {
			b.Fatal(err)
		}
	}
}
