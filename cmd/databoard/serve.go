package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/databoard/databoard/cache"
	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/configs"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
	"github.com/databoard/databoard/dashboards"
	"github.com/databoard/databoard/dashboards/mongowire"
	"github.com/databoard/databoard/server"
	"github.com/databoard/databoard/stream"
)

// shutdownTimeout bounds how long in-flight requests may take to finish after SIGINT/SIGTERM.
const shutdownTimeout = 30 * time.Second

// newLogger builds the process logger: JSON in production, text on a terminal.
func newLogger(cfg configs.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat.Resolve(isTerminal(w)) == configs.LogFormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// closers runs cleanup steps in reverse order of registration.
type closers []func(context.Context)

func (c *closers) add(f func(context.Context)) { *c = append(*c, f) }

func (c closers) run(ctx context.Context) {
	for i := len(c) - 1; i >= 0; i-- {
		c[i](ctx)
	}
}

// serve wires every part from cfg and serves until ctx is cancelled, then shuts down gracefully.
// ready, when not nil, receives the bound listen address once the server accepts connections.
func serve(ctx context.Context, cfg configs.Config, log *slog.Logger, ready func(addr string)) error {
	var cleanup closers
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		cleanup.run(ctx)
	}()
	log.Info("starting databoard", slog.String("version", buildVersion()), slog.Any("config", cfg))

	daqbufURL, publicURL := cfg.DaqbufDefaultURL, cfg.DaqbufDefaultURL
	if cfg.Demo {
		url, stop, err := startSimulator()
		if err != nil {
			return err
		}
		cleanup.add(stop)
		daqbufURL, publicURL = url, url
		log.Info("demo: data-api simulator running in-process", slog.String("url", url))
	}
	client, err := daqbuf.New(daqbuf.Config{BaseURL: daqbufURL, RequestTimeout: cfg.DaqbufTimeout,
		MaxConnsPerHost: cfg.DaqbufMaxConns})
	if err != nil {
		return err
	}

	dashboardStore, err := openStore(ctx, cfg, log, &cleanup)
	if err != nil {
		return err
	}

	cacheStore, redisClient, err := openCacheStore(cfg, log, &cleanup)
	if err != nil {
		return err
	}
	curvesCfg := curvesConfig(cfg, log)
	// Binned chunks kept as pre-encoded pieces of the answer, per instance (cache/curves/fragments.go).
	curvesCfg.Fragments = store.NewMemory(store.MemoryConfig{MaxBytes: cfg.FragmentCacheMaxBytes})
	curveCache := curves.New(client, cacheStore, curvesCfg)
	// Registered before the hub's close, so it runs after it (closers run last first): detached fetches
	// and lock renewals stop once nothing can ask for curves any more.
	cleanup.add(func(context.Context) { curveCache.Close() })

	channelCfg := catalogue.Config{RefreshInterval: cfg.ChannelRefreshInterval,
		Logger: log.With(slog.String("component", "channels"))}
	if cfg.RedisURL != "" {
		channelCfg.Store = cacheStore // one list for every instance, refreshed by one at a time
	}
	channels := catalogue.New(client, channelCfg)
	channels.Start(ctx)
	cleanup.add(func(context.Context) { channels.Close() })

	// Encoded answers of settled windows, per instance (see server/answers.go).
	answers := store.NewMemory(store.MemoryConfig{MaxBytes: cfg.AnswerCacheMaxBytes})
	admin := cache.NewAdmin(curveCache, channels, cacheStore, answers)
	if t, ok := cacheStore.(*store.Tiered); ok {
		admin.DropOnFlush(t)
	}
	admin.Start(ctx)
	cleanup.add(func(context.Context) { admin.Close() })
	var curveSource curve.Source = curveCache
	fragments := curvesCfg.Fragments
	if !cfg.CurveCache {
		curveSource, answers, fragments = curves.Direct{Client: client}, nil, nil
		log.Warn("curve cache off (CURVE_CACHE): every curve request goes to data-api")
	}
	reg := newRegistry()
	reg.MustRegister(cacheCollector{admin: admin}, daqbufCollector{client: client})
	budgets := cacheBudgets(cfg, cacheStore, answers, fragments, dashboardStore)
	reg.MustRegister(budgets)
	if gov := startMemoryLimit(ctx, budgets, log); gov != nil {
		cleanup.add(func(context.Context) { gov.Close() })
	}

	if cfg.MaintenanceToken == "" && cfg.MaintenanceListenAddr == "" {
		log.Warn("maintenance routes are open on the main port, as in the old backend; " +
			"restrict them with MAINTENANCE_TOKEN or MAINTENANCE_LISTEN_ADDR")
	}
	curveService := curve.New(curveSource, channels, curve.Config{})
	// The stream's pollers read through the same cache, asking for an open tail no older than the
	// shortest poll period, so each poll sees what data-api had a moment before.
	streamCurves := curveService
	if cfg.CurveCache {
		streamCurves = curveService.WithSource(curveCache.Within(cfg.StreamPollMin))
	}
	hub := stream.New(stream.Config{
		PollMin: cfg.StreamPollMin, PollMax: cfg.StreamPollMax, MaxSubscriptions: cfg.StreamMaxSubscriptions,
		Linger: cfg.StreamLinger, History: cfg.StreamHistory, WriteTimeout: cfg.StreamWriteTimeout,
		SendQueueBytes: int(cfg.StreamSendQueueBytes), Logger: log.With(slog.String("component", "stream")),
		Redis: redisClient, RedisPrefix: cfg.RedisKeyPrefix, AllowOrigins: originPatterns(cfg.AllowedOrigins()),
	}, streamCurves, reg)
	cleanup.add(func(ctx context.Context) {
		if err := hub.Close(ctx); err != nil {
			log.Warn("stream: close", slog.String("error", err.Error()))
		}
	})
	srv := server.New(server.Config{
		RootPath:            cfg.RootPath,
		DaqbufPublicURL:     publicURL,
		MaintenanceToken:    cfg.MaintenanceToken,
		AllowOrigins:        cfg.AllowedOrigins(),
		SeparateMaintenance: cfg.MaintenanceListenAddr != "",
		BodyLimit:           4*cfg.DashboardMaxSingleBytes + 1<<20,
		CurveSettle:         curveCache.Settle(),
		CurveTailAge:        curveCache.TailTTL(),
	}, server.Deps{Dashboards: dashboardStore, Channels: channels, Curves: curveService, Logger: log,
		Cache: admin, Answers: answers, Metrics: reg, Stream: hub})

	errc := make(chan error, 2)
	main, err := listen(cfg.ListenAddr, srv.Handler(), log, errc)
	if err != nil {
		return err
	}
	servers := []*http.Server{main}
	if h := srv.MaintenanceHandler(); h != nil {
		m, err := listen(cfg.MaintenanceListenAddr, h, log.With(slog.String("listener", "maintenance")), errc)
		if err != nil {
			_ = main.Close()
			return err
		}
		servers = append(servers, m)
	}
	if cfg.DebugListenAddr != "" {
		d, err := listen(cfg.DebugListenAddr, debugHandler(hub.UpdateTimes), log.With(slog.String("listener", "debug")), errc)
		if err != nil {
			for _, s := range servers {
				_ = s.Close()
			}
			return err
		}
		servers = append(servers, d)
	}
	if ready != nil {
		ready(main.Addr)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests", slog.Duration("limit", shutdownTimeout))
	case runErr = <-errc:
		log.Error("listener failed", slog.String("error", runErr.Error()))
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			log.Warn("shutdown", slog.String("error", err.Error()))
		}
	}
	return runErr
}

// originPatterns turns CORS_ALLOW_ORIGINS into the stream's origin patterns, so the WebSocket admits the
// pages the REST API answers and no others. A pattern keeps the origin's scheme: the WebSocket library
// matches a pattern that contains "://" against the Origin's scheme://host, as strict as the CORS check
// (a bare host pattern would also admit the http:// page of an https:// origin). Config validation
// already refused the characters a pattern would read as wildcards. Empty stays empty: any origin.
func originPatterns(origins []string) []string {
	var out []string
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" {
			continue // cannot happen after validation; skipping denies rather than allows
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(origins) > 0 && len(out) == 0 {
		// Every configured origin was unusable: admit none rather than fall back to "any".
		out = []string{"invalid.invalid"}
	}
	return out
}

// listen binds addr and serves h on it in the background; errors after startup arrive on errc.
func listen(addr string, h http.Handler, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s := &http.Server{
		Addr:              ln.Addr().String(),
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	log.Info("listening", slog.String("addr", s.Addr))
	return s, nil
}

// openCacheStore is Redis when REDIS_URL is set (shared by every instance), else an in-process store
// bounded by CACHE_MAX_BYTES.
// The Redis client is returned too (nil without REDIS_URL): the stream coordinates through it.
func openCacheStore(cfg configs.Config, log *slog.Logger, cleanup *closers) (store.Store, redis.UniversalClient, error) {
	if cfg.RedisURL == "" {
		log.Info("cache: in process", slog.Int64("max_bytes", cfg.CacheMaxBytes))
		return store.NewMemory(store.MemoryConfig{MaxBytes: cfg.CacheMaxBytes}), nil, nil
	}
	client, err := newRedisClient(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	cleanup.add(func(context.Context) { _ = client.Close() })
	log.Info("cache: Redis", slog.String("topology", []string{"single", "sentinel", "cluster"}[configs.RedisTopologyOf(cfg.RedisURL)]))
	// A bounded in-process copy in front of Redis answers while Redis is away (issue 12).
	return store.NewTiered(store.NewRedis(client, store.RedisConfig{Prefix: cfg.RedisKeyPrefix}), store.TieredConfig{MaxBytes: cfg.CacheNearMaxBytes}), client, nil
}

// newRedisClient builds go-redis's client for REDIS_URL: one node, Sentinel (a master_name parameter) or
// Cluster (several addr= parameters). The store's short per-call deadlines only reach the socket with
// ContextTimeoutEnabled; retries would multiply them, and the store's circuit breaker is the retry policy.
func newRedisClient(u string) (redis.UniversalClient, error) {
	switch configs.RedisTopologyOf(u) {
	case configs.RedisSentinel:
		o, err := redis.ParseFailoverURL(u)
		if err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled, o.MaxRetries = true, -1
		return redis.NewFailoverClient(o), nil
	case configs.RedisCluster:
		o, err := redis.ParseClusterURL(u)
		if err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled, o.MaxRetries = true, -1
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		return nil, err
	}
	o.ContextTimeoutEnabled, o.MaxRetries = true, -1
	return redis.NewClient(o), nil
}

// startSimulator serves the data-api simulator on a loopback port for -demo.
func startSimulator() (string, func(context.Context), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo simulator: %w", err)
	}
	s := &http.Server{Handler: sim.New(sim.Config{}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/api/4", func(ctx context.Context) { _ = s.Shutdown(ctx) }, nil
}

// openStore connects the dashboard store: to MongoDB when configured, else to the embedded
// MongoDB-wire server over DATA_DIR (same driver code path either way). An unreachable MongoDB does
// not stop the start: dashboard routes answer 503 until it is back.
func openStore(ctx context.Context, cfg configs.Config, log *slog.Logger, cleanup *closers) (*dashboards.Store, error) {
	uri := cfg.MongoURIOrEmbedded()
	embedded := uri == ""
	if embedded {
		dir := filepath.Join(cfg.DataDir, "mongo")
		mw, err := mongowire.Start(ctx, mongowire.Config{Dir: dir})
		if err != nil {
			return nil, err
		}
		cleanup.add(func(context.Context) { mw.Close() })
		uri = mw.URI()
		log.Info("dashboards: embedded MongoDB-compatible store", slog.String("dir", dir))
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(3 * time.Second).SetConnectTimeout(3 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("mongodb: %w", err)
	}
	cleanup.add(func(ctx context.Context) { _ = client.Disconnect(ctx) })

	schema, err := dashboards.LoadSchema(ctx, cfg.SchemaPath, configs.DashboardSchema())
	if err != nil {
		return nil, fmt.Errorf("dashboard schema: %w", err)
	}
	dcfg := dashboards.Config{
		Schema:            schema,
		ValidateSchema:    cfg.ValidateDashboardSchema,
		ValidateSize:      cfg.ValidateDashboardSize,
		MaxSingleBytes:    cfg.DashboardMaxSingleBytes,
		MaxTotalBytes:     cfg.DashboardMaxTotalStorageBytes,
		EvictionThreshold: cfg.DashboardEvictionThreshold,
		TargetUtilization: cfg.DashboardTargetUtilization,
	}
	if embedded {
		// Only this process writes to the embedded store, so cached answers can never be stale and the size
		// counter only drifts after a crash; FerretDB reads of large documents are slow and its $group reads
		// every whole document, so recount seldom.
		dcfg.Embedded = true
		dcfg.CacheBytes, dcfg.CacheTTL, dcfg.SizeRecount = cfg.DashboardCacheMaxBytes, time.Hour, time.Hour
	}
	store, err := dashboards.New(client.Database(cfg.MongoDBName), dcfg, log.With(slog.String("component", "dashboards")))
	if err != nil {
		return nil, err
	}
	if err := store.Start(ctx); err != nil {
		return nil, err
	}
	cleanup.add(func(ctx context.Context) {
		if err := store.Close(ctx); err != nil {
			log.Warn("dashboards: close", slog.String("error", err.Error()))
		}
	})
	return store, nil
}

// curvesConfig is the curve cache's configuration: its upstream fetches per data-api backend are
// capped at DAQBUF_MAX_CONNS, the connections the client may open to it, and a window ending now
// holds what data-api had freshTail before the request.
func curvesConfig(cfg configs.Config, log *slog.Logger) curves.Config {
	return curves.Config{FetchConcurrency: cfg.DaqbufMaxConns, FreshTail: freshTail,
		Logger: log.With(slog.String("component", "curves"))}
}

// freshTail is the oldest copy of the chunk holding now that the curve cache serves as it is; an older
// one is brought up to now with a small delta request (issue 12).
const freshTail = time.Second
