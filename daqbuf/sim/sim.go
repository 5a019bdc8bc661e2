package sim

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Config configures a Sim. Every field's zero value is a sensible default.
type Config struct {
	// Now is the clock; data exists only for ts < Now(). Default time.Now.
	Now func() time.Time
	// Backends are the backend names served, in /backend/list order.
	// Default {"sf-databuffer", "sf-archiver", "sls-archiver"}.
	Backends []string
	// CatalogueSize adds that many generated f64 channels per backend, named
	// fmt.Sprintf("SIM-GEN:CH%06d", i). Default 0.
	CatalogueSize int
	// Latency is added before every response. Default 0.
	Latency time.Duration
	// EventsPerFrame is the maximum number of events per framed data frame. Default 1000.
	EventsPerFrame int
	// Keepalive makes framed events streams start with one {"type":"keepalive"} frame. Default off.
	Keepalive bool
	// LegacyJSONFrameHeader makes json-framed responses use the 2024 binary frame header (u32 LE
	// length, 12 zero bytes, payload, zero padding to a multiple of 8) instead of the ASCII one.
	// Default off.
	LegacyJSONFrameHeader bool
}

// apiPrefix is where the simulator serves data-api v4.
const apiPrefix = "/api/4"

// Sim is the simulated data-api v4. It is safe for concurrent use; New starts no goroutines.
type Sim struct {
	cfg  Config
	cat  *catalogue
	cbor cbor.EncMode

	reqSeq atomic.Uint64

	mu        sync.Mutex
	requests  []Request
	fault     *Fault
	faultLeft int // remaining matches of a fault with Count > 0

	search searchCache
}

// New builds a simulator with its catalogue precomputed.
func New(cfg Config) *Sim {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Backends) == 0 {
		cfg.Backends = []string{"sf-databuffer", "sf-archiver", "sls-archiver"}
	} else {
		cfg.Backends = append([]string(nil), cfg.Backends...)
	}
	if cfg.EventsPerFrame <= 0 {
		cfg.EventsPerFrame = 1000
	}
	em, err := cbor.EncOptions{
		ShortestFloat: cbor.ShortestFloat16, // data-api's encoder picks the shortest lossless width
		NaNConvert:    cbor.NaNConvert7e00,
		InfConvert:    cbor.InfConvertFloat16,
	}.EncMode()
	if err != nil {
		panic("sim: cbor options: " + err.Error()) // fixed options: cannot fail
	}
	return &Sim{
		cfg:    cfg,
		cat:    newCatalogue(cfg.Backends, max(cfg.CatalogueSize, 0)),
		cbor:   em,
		search: newSearchCache(),
	}
}

func (s *Sim) now() time.Time { return s.cfg.Now() }

// Channels returns the catalogue of a backend, sorted by name (nil for an unknown backend).
func (s *Sim) Channels(backend string) []Channel {
	if !s.cat.hasBackend(backend) {
		return nil
	}
	out := make([]Channel, len(s.cat.entries))
	for i := range s.cat.entries {
		out[i] = s.cat.channel(backend, i)
	}
	return out
}

// Channel looks up a channel by backend and exact name.
func (s *Sim) Channel(backend, name string) (Channel, bool) {
	if !s.cat.hasBackend(backend) {
		return Channel{}, false
	}
	i := s.cat.index(name)
	if i < 0 {
		return Channel{}, false
	}
	return s.cat.channel(backend, i), true
}

// Events returns exactly the events data-api returns for ch over [beg, end) (ns), before any framing
// and without oneBeforeRange, up to the clock's now. Unknown channels yield nil.
func (s *Sim) Events(ch Channel, beg, end int64) []Event {
	i, ok := s.cat.lookup(ch)
	if !ok {
		return nil
	}
	d := s.cat.def(i)
	k0, k1 := d.firstAtOrAfter(beg), d.firstAtOrAfter(min(end, s.now().UnixNano()))
	if k1 <= k0 {
		return nil
	}
	out := make([]Event, 0, k1-k0)
	for k := k0; k < k1; k++ {
		out = append(out, d.event(k))
	}
	return out
}

// call is the per-request state handed to the route handlers.
type call struct {
	id         string
	now        int64 // ns; one snapshot of the clock per request
	midStream  bool  // fault: end framed streams with an error frame after the first data frame
	dropFrames bool  // fault: framed binned streams end at once, without data frames or an error frame
	faultMsg   string
}

// ServeHTTP serves data-api v4 under /api/4.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{id: s.requestID(r)}
	h := w.Header()
	h.Set("requestid", c.id)
	h.Set("daqbuf-api-version", "1.0")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Headers", "*")

	if r.URL.Path == apiPrefix || strings.HasPrefix(r.URL.Path, apiPrefix+"/") {
		s.record(r)
	}
	ctx := r.Context()
	if !sleep(ctx, s.cfg.Latency) {
		return
	}
	if f, ok := s.takeFault(r.URL.Path); ok {
		if !sleep(ctx, f.Latency) {
			return
		}
		switch {
		case f.CutConnection:
			cutConnection(w)
			return
		case f.Status != 0:
			msg := f.Message
			if msg == "" {
				msg = http.StatusText(f.Status)
			}
			writeMessage(w, f.Status, msg, c.id)
			return
		case f.DropFrames:
			c.dropFrames = true
		case f.MidStreamError:
			c.midStream, c.faultMsg = true, f.Message
			if c.faultMsg == "" {
				c.faultMsg = "simulated mid-stream failure"
			}
		}
	}
	c.now = s.now().UnixNano()

	handler := s.route(r.URL.Path)
	if handler == nil {
		s.serveNotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	handler(w, r, c)
}

type handlerFunc func(http.ResponseWriter, *http.Request, *call)

func (s *Sim) route(path string) handlerFunc {
	switch path {
	case apiPrefix + "/backend/list":
		return s.serveBackendList
	case apiPrefix + "/search/channel":
		return s.serveSearch
	case apiPrefix + "/events":
		return s.serveEvents
	case apiPrefix + "/binned":
		return s.serveBinned
	case apiPrefix + "/channel/config":
		return s.serveChannelConfig
	case apiPrefix + "/series/config":
		return s.serveSeriesConfig
	case apiPrefix + "/private/version":
		return s.serveVersion
	}
	return nil
}

// requestID numbers requests; a client-supplied x-daqbuffer-request-id becomes its prefix.
func (s *Sim) requestID(r *http.Request) string {
	id := strconv.FormatUint(s.reqSeq.Add(1), 16)
	id = strings.Repeat("0", max(0, 8-len(id))) + id
	if p := r.Header.Get("x-daqbuffer-request-id"); p != "" {
		return p + "-" + id
	}
	return "sim-" + id
}

// sleep waits for d or until ctx ends; it reports whether the full delay passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// cutConnection closes the client connection without any HTTP response, as data-api's proxy does
// for malformed framed queries (docs/daqbuf.md §6.2).
func cutConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
		return
	}
	// Not hijackable (HTTP/2, a recorder): aborting the handler is the closest equivalent.
	panic(http.ErrAbortHandler)
}
