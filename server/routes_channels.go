package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// maxSearchPattern bounds the regex a client may send (RE2 is linear in the input, but compiling a
// huge pattern is not free).
const maxSearchPattern = 1024

// channelListCache holds the encoded whole-list answer for one generation of the directory, so an
// empty search costs a memory copy, not an encoding of thousands of channels, and a large search
// copies its channels' objects out of it.
type channelListCache struct {
	mu   sync.Mutex
	list *encodedList // nil until first needed
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
		gen, chs := s.deps.Channels.All()
		list := s.encodedList(gen, chs)
		return sendJSON(c, http.StatusOK, list.body, list.gz.get)
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
	ctx := c.UserContext()
	var key string
	if !live && s.deps.Answers != nil {
		// A list search depends only on the list: its answer is kept for the list's generation.
		gen, _ := s.deps.Channels.All()
		key = searchAnswerKey(gen, backend, text)
		if vals, err := s.deps.Answers.GetMany(ctx, []string{key}); err == nil && len(vals) == 1 && vals[0] != nil {
			body := vals[0]
			return sendJSON(c, http.StatusOK, body, func() []byte { return s.answerGzip(ctx, key, body) })
		}
	}
	found, err := s.deps.Channels.Search(ctx, text, backend, live)
	if err != nil {
		return err
	}
	body := s.searchAnswerJSON(&found)
	if key != "" && found.Len() >= minKeptSearch {
		_ = s.deps.Answers.Set(ctx, key, body, answerTTL)
	}
	return jsonBytes(c, http.StatusOK, body)
}

// minKeptSearch is the fewest matches whose list-search answer is kept: smaller answers cost less to
// compute than the room they would take. (A list search with no match asks data-api, so it is never
// kept.)
const minKeptSearch = 256

// searchAnswerKey names a list search's answer in the answer cache; a new generation of the list makes
// every earlier key unreachable (they age out).
func searchAnswerKey(gen uint64, backend, pattern string) string {
	return "search:" + strconv.FormatUint(gen, 10) + ":" + strconv.Itoa(len(backend)) + ":" + backend + ":" + pattern
}

// encodedList returns the whole-list answer of generation gen, whose channels are chs, encoding it
// when the one held is of another generation.
// bytes is the size of the held answer: 0 before the first.
func (c *channelListCache) bytes() int64 {
	c.mu.Lock()
	l := c.list
	c.mu.Unlock()
	if l == nil {
		return 0
	}
	return int64(cap(l.body)) + 4*int64(cap(l.starts)) + int64(l.gz.size())
}

func (s *Server) encodedList(gen uint64, chs []daqbuf.Channel) *encodedList {
	s.listCache.mu.Lock()
	defer s.listCache.mu.Unlock()
	if l := s.listCache.list; l != nil && l.gen == gen {
		return l
	}
	s.listCache.list = encodeChannelList(gen, chs)
	return s.listCache.list
}

// searchAnswerJSON encodes a search answer. Matches read from the list copy their objects out of the
// encoded whole list (a memory copy, where encoding costs ~300 ns a channel: 9 ms for 28 000) when
// it is held for their generation, or when they are at least an eighth of the list, so that encoding
// the whole list costs at most eight times encoding this answer, once per generation.
func (s *Server) searchAnswerJSON(found *catalogue.Matches) []byte {
	if gen, listed := found.Generation(); listed {
		s.listCache.mu.Lock()
		list := s.listCache.list
		s.listCache.mu.Unlock()
		if list == nil || list.gen != gen {
			list = nil
			if g, chs := s.deps.Channels.All(); g == gen && found.Len() >= len(chs)/8 {
				list = s.encodedList(gen, chs)
			}
		}
		if list != nil {
			return list.appendSubset(nil, found)
		}
	}
	return appendChannelsJSON(make([]byte, 0, 256*found.Len()+16), found.All(), nil)
}

func (s *Server) handleRecent(c *fiber.Ctx) error {
	if s.deps.Channels == nil {
		return newHTTPError(http.StatusServiceUnavailable, "channel list not configured")
	}
	return jsonBytes(c, http.StatusOK, appendChannelsJSON(nil, eachChannel(s.deps.Channels.Recent()), nil))
}

func parseCurveRequest(c *fiber.Ctx) (curve.Request, error) {
	q := newQueryParams(c)
	r := curve.Request{
		Name:        q.RequiredString("channel_name"),
		BeginMs:     q.Int("begin_time", 0, true),
		EndMs:       q.Int("end_time", 0, true),
		Backend:     q.String("backend", "sf-databuffer"),
		NumBins:     q.Int("num_bins", 0, false),
		RawIfSparse: q.Bool("useEventsIfBinCountTooLarge", false),
		RemoveEmpty: q.Bool("removeEmptyBins", false),
	}
	r.IsString, _ = q.OptionalBool("isString")
	return r, q.Err()
}

func (s *Server) handleCurve(c *fiber.Ctx) error {
	r, err := parseCurveRequest(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	q, err := s.deps.Curves.Resolve(ctx, r)
	if err != nil {
		return err
	}
	if q.Channel.Name != "" && !q.Empty {
		s.deps.Channels.Requested(q.Channel)
	}
	key := q.Key()
	if body := s.cachedAnswer(ctx, key, q.Empty); body != nil {
		if s.deps.Cache != nil {
			s.deps.Cache.NoteAnswerHit()
		}
		c.Set(headerCache, string(curve.StatusHit))
		return sendJSON(c, http.StatusOK, body, func() []byte { return s.answerGzip(ctx, key, body) })
	}
	ctx, complete := curves.WithCompleteness(ctx)
	cv, status, err := s.deps.Curves.FetchAnswer(ctx, q)
	if err != nil {
		return err
	}
	c.Set(headerCache, string(status))
	if until, ok := complete.Until(); ok {
		c.Set(headerCompleteUntil, strconv.FormatInt(until.UnixMilli(), 10))
	}
	body := cv.AppendJSON(answerBuffer(c, cv.SizeHint()))
	settled := !q.Empty && q.Settled(s.cfg.Now(), s.cfg.CurveSettle, s.cfg.CurveTailAge+answerClockSlack)
	if settled && s.answersSeen.Seen(key) && s.keepAnswer(ctx, key, status, settled, body) {
		return jsonBytes(c, http.StatusOK, body) // the answer cache owns body now
	}
	return sendPooledJSON(c, http.StatusOK, body)
}

// headerCache says where a curve answer came from: hit, partial, miss or stale (stale: data-api failed
// and cached data was served instead).
const headerCache = "X-Cache"

// headerCompleteUntil, on a stale answer of a live window, is the time (ms since the epoch) up to which
// the answer is complete: data-api failed or was slow, and the newest part is left out.
const headerCompleteUntil = "X-Complete-Until"

func (s *Server) handleRawLink(c *fiber.Ctx) error {
	q := newQueryParams(c)
	name := q.RequiredString("channel_name")
	begin := q.Int("begin_time", 0, true)
	end := q.Int("end_time", 0, true)
	backend := q.String("backend", "sf-databuffer")
	if err := q.Err(); err != nil {
		return err
	}
	if err := curve.CheckWindow(begin, end); err != nil {
		return err
	}
	if end > maxLinkMs {
		// The link's dates have four-digit years; later ones would be garbage data-api cannot read.
		return newHTTPError(http.StatusBadRequest, "end_time is after the year 9999")
	}
	// Written without HTML escaping (Go's would turn & into \u0026): the same text FastAPI sent.
	return jsonBytes(c, http.StatusOK, appendRawLinkJSON(rawLink(s.cfg.DaqbufPublicURL, backend, name, begin, end)))
}

// maxLinkMs is the last millisecond of the year 9999, the last a raw link's date can name.
const maxLinkMs = 253402300799999

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
