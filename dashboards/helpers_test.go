package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/databoard/databoard/configs"
	"github.com/databoard/databoard/dashboards/mongowire/mongotest"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// dashboardsDir holds real dashboards, all valid against the schema. go test runs in the package
// directory, so the path is relative to dashboards/ (the server tests read the same folder).
const dashboardsDir = "testdata/dashboards"

// referenceSchema is the dashboard schema the service ships (embedded in configs).
func referenceSchema(testing.TB) []byte { return configs.DashboardSchema() }

// referenceDashboards returns every reference dashboard file by name.
func referenceDashboards(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no reference dashboards in %s (%v)", dashboardsDir, err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fakeClock is a settable clock for last_access.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// startStore builds and starts a store on db, closed when the test ends.
func startStore(t testing.TB, db *mongo.Database, cfg Config) *Store {
	t.Helper()
	s, err := New(db, cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newTestStore starts a store with the reference schema on a fresh database.
func newTestStore(t testing.TB, cfg Config) (*Store, *mongo.Database) {
	t.Helper()
	db := mongotest.Database(t)
	if cfg.Schema == nil {
		cfg.Schema = referenceSchema(t)
		cfg.ValidateSchema = true
		cfg.ValidateSize = true
	}
	return startStore(t, db, cfg), db
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// decodeExact decodes JSON keeping numbers as their literal text, so DeepEqual compares spellings too.
func decodeExact(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %.200s: %v", b, err)
	}
	return v
}

// assertSameJSON fails unless got and want hold the same JSON value with numbers spelled the same.
func assertSameJSON(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if g, w := decodeExact(t, got), decodeExact(t, want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: JSON differs\n got  %.300s\n want %.300s", what, got, want)
	}
}

// mongoDatabase is a fresh test database (for tests that manage the store's lifecycle themselves).
func mongoDatabase(t testing.TB) *mongo.Database {
	t.Helper()
	return mongotest.Database(t)
}
