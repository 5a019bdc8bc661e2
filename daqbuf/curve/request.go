package curve

import (
	"strconv"
	"strings"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

// Request is a /channels/curve request in the contract's terms: times in ms since the epoch.
type Request struct {
	Name        string // channel_name exactly as sent: a name, or a series id written in digits
	Backend     string
	BeginMs     int64
	EndMs       int64
	NumBins     int64 // 0 or less: raw events
	RawIfSparse bool  // useEventsIfBinCountTooLarge
	RemoveEmpty bool  // removeEmptyBins
	IsString    *bool // nil: from the channel's type
}

// Query is a Request resolved against the channel list and checked: ready to fetch.
type Query struct {
	Request
	Channel  daqbuf.Channel // what is known of the channel (only the series id for an unknown one)
	IsString bool
	// Empty: the window is empty or lies wholly in the future (EndMs was clamped to now); its answer
	// has no points and needs no data-api call.
	Empty bool
}

// Ref is the channel as data-api is asked for it.
func (q Query) Ref() daqbuf.ChannelRef {
	return daqbuf.ChannelRef{Backend: q.Backend, Name: q.Channel.Name, SeriesID: q.Channel.SeriesID}
}

// Range is the window in ns.
func (q Query) Range() daqbuf.Range {
	return daqbuf.Range{Beg: q.BeginMs * int64(time.Millisecond), End: q.EndMs * int64(time.Millisecond)}
}

// Key names the answer of q: everything that shapes it, the channel_name exactly as sent included (it
// names the output maps). Parts are length-prefixed, so no separator can be forged by a name.
func (q Query) Key() string {
	var b strings.Builder
	ref := q.Ref()
	b.Grow(96 + len(q.Name) + len(ref.Name))
	for _, part := range []string{"ans", ref.Backend, ref.Name, strconv.FormatUint(ref.SeriesID, 10), q.Name,
		strconv.FormatInt(q.BeginMs, 10), strconv.FormatInt(q.EndMs, 10), strconv.FormatInt(q.NumBins, 10),
		strconv.FormatBool(q.RawIfSparse), strconv.FormatBool(q.RemoveEmpty), strconv.FormatBool(q.IsString)} {
		b.WriteString(strconv.Itoa(len(part)))
		b.WriteByte(':')
		b.WriteString(part)
	}
	return b.String()
}

// SettleTime is how long after its end a point of q's answer may still change: the longer of settle
// and two bins of the width data-api picks for the window (docs/daqbuf.md §7).
func (q Query) SettleTime(settle time.Duration) time.Duration {
	if q.NumBins > 0 {
		if w := daqbuf.WidthForCount(q.Range(), int(q.NumBins)); w > 0 {
			settle = max(settle, time.Duration(2*w))
		}
	}
	return settle
}

// LastEnd is where the answer's data may end in ns: the window's end for raw events, the end of the
// last bin on data-api's grid (up to one bin later) for bins.
func (q Query) LastEnd() int64 {
	rng := q.Range()
	if q.NumBins > 0 {
		if w := daqbuf.WidthForCount(rng, int(q.NumBins)); w > 0 {
			return daqbuf.GridRange(rng, w).End
		}
	}
	return rng.End
}

// Settled says whether q's answer is final at now, when the source may serve copies of the open tail
// up to tailAge old: its last point ended before now − SettleTime − tailAge.
func (q Query) Settled(now time.Time, settle, tailAge time.Duration) bool {
	return q.LastEnd() <= now.Add(-q.SettleTime(settle)-tailAge).UnixNano()
}

// isDigits says whether s is a non-empty run of ASCII digits (a channel_name that is a series id).
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsSeriesID says whether a channel_name is a series id rather than a name.
func IsSeriesID(name string) bool { return isDigits(name) }
