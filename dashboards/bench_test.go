package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databoard/databoard/dashboards/mongowire/mongotest"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
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

// BenchmarkWrite measures create (POST) and replace (PATCH) latency with 100, 1 000 and 10 000 dashboards
// stored, on the embedded code path (Embedded, on a MongoDB-wire server process of the benchmark's own) and
// the MongoDB code path (on the suite's MongoDB-wire server), with 1 and 8 writers. Writes must not slow
// down as the collection grows. It reports the mean latency of one write as ms/write. Run with
// -benchtime=200x (see BENCHMARKS.md).
func BenchmarkWrite(b *testing.B) {
	for _, mode := range []string{"embedded", "wire"} {
		for _, stored := range []int{100, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/stored=%d", mode, stored), func(b *testing.B) {
				s := benchStore(b, mode == "embedded", stored)
				for _, writers := range []int{1, 8} {
					for _, op := range []string{"POST", "PATCH"} {
						b.Run(fmt.Sprintf("%s/writers=%d", op, writers), func(b *testing.B) {
							benchWrites(b, s, op, writers, stored)
						})
					}
				}
			})
		}
	}
}

// benchStore starts a store over a fresh database holding n small dashboards (inserted directly).
func benchStore(b *testing.B, embedded bool, n int) *Store {
	var db *mongo.Database
	if embedded {
		p := mongotest.StartProcess(b)
		client, err := mongo.Connect(options.Client().ApplyURI(p.URI()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = client.Disconnect(context.Background()) })
		db = client.Database("bench")
	} else {
		db = mongotest.Database(b)
	}
	ctx := testCtx(b)
	docs := make([]any, 0, n)
	for i := range n {
		body := mustBSON(b, paddedBody(i))
		docs = append(docs, bson.D{{Key: fieldID, Value: fmt.Sprintf("seed%05d", i)}, {Key: fieldDashboard, Value: bson.Raw(body)},
			{Key: fieldSize, Value: int32(len(body))}, {Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(time.Now())}})
	}
	for i := 0; i < n; i += 100 {
		if _, err := db.Collection(DefaultCollection).InsertMany(ctx, docs[i:min(i+100, n)]); err != nil {
			b.Fatal(err)
		}
	}
	// MongoDB-wire servers of cmd/mongowire add the index FerretDB's lookups by _id need to a new collection
	// within a second (mongowire/idindex.go); measure with it in place.
	time.Sleep(2 * time.Second)
	return startStore(b, db, Config{Embedded: embedded, Schema: referenceSchema(b), ValidateSchema: true})
}

// seedID is the id of the i-th dashboard a PATCH benchmark replaces. Consecutive writes jump through the
// stored dashboards by a prime stride, so they reach the whole collection: a server that finds a document
// by reading the table in order until it matches (FerretDB does for filters it cannot push down) would
// look fast if the writes only hit the first rows.
func seedID(i, stored int) string { return fmt.Sprintf("seed%05d", i*7919%stored) }

// benchWrites runs b.N writes split over writers goroutines and reports their mean latency.
func benchWrites(b *testing.B, s *Store, op string, writers, stored int) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // slow cases are the finding
	defer cancel()
	var next atomic.Int64
	var total atomic.Int64 // nanoseconds spent in writes
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				start := time.Now()
				var err error
				if op == "POST" {
					_, err = s.Create(ctx, paddedBody(int(i)))
				} else {
					_, err = s.Replace(ctx, seedID(int(i), stored), paddedBody(int(i)))
				}
				total.Add(int64(time.Since(start)))
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(total.Load())/float64(b.N)/1e6, "ms/write")
}

// BenchmarkTransfer imports N copies of the reference example dashboard (28 KB each as compact JSON) into
// an empty embedded store (a MongoDB-wire server process of the benchmark's own), then exports them, as
// `databoard dashboards import|export` do. It reports each side's seconds and records/s, and tail_s: the
// time from the last record's write to Import's return (what the end of an import waits for), and
// export_first_s: the time to the first exported record (what a progress bar waits for). Run with
// -benchtime=1x (see BENCHMARKS.md); dashboards=10000 takes minutes.
func BenchmarkTransfer(b *testing.B) {
	var example bytes.Buffer
	if err := json.Compact(&example, referenceDashboards(b)["example.json"]); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("dashboards=%d", n), func(b *testing.B) {
			var dump bytes.Buffer
			for i := range n {
				fmt.Fprintf(&dump, `{"_id":"imp%05d","dashboard":%s,"last_access":"2026-01-01T00:00:00Z"}`+"\n", i, example.Bytes())
			}
			for range b.N {
				s := benchStore(b, true, 0)
				benchImportExport(b, s, dump.Bytes(), n)
			}
		})
	}
}

func benchImportExport(b *testing.B, s *Store, dump []byte, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var lastWrite time.Time
	start := time.Now()
	rep, err := s.Import(ctx, bytes.NewReader(dump), ImportOptions{Progress: func(ImportReport) { lastWrite = time.Now() }})
	end := time.Now()
	if err != nil || rep.Created != n {
		b.Fatalf("Import = %+v, %v; want %d created", rep, err, n)
	}
	b.ReportMetric(end.Sub(start).Seconds(), "import_s")
	b.ReportMetric(float64(n)/end.Sub(start).Seconds(), "imported/s")
	b.ReportMetric(end.Sub(lastWrite).Seconds(), "tail_s")

	var first time.Time
	start = time.Now()
	got, err := s.Export(ctx, io.Discard, func(done, _ int) {
		if done == 1 {
			first = time.Now()
		}
	})
	if err != nil || got != n {
		b.Fatalf("Export = %d, %v; want %d", got, err, n)
	}
	b.ReportMetric(first.Sub(start).Seconds(), "export_first_s")
	b.ReportMetric(time.Since(start).Seconds(), "export_s")
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "exported/s")
}
