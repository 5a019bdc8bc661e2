package catalogue

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/sim"
)

// channelEnv is the simulator over real HTTP and a client for it.
type channelEnv struct {
	sim    *sim.Sim
	client *daqbuf.Client
}

func newChannelEnv(t testing.TB, catalogueSize int) *channelEnv {
	t.Helper()
	s := sim.New(sim.Config{CatalogueSize: catalogueSize})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	client, err := daqbuf.New(daqbuf.Config{BaseURL: srv.URL + "/api/4"})
	if err != nil {
		t.Fatal(err)
	}
	return &channelEnv{sim: s, client: client}
}

// searches returns the nameRegex of every channel search data-api received.
func (e *channelEnv) searches() []string {
	var out []string
	for _, r := range e.sim.Requests() {
		if strings.HasSuffix(r.Path, "/search/channel") {
			q, _ := url.ParseQuery(r.Query)
			out = append(out, q.Get("nameRegex"))
		}
	}
	return out
}

// count returns how many channel searches for pattern data-api received.
func (e *channelEnv) count(pattern string) int {
	n := 0
	for _, p := range e.searches() {
		if p == pattern {
			n++
		}
	}
	return n
}

// list builds a List on the simulator, closed when the test ends (not started).
func (e *channelEnv) list(t testing.TB, cfg Config) *List {
	t.Helper()
	l := New(e.client, cfg)
	t.Cleanup(l.Close)
	return l
}

// sharedRedis returns n Redis stores on one key prefix, as n instances would have.
func sharedRedis(t testing.TB, n int) []*store.Redis {
	t.Helper()
	prefix := redistest.Prefix(t)
	out := make([]*store.Redis, n)
	for i := range out {
		out[i] = store.NewRedis(redistest.Client(t), store.RedisConfig{Prefix: prefix, Timeout: time.Second})
	}
	return out
}

// deadRedis is a store whose Redis address refuses connections.
func deadRedis(t testing.TB) *store.Redis {
	t.Helper()
	client := redistest.ClientVia(t, redistest.ClosedAddr(t))
	return store.NewRedis(client, store.RedisConfig{Timeout: 100 * time.Millisecond})
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not waiting for readiness blindly
	}
}

// fullList is what data-api lists for ".*", sorted as the List keeps it.
func (e *channelEnv) fullList(t testing.TB) []daqbuf.Channel {
	t.Helper()
	l := New(e.client, Config{})
	if err := l.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	_, all := l.All()
	return all
}

// seedList writes chs to the store as a list fetched at fetchedAt, as a refreshing instance would.
func seedList(t testing.TB, s store.Store, chs []daqbuf.Channel, fetchedAt time.Time) string {
	t.Helper()
	id := newStoreID(fetchedAt)
	err := s.SetMany(context.Background(), []store.Entry{
		{Key: listKey, Val: encodeChannelSet(channelSet{ID: id, FetchedAt: fetchedAt, Channels: chs}), TTL: time.Hour},
		{Key: listIDKey, Val: []byte(id), TTL: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// storeGet reads one key of a store.
func storeGet(t testing.TB, s store.Store, key string) []byte {
	t.Helper()
	vals, err := s.GetMany(context.Background(), []string{key})
	if err != nil {
		t.Fatal(err)
	}
	return vals[0]
}
