package sim

import (
	"errors"
	"strings"
	"time"
)

// gridWidths are data-api's allowed bin widths (docs/daqbuf.md §7.1), ascending. A function returning an
// array keeps the table immutable.
func gridWidths() [26]int64 {
	const ms, s, m, h, d = int64(time.Millisecond), int64(time.Second), int64(time.Minute), int64(time.Hour), 24 * int64(time.Hour)
	return [26]int64{
		20 * ms, 50 * ms, 100 * ms, 200 * ms, 500 * ms,
		1 * s, 2 * s, 5 * s, 10 * s, 20 * s,
		1 * m, 2 * m, 5 * m, 10 * m, 20 * m,
		1 * h, 2 * h, 4 * h, 12 * h,
		1 * d, 2 * d, 4 * d, 8 * d, 16 * d, 32 * d, 64 * d,
	}
}

var (
	errBothBinParams = errors.New("binCount and binWidth are mutually exclusive")
	errBinCount      = errors.New("binCount must be at least 1")
	errEmptyRange    = errors.New("range too short for the requested bins")
)

// defaultBinCount is data-api's bin count when neither binCount nor binWidth is given.
const defaultBinCount = 20

// widthForCount picks the bin width for binCount n over [beg, end) (§7.2): the largest grid width
// not above (end−beg)/n, or exactly that length when it is below the smallest grid width.
func widthForCount(beg, end int64, n int) (int64, error) {
	if n < 1 {
		return 0, errBinCount
	}
	l := (end - beg) / int64(n)
	if l <= 0 {
		return 0, errEmptyRange
	}
	w := l
	for _, g := range gridWidths() {
		if g <= l {
			w = g
		}
	}
	return w, nil
}

// widthForDuration snaps a requested width to the grid (§7.3): clamp to [20ms, 64d] after dropping
// the sub-millisecond part; an exact grid value is kept; otherwise round up to the next grid value
// unless that is at least twice the request, then round down.
func widthForDuration(d time.Duration) int64 {
	v := int64(d.Truncate(time.Millisecond))
	g := gridWidths()
	if v <= g[0] {
		return g[0]
	}
	if v >= g[len(g)-1] {
		return g[len(g)-1]
	}
	for i := 1; i < len(g); i++ {
		if v == g[i] {
			return v
		}
		if v < g[i] {
			if g[i] >= 2*v {
				return g[i-1]
			}
			return g[i]
		}
	}
	return g[len(g)-1]
}

// chooseWidth applies data-api's rules to the binned parameters; binCount 0 and binWidth 0 mean
// "absent".
func chooseWidth(beg, end int64, binCount int, binWidth time.Duration) (int64, error) {
	switch {
	case binCount != 0 && binWidth != 0:
		return 0, errBothBinParams
	case binWidth > 0:
		return widthForDuration(binWidth), nil
	case binCount == 0:
		return widthForCount(beg, end, defaultBinCount)
	default:
		return widthForCount(beg, end, binCount)
	}
}

// floorTo rounds t down to a multiple of w (t ≥ 0 in practice; negative t rounds toward −∞).
func floorTo(t, w int64) int64 {
	q := t / w
	if t%w != 0 && t < 0 {
		q--
	}
	return q * w
}

// parseHumantime parses a duration in humantime syntax: one or more "<integer><unit>" parts,
// optionally separated by spaces ("500ms", "2min", "1h 30m"). A bare number is an error.
func parseHumantime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var total int64
	for len(s) > 0 {
		i := 0
		var n int64
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if n > (1<<63-1-int64(s[i]-'0'))/10 {
				return 0, errors.New("duration overflows")
			}
			n = n*10 + int64(s[i]-'0')
			i++
		}
		if i == 0 {
			return 0, errors.New("duration part without number")
		}
		s = strings.TrimLeft(s[i:], " ")
		j := 0
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 0x80) {
			j++
		}
		unit, ok := humanUnit(s[:j])
		if !ok {
			return 0, errors.New("unknown or missing duration unit " + `"` + s[:j] + `"`)
		}
		if n != 0 && unit > (1<<63-1)/n || total > 1<<63-1-n*unit {
			return 0, errors.New("duration overflows")
		}
		total += n * unit
		s = strings.TrimLeft(s[j:], " ")
	}
	return time.Duration(total), nil
}

// humanUnit maps humantime's unit names to nanoseconds (months and years as humantime defines them).
func humanUnit(u string) (int64, bool) {
	const day = 24 * int64(time.Hour)
	switch u {
	case "nsec", "ns":
		return 1, true
	case "usec", "us", "µs":
		return int64(time.Microsecond), true
	case "msec", "ms":
		return int64(time.Millisecond), true
	case "seconds", "second", "secs", "sec", "s":
		return int64(time.Second), true
	case "minutes", "minute", "mins", "min", "m":
		return int64(time.Minute), true
	case "hours", "hour", "hrs", "hr", "h":
		return int64(time.Hour), true
	case "days", "day", "d":
		return day, true
	case "weeks", "week", "w":
		return 7 * day, true
	case "months", "month", "M":
		return 2_630_016 * int64(time.Second), true
	case "years", "year", "y":
		return 31_557_600 * int64(time.Second), true
	}
	return 0, false
}
