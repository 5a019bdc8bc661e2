package sim

import (
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

var (
	errMalformed       = errors.New("malformed request or missing parameters")
	errUnknownBackend  = errors.New("backend not configured")
	errChannelNotFound = errors.New("channel not found")
)

// maxTime is the latest instant representable as int64 ns; later dates are clamped to it.
func maxTime() time.Time { return time.Unix(0, math.MaxInt64) }

// parseRange reads [beg, end) from begDate/endDate (preferred) or begNs/endNs (docs/daqbuf.md §1.4).
func parseRange(q url.Values, now int64) (beg, end int64, err error) {
	if q.Has("begDate") || q.Has("endDate") {
		if beg, err = parseDate(q.Get("begDate"), now); err != nil {
			return 0, 0, err
		}
		if end, err = parseDate(q.Get("endDate"), now); err != nil {
			return 0, 0, err
		}
		return beg, end, nil
	}
	if beg, err = parseNs(q.Get("begNs")); err != nil {
		return 0, 0, err
	}
	if end, err = parseNs(q.Get("endNs")); err != nil {
		return 0, 0, err
	}
	return beg, end, nil
}

func parseNs(s string) (int64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errMalformed
	}
	return int64(min(v, math.MaxInt64)), nil
}

// parseDate accepts chrono's relaxed RFC 3339 (space or T, up to 9 fraction digits, Z/UTC/±hh:mm/
// ±hhmm zone; a zone is mandatory) and relative "<humantime> ago" values.
func parseDate(s string, now int64) (int64, error) {
	s = strings.TrimSpace(s)
	if rel, ok := strings.CutSuffix(s, "ago"); ok {
		d, err := parseHumantime(rel)
		if err != nil || int64(d) > now {
			return 0, errMalformed
		}
		return now - int64(d), nil
	}
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return 0, errMalformed
	}
	num := func(a, b int) int {
		n, err := strconv.Atoi(s[a:b])
		if err != nil || s[a] == '+' || s[a] == '-' {
			return -1
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hh, mm, ss := num(11, 13), num(14, 16), num(17, 19)
	if year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 {
		return 0, errMalformed
	}
	rest := s[19:]
	var nanos int
	if strings.HasPrefix(rest, ".") {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		frac := rest[1:i]
		if frac == "" {
			return 0, errMalformed
		}
		if len(frac) > 9 {
			frac = frac[:9] // finer than ns: truncated
		}
		nanos, _ = strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
		rest = rest[i:]
	}
	offset, ok := parseZone(strings.TrimLeft(rest, " "))
	if !ok {
		return 0, errMalformed
	}
	t := time.Date(year, time.Month(month), day, hh, mm, ss, nanos, time.UTC)
	if t.Day() != day { // 31 February and the like
		return 0, errMalformed
	}
	t = t.Add(-time.Duration(offset) * time.Second)
	if t.Before(time.Unix(0, 0)) {
		return 0, errMalformed
	}
	if t.After(maxTime()) {
		return math.MaxInt64, nil
	}
	return t.UnixNano(), nil
}

// parseZone returns the zone offset east of UTC in seconds.
func parseZone(z string) (int, bool) {
	switch z {
	case "Z", "z", "UTC":
		return 0, true
	case "":
		return 0, false
	}
	sign := 1
	switch z[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, false
	}
	z = strings.Replace(z[1:], ":", "", 1)
	if len(z) != 4 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(z[:2])
	mm, err2 := strconv.Atoi(z[2:])
	if err1 != nil || err2 != nil || hh > 23 || mm > 59 || z[0] == '+' || z[0] == '-' {
		return 0, false
	}
	return sign * (hh*3600 + mm*60), true
}

// resolveChannel finds the catalogue entry addressed by backend and seriesId or channelName.
// seriesId wins when both are given.
func (s *Sim) resolveChannel(q url.Values) (backend string, idx int, err error) {
	backend = q.Get("backend")
	if backend == "" {
		return "", -1, errMalformed
	}
	if !s.cat.hasBackend(backend) {
		return backend, -1, errUnknownBackend
	}
	if sid := q.Get("seriesId"); sid != "" {
		id, err := strconv.ParseUint(sid, 10, 64)
		if err != nil {
			return backend, -1, errMalformed
		}
		if idx = s.cat.indexByID(backend, id); idx < 0 {
			return backend, -1, errChannelNotFound
		}
		return backend, idx, nil
	}
	name := q.Get("channelName")
	if name == "" {
		return backend, -1, errMalformed
	}
	if idx = s.cat.index(name); idx < 0 {
		return backend, -1, errChannelNotFound
	}
	return backend, idx, nil
}

// boolParam reads a true/false query flag.
func boolParam(q url.Values, name string) bool {
	v, _ := strconv.ParseBool(q.Get(name))
	return v
}

// responseMode is the output format chosen by the Accept header.
type responseMode uint8

const (
	modeJSON responseMode = iota
	modeJSONFramed
	modeCBORFramed
	modeUnsupported
)

// acceptMode applies data-api's substring test (§1.2): cbor-framed beats json-framed beats plain
// JSON; no Accept means plain JSON.
func acceptMode(accept string) responseMode {
	switch {
	case accept == "":
		return modeJSON
	case strings.Contains(accept, "application/cbor-framed"):
		return modeCBORFramed
	case strings.Contains(accept, "application/json-framed"):
		return modeJSONFramed
	case strings.Contains(accept, "application/json"), strings.Contains(accept, "*/*"):
		return modeJSON
	}
	return modeUnsupported
}
