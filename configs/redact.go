package configs

import (
	"log/slog"
	"strconv"
	"strings"
)

// redactedMark replaces a secret in printed configuration and error messages.
const redactedMark = "xxxxx"

// Setting is one variable and its effective value, written the way Load reads it back.
type Setting struct {
	Name  string
	Value string
}

// Redacted returns a copy safe to print: the maintenance token and any password or token inside
// MONGO_URI, REDIS_URL, SCHEMA_PATH and DAQBUF_DEFAULT_URL are replaced by "xxxxx".
func (c Config) Redacted() Config {
	if c.MaintenanceToken != "" {
		c.MaintenanceToken = redactedMark
	}
	c.MongoURI = redactURL(c.MongoURI)
	c.RedisURL = redactURL(c.RedisURL)
	c.SchemaPath = redactURL(c.SchemaPath)
	c.DaqbufDefaultURL = redactURL(c.DaqbufDefaultURL)
	return c
}

// Settings lists every variable with its effective value, in documentation order, secrets
// redacted. Feeding the values (unredacted) back to Load yields the same Config.
func (c Config) Settings() []Setting { return c.Redacted().settings() }

// LogValue makes slog print the redacted settings as a group, so a logged Config never leaks
// secrets.
func (c Config) LogValue() slog.Value {
	s := c.Settings()
	attrs := make([]slog.Attr, len(s))
	for i, v := range s {
		attrs[i] = slog.String(v.Name, v.Value)
	}
	return slog.GroupValue(attrs...)
}

// String prints the redacted settings as NAME=value pairs, so fmt's %v is safe too.
func (c Config) String() string {
	var b strings.Builder
	for i, s := range c.Settings() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(s.Value))
	}
	return b.String()
}

// settings lists the values as they are, secrets included.
func (c Config) settings() []Setting {
	b := strconv.FormatBool
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return []Setting{
		{"SCHEMA_PATH", c.SchemaPath},
		{"VALIDATE_DASHBOARD_SCHEMA", b(c.ValidateDashboardSchema)},
		{"VALIDATE_DASHBOARD_SIZE", b(c.ValidateDashboardSize)},
		{"DASHBOARD_MAX_SINGLE_BYTES", i(c.DashboardMaxSingleBytes)},
		{"DASHBOARD_MAX_TOTAL_STORAGE_BYTES", i(c.DashboardMaxTotalStorageBytes)},
		{"DASHBOARD_EVICTION_THRESHOLD", f(c.DashboardEvictionThreshold)},
		{"DASHBOARD_TARGET_UTILIZATION", f(c.DashboardTargetUtilization)},
		{"MONGO_HOST", c.MongoHost},
		{"MONGO_PORT", strconv.Itoa(c.MongoPort)},
		{"MONGO_DB_NAME", c.MongoDBName},
		{"ROOT_PATH", c.RootPath},
		{"DAQBUF_DEFAULT_URL", c.DaqbufDefaultURL},
		{"MONGO_URI", c.MongoURI},
		{"REDIS_URL", c.RedisURL},
		{"REDIS_KEY_PREFIX", c.RedisKeyPrefix},
		{"CURVE_CACHE", b(c.CurveCache)},
		{"LISTEN_ADDR", c.ListenAddr},
		{"DATA_DIR", c.DataDir},
		{"CHANNEL_REFRESH_INTERVAL", c.ChannelRefreshInterval.String()},
		{"CACHE_MAX_BYTES", i(c.CacheMaxBytes)},
		{"CACHE_NEAR_MAX_BYTES", i(c.CacheNearMaxBytes)},
		{"ANSWER_CACHE_MAX_BYTES", i(c.AnswerCacheMaxBytes)},
		{"FRAGMENT_CACHE_MAX_BYTES", i(c.FragmentCacheMaxBytes)},
		{"DASHBOARD_CACHE_MAX_BYTES", i(c.DashboardCacheMaxBytes)},
		{"MAINTENANCE_TOKEN", c.MaintenanceToken},
		{"MAINTENANCE_LISTEN_ADDR", c.MaintenanceListenAddr},
		{"DEBUG_LISTEN_ADDR", c.DebugListenAddr},
		{"CORS_ALLOW_ORIGINS", c.CORSAllowOrigins},
		{"LOG_FORMAT", string(c.LogFormat)},
		{"LOG_LEVEL", c.LogLevel.String()},
		{"DAQBUF_TIMEOUT", c.DaqbufTimeout.String()},
		{"DAQBUF_MAX_CONNS", strconv.Itoa(c.DaqbufMaxConns)},
		{"DEMO", b(c.Demo)},
		{"STREAM_POLL_MIN", c.StreamPollMin.String()},
		{"STREAM_POLL_MAX", c.StreamPollMax.String()},
		{"STREAM_MAX_SUBSCRIPTIONS", strconv.Itoa(c.StreamMaxSubscriptions)},
		{"STREAM_LINGER", c.StreamLinger.String()},
		{"STREAM_HISTORY", c.StreamHistory.String()},
		{"STREAM_WRITE_TIMEOUT", c.StreamWriteTimeout.String()},
		{"STREAM_SEND_QUEUE_BYTES", i(c.StreamSendQueueBytes)},
	}
}

// secretQueryKeys are substrings of URL query keys whose values are hidden, e.g. MongoDB's
// authMechanismProperties (which can carry an AWS session token).
var secretQueryKeys = []string{"pass", "secret", "token", "key", "authmechanismproperties"}

// redactURL hides the password of a URL's user info and secret-looking query values. It works on
// the text rather than through net/url so that it also masks strings net/url refuses (MongoDB host
// lists, malformed input in error messages). Strings without "://" are returned unchanged.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	// The last "@" ends the user info; a password with an unescaped "@" or "/" is still covered.
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
			rest = user + ":" + redactedMark + rest[at:]
		}
	}
	if base, query, hasQuery := strings.Cut(rest, "?"); hasQuery {
		params := strings.Split(query, "&")
		for i, p := range params {
			key, _, hasValue := strings.Cut(p, "=")
			if hasValue && isSecretKey(key) {
				params[i] = key + "=" + redactedMark
			}
		}
		rest = base + "?" + strings.Join(params, "&")
	}
	return scheme + "://" + rest
}

func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range secretQueryKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
