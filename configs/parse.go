package configs

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Each parser returns an error that starts with the offending value (quoted, secrets masked);
// the loader puts the variable's name in front of it.

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use 1, true, yes, on or 0, false, no, off)", s)
}

// byteUnits are the suffixes parseBytes accepts, matched case-insensitively.
var byteUnits = []struct {
	suffix string
	size   int64
}{
	{"kib", KiB}, {"mib", MiB}, {"gib", GiB}, {"tib", 1 << 40}, {"b", 1},
}

// parseBytes accepts a positive integer number of bytes, optionally with a binary unit
// ("10485760", "10MiB", "10 MiB").
func parseBytes(s string) (int64, error) {
	num, unit := strings.TrimSpace(s), int64(1)
	lower := strings.ToLower(num)
	for _, u := range byteUnits {
		if strings.HasSuffix(lower, u.suffix) {
			num, unit = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return 0, fmt.Errorf("%q is not a byte count (an integer, optionally followed by KiB, MiB, GiB or TiB)", s)
	}
	if n <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	if n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * unit, nil
}

// parseFraction accepts a number in (0, 1].
func parseFraction(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if !(f > 0 && f <= 1) { // also rejects NaN
		return 0, fmt.Errorf("%q is out of range: must be above 0 and at most 1", s)
	}
	return f, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is out of range: a port is 1..65535", s)
	}
	return n, nil
}

func parsePositiveInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	if n < 1 {
		return 0, fmt.Errorf("%q must be at least 1", s)
	}
	return n, nil
}

// parseDuration accepts a positive Go duration. A bare number is refused rather than guessed:
// seconds or milliseconds would both be plausible.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write it with a unit, e.g. \"90s\", \"30m\", \"1h\")", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}

func parseLogFormat(s string) (LogFormat, error) {
	switch f := LogFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case LogFormatAuto, LogFormatJSON, LogFormatText:
		return f, nil
	}
	return "", fmt.Errorf("%q is not a log format (auto, json or text)", s)
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	// UnmarshalText is case-insensitive and also takes offsets such as "debug-4".
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("%q is not a log level (debug, info, warn or error)", s)
	}
	return l, nil
}

// checkHost accepts a DNS name or an IP address, without port or scheme.
func checkHost(s string) error {
	if net.ParseIP(s) != nil {
		return nil
	}
	if strings.ContainsAny(s, ":/?#@[] \t\r\n") {
		return fmt.Errorf("%q is not a host name or IP address (no scheme or port: use MONGO_PORT or MONGO_URI)", s)
	}
	return nil
}

// checkDBName applies MongoDB's rules for database names.
func checkDBName(s string) error {
	if len(s) > 63 || strings.ContainsAny(s, "/\\. \"$*<>:|?\x00") {
		return fmt.Errorf("%q is not a MongoDB database name (at most 63 bytes, none of /\\. \"$*<>:|?)", s)
	}
	return nil
}

// normalizeRootPath returns the path with one leading "/" and no trailing "/" ("/" stays "/").
func normalizeRootPath(s string) (string, error) {
	p := strings.TrimSpace(s)
	if strings.ContainsAny(p, "?# \t\r\n") || strings.Contains(p, "://") {
		return "", fmt.Errorf("%q is not a URL path (e.g. \"/\" or \"/api\")", s)
	}
	p = "/" + strings.Trim(p, "/")
	return p, nil
}

// normalizeHTTPURL accepts an absolute http(s) URL without query or fragment and drops a trailing
// "/", since paths such as "/events" are appended to it.
func normalizeHTTPURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", redactURL(s), urlCause(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL (e.g. \"https://data-api.psi.ch/api/4\")", redactURL(s))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must not have a query or fragment", redactURL(s))
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// checkSchemaPath accepts an http(s) URL or any file-system path.
func checkSchemaPath(s string) error {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("%q is not a URL: %w", redactURL(s), urlCause(err))
		}
		if u.Host == "" {
			return fmt.Errorf("%q has no host", redactURL(s))
		}
	}
	return nil
}

// checkMongoURI checks the shape of a MongoDB connection string. It does not use net/url, which
// refuses MongoDB's comma-separated host lists such as "h1:27017,[::1]:27018".
func checkMongoURI(s string) error {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "mongodb" && scheme != "mongodb+srv") {
		return fmt.Errorf("%q is not a mongodb:// or mongodb+srv:// URL", redactURL(s))
	}
	authority, _, _ := strings.Cut(rest, "/")
	authority, _, _ = strings.Cut(authority, "?")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = authority[at+1:]
	}
	if authority == "" {
		return fmt.Errorf("%q has no host", redactURL(s))
	}
	hosts := strings.Split(authority, ",")
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, " \t\r\n") {
			return fmt.Errorf("%q has an empty or malformed host in %q", redactURL(s), authority)
		}
		if err := checkMongoHostPort(h); err != nil {
			return fmt.Errorf("%q has a bad %w", redactURL(s), err)
		}
	}
	if scheme == "mongodb+srv" && (len(hosts) != 1 || strings.Contains(hosts[0], ":")) {
		return fmt.Errorf("%q is not valid: mongodb+srv:// takes exactly one host name and no port", redactURL(s))
	}
	return nil
}

// checkMongoHostPort checks one host of a MongoDB host list: host, host:port, [v6] or [v6]:port, with
// a port that is a number in 1..65535, as REDIS_URL's is checked (the driver would only fail at connect).
func checkMongoHostPort(h string) error {
	port := ""
	if strings.HasPrefix(h, "[") {
		end := strings.Index(h, "]")
		if end < 0 {
			return fmt.Errorf("host %q lacks its closing ]", h)
		}
		rest := h[end+1:]
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return fmt.Errorf("host %q has text after ]", h)
		}
		if rest == "" {
			return nil
		}
		port = rest[1:]
	} else if i := strings.LastIndex(h, ":"); i >= 0 {
		if strings.Contains(h[:i], ":") {
			return fmt.Errorf("host %q: an IPv6 address goes in brackets", h)
		}
		port = h[i+1:]
	} else {
		return nil
	}
	if _, err := parsePort(port); err != nil {
		return fmt.Errorf("host %q: port %w", h, err)
	}
	return nil
}

func checkRedisURL(s string) error {
	var err error
	switch RedisTopologyOf(s) {
	case RedisSentinel:
		_, err = redis.ParseFailoverURL(s)
	case RedisCluster:
		_, err = redis.ParseClusterURL(s)
	default:
		_, err = redis.ParseURL(s)
	}
	if err != nil {
		return fmt.Errorf("%q is not a Redis URL (redis://[user:password@]host:port/db): %w", redactURL(s), urlCause(err))
	}
	return nil
}

// RedisTopology is how REDIS_URL's servers are organised.
type RedisTopology int

// The topologies REDIS_URL can name.
const (
	RedisSingle   RedisTopology = iota // redis://host:port/db
	RedisSentinel                      // a master_name query parameter: Sentinel addresses (host and addr=...)
	RedisCluster                       // several nodes (addr= query parameters) without master_name
)

// RedisTopologyOf tells which go-redis client REDIS_URL asks for.
func RedisTopologyOf(s string) RedisTopology {
	u, err := url.Parse(s)
	if err != nil {
		return RedisSingle
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		return RedisSentinel
	case q.Has("addr"):
		return RedisCluster
	}
	return RedisSingle
}

// checkKeyPrefix accepts a non-empty prefix without glob characters (flushes SCAN by prefix + "*").
func checkKeyPrefix(s string) error {
	if s == "" || strings.ContainsAny(s, "*?[]\\ ") || len(s) > 100 {
		return fmt.Errorf("%q must be 1-100 characters without spaces or * ? [ ] \\", s)
	}
	return nil
}

// normalizeOrigins reads a comma-separated list of web origins, scheme://host[:port] as a browser sends
// them in Origin (no path, no trailing slash, http or https), and writes it back lower-cased (as
// browsers send them) without spaces or empty items.
func normalizeOrigins(s string) (string, error) {
	var out []string
	for o := range strings.SplitSeq(s, ",") {
		o = strings.ToLower(strings.TrimSpace(o))
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(u.Host, "*?[\\") {
			return "", fmt.Errorf("%q has %q, which is not an origin (scheme://host[:port], e.g. \"https://board.example.org\")", s, o)
		}
		out = append(out, o)
	}
	return strings.Join(out, ","), nil
}

// checkListenAddr accepts host:port with a numeric port; the host may be empty (all interfaces).
func checkListenAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err != nil {
		return fmt.Errorf("%q is not a host:port listen address (e.g. \":8080\" or \"127.0.0.1:8080\")", s)
	}
	return nil
}

// urlCause drops the URL from a *url.Error: it would print the password we are hiding.
func urlCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
