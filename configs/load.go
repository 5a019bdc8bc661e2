package configs

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Load reads every variable through getenv (os.Getenv in production, a map lookup in tests) and
// returns the validated Config. An unset or empty variable takes its default.
//
// All problems are reported together, joined with errors.Join, one line each naming the variable
// and the offending value, e.g. `DASHBOARD_EVICTION_THRESHOLD: "abc" is not a number`. Secrets in
// URLs are masked in those messages. On error the returned Config holds the defaults in place of
// the invalid values.
func Load(getenv func(string) string) (Config, error) {
	c := Default()
	l := loader{getenv: getenv}

	l.str("SCHEMA_PATH", &c.SchemaPath, checkSchemaPath)
	l.boolean("VALIDATE_DASHBOARD_SCHEMA", &c.ValidateDashboardSchema)
	l.boolean("VALIDATE_DASHBOARD_SIZE", &c.ValidateDashboardSize)
	singleOK := l.bytes("DASHBOARD_MAX_SINGLE_BYTES", &c.DashboardMaxSingleBytes)
	totalOK := l.bytes("DASHBOARD_MAX_TOTAL_STORAGE_BYTES", &c.DashboardMaxTotalStorageBytes)
	thresholdOK := l.fraction("DASHBOARD_EVICTION_THRESHOLD", &c.DashboardEvictionThreshold)
	targetOK := l.fraction("DASHBOARD_TARGET_UTILIZATION", &c.DashboardTargetUtilization)
	l.str("MONGO_HOST", &c.MongoHost, checkHost)
	l.port("MONGO_PORT", &c.MongoPort)
	l.str("MONGO_DB_NAME", &c.MongoDBName, checkDBName)
	l.normalized("ROOT_PATH", &c.RootPath, normalizeRootPath)
	l.normalized("DAQBUF_DEFAULT_URL", &c.DaqbufDefaultURL, normalizeHTTPURL)

	l.str("MONGO_URI", &c.MongoURI, checkMongoURI)
	l.str("REDIS_URL", &c.RedisURL, checkRedisURL)
	l.str("REDIS_KEY_PREFIX", &c.RedisKeyPrefix, checkKeyPrefix)
	l.boolean("CURVE_CACHE", &c.CurveCache)
	l.str("LISTEN_ADDR", &c.ListenAddr, checkListenAddr)
	l.str("DATA_DIR", &c.DataDir, nil)
	l.duration("CHANNEL_REFRESH_INTERVAL", &c.ChannelRefreshInterval)
	l.bytes("CACHE_MAX_BYTES", &c.CacheMaxBytes)
	l.bytes("CACHE_NEAR_MAX_BYTES", &c.CacheNearMaxBytes)
	l.bytes("ANSWER_CACHE_MAX_BYTES", &c.AnswerCacheMaxBytes)
	l.bytes("FRAGMENT_CACHE_MAX_BYTES", &c.FragmentCacheMaxBytes)
	l.bytes("DASHBOARD_CACHE_MAX_BYTES", &c.DashboardCacheMaxBytes)
	l.str("MAINTENANCE_TOKEN", &c.MaintenanceToken, nil)
	l.str("MAINTENANCE_LISTEN_ADDR", &c.MaintenanceListenAddr, checkListenAddr)
	l.str("DEBUG_LISTEN_ADDR", &c.DebugListenAddr, checkListenAddr)
	l.normalized("CORS_ALLOW_ORIGINS", &c.CORSAllowOrigins, normalizeOrigins)
	l.logFormat("LOG_FORMAT", &c.LogFormat)
	l.logLevel("LOG_LEVEL", &c.LogLevel)
	l.duration("DAQBUF_TIMEOUT", &c.DaqbufTimeout)
	l.count("DAQBUF_MAX_CONNS", &c.DaqbufMaxConns)
	l.boolean("DEMO", &c.Demo)
	pollMinOK := set(&l, "STREAM_POLL_MIN", &c.StreamPollMin, parseDuration)
	pollMaxOK := set(&l, "STREAM_POLL_MAX", &c.StreamPollMax, parseDuration)
	l.count("STREAM_MAX_SUBSCRIPTIONS", &c.StreamMaxSubscriptions)
	l.duration("STREAM_LINGER", &c.StreamLinger)
	l.duration("STREAM_HISTORY", &c.StreamHistory)
	l.duration("STREAM_WRITE_TIMEOUT", &c.StreamWriteTimeout)
	l.bytes("STREAM_SEND_QUEUE_BYTES", &c.StreamSendQueueBytes)

	// Checks across variables run only when each side is valid on its own, so one bad value
	// yields one message.
	if thresholdOK && targetOK && c.DashboardTargetUtilization >= c.DashboardEvictionThreshold {
		l.fail(fmt.Errorf("DASHBOARD_TARGET_UTILIZATION: %v must be below DASHBOARD_EVICTION_THRESHOLD (%v), "+
			"or eviction would never free anything", c.DashboardTargetUtilization, c.DashboardEvictionThreshold))
	}
	if singleOK && totalOK && c.DashboardMaxSingleBytes > c.DashboardMaxTotalStorageBytes {
		l.fail(fmt.Errorf("DASHBOARD_MAX_SINGLE_BYTES: %d is larger than DASHBOARD_MAX_TOTAL_STORAGE_BYTES (%d)",
			c.DashboardMaxSingleBytes, c.DashboardMaxTotalStorageBytes))
	}
	if pollMinOK && pollMaxOK && c.StreamPollMax < c.StreamPollMin {
		l.fail(fmt.Errorf("STREAM_POLL_MAX: %v is below STREAM_POLL_MIN (%v)", c.StreamPollMax, c.StreamPollMin))
	}
	if c.MaintenanceListenAddr != "" && c.MaintenanceListenAddr == c.ListenAddr {
		l.fail(fmt.Errorf("MAINTENANCE_LISTEN_ADDR: %q is the same as LISTEN_ADDR; leave it empty to serve "+
			"maintenance routes on the main port", c.MaintenanceListenAddr))
	}
	if c.DebugListenAddr != "" && (c.DebugListenAddr == c.ListenAddr || c.DebugListenAddr == c.MaintenanceListenAddr) {
		l.fail(fmt.Errorf("DEBUG_LISTEN_ADDR: %q is already LISTEN_ADDR or MAINTENANCE_LISTEN_ADDR; profiles get "+
			"an address of their own", c.DebugListenAddr))
	}
	return c, errors.Join(l.errs...)
}

// loader reads one variable at a time and collects the errors instead of stopping at the first.
type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) fail(err error) { l.errs = append(l.errs, err) }

// lookup returns the raw value and whether it is set; empty counts as unset, as in the old backend.
func (l *loader) lookup(name string) (string, bool) {
	v := l.getenv(name)
	return v, v != ""
}

// set parses the variable with parse and stores the result in dst. It reports whether the final
// value (parsed or default) is valid.
func set[T any](l *loader, name string, dst *T, parse func(string) (T, error)) bool {
	raw, ok := l.lookup(name)
	if !ok {
		return true
	}
	v, err := parse(raw)
	if err != nil {
		l.fail(fmt.Errorf("%s: %w", name, err))
		return false
	}
	*dst = v
	return true
}

func (l *loader) str(name string, dst *string, check func(string) error) {
	set(l, name, dst, func(s string) (string, error) {
		if check != nil {
			if err := check(s); err != nil {
				return "", err
			}
		}
		return s, nil
	})
}

func (l *loader) normalized(name string, dst *string, normalize func(string) (string, error)) {
	set(l, name, dst, normalize)
}

func (l *loader) boolean(name string, dst *bool) { set(l, name, dst, parseBool) }

func (l *loader) bytes(name string, dst *int64) bool { return set(l, name, dst, parseBytes) }

func (l *loader) fraction(name string, dst *float64) bool { return set(l, name, dst, parseFraction) }

func (l *loader) port(name string, dst *int) { set(l, name, dst, parsePort) }

func (l *loader) count(name string, dst *int) { set(l, name, dst, parsePositiveInt) }

func (l *loader) duration(name string, dst *time.Duration) { set(l, name, dst, parseDuration) }

func (l *loader) logFormat(name string, dst *LogFormat) { set(l, name, dst, parseLogFormat) }

func (l *loader) logLevel(name string, dst *slog.Level) { set(l, name, dst, parseLogLevel) }
