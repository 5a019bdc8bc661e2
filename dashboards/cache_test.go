package dashboards

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestAnswerCacheBounds(t *testing.T) {
	clock := newFakeClock()
	dash := func(id string, n int) Dashboard { // JSON of capacity n, wherever it is allocated
		return Dashboard{ID: id, JSON: bytes.Repeat([]byte("x"), n)[:n:n]}
	}
	// Five entries fit, each counted with its id and the per-entry overhead.
	c := newAnswerCache(5*entrySize(dash("a", 20)), time.Second, clock.Now)
	put := func(id string, n int) { c.put(dash(id, n), c.generation()) }
	put("a", 20)
	put("b", 20)
	if _, ok := c.get("a"); !ok {
		t.Fatal("fresh entry missing")
	}
	put("c", 20)
	put("d", 20)
	put("e", 20) // all five fit
	put("f", 20) // evicts the least recently used: b (a was read)
	if _, ok := c.get("b"); ok {
		t.Error("least recently used entry kept over the byte bound")
	}
	if _, ok := c.get("a"); !ok {
		t.Error("recently read entry evicted")
	}
	put("huge", int(c.maxBytes/4)+1) // more than a quarter of the bound: not cached
	if _, ok := c.get("huge"); ok {
		t.Error("an entry over a quarter of the bound was cached")
	}
	clock.Advance(2 * time.Second)
	if _, ok := c.get("a"); ok {
		t.Error("entry older than the TTL served")
	}
	gen := c.generation()
	c.remove("zzz") // any removal while a read is in flight
	c.put(Dashboard{ID: "late", JSON: []byte("x")}, gen)
	if _, ok := c.get("late"); ok {
		t.Error("an answer read before a removal was cached")
	}
	var off *answerCache
	off.put(Dashboard{ID: "a"}, 0)
	if _, ok := off.get("a"); ok {
		t.Error("nil cache returned an entry")
	}
}

// TestCachedStoreSeesWrites: with the cache on, this instance's writes show at once and another instance's
// within CacheTTL.
func TestCachedStoreSeesWrites(t *testing.T) {
	clock := newFakeClock()
	cfg := Config{CacheBytes: 1 << 20, CacheTTL: time.Minute, Now: clock.Now}
	a, db := newTestStore(t, cfg)
	ctx := testCtx(t)
	v1 := []byte(`{"dashboard":{"widgets":[]}}`)
	v2 := []byte(`{"dashboard":{"widgets":[{"channels":[],"layout":{"i":"a","x":0,"y":0,"w":1,"h":1}}]}}`)
	d, err := a.Create(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, d.ID); err != nil { // cached in a
		t.Fatal(err)
	}
	// A write that bypasses a (another instance's PATCH).
	if _, err := db.Collection("dashboards").UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "dashboard", Value: bson.Raw(mustBSON(t, v2))}}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get(ctx, d.ID); !strings.Contains(string(got.JSON), `"widgets":[]`) {
		t.Errorf("within the TTL a cached answer was expected (this test's premise): %s", got.JSON)
	}
	clock.Advance(time.Minute + time.Second)
	if got, _ := a.Get(ctx, d.ID); !strings.Contains(string(got.JSON), `"layout"`) {
		t.Errorf("after the TTL the other instance's write is still not visible: %s", got.JSON)
	}
	// This instance's own replace and delete are visible at once.
	if _, err := a.Replace(ctx, d.ID, v1); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get(ctx, d.ID); !strings.Contains(string(got.JSON), `"widgets":[]`) {
		t.Errorf("own replace not visible: %s", got.JSON)
	}
	if _, err := a.Delete(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, d.ID); err == nil {
		t.Error("own delete not visible")
	}
}

func mustBSON(t testing.TB, body []byte) []byte {
	t.Helper()
	doc, err := jsonToBSON(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
