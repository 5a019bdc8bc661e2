package configs

import (
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// env returns a getenv function over a map.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// mustLoad loads vars and fails the test on error.
func mustLoad(t *testing.T, vars map[string]string) Config {
	t.Helper()
	c, err := Load(env(vars))
	if err != nil {
		t.Fatalf("Load(%v): %v", vars, err)
	}
	return c
}

func TestConfigLoadDefaults(t *testing.T) {
	c := mustLoad(t, nil)
	// The defaults as the contract and the issue state them, written out independently of Default().
	want := map[string]string{
		"SCHEMA_PATH":                       "",
		"VALIDATE_DASHBOARD_SCHEMA":         "true",
		"VALIDATE_DASHBOARD_SIZE":           "true",
		"DASHBOARD_MAX_SINGLE_BYTES":        "10485760",
		"DASHBOARD_MAX_TOTAL_STORAGE_BYTES": "10737418240",
		"DASHBOARD_EVICTION_THRESHOLD":      "0.95",
		"DASHBOARD_TARGET_UTILIZATION":      "0.6",
		"MONGO_HOST":                        "",
		"MONGO_PORT":                        "27017",
		"MONGO_DB_NAME":                     "databoard",
		"ROOT_PATH":                         "/",
		"DAQBUF_DEFAULT_URL":                "https://data-api.psi.ch/api/4",
		"MONGO_URI":                         "",
		"REDIS_URL":                         "",
		"REDIS_KEY_PREFIX":                  "databoard:v1:",
		"CURVE_CACHE":                       "true",
		"LISTEN_ADDR":                       ":8080",
		"DATA_DIR":                          "./data",
		"CHANNEL_REFRESH_INTERVAL":          "1h0m0s",
		"CACHE_MAX_BYTES":                   "268435456",
		"CACHE_NEAR_MAX_BYTES":              "67108864",
		"ANSWER_CACHE_MAX_BYTES":            "67108864",
		"FRAGMENT_CACHE_MAX_BYTES":          "67108864",
		"DASHBOARD_CACHE_MAX_BYTES":         "67108864",
		"MAINTENANCE_TOKEN":                 "",
		"MAINTENANCE_LISTEN_ADDR":           "",
		"DEBUG_LISTEN_ADDR":                 "",
		"CORS_ALLOW_ORIGINS":                "",
		"LOG_FORMAT":                        "auto",
		"LOG_LEVEL":                         "INFO",
		"DAQBUF_TIMEOUT":                    "30s",
		"DAQBUF_MAX_CONNS":                  "16",
		"DEMO":                              "false",
		"STREAM_POLL_MIN":                   "1s",
		"STREAM_POLL_MAX":                   "10s",
		"STREAM_MAX_SUBSCRIPTIONS":          "100",
		"STREAM_LINGER":                     "30s",
		"STREAM_HISTORY":                    "10m0s",
		"STREAM_WRITE_TIMEOUT":              "30s",
		"STREAM_SEND_QUEUE_BYTES":           "1048576",
	}
	got := map[string]string{}
	for _, s := range c.Settings() {
		got[s.Name] = s.Value
	}
	if !reflect.DeepEqual(got, want) {
		for name := range want {
			if got[name] != want[name] {
				t.Errorf("default %s = %q, want %q", name, got[name], want[name])
			}
		}
		t.Errorf("settings %v, want %v", got, want)
	}
	if c.MongoURIOrEmbedded() != "" {
		t.Errorf("default store = %q, want embedded (\"\")", c.MongoURIOrEmbedded())
	}
}

func TestConfigLoadValid(t *testing.T) {
	tests := []struct {
		name  string
		value string
		get   func(Config) any
		want  any
	}{
		{"SCHEMA_PATH", "/etc/databoard/schema", func(c Config) any { return c.SchemaPath }, "/etc/databoard/schema"},
		{"SCHEMA_PATH", "https://example.org/schema/", func(c Config) any { return c.SchemaPath }, "https://example.org/schema/"},
		{"VALIDATE_DASHBOARD_SCHEMA", "off", func(c Config) any { return c.ValidateDashboardSchema }, false},
		{"VALIDATE_DASHBOARD_SCHEMA", "NO", func(c Config) any { return c.ValidateDashboardSchema }, false},
		{"VALIDATE_DASHBOARD_SCHEMA", "Yes", func(c Config) any { return c.ValidateDashboardSchema }, true},
		{"VALIDATE_DASHBOARD_SIZE", "0", func(c Config) any { return c.ValidateDashboardSize }, false},
		{"VALIDATE_DASHBOARD_SIZE", "False", func(c Config) any { return c.ValidateDashboardSize }, false},
		{"VALIDATE_DASHBOARD_SIZE", "ON", func(c Config) any { return c.ValidateDashboardSize }, true},
		{"DASHBOARD_MAX_SINGLE_BYTES", "1048576", func(c Config) any { return c.DashboardMaxSingleBytes }, int64(1 << 20)},
		{"DASHBOARD_MAX_SINGLE_BYTES", "2 MiB", func(c Config) any { return c.DashboardMaxSingleBytes }, int64(2 << 20)},
		{"DASHBOARD_MAX_TOTAL_STORAGE_BYTES", "1GiB", func(c Config) any { return c.DashboardMaxTotalStorageBytes }, int64(1 << 30)},
		{"DASHBOARD_MAX_TOTAL_STORAGE_BYTES", "2tib", func(c Config) any { return c.DashboardMaxTotalStorageBytes }, int64(2 << 40)},
		{"DASHBOARD_EVICTION_THRESHOLD", "1", func(c Config) any { return c.DashboardEvictionThreshold }, 1.0},
		{"DASHBOARD_EVICTION_THRESHOLD", " 0.9 ", func(c Config) any { return c.DashboardEvictionThreshold }, 0.9},
		{"DASHBOARD_TARGET_UTILIZATION", "0.5", func(c Config) any { return c.DashboardTargetUtilization }, 0.5},
		{"MONGO_HOST", "mongo.example.org", func(c Config) any { return c.MongoHost }, "mongo.example.org"},
		{"MONGO_HOST", "::1", func(c Config) any { return c.MongoHost }, "::1"},
		{"MONGO_PORT", "27018", func(c Config) any { return c.MongoPort }, 27018},
		{"MONGO_PORT", "65535", func(c Config) any { return c.MongoPort }, 65535},
		{"MONGO_DB_NAME", "boards_2", func(c Config) any { return c.MongoDBName }, "boards_2"},
		{"ROOT_PATH", "/api", func(c Config) any { return c.RootPath }, "/api"},
		{"ROOT_PATH", "api/", func(c Config) any { return c.RootPath }, "/api"},
		{"ROOT_PATH", "/", func(c Config) any { return c.RootPath }, "/"},
		{"DAQBUF_DEFAULT_URL", "http://localhost:8081/api/4/", func(c Config) any { return c.DaqbufDefaultURL }, "http://localhost:8081/api/4"},
		{"MONGO_URI", "mongodb://u:p@h1:27017,h2:27018/boards?replicaSet=rs0", func(c Config) any { return c.MongoURI }, "mongodb://u:p@h1:27017,h2:27018/boards?replicaSet=rs0"},
		{"MONGO_URI", "mongodb+srv://cluster.example.org/", func(c Config) any { return c.MongoURI }, "mongodb+srv://cluster.example.org/"},
		{"MONGO_URI", "mongodb://[::1]:27017,[::2],db/", func(c Config) any { return c.MongoURI }, "mongodb://[::1]:27017,[::2],db/"},
		{"REDIS_URL", "redis://:secret@localhost:6380/2", func(c Config) any { return c.RedisURL }, "redis://:secret@localhost:6380/2"},
		{"REDIS_URL", "rediss://cache.example.org:6379", func(c Config) any { return c.RedisURL }, "rediss://cache.example.org:6379"},
		{"REDIS_URL", "unix:///run/redis.sock", func(c Config) any { return c.RedisURL }, "unix:///run/redis.sock"},
		{"REDIS_URL", "redis://s1:26379/0?master_name=mymaster&addr=s2:26379", func(c Config) any { return RedisTopologyOf(c.RedisURL) }, RedisSentinel},
		{"REDIS_URL", "redis://n1:6379?addr=n2:6379&addr=n3:6379", func(c Config) any { return RedisTopologyOf(c.RedisURL) }, RedisCluster},
		{"REDIS_URL", "redis://n1:6379/1", func(c Config) any { return RedisTopologyOf(c.RedisURL) }, RedisSingle},
		{"CORS_ALLOW_ORIGINS", "https://Board.example.org, http://localhost:5173,", func(c Config) any { return c.CORSAllowOrigins },
			"https://board.example.org,http://localhost:5173"},
		{"LISTEN_ADDR", "127.0.0.1:9000", func(c Config) any { return c.ListenAddr }, "127.0.0.1:9000"},
		{"LISTEN_ADDR", "[::]:8080", func(c Config) any { return c.ListenAddr }, "[::]:8080"},
		{"DATA_DIR", "/var/lib/databoard", func(c Config) any { return c.DataDir }, "/var/lib/databoard"},
		{"CHANNEL_REFRESH_INTERVAL", "15m", func(c Config) any { return c.ChannelRefreshInterval }, 15 * time.Minute},
		{"CACHE_MAX_BYTES", "64MiB", func(c Config) any { return c.CacheMaxBytes }, int64(64 << 20)},
		{"ANSWER_CACHE_MAX_BYTES", "16MiB", func(c Config) any { return c.AnswerCacheMaxBytes }, int64(16 << 20)},
		{"FRAGMENT_CACHE_MAX_BYTES", "32MiB", func(c Config) any { return c.FragmentCacheMaxBytes }, int64(32 << 20)},
		{"CACHE_NEAR_MAX_BYTES", "8MiB", func(c Config) any { return c.CacheNearMaxBytes }, int64(8 << 20)},
		{"DASHBOARD_CACHE_MAX_BYTES", "1MiB", func(c Config) any { return c.DashboardCacheMaxBytes }, int64(1 << 20)},
		{"MAINTENANCE_TOKEN", "s3cr3t", func(c Config) any { return c.MaintenanceToken }, "s3cr3t"},
		{"MAINTENANCE_LISTEN_ADDR", "127.0.0.1:8081", func(c Config) any { return c.MaintenanceListenAddr }, "127.0.0.1:8081"},
		{"DEBUG_LISTEN_ADDR", "127.0.0.1:6060", func(c Config) any { return c.DebugListenAddr }, "127.0.0.1:6060"},
		{"LOG_FORMAT", "JSON", func(c Config) any { return c.LogFormat }, LogFormatJSON},
		{"LOG_FORMAT", "text", func(c Config) any { return c.LogFormat }, LogFormatText},
		{"LOG_LEVEL", "debug", func(c Config) any { return c.LogLevel }, slog.LevelDebug},
		{"LOG_LEVEL", "WARN", func(c Config) any { return c.LogLevel }, slog.LevelWarn},
		{"DAQBUF_TIMEOUT", "1m30s", func(c Config) any { return c.DaqbufTimeout }, 90 * time.Second},
		{"DAQBUF_MAX_CONNS", "4", func(c Config) any { return c.DaqbufMaxConns }, 4},
		{"DEMO", "1", func(c Config) any { return c.Demo }, true},
		{"DEMO", "TRUE", func(c Config) any { return c.Demo }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			c := mustLoad(t, map[string]string{tt.name: tt.value})
			if got := tt.get(c); got != tt.want {
				t.Errorf("%s=%q: got %v (%T), want %v (%T)", tt.name, tt.value, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestConfigLoadInvalid(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string // the message after `NAME: "value" `
	}{
		{"SCHEMA_PATH", "https:///schema", "has no host"},
		{"VALIDATE_DASHBOARD_SCHEMA", "maybe", "is not a boolean"},
		{"VALIDATE_DASHBOARD_SIZE", "2", "is not a boolean"},
		{"DEMO", "y", "is not a boolean"},
		{"DASHBOARD_MAX_SINGLE_BYTES", "abc", "is not a byte count"},
		{"DASHBOARD_MAX_SINGLE_BYTES", "0", "must be positive"},
		{"DASHBOARD_MAX_SINGLE_BYTES", "-5", "must be positive"},
		{"DASHBOARD_MAX_SINGLE_BYTES", "1.5MiB", "is not a byte count"},
		{"DASHBOARD_MAX_TOTAL_STORAGE_BYTES", "10GB", "is not a byte count"},
		{"DASHBOARD_MAX_TOTAL_STORAGE_BYTES", "99999999999TiB", "is too large"},
		{"DASHBOARD_MAX_TOTAL_STORAGE_BYTES", "99999999999999999999", "is too large"},
		{"CACHE_MAX_BYTES", "lots", "is not a byte count"},
		{"DASHBOARD_EVICTION_THRESHOLD", "abc", "is not a number"},
		{"DASHBOARD_EVICTION_THRESHOLD", "0", "is out of range"},
		{"DASHBOARD_EVICTION_THRESHOLD", "1.01", "is out of range"},
		{"DASHBOARD_EVICTION_THRESHOLD", "NaN", "is out of range"},
		{"DASHBOARD_TARGET_UTILIZATION", "-0.1", "is out of range"},
		{"DASHBOARD_TARGET_UTILIZATION", "60%", "is not a number"},
		{"MONGO_HOST", "mongo:27017", "is not a host name or IP address"},
		{"MONGO_HOST", "mongodb://mongo", "is not a host name or IP address"},
		{"MONGO_PORT", "0", "is out of range"},
		{"MONGO_PORT", "65536", "is out of range"},
		{"MONGO_PORT", "http", "is not a port number"},
		{"MONGO_DB_NAME", "my.db", "is not a MongoDB database name"},
		{"MONGO_DB_NAME", "a b", "is not a MongoDB database name"},
		{"ROOT_PATH", "/api?x=1", "is not a URL path"},
		{"ROOT_PATH", "http://host/api", "is not a URL path"},
		{"DAQBUF_DEFAULT_URL", "data-api.psi.ch/api/4", "is not an http(s) URL"},
		{"DAQBUF_DEFAULT_URL", "ftp://data-api.psi.ch/api/4", "is not an http(s) URL"},
		{"DAQBUF_DEFAULT_URL", "https://data-api.psi.ch/api/4?x=1", "must not have a query"},
		{"DAQBUF_DEFAULT_URL", "http://bad host/", "is not a URL"},
		{"MONGO_URI", "mysql://localhost/", "is not a mongodb:// or mongodb+srv:// URL"},
		{"MONGO_URI", "localhost:27017", "is not a mongodb:// or mongodb+srv:// URL"},
		{"MONGO_URI", "mongodb:///db", "has no host"},
		{"MONGO_URI", "mongodb://h1,,h2/", "malformed host"},
		{"MONGO_URI", "mongodb+srv://h1:27017/", "exactly one host name and no port"},
		{"MONGO_URI", "mongodb://localhost:abc/", `port "abc" is not a port number`},
		{"MONGO_URI", "mongodb://h1:27017,h2:x/db", `host "h2:x"`},
		{"MONGO_URI", "mongodb://h1:/", `host "h1:"`},
		{"MONGO_URI", "mongodb://h1:70000/", "out of range"},
		{"MONGO_URI", "mongodb://[::1]:port/", `host "[::1]:port"`},
		{"MONGO_URI", "mongodb://::1:27017/", "in brackets"},
		{"REDIS_URL", "http://localhost:6379", "is not a Redis URL"},
		{"CORS_ALLOW_ORIGINS", "board.example.org", "is not an origin"},
		{"CORS_ALLOW_ORIGINS", "https://board.example.org/", "is not an origin"},
		{"CORS_ALLOW_ORIGINS", "https://a.example,ftp://b.example", `"ftp://b.example", which is not an origin`},
		{"CORS_ALLOW_ORIGINS", "https://*.example.org", "is not an origin"},
		{"REDIS_URL", "redis://localhost:6379/abc", "is not a Redis URL"},
		{"REDIS_KEY_PREFIX", "bad*prefix", "must be 1-100 characters"},
		{"REDIS_URL", "redis://s1:26379?master_name=m&bogus=1", "is not a Redis URL"},
		{"LISTEN_ADDR", "8080", "is not a host:port listen address"},
		{"LISTEN_ADDR", ":http", "is not a host:port listen address"},
		{"LISTEN_ADDR", ":70000", "is not a host:port listen address"},
		{"MAINTENANCE_LISTEN_ADDR", "localhost", "is not a host:port listen address"},
		{"DEBUG_LISTEN_ADDR", "6060", "is not a host:port listen address"},
		{"CHANNEL_REFRESH_INTERVAL", "3600", "is not a duration"},
		{"CHANNEL_REFRESH_INTERVAL", "-1h", "must be positive"},
		{"DAQBUF_TIMEOUT", "soon", "is not a duration"},
		{"DAQBUF_TIMEOUT", "0s", "must be positive"},
		{"DAQBUF_MAX_CONNS", "0", "must be at least 1"},
		{"DAQBUF_MAX_CONNS", "many", "is not a whole number"},
		{"LOG_FORMAT", "xml", "is not a log format"},
		{"LOG_LEVEL", "loud", "is not a log level"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tt.name: tt.value}))
			if err == nil {
				t.Fatalf("%s=%q: no error", tt.name, tt.value)
			}
			prefix := tt.name + ": \"" + tt.value + "\" "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("%s=%q: error %q, want it to start with %q and contain %q", tt.name, tt.value, msg, prefix, tt.want)
			}
			if n := len(strings.Split(err.Error(), "\n")); n != 1 {
				t.Errorf("%s=%q: %d error lines, want 1: %v", tt.name, tt.value, n, err)
			}
		})
	}
}

func TestConfigLoadCrossChecks(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want string // empty: no error
	}{
		{"target below threshold", map[string]string{"DASHBOARD_EVICTION_THRESHOLD": "0.8", "DASHBOARD_TARGET_UTILIZATION": "0.7"}, ""},
		{"target equals threshold", map[string]string{"DASHBOARD_EVICTION_THRESHOLD": "0.6"},
			"DASHBOARD_TARGET_UTILIZATION: 0.6 must be below DASHBOARD_EVICTION_THRESHOLD (0.6)"},
		{"target above threshold", map[string]string{"DASHBOARD_TARGET_UTILIZATION": "0.99"},
			"DASHBOARD_TARGET_UTILIZATION: 0.99 must be below DASHBOARD_EVICTION_THRESHOLD (0.95)"},
		{"single larger than total", map[string]string{"DASHBOARD_MAX_TOTAL_STORAGE_BYTES": "1MiB"},
			"DASHBOARD_MAX_SINGLE_BYTES: 10485760 is larger than DASHBOARD_MAX_TOTAL_STORAGE_BYTES (1048576)"},
		{"single equals total", map[string]string{"DASHBOARD_MAX_SINGLE_BYTES": "1MiB", "DASHBOARD_MAX_TOTAL_STORAGE_BYTES": "1048576"}, ""},
		{"maintenance on the main address", map[string]string{"LISTEN_ADDR": ":9000", "MAINTENANCE_LISTEN_ADDR": ":9000"},
			"MAINTENANCE_LISTEN_ADDR: \":9000\" is the same as LISTEN_ADDR"},
		{"maintenance on its own address", map[string]string{"MAINTENANCE_LISTEN_ADDR": "127.0.0.1:9001"}, ""},
		{"profiles on the main address", map[string]string{"DEBUG_LISTEN_ADDR": ":8080"},
			"DEBUG_LISTEN_ADDR: \":8080\" is already LISTEN_ADDR or MAINTENANCE_LISTEN_ADDR"},
		{"profiles on the maintenance address", map[string]string{"MAINTENANCE_LISTEN_ADDR": "127.0.0.1:9001", "DEBUG_LISTEN_ADDR": "127.0.0.1:9001"},
			"DEBUG_LISTEN_ADDR: \"127.0.0.1:9001\" is already LISTEN_ADDR or MAINTENANCE_LISTEN_ADDR"},
		{"profiles on their own address", map[string]string{"DEBUG_LISTEN_ADDR": "127.0.0.1:6060"}, ""},
		// A bad value is reported once, not again by the cross-check.
		{"bad threshold alone", map[string]string{"DASHBOARD_EVICTION_THRESHOLD": "x", "DASHBOARD_TARGET_UTILIZATION": "0.99"},
			"DASHBOARD_EVICTION_THRESHOLD: \"x\" is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.vars))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("no error, want %q", tt.want)
			case tt.want != "" && !strings.HasPrefix(err.Error(), tt.want):
				t.Errorf("error %q, want it to start with %q", err, tt.want)
			case tt.want != "" && strings.Contains(err.Error(), "\n"):
				t.Errorf("error %q has more than one line", err)
			}
		})
	}
}

func TestConfigLoadCollectsAllErrors(t *testing.T) {
	_, err := Load(env(map[string]string{
		"MONGO_PORT":                   "99999",
		"DASHBOARD_EVICTION_THRESHOLD": "abc",
		"LOG_FORMAT":                   "xml",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`DASHBOARD_EVICTION_THRESHOLD: "abc" is not a number`,
		`MONGO_PORT: "99999" is out of range`,
		`LOG_FORMAT: "xml" is not a log format`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
	// errors.Join keeps each error reachable.
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != len(want) {
		t.Errorf("error is not a join of %d errors: %#v", len(want), err)
	}
}

// TestLoadReadsEverySetting guards the variable list: Load must read exactly the variables
// Settings prints (and the README documents), each once.
func TestConfigLoadReadsEverySetting(t *testing.T) {
	var read []string
	if _, err := Load(func(name string) string { read = append(read, name); return "" }); err != nil {
		t.Fatal(err)
	}
	var printed []string
	for _, s := range Default().Settings() {
		printed = append(printed, s.Name)
	}
	if !slices.Equal(read, printed) {
		t.Errorf("Load reads\n%v\nSettings prints\n%v", read, printed)
	}
}

// TestSettingsRoundTrip checks that printing and parsing agree: the printed values of a
// non-default Config load back into the same Config.
func TestConfigSettingsRoundTrip(t *testing.T) {
	vars := map[string]string{
		"SCHEMA_PATH": "/srv/schema", "VALIDATE_DASHBOARD_SCHEMA": "no", "VALIDATE_DASHBOARD_SIZE": "off",
		"DASHBOARD_MAX_SINGLE_BYTES": "3MiB", "DASHBOARD_MAX_TOTAL_STORAGE_BYTES": "5GiB",
		"DASHBOARD_EVICTION_THRESHOLD": "0.9", "DASHBOARD_TARGET_UTILIZATION": "0.45",
		"MONGO_HOST": "db", "MONGO_PORT": "27000", "MONGO_DB_NAME": "boards", "ROOT_PATH": "/api",
		"DAQBUF_DEFAULT_URL": "http://sim:8081/api/4", "MONGO_URI": "mongodb://u:pw@db:27000/",
		"REDIS_URL": "redis://:pw@cache:6379/1", "LISTEN_ADDR": ":9000", "DATA_DIR": "/tmp/d",
		"CHANNEL_REFRESH_INTERVAL": "90s", "CACHE_MAX_BYTES": "1000", "MAINTENANCE_TOKEN": "tok",
		"MAINTENANCE_LISTEN_ADDR": "127.0.0.1:9001", "DEBUG_LISTEN_ADDR": "127.0.0.1:6060", "LOG_FORMAT": "text", "LOG_LEVEL": "debug",
		"DAQBUF_TIMEOUT": "2s", "DAQBUF_MAX_CONNS": "3", "DEMO": "yes",
	}
	first := mustLoad(t, vars)
	printed := map[string]string{}
	for _, s := range first.settings() {
		printed[s.Name] = s.Value
	}
	second := mustLoad(t, printed)
	if first != second {
		t.Errorf("round trip changed the config:\nfirst  %#v\nsecond %#v", first, second)
	}
	if first == Default() {
		t.Error("the test config equals the defaults; it proves nothing")
	}
}

func TestMongoURIOrEmbedded(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"nothing set: embedded", nil, ""},
		{"port alone: still embedded", map[string]string{"MONGO_PORT": "27018"}, ""},
		{"host", map[string]string{"MONGO_HOST": "mongo"}, "mongodb://mongo:27017/"},
		{"host and port", map[string]string{"MONGO_HOST": "mongo", "MONGO_PORT": "27018"}, "mongodb://mongo:27018/"},
		{"IPv6 host", map[string]string{"MONGO_HOST": "::1"}, "mongodb://[::1]:27017/"},
		{"URI wins", map[string]string{"MONGO_HOST": "mongo", "MONGO_URI": "mongodb://other:1/"}, "mongodb://other:1/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.vars).MongoURIOrEmbedded(); got != tt.want {
				t.Errorf("MongoURIOrEmbedded() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigLogFormatResolve(t *testing.T) {
	tests := []struct {
		format   LogFormat
		terminal bool
		want     LogFormat
	}{
		{LogFormatAuto, true, LogFormatText},
		{LogFormatAuto, false, LogFormatJSON},
		{LogFormatJSON, true, LogFormatJSON},
		{LogFormatText, false, LogFormatText},
	}
	for _, tt := range tests {
		if got := tt.format.Resolve(tt.terminal); got != tt.want {
			t.Errorf("%q.Resolve(%v) = %q, want %q", tt.format, tt.terminal, got, tt.want)
		}
	}
}
