package dashboards

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// paddedBody returns a valid body of a fixed size; n makes it distinct.
func paddedBody(n int) []byte {
	return []byte(fmt.Sprintf(`{"dashboard":{"widgets":[{"channels":[],"layout":{"i":"%03d%s","x":0,"y":0,"w":1,"h":1}}]}}`,
		n, strings.Repeat("x", 1000)))
}

func remainingIDs(t *testing.T, s *Store) []string {
	t.Helper()
	cur, err := s.reads.Find(testCtx(t), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(testCtx(t), &docs); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	sort.Strings(ids)
	return ids
}

func TestEvictionOrderAndExemptions(t *testing.T) {
	clock := newFakeClock()
	// Learn one dashboard's size first: every paddedBody has the same.
	probe, _ := newTestStore(t, Config{})
	d, err := probe.Create(testCtx(t), paddedBody(0))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := probe.Record(testCtx(t), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	size := rec.Size

	// Room for 10: eviction starts at 9.5 dashboards' worth and goes down to 6.
	s, _ := newTestStore(t, Config{Now: clock.Now, AccessFlushInterval: time.Hour, MaxTotalBytes: 10 * size})
	ctx := testCtx(t)
	ids := make([]string, 10)
	for i := range 9 {
		clock.Advance(time.Minute)
		d, err := s.Create(ctx, paddedBody(i))
		if err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
		ids[i] = d.ID
	}
	if got := remainingIDs(t, s); len(got) != 9 {
		t.Fatalf("below the threshold %d of 9 dashboards remain", len(got))
	}
	clock.Advance(time.Minute)
	if _, err := s.Get(ctx, ids[0]); err != nil { // the oldest becomes the most recently used (in memory only)
		t.Fatal(err)
	}
	if err := s.SetWhitelisted(ctx, ids[1], true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProtected(ctx, ids[2], true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWhitelisted(ctx, ids[2], false); err != nil { // protected alone must exempt it
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	d, err = s.Create(ctx, paddedBody(9))
	if err != nil {
		t.Fatal(err)
	}
	ids[9] = d.ID

	want := []string{ids[0], ids[1], ids[2], ids[7], ids[8], ids[9]}
	sort.Strings(want)
	if got := remainingIDs(t, s); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after eviction\n got  %v\n want %v (3..6 are the least recently used evictable ones)", got, want)
	}
	if total, err := s.totalSize(ctx); err != nil || total != 6*size {
		t.Errorf("total after eviction = %d (%v), want %d", total, err, 6*size)
	}
	if _, err := s.Get(ctx, ids[3]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an evicted dashboard: %v, want ErrNotFound", err)
	}
}

func TestEvictionKeepsOnlyExempt(t *testing.T) {
	s, _ := newTestStore(t, Config{MaxTotalBytes: 1})
	ctx := testCtx(t)
	// Every write is over the limit, so each create evicts everything evictable, itself included
	// (as the old backend did).
	kept, err := s.Create(ctx, paddedBody(1))
	if !errors.Is(err, nil) {
		t.Fatal(err)
	}
	if got := remainingIDs(t, s); len(got) != 0 {
		t.Fatalf("a dashboard over the limit survived: %v", got)
	}
	if err := s.SetWhitelisted(ctx, kept.ID, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("whitelisting an evicted dashboard: %v", err)
	}
	// Insert exempt ones directly (a create would evict them before they could be flagged).
	for _, id := range []string{"w", "p"} {
		field := map[string]string{"w": "whitelisted", "p": "protected"}[id]
		if _, err := s.majority.InsertOne(ctx, bson.D{{Key: "_id", Value: id},
			{Key: "dashboard", Value: bson.D{{Key: "dashboard", Value: bson.D{{Key: "widgets", Value: bson.A{}}}}}},
			{Key: "_size", Value: int32(33)}, {Key: field, Value: true}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, paddedBody(2)); err != nil {
		t.Fatal(err)
	}
	if got := remainingIDs(t, s); strings.Join(got, ",") != "p,w" {
		t.Errorf("remaining %v, want the protected and the whitelisted one", got)
	}
	if err := s.Evict(ctx); err != nil {
		t.Errorf("Evict with nothing evictable: %v", err)
	}
}

// TestSizeRecount: with SizeRecount the total is measured once per period and this instance's own writes are
// added to it; other instances' writes count from the next measurement.
func TestSizeRecount(t *testing.T) {
	clock := newFakeClock()
	size := int64(len(mustBSON(t, paddedBody(0))))
	s, db := newTestStore(t, Config{Now: clock.Now, MaxTotalBytes: 10 * size, SizeRecount: time.Hour})
	ctx := testCtx(t)
	for i := range 5 { // measured once (5 × size), then estimated
		clock.Advance(time.Second)
		if _, err := s.Create(ctx, paddedBody(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Another instance adds 4 more: the estimate (5) does not know.
	for i := 5; i < 9; i++ {
		clock.Advance(time.Second)
		if _, err := db.Collection("dashboards").InsertOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("other-%d", i)},
			{Key: "dashboard", Value: bson.Raw(mustBSON(t, paddedBody(i)))}, {Key: "_size", Value: int32(size)},
			{Key: "last_access", Value: bson.NewDateTimeFromTime(clock.Now())}}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Second)
	if _, err := s.Create(ctx, paddedBody(10)); err != nil { // real total 10, estimate 6: no eviction yet
		t.Fatal(err)
	}
	if got := len(remainingIDs(t, s)); got != 10 {
		t.Fatalf("%d dashboards remain; with a fresh estimate below the threshold none should be evicted", got)
	}
	// Own writes push the estimate over the threshold: measured exactly, then evicted down to 6.
	for i := 11; i < 15; i++ {
		clock.Advance(time.Second)
		if _, err := s.Create(ctx, paddedBody(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(remainingIDs(t, s)); got > 6 {
		t.Errorf("%d dashboards remain after the estimate crossed the threshold, want at most 6", got)
	}
}
