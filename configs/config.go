package configs

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Byte sizes used by the defaults.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

// LogFormat selects the log handler.
type LogFormat string

// The accepted LOG_FORMAT values.
const (
	// LogFormatAuto writes text to a terminal and JSON otherwise.
	LogFormatAuto LogFormat = "auto"
	// LogFormatJSON writes one JSON object per line (slog.JSONHandler).
	LogFormatJSON LogFormat = "json"
	// LogFormatText writes key=value lines (slog.TextHandler).
	LogFormatText LogFormat = "text"
)

// Resolve turns LogFormatAuto into text or JSON depending on whether the log goes to a terminal;
// an explicit format is returned unchanged.
func (f LogFormat) Resolve(isTerminal bool) LogFormat {
	if f != LogFormatAuto {
		return f
	}
	if isTerminal {
		return LogFormatText
	}
	return LogFormatJSON
}

// Config is databoard's whole configuration. Load fills it from the environment; the zero value is
// not meaningful, use Default or Load.
//
// The first group keeps the old Python backend's variable names and defaults, so existing
// deployments keep working; the second group is new in this implementation.
type Config struct {
	// SchemaPath is where the dashboard JSON schema comes from (SCHEMA_PATH): an http(s) URL of the
	// schema file or a directory holding dashboarddto.schema.json. Default "" = the schema shipped
	// in the binary (DashboardSchema).
	SchemaPath string
	// ValidateDashboardSchema checks every created or updated dashboard against the schema
	// (VALIDATE_DASHBOARD_SCHEMA). Default true.
	ValidateDashboardSchema bool
	// ValidateDashboardSize refuses dashboards larger than DashboardMaxSingleBytes
	// (VALIDATE_DASHBOARD_SIZE). Default true.
	ValidateDashboardSize bool
	// DashboardMaxSingleBytes is the largest dashboard accepted, in bytes of BSON
	// (DASHBOARD_MAX_SINGLE_BYTES). Default 10 MiB.
	DashboardMaxSingleBytes int64
	// DashboardMaxTotalStorageBytes is the storage budget of all dashboards together, in bytes of
	// BSON (DASHBOARD_MAX_TOTAL_STORAGE_BYTES). Default 10 GiB.
	DashboardMaxTotalStorageBytes int64
	// DashboardEvictionThreshold is the fraction of DashboardMaxTotalStorageBytes at which eviction
	// starts (DASHBOARD_EVICTION_THRESHOLD), in (0, 1]. Default 0.95.
	DashboardEvictionThreshold float64
	// DashboardTargetUtilization is the fraction of DashboardMaxTotalStorageBytes eviction brings
	// the total down to (DASHBOARD_TARGET_UTILIZATION), in (0, 1] and below the threshold.
	// Default 0.60.
	DashboardTargetUtilization float64
	// MongoHost is the MongoDB host name or IP (MONGO_HOST). Default "" = no external MongoDB:
	// the embedded store under DataDir is used, unless MongoURI is set.
	MongoHost string
	// MongoPort is MongoDB's TCP port (MONGO_PORT), 1..65535. Default 27017. Only used with MongoHost.
	MongoPort int
	// MongoDBName is the database holding the dashboards collection (MONGO_DB_NAME).
	// Default "databoard".
	MongoDBName string
	// RootPath is the path prefix under which the API documentation says it lives (ROOT_PATH),
	// normalized to a leading "/" and no trailing "/". Default "/".
	RootPath string
	// DaqbufDefaultURL is data-api v4's base URL (DAQBUF_DEFAULT_URL), an http(s) URL without a
	// trailing "/". Default "https://data-api.psi.ch/api/4".
	DaqbufDefaultURL string

	// MongoURI is a full mongodb:// or mongodb+srv:// connection string (MONGO_URI); it overrides
	// MongoHost and MongoPort. Default "" (use MongoHost, else the embedded store).
	MongoURI string
	// RedisURL is the Redis connection URL (REDIS_URL), as accepted by go-redis's ParseURL.
	// Default "" = an in-process cache bounded by CacheMaxBytes.
	RedisURL string
	// RedisKeyPrefix is put in front of every key databoard writes to Redis (REDIS_KEY_PREFIX), so
	// several deployments (or test runs) can share one Redis. Default "databoard:v1:".
	RedisKeyPrefix string
	// CurveCache serves curves through the chunked cache (CURVE_CACHE). Default true; false sends
	// every curve request to data-api (for comparisons and troubleshooting).
	CurveCache bool
	// ListenAddr is the HTTP listen address, host:port (LISTEN_ADDR). Default ":8080".
	ListenAddr string
	// DataDir is the directory of the embedded dashboard store (DATA_DIR). Default "./data".
	DataDir string
	// ChannelRefreshInterval is how often the channel list is re-read from data-api
	// (CHANNEL_REFRESH_INTERVAL), a Go duration such as "30m". Default 1h.
	ChannelRefreshInterval time.Duration
	// CacheMaxBytes bounds the in-process cache, in bytes (CACHE_MAX_BYTES). Default 256 MiB.
	// Unused when RedisURL is set.
	CacheMaxBytes int64
	// CacheNearMaxBytes bounds the in-process copy kept in front of Redis (CACHE_NEAR_MAX_BYTES).
	// Default 64 MiB. Unused without RedisURL.
	CacheNearMaxBytes int64
	// AnswerCacheMaxBytes bounds the per-instance cache of encoded settled curve answers and their gzip
	// copies, and of list-search answers (ANSWER_CACHE_MAX_BYTES). Default 64 MiB.
	AnswerCacheMaxBytes int64
	// FragmentCacheMaxBytes bounds the per-instance cache of binned curve chunks kept as pre-encoded
	// pieces of the answer (FRAGMENT_CACHE_MAX_BYTES). Default 64 MiB.
	FragmentCacheMaxBytes int64
	// DashboardCacheMaxBytes bounds the cache of encoded dashboard answers, kept with the embedded
	// store only (DASHBOARD_CACHE_MAX_BYTES). Default 64 MiB.
	DashboardCacheMaxBytes int64
	// MaintenanceToken, when set, is the bearer token the /maintenance routes require
	// (MAINTENANCE_TOKEN). Default "" = the routes are open, as in the old backend.
	MaintenanceToken string
	// MaintenanceListenAddr, when set, serves the /maintenance routes on this separate address
	// only (MAINTENANCE_LISTEN_ADDR). Default "" = on ListenAddr with the rest.
	MaintenanceListenAddr string
	// DebugListenAddr, when set, serves the Go runtime's profiles (net/http/pprof: heap, goroutines, CPU)
	// and the stream's update times (/debug/stream/updates, for measuring fan-out) on this separate
	// address only (DEBUG_LISTEN_ADDR), for finding where memory and time go. Default ""
	// = off. Bind it to loopback or another address browsers do not reach: profiles show internals.
	DebugListenAddr string
	// CORSAllowOrigins are the origins ("https://board.example.org") whose pages may call the API with
	// credentials and open the live stream (CORS_ALLOW_ORIGINS, comma-separated). Default empty: any
	// origin, echoed with credentials, as the old backend. Kept as the normalized text (lower case, no
	// spaces), so Config stays comparable; AllowedOrigins splits it.
	CORSAllowOrigins string
	// LogFormat is the log format (LOG_FORMAT): auto, json or text. Default auto.
	LogFormat LogFormat
	// LogLevel is the minimum level logged (LOG_LEVEL): debug, info, warn or error. Default info.
	LogLevel slog.Level
	// DaqbufTimeout bounds one data-api request (DAQBUF_TIMEOUT), a Go duration. Default 30s.
	DaqbufTimeout time.Duration
	// DaqbufMaxConns is the most concurrent connections to one data-api host (DAQBUF_MAX_CONNS).
	// Default 16.
	DaqbufMaxConns int
	// StreamPollMin and StreamPollMax bound a live series' poll period, which follows its bin width;
	// raw subscriptions poll at StreamPollMin (STREAM_POLL_MIN, STREAM_POLL_MAX). Defaults 1s and 10s.
	StreamPollMin, StreamPollMax time.Duration
	// StreamMaxSubscriptions is the most subscriptions on one /stream connection
	// (STREAM_MAX_SUBSCRIPTIONS). Default 100.
	StreamMaxSubscriptions int
	// StreamLinger is how long a series goes on polling after its last subscriber left
	// (STREAM_LINGER). Default 30s.
	StreamLinger time.Duration
	// StreamHistory is how long a series keeps its updates for resumes (STREAM_HISTORY). Default 10m.
	StreamHistory time.Duration
	// StreamWriteTimeout: a /stream connection whose write blocks longer is closed as a slow consumer
	// (STREAM_WRITE_TIMEOUT). Default 30s.
	StreamWriteTimeout time.Duration
	// StreamSendQueueBytes bounds one connection's queue of unsent messages (STREAM_SEND_QUEUE_BYTES).
	// Default 1 MiB.
	StreamSendQueueBytes int64
	// Demo serves curves from the in-process data-api simulator instead of DaqbufDefaultURL (DEMO).
	// Default false.
	Demo bool
}

// Default returns the configuration used when no variable is set.
func Default() Config {
	return Config{
		ValidateDashboardSchema:       true,
		ValidateDashboardSize:         true,
		DashboardMaxSingleBytes:       10 * MiB,
		DashboardMaxTotalStorageBytes: 10 * GiB,
		DashboardEvictionThreshold:    0.95,
		DashboardTargetUtilization:    0.60,
		MongoPort:                     27017,
		MongoDBName:                   "databoard",
		RootPath:                      "/",
		DaqbufDefaultURL:              "https://data-api.psi.ch/api/4",
		ListenAddr:                    ":8080",
		DataDir:                       "./data",
		ChannelRefreshInterval:        time.Hour,
		CacheMaxBytes:                 256 * MiB,
		CacheNearMaxBytes:             64 * MiB,
		AnswerCacheMaxBytes:           64 * MiB,
		FragmentCacheMaxBytes:         64 * MiB,
		DashboardCacheMaxBytes:        64 * MiB,
		RedisKeyPrefix:                "databoard:v1:",
		CurveCache:                    true,
		LogFormat:                     LogFormatAuto,
		LogLevel:                      slog.LevelInfo,
		DaqbufTimeout:                 30 * time.Second,
		DaqbufMaxConns:                16,
		StreamPollMin:                 time.Second,
		StreamPollMax:                 10 * time.Second,
		StreamMaxSubscriptions:        100,
		StreamLinger:                  30 * time.Second,
		StreamHistory:                 10 * time.Minute,
		StreamWriteTimeout:            30 * time.Second,
		StreamSendQueueBytes:          1 * MiB,
	}
}

// AllowedOrigins is CORSAllowOrigins as a list; nil means any origin.
func (c Config) AllowedOrigins() []string {
	if c.CORSAllowOrigins == "" {
		return nil
	}
	return strings.Split(c.CORSAllowOrigins, ",")
}

// MongoURIOrEmbedded returns the MongoDB connection string to use: MongoURI when set, else
// mongodb://MongoHost:MongoPort/ when MongoHost is set, else "" meaning "start the embedded store
// under DataDir".
func (c Config) MongoURIOrEmbedded() string {
	switch {
	case c.MongoURI != "":
		return c.MongoURI
	case c.MongoHost != "":
		return "mongodb://" + net.JoinHostPort(c.MongoHost, strconv.Itoa(c.MongoPort)) + "/"
	default:
		return ""
	}
}
