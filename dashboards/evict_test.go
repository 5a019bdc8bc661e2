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
	if got := counterBytes(t, s); got != 6*size {
		t.Errorf("size counter after eviction = %d, want %d", got, 6*size)
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
		if _, err := s.majority.dash.InsertOne(ctx, bson.D{{Key: "_id", Value: id},
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

// counterBytes reads the shared size counter.
func counterBytes(t *testing.T, s *Store) int64 {
	t.Helper()
	var doc struct {
		Bytes int64 `bson:"bytes"`
	}
	if err := s.writes.Load().meta.FindOne(testCtx(t), byID(sizeCounterID)).Decode(&doc); err != nil {
		t.Fatalf("read size counter: %v", err)
	}
	return doc.Bytes
}

// TestSizeCounter: every write keeps the shared counter equal to the sum of _size, across two instances on
// one database, without a recount; a drift (a write whose $inc was lost) is put right by a recount; and a
// write of one instance that takes the counter over the threshold evicts exactly down to the target.
func TestSizeCounter(t *testing.T) {
	clock := newFakeClock()
	size := int64(len(mustBSON(t, paddedBody(0))))
	a, db := newTestStore(t, Config{Now: clock.Now, MaxTotalBytes: 20 * size, AccessFlushInterval: time.Hour})
	b := startStore(t, db, Config{Now: clock.Now, MaxTotalBytes: 20 * size, AccessFlushInterval: time.Hour})
	ctx := testCtx(t)
	check := func(what string) {
		t.Helper()
		exact, err := a.totalSize(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := counterBytes(t, a); got != exact {
			t.Errorf("%s: counter %d, sum of _size %d", what, got, exact)
		}
	}
	var ids []string
	for i := range 6 {
		clock.Advance(time.Second)
		st := []*Store{a, b}[i%2]
		d, err := st.Create(ctx, paddedBody(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	check("after creates on two instances")
	bigger := []byte(strings.Replace(string(paddedBody(99)), "xxxx", strings.Repeat("y", 500), 1))
	if _, err := b.Replace(ctx, ids[0], bigger); err != nil {
		t.Fatal(err)
	}
	check("after a replace that grew")
	if _, err := a.Replace(ctx, ids[0], paddedBody(98)); err != nil {
		t.Fatal(err)
	}
	check("after a replace that shrank")
	if _, err := b.Delete(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	check("after a delete")

	// A write whose $inc never happened (a crash in between): the recount puts the counter right.
	if _, err := db.Collection("dashboards").InsertOne(ctx, bson.D{{Key: "_id", Value: "crashed"},
		{Key: "dashboard", Value: bson.Raw(mustBSON(t, paddedBody(50)))}, {Key: "_size", Value: int32(size)},
		{Key: "last_access", Value: bson.NewDateTimeFromTime(clock.Now())}}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.recount(ctx); err != nil || got != 6*size {
		t.Fatalf("recount = %d, %v; want %d", got, err, 6*size)
	}
	check("after a recount")

	// 13 more on b bring the total to 19 of 20: the threshold (0.95). The write that reaches it evicts down
	// to 12 (0.60), least recently used first.
	for i := 100; i < 113; i++ {
		clock.Advance(time.Second)
		if _, err := b.Create(ctx, paddedBody(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := int64(len(remainingIDs(t, a))); got != 12 {
		t.Errorf("%d dashboards remain after the counter reached the threshold, want 12", got)
	}
	check("after eviction")
}

// TestSizeCounterCreatedForOldDatabase: a database written before the counter existed (no counter
// document) gets one from an exact count at its first write.
func TestSizeCounterCreatedForOldDatabase(t *testing.T) {
	size := int64(len(mustBSON(t, paddedBody(0))))
	s, db := newTestStore(t, Config{})
	ctx := testCtx(t)
	for i := range 3 {
		if _, err := db.Collection("dashboards").InsertOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprint("old-", i)},
			{Key: "dashboard", Value: bson.Raw(mustBSON(t, paddedBody(i)))}, {Key: "_size", Value: int32(size)}}); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.TotalBytes != -1 {
		t.Errorf("Stats before any write: total %d, want -1 (unknown)", st.TotalBytes)
	}
	if _, err := s.Create(ctx, paddedBody(3)); err != nil {
		t.Fatal(err)
	}
	if got := counterBytes(t, s); got != 4*size {
		t.Errorf("counter after the first write = %d, want %d", got, 4*size)
	}
	if st := s.Stats(); st.TotalBytes != 4*size {
		t.Errorf("Stats total %d, want %d", st.TotalBytes, 4*size)
	}
}
