package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/cache"
	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/configs"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
	"github.com/databoard/databoard/dashboards"
	"github.com/databoard/databoard/dashboards/mongowire/mongotest"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// testEnv is one databoard behind real HTTP, talking to the simulator over real HTTP and to the
// suite's MongoDB-wire server.
type testEnv struct {
	sim      *sim.Sim
	simURL   string
	client   *daqbuf.Client
	channels *catalogue.List
	db       *mongo.Database
	store    *dashboards.Store
	srv      *Server
	url      string
	now      time.Time
}

// envSettings is what envOptions may change before the environment starts.
type envSettings struct {
	server Config
	store  dashboards.Config
	// noStore: no dashboard store (see withoutStore).
	noStore bool
	// skipListLoad leaves the channel list empty at start (as when data-api was down then).
	skipListLoad bool
	// logger receives the server's log (default: discarded).
	logger *slog.Logger
	// metrics, when set, is the server's Prometheus registry (served at /metrics).
	metrics *prometheus.Registry
	// curve configures the curve computation.
	curve curve.Config
	// cacheStore, when set, puts the chunked curve cache (with curvesConfig) on it, and the cache
	// maintenance routes.
	cacheStore   store.Store
	curvesConfig curves.Config
	answers      *store.Memory // set with cacheStore
	// sim configures the data-api simulator.
	sim sim.Config
}

type envOption func(*envSettings)

// withoutStore starts no dashboard store (and needs no MongoDB): for curve and search tests.
func withoutStore() envOption { return func(s *envSettings) { s.noStore = true } }

// withServer changes the server's Config.
func withServer(f func(*Config)) envOption { return func(s *envSettings) { f(&s.server) } }

// withCurveConfig changes the curve computation's Config.
func withCurveConfig(f func(*curve.Config)) envOption { return func(s *envSettings) { f(&s.curve) } }

// withStore changes the dashboard store's Config.
func withStore(f func(*dashboards.Config)) envOption { return func(s *envSettings) { f(&s.store) } }

// withLogger gives the server a logger.
func withLogger(l *slog.Logger) envOption { return func(s *envSettings) { s.logger = l } }

// withMetrics gives the server a Prometheus registry.
func withMetrics(reg *prometheus.Registry) envOption { return func(s *envSettings) { s.metrics = reg } }

// withCache serves curves through the chunked cache on store, with the cache maintenance routes.
func withCache(cacheStore store.Store, cfg curves.Config) envOption {
	return func(s *envSettings) { s.cacheStore, s.curvesConfig = cacheStore, cfg }
}

// withSimCatalogue adds n generated channels per backend to the simulator's catalogue.
func withSimCatalogue(n int) envOption { return func(s *envSettings) { s.sim.CatalogueSize = n } }

// withEmptyChannelList starts with a channel list that has not loaded yet.
func withEmptyChannelList() envOption { return func(s *envSettings) { s.skipListLoad = true } }

// newTestEnv starts the simulator, the channel list (loaded), the dashboard store and the server.
func newTestEnv(t testing.TB, opts ...envOption) *testEnv {
	t.Helper()
	e := &testEnv{now: time.Now()}
	set := defaultSettings()
	for _, o := range opts {
		o(&set)
	}
	e.sim = sim.New(set.sim)
	simSrv := httptest.NewServer(e.sim)
	t.Cleanup(simSrv.Close)
	e.simURL = simSrv.URL + "/api/4"

	var err error
	e.client, err = daqbuf.New(daqbuf.Config{BaseURL: e.simURL})
	if err != nil {
		t.Fatal(err)
	}
	e.channels = catalogue.New(e.client, catalogue.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !set.skipListLoad {
		if err := e.channels.Refresh(ctx); err != nil {
			t.Fatalf("channel list: %v", err)
		}
	}

	if !set.noStore {
		e.db = mongotest.Database(t)
	}
	e.start(t, set)
	return e
}

// start builds the dashboard store on e.db and the server, and serves it.
func (e *testEnv) start(t testing.TB, set envSettings) {
	t.Helper()
	var dashStore DashboardStore // nil interface without a store: the dashboard routes answer 503
	if !set.noStore {
		e.startStore(t, set)
		dashStore = e.store
	}
	var source curve.Source = curves.Direct{Client: e.client}
	var admin *cache.Admin
	if set.cacheStore != nil {
		cfg := set.curvesConfig
		if cfg.Fragments == nil { // as cmd/databoard wires it: binned hits are written from fragments
			cfg.Fragments = store.NewMemory(store.MemoryConfig{MaxBytes: 16 << 20})
		}
		c := curves.New(e.client, set.cacheStore, cfg)
		answers := store.NewMemory(store.MemoryConfig{MaxBytes: 16 << 20})
		source, admin, set.answers = c, cache.NewAdmin(c, e.channels, set.cacheStore, answers), answers
		admin.Start(context.Background())
		t.Cleanup(admin.Close)
	}
	e.srv = New(set.server, Deps{Dashboards: dashStore, Channels: e.channels, Curves: curve.New(source, e.channels, set.curve), Cache: admin, Answers: set.answers,
		Logger: set.logger, Metrics: set.metrics})
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL
}

// startStore builds and starts the dashboard store on e.db.
func (e *testEnv) startStore(t testing.TB, set envSettings) {
	t.Helper()
	var err error
	e.store, err = dashboards.New(e.db, set.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.store.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st := e.store
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.Close(ctx)
	})
}

// sibling is a second server (and store) on the same simulator, channel list and database, as another
// instance or a restart with other settings would be.
func (e *testEnv) sibling(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	set := defaultSettings()
	for _, o := range opts {
		o(&set)
	}
	s := *e
	s.start(t, set)
	return &s
}

func defaultSettings() envSettings {
	return envSettings{
		server: Config{DaqbufPublicURL: "https://data-api.example/api/4"},
		store:  dashboards.Config{Schema: configs.DashboardSchema(), ValidateSchema: true, ValidateSize: true},
	}
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request to the server and reads the whole answer.
func (e *testEnv) do(t *testing.T, method, path string, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}
