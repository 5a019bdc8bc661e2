package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/databoard/databoard/cache"
	"github.com/databoard/databoard/daqbuf"
)

// maxSearchPattern bounds the regex a client may send (RE2 is linear in the input, but compiling a
// huge pattern is not free).
const maxSearchPattern = 1024

// channelListCache holds the encoded whole-list answer for one generation of the directory, so an
// empty search costs a memory copy, not an encoding of thousands of channels.
type channelListCache struct {
	mu   sync.Mutex
	gen  uint64
	body []byte
	set  bool
}

func (s *Server) handleSearch(c *fiber.Ctx) error {
	q := newQueryParams(c)
	text := strings.TrimSpace(q.String("search_text", ""))
	allowCached := q.Bool("allow_cached_response", true)
	backend := q.String("backend", "")
	if err := q.Err(); err != nil {
		return err
	}
	if s.deps.Channels == nil {
		return newHTTPError(http.StatusServiceUnavailable, "channel list not configured")
	}
	if text == "" && backend == "" {
		return jsonBytes(c, http.StatusOK, s.allChannelsJSON())
	}
	if len(text) > maxSearchPattern {
		return newHTTPError(http.StatusBadRequest, "search_text is longer than "+strconv.Itoa(maxSearchPattern)+" characters")
	}
	if _, err := regexp.Compile(text); err != nil {
		return newHTTPError(http.StatusBadRequest, "invalid regular expression: "+err.Error())
	}
	// The old backend asked data-api for texts longer than 4 characters, since its list was stale. An
	// empty text is never live: data-api answers an empty nameRegex with no channels.
	live := text != "" && (!allowCached || utf8.RuneCountInString(text) > 4)
	chs, err := s.deps.Channels.Search(c.UserContext(), text, backend, live)
	if err != nil {
		return err
	}
	return jsonBytes(c, http.StatusOK, appendChannelsJSON(make([]byte, 0, 256*len(chs)+16), chs))
}

func (s *Server) allChannelsJSON() []byte {
	gen, chs := s.deps.Channels.All()
	s.listCache.mu.Lock()
	defer s.listCache.mu.Unlock()
	if !s.listCache.set || s.listCache.gen != gen {
		s.listCache.body = appendChannelsJSON(make([]byte, 0, 256*len(chs)+16), chs)
		s.listCache.gen, s.listCache.set = gen, true
	}
	return s.listCache.body
}

func (s *Server) handleRecent(c *fiber.Ctx) error {
	if s.deps.Channels == nil {
		return newHTTPError(http.StatusServiceUnavailable, "channel list not configured")
	}
	return jsonBytes(c, http.StatusOK, appendChannelsJSON(nil, s.deps.Channels.Recent()))
}

// curveRequest is a validated /channels/curve request.
type curveRequest struct {
	name        string
	backend     string
	beginMs     int64
	endMs       int64
	numBins     int64
	rawIfSparse bool
	removeEmpty bool
	isString    *bool
}

func parseCurveRequest(c *fiber.Ctx) (curveRequest, error) {
	q := newQueryParams(c)
	r := curveRequest{
		name:        q.RequiredString("channel_name"),
		beginMs:     q.Int("begin_time", 0, true),
		endMs:       q.Int("end_time", 0, true),
		backend:     q.String("backend", "sf-databuffer"),
		numBins:     q.Int("num_bins", 0, false),
		rawIfSparse: q.Bool("useEventsIfBinCountTooLarge", false),
		removeEmpty: q.Bool("removeEmptyBins", false),
	}
	r.isString, _ = q.OptionalBool("isString")
	return r, q.Err()
}

// maxBins bounds num_bins: data-api may return up to about three times as many (DAQBUF.md §7.2), and a
// browser plot has a few thousand pixels.
const maxBins = 100_000

func (s *Server) handleCurve(c *fiber.Ctx) error {
	r, err := parseCurveRequest(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	ch, err := s.resolveChannel(c, r)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UnixMilli()
	switch {
	case r.beginMs <= 0 || r.endMs <= 0:
		return newHTTPError(http.StatusBadRequest, "begin_time or end_time is invalid, must be valid unix time (milliseconds)")
	case r.beginMs > r.endMs:
		return newHTTPError(http.StatusBadRequest, "begin_time must not be after end_time")
	case r.numBins > maxBins:
		return newHTTPError(http.StatusBadRequest, "num_bins must be at most "+strconv.Itoa(maxBins))
	}
	if r.endMs > now {
		r.endMs = now
	}
	if r.beginMs >= r.endMs {
		// The window [begin, end) is empty, or lies wholly in the future: nothing to fetch, and data-api
		// refuses an empty range (the waveform preview can send begin_time == end_time).
		// Answered without data-api, like a cache hit.
		c.Set(headerCache, string(cache.StatusHit))
		return jsonBytes(c, http.StatusOK, appendCurveJSON(nil, &curve{name: r.name}))
	}
	if ch.Name != "" {
		s.deps.Channels.Requested(ch)
	}

	rng := daqbuf.Range{Beg: r.beginMs * int64(time.Millisecond), End: r.endMs * int64(time.Millisecond)}
	cv := &curve{name: r.name, removeEmpty: r.removeEmpty, isString: ch.Type == "string"}
	if r.isString != nil {
		cv.isString = *r.isString
	}
	ref := daqbuf.ChannelRef{Backend: r.backend, Name: ch.Name, SeriesID: ch.SeriesID}
	key := answerKey(r, ref, cv.isString)
	if body := s.cachedAnswer(ctx, key); body != nil {
		if s.deps.Cache != nil {
			s.deps.Cache.NoteAnswerHit()
		}
		c.Set(headerCache, string(cache.StatusHit))
		return jsonBytes(c, http.StatusOK, body)
	}
	status, err := s.fetchCurve(ctx, cv, r, daqbuf.EventsQuery{Channel: ref, Range: rng, ValueType: ch.Type})
	if err != nil {
		return err
	}
	if n := rawValues(cv.events); cv.raw && n > s.cfg.MaxRawValues {
		return newHTTPError(http.StatusBadRequest, "too many raw values ("+strconv.Itoa(n)+", at most "+
			strconv.Itoa(s.cfg.MaxRawValues)+"): ask for fewer by giving num_bins or a shorter window")
	}
	c.Set(headerCache, string(status))
	body := appendCurveJSON(make([]byte, 0, cv.sizeHint()), cv)
	s.keepAnswer(ctx, key, status, s.settledWindow(r, rng), body)
	return jsonBytes(c, http.StatusOK, body)
}

// headerCache says where a curve answer came from: hit, partial, miss or stale (stale: data-api failed
// and cached data was served instead).
const headerCache = "X-Cache"

// fetchCurve fills cv with bins or events as the contract's modes say: raw when num_bins <= 0; binned
// otherwise, switching to raw events when there are fewer events than bins and raw-when-sparse is on.
func (s *Server) fetchCurve(ctx context.Context, cv *curve, r curveRequest, evq daqbuf.EventsQuery) (cache.Status, error) {
	if r.numBins <= 0 {
		cv.raw = true
		var status cache.Status
		var err error
		cv.events, status, err = s.events(ctx, evq)
		return status, err
	}
	bins, status, err := s.bins(ctx, daqbuf.BinnedQuery{Channel: evq.Channel, Range: evq.Range, BinCount: int(r.numBins)})
	if err != nil {
		return status, err
	}
	cv.bins = bins
	if !r.rawIfSparse || eventsInBins(bins) >= uint64(r.numBins) {
		return status, nil
	}
	events, evStatus, err := s.events(ctx, evq)
	if err != nil {
		return evStatus, err
	}
	// Waveforms stay binned unless there is a single one (the old backend's rule).
	if !isWaveformEvents(events) || countEvents(events) == 1 {
		cv.raw, cv.events, cv.bins = true, events, nil
	}
	return combineStatus(status, evStatus), nil
}

// combineStatus is the status of an answer built from two cache lookups.
func combineStatus(a, b cache.Status) cache.Status {
	switch {
	case a == cache.StatusStale || b == cache.StatusStale:
		return cache.StatusStale
	case a == b:
		return a
	}
	return cache.StatusPartial
}

// resolveChannel checks that a named channel exists (404 otherwise) and returns what is known of it.
// A channel_name of all digits is a seriesId and is not verified, as in the old backend.
func (s *Server) resolveChannel(c *fiber.Ctx, r curveRequest) (daqbuf.Channel, error) {
	if isDigits(r.name) {
		id, err := strconv.ParseUint(r.name, 10, 64)
		if err != nil {
			return daqbuf.Channel{}, newHTTPError(http.StatusNotFound, msgChannelNotFound)
		}
		if ch, ok := s.deps.Channels.LookupSeries(r.backend, id); ok {
			return ch, nil
		}
		return daqbuf.Channel{Backend: r.backend, SeriesID: id}, nil
	}
	ch, ok, err := s.deps.Channels.Lookup(c.UserContext(), r.backend, strings.TrimSpace(r.name))
	if err != nil {
		return daqbuf.Channel{}, err
	}
	if !ok {
		return daqbuf.Channel{}, newHTTPError(http.StatusNotFound, msgChannelNotFound)
	}
	return ch, nil
}

func (s *Server) events(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, cache.Status, error) {
	ev, status, err := s.deps.Curves.Events(ctx, q)
	if errors.Is(err, daqbuf.ErrNoContent) {
		return nil, status, nil
	}
	return ev, status, err
}

func (s *Server) bins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, cache.Status, error) {
	b, status, err := s.deps.Curves.Bins(ctx, q)
	if errors.Is(err, daqbuf.ErrNoContent) {
		return nil, status, nil
	}
	return b, status, err
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

func countEvents(events []*daqbuf.EventBatch) int {
	n := 0
	for _, b := range events {
		n += b.Len()
	}
	return n
}

func isWaveformEvents(events []*daqbuf.EventBatch) bool {
	return (&curve{events: events}).isWaveform()
}

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

func (s *Server) handleRawLink(c *fiber.Ctx) error {
	q := newQueryParams(c)
	name := q.RequiredString("channel_name")
	begin := q.Int("begin_time", 0, true)
	end := q.Int("end_time", 0, true)
	backend := q.String("backend", "sf-databuffer")
	if err := q.Err(); err != nil {
		return err
	}
	// Written without HTML escaping (Go's would turn & into \u0026): the same text FastAPI sent.
	return jsonBytes(c, http.StatusOK, appendRawLinkJSON(rawLink(s.cfg.DaqbufPublicURL, backend, name, begin, end)))
}

// rawLink is the data-api events URL the browser downloads from: dates in UTC with milliseconds in the
// form "YYYY-MM-DD HH:MM:SS.mmm+00:00", form-encoded in the old backend's parameter order.
func rawLink(base, backend, name string, beginMs, endMs int64) string {
	date := func(ms int64) string {
		return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000") + "+00:00"
	}
	return base + "/events?backend=" + url.QueryEscape(backend) +
		"&channelName=" + url.QueryEscape(name) +
		"&begDate=" + url.QueryEscape(date(beginMs)) +
		"&endDate=" + url.QueryEscape(date(endMs))
}

// appendRawLinkJSON writes {"link": "..."} as FastAPI did, without Go's HTML escaping of &, < and >.
func appendRawLinkJSON(link string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"link": link})
	return bytes.TrimRight(b.Bytes(), "\n")
}
