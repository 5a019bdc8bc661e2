package dashboards

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/databoard/databoard/dashboards/mongowire/mongotest"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ownEmbeddedStore starts a store with Embedded set on a MongoDB-wire server process of the test's own, so
// that a wedge cannot take the suite's shared server down with it.
func ownEmbeddedStore(t *testing.T, cfg Config) (*Store, *mongo.Database, *mongotest.Process) {
	t.Helper()
	p := mongotest.StartProcess(t)
	client, err := mongo.Connect(options.Client().ApplyURI(p.URI()).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	cfg.Embedded = true
	cfg.Schema, cfg.ValidateSchema = referenceSchema(t), true
	db := client.Database("databoard")
	return startStore(t, db, cfg), db, p
}

// TestThousandReadsDoNotWedgeEmbeddedStore reads 1 000 distinct dashboards within one access-flush interval,
// writes their access times as the flusher does, and then creates, replaces and deletes. Before the
// access times were written in bounded bulks, that flush was one bulk write of 1 000 statements, which
// wedged FerretDB for good (one open cursor per statement, 100 SQLite connections).
func TestThousandReadsDoNotWedgeEmbeddedStore(t *testing.T) {
	const n = 1000
	s, db, _ := ownEmbeddedStore(t, Config{AccessFlushInterval: time.Hour})
	// A generous bound (1 000 reads under the race detector on a loaded machine): it only ends a wedge.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	docs := make([]any, 0, n)
	for i := range n {
		body := mustBSON(t, paddedBody(i))
		docs = append(docs, bson.D{{Key: fieldID, Value: fmt.Sprintf("d%04d", i)}, {Key: fieldDashboard, Value: bson.Raw(body)},
			{Key: fieldSize, Value: int32(len(body))}, {Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(start)}})
	}
	for i := 0; i < n; i += 100 {
		if _, err := db.Collection("dashboards").InsertMany(ctx, docs[i:i+100]); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	for i := range n {
		if _, err := s.Get(ctx, fmt.Sprintf("d%04d", i)); err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
	}
	if got := s.Stats().PendingAccessTimes; got != n {
		t.Fatalf("%d access times pending, want %d", got, n)
	}
	t.Logf("%d reads done after %v", n, time.Since(began))
	if err := s.flushAccess(ctx); err != nil {
		t.Fatalf("writing %d access times: %v", n, err)
	}
	t.Logf("access times written after %v", time.Since(began))
	written, err := db.Collection("dashboards").CountDocuments(ctx,
		bson.D{{Key: fieldLastAccess, Value: bson.D{{Key: "$gt", Value: bson.NewDateTimeFromTime(start)}}}})
	if err != nil || written != n {
		t.Fatalf("%d access times written (%v), want %d", written, err, n)
	}
	d, err := s.Create(ctx, paddedBody(n))
	if err != nil {
		t.Fatalf("Create after the flush: %v", err)
	}
	if _, err := s.Replace(ctx, d.ID, paddedBody(n+1)); err != nil {
		t.Fatalf("Replace after the flush: %v", err)
	}
	if _, err := s.Delete(ctx, d.ID); err != nil {
		t.Fatalf("Delete after the flush: %v", err)
	}
	if st := s.Stats(); st.State != StateUp {
		t.Errorf("store state %q after a clean run, want up", st.State)
	}
}

// TestWriteLockGivesUpBeforeDeadline: while a write holds the lock (as a write stuck on a wedged store
// does), every other write ends with ErrUnavailable before its caller's deadline, so the route can still
// answer 503, and the store's state turns down.
func TestWriteLockGivesUpBeforeDeadline(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	ctx := testCtx(t)
	d, err := s.Create(ctx, paddedBody(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeLock.lock(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	defer s.writeLock.unlock()
	ops := map[string]func(context.Context) error{
		"Create":  func(ctx context.Context) error { _, err := s.Create(ctx, paddedBody(2)); return err },
		"Replace": func(ctx context.Context) error { _, err := s.Replace(ctx, d.ID, paddedBody(3)); return err },
		"Delete":  func(ctx context.Context) error { _, err := s.Delete(ctx, d.ID); return err },
		"Protect": func(ctx context.Context) error { return s.SetProtected(ctx, d.ID, true) },
	}
	for name, op := range ops {
		octx, cancel := context.WithTimeout(ctx, time.Second)
		err := op(octx)
		callerErr := octx.Err()
		cancel()
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with the write lock held: %v, want ErrUnavailable", name, err)
		}
		if callerErr != nil {
			t.Errorf("%s returned only after its caller's deadline (%v): the route would answer 504", name, callerErr)
		}
	}
	if st := s.Stats(); st.State != StateDown || st.LastError == "" || st.Failures == 0 {
		t.Errorf("Stats after the failures: %+v, want state down with the last error", st)
	}
	// A caller that goes away is not the store's fault.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Create(cctx, paddedBody(4)); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("Create with a cancelled context: %v, want context.Canceled", err)
	}
}
