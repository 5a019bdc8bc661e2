package dashboards

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// storedLastAccess reads last_access straight from the collection.
func storedLastAccess(t *testing.T, db *mongo.Database, id string) time.Time {
	t.Helper()
	raw, err := db.Collection("dashboards").FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatalf("read record %s: %v", id, err)
	}
	return raw.Lookup("last_access").Time().UTC()
}

func TestAccessTimesAreBatched(t *testing.T) {
	clock := newFakeClock()
	s, db := newTestStore(t, Config{Now: clock.Now, AccessFlushInterval: time.Hour})
	ctx := testCtx(t)
	created := clock.Now()
	d, err := s.Create(ctx, []byte(`{"dashboard":{"widgets":[]}}`))
	if err != nil {
		t.Fatal(err)
	}
	read := clock.Advance(time.Minute)
	if _, err := s.Get(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if got := storedLastAccess(t, db, d.ID); !got.Equal(created) {
		t.Errorf("a read wrote last_access at once: %v, want still %v", got, created)
	}
	if rec, err := s.Record(ctx, d.ID); err != nil || !rec.LastAccess.Equal(read) {
		t.Errorf("Record last_access = %v (%v), want the pending %v", rec.LastAccess, err, read)
	}
	if err := s.flushAccess(ctx); err != nil {
		t.Fatalf("flushAccess: %v", err)
	}
	if got := storedLastAccess(t, db, d.ID); !got.Equal(read) {
		t.Errorf("after flush last_access = %v, want %v", got, read)
	}
	// $max: an older pending time never moves last_access back.
	s.access.touch(d.ID, created)
	if err := s.flushAccess(ctx); err != nil {
		t.Fatal(err)
	}
	if got := storedLastAccess(t, db, d.ID); !got.Equal(read) {
		t.Errorf("an older access moved last_access back to %v", got)
	}
	// A pending access to a dashboard deleted meanwhile does not bring it back.
	s.access.touch("gone", read)
	if err := s.flushAccess(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Collection("dashboards").CountDocuments(ctx, bson.D{{Key: "_id", Value: "gone"}}); n != 0 {
		t.Errorf("flush created a record for an unknown id")
	}
}

func TestFlusherRunsPeriodically(t *testing.T) {
	clock := newFakeClock()
	s, db := newTestStore(t, Config{Now: clock.Now, AccessFlushInterval: 20 * time.Millisecond})
	ctx := testCtx(t)
	d, err := s.Create(ctx, []byte(`{"dashboard":{"widgets":[]}}`))
	if err != nil {
		t.Fatal(err)
	}
	read := clock.Advance(time.Hour)
	if _, err := s.Get(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !storedLastAccess(t, db, d.ID).Equal(read) {
		if time.Now().After(deadline) {
			t.Fatalf("the flusher did not write the access within 10 s")
		}
		time.Sleep(10 * time.Millisecond) // polling the observable outcome, not waiting for readiness
	}
}

func TestCloseFlushes(t *testing.T) {
	clock := newFakeClock()
	db := mongoDatabase(t)
	s, err := New(db, Config{Now: clock.Now, AccessFlushInterval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := s.Create(ctx, []byte(`{"dashboard":{"widgets":[]}}`))
	if err != nil {
		t.Fatal(err)
	}
	read := clock.Advance(time.Minute)
	if _, err := s.Get(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := storedLastAccess(t, db, d.ID); !got.Equal(read) {
		t.Errorf("after Close last_access = %v, want %v", got, read)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
