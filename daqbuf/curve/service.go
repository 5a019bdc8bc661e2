package curve

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

// Status says where the data of an answer came from (the HTTP API's X-Cache header).
type Status string

// Statuses of an answer.
const (
	StatusHit     Status = "hit"     // every chunk from the cache: no data-api call
	StatusPartial Status = "partial" // some chunks from the cache, the rest fetched
	StatusMiss    Status = "miss"    // no chunk from the cache (or a request the cache does not chunk)
	StatusStale   Status = "stale"   // data-api failed; stale copies of the failed chunks were served
)

// Combine is the status of an answer built from two reads.
func Combine(a, b Status) Status {
	switch {
	case a == StatusStale || b == StatusStale:
		return StatusStale
	case a == b:
		return a
	}
	return StatusPartial
}

// Source yields the decoded data of one data-api query: straight from data-api, or through the curve
// cache. The batches belong to the caller.
type Source interface {
	Bins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, Status, error)
	Events(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, Status, error)
}

// FragmentSource is a Source that can also hand over binned data as fragments: pieces of the answer
// already encoded (AppendFragment), cut to the bins of q. Writing an answer from them is mostly copying.
// ok is false when the source does not chunk q; the caller then reads Bins.
type FragmentSource interface {
	BinFragments(ctx context.Context, q daqbuf.BinnedQuery) (frags []Fragment, status Status, ok bool, err error)
}

// Answer is a fetched curve ready to be written as the `/channels/curve` answer: a *Curve, or a
// *FragmentCurve.
type Answer interface {
	AppendJSON(dst []byte) []byte
	// SizeHint estimates the encoded size, so that the answer's buffer is allocated once.
	SizeHint() int
}

// Directory resolves channel names and series ids through the channel list.
type Directory interface {
	// Lookup finds a channel by exact name in a backend, asking data-api when the list does not have it.
	Lookup(ctx context.Context, backend, name string) (daqbuf.Channel, bool, error)
	// LookupSeries finds a channel by series id in the list only (no data-api call).
	LookupSeries(backend string, seriesID uint64) (daqbuf.Channel, bool)
}

// ErrInvalid is wrapped by every *InvalidError.
var ErrInvalid = errors.New("curve: invalid request")

// InvalidError is a request the contract refuses with 400; Detail is the text the client sees.
type InvalidError struct{ Detail string }

func (e *InvalidError) Error() string        { return "curve: " + e.Detail }
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(detail string) error { return &InvalidError{Detail: detail} }

// Config holds the Service's limits. The zero value of every field is its default.
type Config struct {
	// MaxBins bounds num_bins: data-api may return up to about three times as many (docs/daqbuf.md
	// §7.2), and a browser plot has a few thousand pixels. Default 100 000.
	MaxBins int64
	// MaxRawValues bounds a raw answer: events times waveform length. Larger answers are refused with
	// 400 (ask for num_bins), so one request cannot hold hundreds of megabytes. The bound is decided
	// before any event is fetched, from data-api's bin counts (see checkRawSize). Default 2 000 000.
	MaxRawValues int
	// Now is the clock; windows ending in the future are cut at now. Default time.Now.
	Now func() time.Time
}

// Service computes curves. It is safe for concurrent use.
type Service struct {
	src Source
	dir Directory
	cfg Config
}

// New returns a Service reading data from src and resolving channels through dir. It does no I/O.
func New(src Source, dir Directory, cfg Config) *Service {
	if cfg.MaxBins <= 0 {
		cfg.MaxBins = 100_000
	}
	if cfg.MaxRawValues <= 0 {
		cfg.MaxRawValues = 2_000_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{src: src, dir: dir, cfg: cfg}
}

// Now is the Service's clock.
func (s *Service) Now() time.Time { return s.cfg.Now() }

// WithSource returns a Service that computes the same curves from another source (the live stream
// reads through a view of the cache that refetches the open tail more often).
func (s *Service) WithSource(src Source) *Service {
	return &Service{src: src, dir: s.dir, cfg: s.cfg}
}

// Resolve checks r as the contract does, in its order: the channel first (404 for an unknown name), then
// the window and bin count (400). The end is cut at now; a window that is then empty is Query.Empty.
// A channel_name of digits is a series id and is not verified, as in the old backend.
func (s *Service) Resolve(ctx context.Context, r Request) (Query, error) {
	ch, err := s.resolveChannel(ctx, r)
	if err != nil {
		return Query{}, err
	}
	if err := CheckWindow(r.BeginMs, r.EndMs); err != nil {
		return Query{}, err
	}
	switch {
	case r.NumBins > s.cfg.MaxBins:
		return Query{}, invalid("num_bins must be at most " + strconv.FormatInt(s.cfg.MaxBins, 10))
	}
	q := Query{Request: r, Channel: ch, IsString: ch.Type == "string"}
	if r.IsString != nil {
		q.IsString = *r.IsString
	}
	if now := s.cfg.Now().UnixMilli(); q.EndMs > now {
		q.EndMs = now
	}
	// [begin, end) is empty, or lies wholly in the future: data-api refuses an empty range (the
	// waveform preview can send begin_time == end_time).
	q.Empty = q.BeginMs >= q.EndMs
	return q, nil
}

// CheckWindow refuses the windows the contract refuses with 400: times at or before the epoch, and a
// begin after the end. The raw-data link checks its window with it too, so both routes agree.
func CheckWindow(beginMs, endMs int64) error {
	switch {
	case beginMs <= 0 || endMs <= 0:
		return invalid("begin_time or end_time is invalid, must be valid unix time (milliseconds)")
	case beginMs > endMs:
		return invalid("begin_time must not be after end_time")
	}
	return nil
}

func (s *Service) resolveChannel(ctx context.Context, r Request) (daqbuf.Channel, error) {
	if isDigits(r.Name) {
		id, err := strconv.ParseUint(r.Name, 10, 64)
		if err != nil {
			return daqbuf.Channel{}, fmt.Errorf("curve: series id out of range: %w", daqbuf.ErrChannelNotFound)
		}
		if ch, ok := s.dir.LookupSeries(r.Backend, id); ok {
			return ch, nil
		}
		return daqbuf.Channel{Backend: r.Backend, SeriesID: id}, nil
	}
	ch, ok, err := s.dir.Lookup(ctx, r.Backend, strings.TrimSpace(r.Name))
	if err != nil {
		return daqbuf.Channel{}, err
	}
	if !ok {
		return daqbuf.Channel{}, fmt.Errorf("curve: %q in %q: %w", r.Name, r.Backend, daqbuf.ErrChannelNotFound)
	}
	return ch, nil
}

// Fetch reads the data of q and returns its curve: raw when num_bins <= 0; binned otherwise, switched to
// raw events when there are fewer events than bins and raw-when-sparse is on (waveforms stay binned
// unless there is a single one, the old backend's rule).
func (s *Service) Fetch(ctx context.Context, q Query) (*Curve, Status, error) {
	cv := &Curve{name: q.Name, removeEmpty: q.RemoveEmpty, isString: q.IsString}
	if q.Empty {
		return cv, StatusHit, nil
	}
	evq := daqbuf.EventsQuery{Channel: q.Ref(), Range: q.Range(), ValueType: q.Channel.Type}
	status, err := s.fill(ctx, cv, q, evq)
	if err != nil {
		return nil, status, err
	}
	if err := s.checkRawValues(cv); err != nil {
		return nil, status, err
	}
	return cv, status, nil
}

// FetchAnswer is Fetch for a caller that only writes the answer: when the source is a FragmentSource
// that chunks the request, a binned answer is made of its fragments (a *FragmentCurve, without
// decoding a float); otherwise, and for raw answers, it is Fetch's *Curve. Both write the same bytes.
// The live stream, which reads answers as points (Curve.Doc), uses Fetch.
func (s *Service) FetchAnswer(ctx context.Context, q Query) (Answer, Status, error) {
	src, ok := s.src.(FragmentSource)
	if !ok || q.Empty || q.NumBins <= 0 {
		return s.fetchCurve(ctx, q)
	}
	evq := daqbuf.EventsQuery{Channel: q.Ref(), Range: q.Range(), ValueType: q.Channel.Type}
	frags, status, ok, err := src.BinFragments(ctx, daqbuf.BinnedQuery{Channel: evq.Channel, Range: evq.Range, BinCount: int(q.NumBins)})
	switch {
	case errors.Is(err, daqbuf.ErrNoContent):
		frags, err = nil, nil
	case err != nil:
		return nil, status, err
	case !ok:
		return s.fetchCurve(ctx, q)
	}
	fc := &FragmentCurve{name: q.Name, frags: frags, removeEmpty: q.RemoveEmpty}
	events, evStatus, asked, raw, err := s.sparseEvents(ctx, q, evq, fc.events())
	if err != nil {
		return nil, evStatus, err
	}
	if asked {
		status = Combine(status, evStatus)
	}
	if !raw {
		return fc, status, nil
	}
	cv := &Curve{name: q.Name, raw: true, events: events, removeEmpty: q.RemoveEmpty, isString: q.IsString}
	if err := s.checkRawValues(cv); err != nil {
		return nil, status, err
	}
	return cv, status, nil
}

// fetchCurve is Fetch as an Answer (a nil interface on error, not a nil *Curve in one).
func (s *Service) fetchCurve(ctx context.Context, q Query) (Answer, Status, error) {
	cv, status, err := s.Fetch(ctx, q)
	if err != nil {
		return nil, status, err
	}
	return cv, status, nil
}

// checkRawValues refuses a raw answer above MaxRawValues (known exactly once the events are here).
func (s *Service) checkRawValues(cv *Curve) error {
	if n := rawValues(cv.events); cv.raw && n > s.cfg.MaxRawValues {
		return tooManyRaw(uint64(n), s.cfg.MaxRawValues, "")
	}
	return nil
}

func (s *Service) fill(ctx context.Context, cv *Curve, q Query, evq daqbuf.EventsQuery) (Status, error) {
	if q.NumBins <= 0 {
		cv.raw = true
		countStatus, err := s.checkRawSize(ctx, q, evq)
		if err != nil {
			return countStatus, err
		}
		var status Status
		cv.events, status, err = s.events(ctx, evq)
		return Combine(countStatus, status), err
	}
	bins, status, err := s.bins(ctx, daqbuf.BinnedQuery{Channel: evq.Channel, Range: evq.Range, BinCount: int(q.NumBins)})
	if err != nil {
		return status, err
	}
	cv.bins = bins
	events, evStatus, asked, raw, err := s.sparseEvents(ctx, q, evq, eventsInBins(bins))
	if err != nil {
		return evStatus, err
	}
	if raw {
		cv.raw, cv.events, cv.bins = true, events, nil
	}
	if asked {
		status = Combine(status, evStatus)
	}
	return status, nil
}

// sparseEvents applies raw-when-sparse to a binned answer whose bins count inBins events: with fewer
// events than bins, the raw events are read (asked) and answered instead (raw), except for waveforms,
// which stay binned unless there is a single one (the old backend's rule).
func (s *Service) sparseEvents(ctx context.Context, q Query, evq daqbuf.EventsQuery, inBins uint64) (
	events []*daqbuf.EventBatch, status Status, asked, raw bool, err error) {
	if !q.RawIfSparse || inBins >= uint64(q.NumBins) {
		return nil, "", false, false, nil
	}
	if inBins*channelWidth(q.Channel) > uint64(s.cfg.MaxRawValues) {
		// Few events but wide waveforms: raw they could exceed the bound, so the bins stay.
		return nil, "", false, false, nil
	}
	events, status, err = s.events(ctx, evq)
	if err != nil {
		return nil, status, true, false, err
	}
	ev := &Curve{events: events}
	return events, status, true, !ev.isWaveform() || ev.eventCount() == 1, nil
}

// events and bins read from the source; data-api's "no content" is an empty answer.
func (s *Service) events(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, Status, error) {
	ev, status, err := s.src.Events(ctx, q)
	if errors.Is(err, daqbuf.ErrNoContent) {
		return nil, status, nil
	}
	return ev, status, err
}

func (s *Service) bins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, Status, error) {
	b, status, err := s.src.Bins(ctx, q)
	if errors.Is(err, daqbuf.ErrNoContent) {
		return nil, status, nil
	}
	return b, status, err
}

// rawCountBins is how many bins the raw-size check asks for: enough that the two bins at the window's
// edges (which may reach outside it) are a small part of the count, few enough to be one cheap request.
const rawCountBins = 64

// checkRawSize decides the raw-value bound before any event is fetched: data-api's bins carry event
// counts, and a binned request is cheap for it (pre-binned data) where the events could be gigabytes.
// The bins inside the window count events that are certainly in the answer: over the bound, the answer
// is 400 without fetching. Otherwise the events are fetched, and they hold at most the count of all
// bins (edge bins included), so a request holds at most the bound plus two edge bins; Fetch checks the
// exact figure afterwards. The width comes from the channel list's shape (1 when unknown: a waveform
// sent by series id alone is caught by that later check).
func (s *Service) checkRawSize(ctx context.Context, q Query, evq daqbuf.EventsQuery) (Status, error) {
	bins, status, err := s.bins(ctx, daqbuf.BinnedQuery{Channel: evq.Channel, Range: evq.Range, BinCount: rawCountBins})
	if err != nil {
		return status, err
	}
	if least, _ := countsIn(bins, evq.Range); least*channelWidth(q.Channel) > uint64(s.cfg.MaxRawValues) {
		return status, tooManyRaw(least*channelWidth(q.Channel), s.cfg.MaxRawValues, "or more")
	}
	return status, nil
}

func tooManyRaw(n uint64, bound int, qualifier string) error {
	if qualifier != "" {
		qualifier = " " + qualifier
	}
	return invalid("too many raw values (" + strconv.FormatUint(n, 10) + qualifier + ", at most " +
		strconv.Itoa(bound) + "): ask for fewer by giving num_bins or a shorter window")
}

// countsIn sums the event counts of bins: least over the bins wholly inside r, most over all of them.
func countsIn(bins []*daqbuf.BinBatch, r daqbuf.Range) (least, most uint64) {
	for _, b := range bins {
		for i, c := range b.Counts {
			most += c
			if i < len(b.Ts1) && i < len(b.Ts2) && b.Ts1[i] >= r.Beg && b.Ts2[i] <= r.End {
				least += c
			}
		}
	}
	return least, most
}

// channelWidth is the number of values in one event of ch: the product of its shape, 1 for scalars.
func channelWidth(ch daqbuf.Channel) uint64 {
	w := uint64(1)
	for _, d := range ch.Shape {
		w *= uint64(max(d, 1))
	}
	return w
}

func eventsInBins(bins []*daqbuf.BinBatch) uint64 {
	var n uint64
	for _, b := range bins {
		for _, c := range b.Counts {
			n += c
		}
	}
	return n
}

// rawValues counts the values a raw answer would hold: one per event, or one per waveform element.
func rawValues(events []*daqbuf.EventBatch) int {
	n := 0
	for _, b := range events {
		n += b.Len() * max(b.Values.Width, 1)
	}
	return n
}
