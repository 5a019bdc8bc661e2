package server

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/semaphore"

	"github.com/databoard/databoard/cache"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf/curve"
)

// Config holds the server's settings. The zero value of every field is its default.
type Config struct {
	// RootPath is the prefix the reverse proxy strips (ROOT_PATH): /docs and the OpenAPI document say the
	// API lives under it, while every route is served without it. Default "/".
	RootPath string
	// DaqbufPublicURL is the data-api base written into raw links (DAQBUF_DEFAULT_URL).
	// Default "https://data-api.psi.ch/api/4".
	DaqbufPublicURL string
	// MaintenanceToken, when set, must be sent as "Authorization: Bearer <token>" to reach /maintenance
	// routes (and /metrics). Default "": open, as the old backend (nginx denies them outside).
	MaintenanceToken string
	// SeparateMaintenance splits the routes: Handler omits /maintenance, MaintenanceHandler serves only
	// them (for a separate listen address). Default false: one handler serves everything.
	SeparateMaintenance bool
	// AllowOrigins are the origins (scheme://host[:port], lower case) whose pages may read the answers,
	// with credentials (CORS_ALLOW_ORIGINS). Default empty: any origin, echoed, as the old backend.
	AllowOrigins []string
	// BodyLimit is the largest request body accepted, in bytes; larger bodies get 413. Default 40 MiB
	// (four times the default dashboard limit, whose exact BSON check the store does).
	BodyLimit int64
	// BodyBudget bounds the bytes of request bodies held at once, by all requests together: a request
	// whose body would exceed it waits (up to BodyTimeout, then 503). Default 2 × BodyLimit; never
	// below BodyLimit.
	BodyBudget int64
	// BodyTimeout is how long a client may take to send a request body once its headers arrived;
	// slower bodies get 408 and the connection is closed. Default 30 s (40 MiB at about 1.4 MB/s).
	BodyTimeout time.Duration
	// Deadlines per route group; zero values take the contract's (search 15 s, recent 10 s, curve 60 s,
	// raw-link 5 s, dashboards 5 s, root/health 5 s).
	Deadlines Deadlines
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// CurveSettle and CurveTailAge are the curve source's own settings (cmd passes the curve cache's
	// Settle and TailTTL): an answer is kept in the answer cache only when its window ended before
	// now − max(CurveSettle, 2 bins) − CurveTailAge, so every chunk it was built from is final.
	// Defaults 60 s and 5 s.
	CurveSettle, CurveTailAge time.Duration
}

// Deadlines are the per-route time limits after which a request is answered 504.
type Deadlines struct {
	Search, Recent, Curve, RawLink, Dashboards, Root time.Duration
}

func (d Deadlines) withDefaults() Deadlines {
	def := func(v *time.Duration, x time.Duration) {
		if *v <= 0 {
			*v = x
		}
	}
	def(&d.Search, 15*time.Second)
	def(&d.Recent, 10*time.Second)
	def(&d.Curve, 60*time.Second)
	def(&d.RawLink, 5*time.Second)
	def(&d.Dashboards, 5*time.Second)
	def(&d.Root, 5*time.Second)
	return d
}

// Deps are the services the routes call, built and owned by cmd.
type Deps struct {
	// Dashboards, when set, serves the dashboard routes (nil: they answer 503).
	Dashboards DashboardStore
	Channels   ChannelDirectory
	// Curves computes /channels/curve answers (the same Service the stream uses).
	Curves *curve.Service
	Logger *slog.Logger
	// Cache, when set, backs the /maintenance/cache routes.
	Cache *cache.Admin
	// Answers, when set, keeps encoded curve answers of settled windows and list-search answers of the
	// list's current generation (see answers.go), with their gzip copies; the cache
	// flush routes empty it.
	Answers *store.Memory
	// Stream, when set, serves the live stream's WebSocket at /stream on the main port (package stream's
	// Hub), beside the Fiber routes.
	Stream http.Handler
	// Metrics, when set, receives the HTTP collectors and is served at /metrics (with whatever else cmd
	// registered on it: cache and stream figures).
	Metrics *prometheus.Registry
}

// Server is the HTTP API. Build it with New; serve Handler (and MaintenanceHandler when separate).
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	app  *fiber.App
	mapp *fiber.App // maintenance-only app when SeparateMaintenance

	// bodyRoutes are the routes that read a request body; bodies holds BodyBudget.
	bodyRoutes []route
	bodies     *semaphore.Weighted

	listCache   channelListCache
	answersSeen *store.Doorkeeper // which curve answers were asked for recently (answers.go)
	metrics     *httpMetrics      // nil without a registry
}

// New builds the routes. It does no I/O and starts no goroutine.
func New(cfg Config, deps Deps) *Server {
	if cfg.RootPath == "" {
		cfg.RootPath = "/"
	}
	cfg.RootPath = "/" + strings.Trim(cfg.RootPath, "/")
	if cfg.DaqbufPublicURL == "" {
		cfg.DaqbufPublicURL = "https://data-api.psi.ch/api/4"
	}
	cfg.DaqbufPublicURL = strings.TrimRight(cfg.DaqbufPublicURL, "/")
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 40 << 20
	}
	cfg.AllowOrigins = slices.Clone(cfg.AllowOrigins)
	for i, o := range cfg.AllowOrigins {
		cfg.AllowOrigins[i] = strings.ToLower(o) // browsers send the scheme and host in lower case
	}
	if cfg.BodyBudget <= 0 {
		cfg.BodyBudget = 2 * cfg.BodyLimit
	}
	cfg.BodyBudget = max(cfg.BodyBudget, cfg.BodyLimit)
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CurveSettle <= 0 {
		cfg.CurveSettle = time.Minute
	}
	if cfg.CurveTailAge <= 0 {
		cfg.CurveTailAge = 5 * time.Second
	}
	cfg.Deadlines = cfg.Deadlines.withDefaults()
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, deps: deps, log: deps.Logger, bodies: semaphore.NewWeighted(cfg.BodyBudget),
		answersSeen: store.NewDoorkeeper(store.DefaultDoorkeeperSlots)}
	for _, r := range s.routes() {
		if r.body {
			s.bodyRoutes = append(s.bodyRoutes, r)
		}
	}
	if deps.Metrics != nil {
		s.metrics = newHTTPMetrics(deps.Metrics)
		if deps.Dashboards != nil {
			deps.Metrics.MustRegister(storeCollector{store: deps.Dashboards})
		}
		deps.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "databoard_channel_list_answer_bytes",
			Help: "Bytes held by the encoded whole-channel-list answer (JSON, offsets and its gzip form once made): one per list generation, not bounded by a budget.",
		}, func() float64 { return float64(s.listCache.bytes()) }))
	}
	s.app = s.newApp(!cfg.SeparateMaintenance, true)
	if cfg.SeparateMaintenance {
		s.mapp = s.newApp(true, false)
	}
	return s
}

func (s *Server) newApp(withMaintenance, withPublic bool) *fiber.App {
	app := fiber.New(fiber.Config{
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		BodyLimit:             int(s.cfg.BodyLimit),
		// Immutable copies every value taken from the request, so nothing from Fiber's reused buffers can
		// leak into a goroutine, the cache or the hub (Fiber reuses its buffers).
		Immutable:     true,
		StrictRouting: false,
		CaseSensitive: true,
	})
	app.Use(s.requestID, s.accessLog, s.recoverPanics, s.cors)
	var paths []string
	allowed := map[string][]string{} // path -> its methods
	for _, r := range s.routes() {
		if r.maintenance && !withMaintenance || !r.maintenance && !withPublic {
			continue
		}
		if allowed[r.path] == nil {
			paths = append(paths, r.path)
		}
		allowed[r.path] = append(allowed[r.path], r.method)
		if r.method == fiber.MethodGet {
			allowed[r.path] = append(allowed[r.path], fiber.MethodHead)
		}
		handlers := []fiber.Handler{s.deadline(r.deadline)}
		if r.maintenance {
			handlers = append(handlers, s.maintenanceAuth)
		}
		handlers = append(handlers, r.handler)
		app.Add(r.method, r.path, handlers...)
		if r.method == fiber.MethodGet {
			app.Add(fiber.MethodHead, r.path, handlers...) // as app.Get and Starlette do
		}
	}
	// A known path with another method is 405 with Allow, as FastAPI answers; registered after every
	// route, so it only matches what they did not.
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		app.All(p, func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderAllow, allow)
			return newHTTPError(http.StatusMethodNotAllowed, msgMethodNotAllowed)
		})
	}
	app.Use(func(c *fiber.Ctx) error { return newHTTPError(http.StatusNotFound, msgUnknownRoute) })
	return app
}

// Handler is the main listener's handler: all routes behind the net/http edge, and /stream (a
// WebSocket, which Fiber cannot hand over) straight to Deps.Stream.
func (s *Server) Handler() http.Handler {
	routes := s.edge(s.app)
	if s.deps.Stream == nil {
		return routes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == streamPath {
			s.deps.Stream.ServeHTTP(w, r)
			return
		}
		routes.ServeHTTP(w, r)
	})
}

// streamPath is where the live stream is served (docs/streaming.md).
const streamPath = "/stream"

// MaintenanceHandler serves only the maintenance routes; nil unless SeparateMaintenance.
func (s *Server) MaintenanceHandler() http.Handler {
	if s.mapp == nil {
		return nil
	}
	return s.edge(s.mapp)
}
