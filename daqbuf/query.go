package daqbuf

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mode is a response mode of /events and /binned, chosen with the Accept header (docs/daqbuf.md §5.1).
type Mode uint8

// Response modes. ModeDefault is CBOR-framed for events and JSON-framed for binned, the modes the
// reference client uses (docs/daqbuf.md §5.5).
const (
	ModeDefault    Mode = iota
	ModeCBOR            // application/cbor-framed
	ModeJSONFramed      // application/json-framed
	ModeJSON            // application/json: one object, size and time limited by data-api
)

func (m Mode) String() string {
	switch m {
	case ModeCBOR:
		return "cbor-framed"
	case ModeJSONFramed:
		return "json-framed"
	case ModeJSON:
		return "json"
	}
	return "default"
}

func (m Mode) accept() string {
	switch m {
	case ModeCBOR:
		return "application/cbor-framed"
	case ModeJSONFramed:
		return "application/json-framed"
	}
	return "application/json"
}

// modeOf picks the decoder from the response's Content-Type, which says what data-api actually
// sent; the requested mode is the fallback when the header is missing or unknown.
func modeOf(contentType string, requested Mode) Mode {
	ct := strings.ToLower(contentType)
	switch {
	case strings.Contains(ct, "cbor-framed"):
		return ModeCBOR
	case strings.Contains(ct, "json-framed"):
		return ModeJSONFramed
	case strings.Contains(ct, "application/json"):
		return ModeJSON
	}
	return requested
}

// EventsQuery asks /events for the raw events of one channel in [Range.Beg, Range.End).
type EventsQuery struct {
	Channel ChannelRef
	Range   Range
	// OneBeforeRange also returns the last event before Range.Beg.
	OneBeforeRange bool
	// BegExcl makes Range.Beg exclusive.
	BegExcl bool
	// Mode is the response mode; ModeDefault means CBOR-framed.
	Mode Mode
	// ValueType is the channel's scalar type when the caller knows it ("f64", "f32", "u64", "enum",
	// ...). JSON numbers alone cannot tell a float channel with integral values from an integer one,
	// nor f32 text from f64: the hint keeps them in the right column. CBOR frames carry the type.
	ValueType string
}

// BinnedQuery asks /binned for time bins of one channel over Range. Give BinCount (at least this
// many bins, docs/daqbuf.md §7.2) or BinWidth (snapped to the grid with SnapWidth before it is sent, so
// that the proxy's re-formatting cannot change it, §7.3), not both; neither means data-api's default
// of 20 bins.
type BinnedQuery struct {
	Channel  ChannelRef
	Range    Range
	BinCount int
	BinWidth time.Duration
	// Mode is the response mode; ModeDefault means JSON-framed.
	Mode Mode
}

// FormatDate formats ns since the epoch as data-api's preferred begDate/endDate form,
// YYYY-MM-DDTHH:MM:SS.fffffffffZ (docs/daqbuf.md §9.5).
func FormatDate(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("daqbuf: invalid query: %s: %w", fmt.Sprintf(format, args...), ErrBadRequest)
}

func channelParams(v url.Values, ch ChannelRef) error {
	if ch.Backend == "" {
		return invalid("backend is required")
	}
	v.Set("backend", ch.Backend)
	switch {
	case ch.SeriesID != 0:
		v.Set("seriesId", strconv.FormatUint(ch.SeriesID, 10))
	case ch.Name != "":
		v.Set("channelName", ch.Name)
	default:
		return invalid("channel name or series id is required")
	}
	return nil
}

func rangeParams(v url.Values, r Range) error {
	if r.End <= r.Beg {
		return invalid("empty time range [%d, %d)", r.Beg, r.End)
	}
	v.Set("begDate", FormatDate(r.Beg))
	v.Set("endDate", FormatDate(r.End))
	return nil
}

func (q EventsQuery) params() (url.Values, error) {
	v := url.Values{}
	if err := channelParams(v, q.Channel); err != nil {
		return nil, err
	}
	if err := rangeParams(v, q.Range); err != nil {
		return nil, err
	}
	if q.OneBeforeRange {
		v.Set("oneBeforeRange", "true")
	}
	if q.BegExcl {
		v.Set("begExcl", "true")
	}
	return v, nil
}

func (q BinnedQuery) params() (url.Values, error) {
	v := url.Values{}
	if err := channelParams(v, q.Channel); err != nil {
		return nil, err
	}
	if err := rangeParams(v, q.Range); err != nil {
		return nil, err
	}
	switch {
	case q.BinCount < 0 || q.BinWidth < 0:
		return nil, invalid("negative bin count or width")
	case q.BinCount > 0 && q.BinWidth > 0:
		return nil, invalid("give binCount or binWidth, not both")
	case q.BinCount > 0:
		v.Set("binCount", strconv.Itoa(q.BinCount))
	case q.BinWidth > 0:
		v.Set("binWidth", FormatWidth(SnapWidth(q.BinWidth)))
	}
	return v, nil
}

// FormatWidth writes a duration in data-api's humantime syntax using the largest unit that holds it
// exactly ("5m", "64d", "20ms"); sub-millisecond parts are dropped, as data-api does (§7.3).
func FormatWidth(d time.Duration) string {
	ms := int64(d / time.Millisecond)
	for _, u := range []struct {
		ms   int64
		unit string
	}{{86_400_000, "d"}, {3_600_000, "h"}, {60_000, "m"}, {1000, "s"}} {
		if ms != 0 && ms%u.ms == 0 {
			return strconv.FormatInt(ms/u.ms, 10) + u.unit
		}
	}
	return strconv.FormatInt(ms, 10) + "ms"
}
