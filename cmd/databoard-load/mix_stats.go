package main

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// reqKind is what a request of the mix is for; each kind is counted and timed on its own.
type reqKind int

const (
	kindDashboard    reqKind = iota // GET /dashboard/{id}: a dashboard opens
	kindRecent                      // GET /channels/recent: the sidebar mounts
	kindSearch                      // GET /channels/search?search_text=^name$: one per plot and channel on open
	kindCurveOpen                   // GET /channels/curve of the relative window, on open
	kindCurveRefresh                // the same window again: auto-apply, or back from a panned window
	kindCurvePan                    // GET /channels/curve of an absolute window after a pan or zoom
	kindSaveUpdate                  // PATCH /dashboard/{id}
	kindSaveNew                     // POST /dashboard/
	kindHealth                      // GET /health, the frontend's poll
	kindSubscribe                   // a /stream subscribe, until its first snapshot (or error)
	numKinds
)

var kindNames = [numKinds]string{"dashboard", "recent", "search", "curve-open", "curve-refresh", "curve-pan",
	"save-update", "save-new", "health", "subscribe"}

func (k reqKind) String() string { return kindNames[k] }

// isCurve reports whether k is a /channels/curve request (each one a data-api request for the old backend).
func (k reqKind) isCurve() bool {
	return k == kindCurveOpen || k == kindCurveRefresh || k == kindCurvePan
}

// maxErrorSamples bounds the error texts kept per kind for the report.
const maxErrorSamples = 5

// outcome is how one request ended.
type outcome struct {
	status    int    // HTTP status, or the stream's error status; 0 when there was no answer
	transport bool   // no complete answer: refused, reset, malformed
	timeout   bool   // the per-request timeout expired
	badBody   string // an expected-status answer whose body is not what the route promises: why
	detail    string // an error's text, for the samples
	bytes     int64
	xcache    string // X-Cache of a curve answer
}

// kindStats accumulates one kind's measured requests.
type kindStats struct {
	hist                                 histogram
	ok, status, transport, timeout, body atomic.Int64
	bytes                                atomic.Int64

	mu       sync.Mutex
	statuses map[int]int64
	cache    map[string]int64 // X-Cache of the OK curve answers
	samples  []string
}

// window is the measured period, in unix ns; 0 = not started (start) or still running (end).
type window struct{ start, end atomic.Int64 }

func (w *window) contains(t time.Time) bool {
	s, e := w.start.Load(), w.end.Load()
	ns := t.UnixNano()
	return s != 0 && ns >= s && (e == 0 || ns < e)
}

// overlap is how much of [from, to) lies in the window as far as it is known: nothing before it starts.
func (w *window) overlap(from, to time.Time) time.Duration {
	s, e := w.start.Load(), w.end.Load()
	if s == 0 {
		return 0
	}
	lo, hi := max(from.UnixNano(), s), to.UnixNano()
	if e != 0 {
		hi = min(hi, e)
	}
	return time.Duration(max(hi-lo, 0))
}

// mixStats is everything the users and their live connections record while the window is open.
type mixStats struct {
	// gate orders sending against the end of the measurement: a request is sent (and timed from) under its
	// read lock after checking that the run goes on, and the run is stopped and the window closed under its
	// write lock, so every request sent is inside the window or not sent at all.
	gate  sync.RWMutex
	win   window
	kinds [numKinds]kindStats

	streamBytes, streamDropped, streamDialErrors atomic.Int64

	mu             sync.Mutex
	streamTypes    map[string]int64
	streamErrors   map[int]int64 // error messages by status
	streamSamples  []string
	liveSubSeconds float64     // subscription time inside the window
	userStarts     []time.Time // when each user opened its first dashboard
}

func newMixStats() *mixStats {
	s := &mixStats{streamTypes: map[string]int64{}, streamErrors: map[int]int64{}}
	for k := range s.kinds {
		s.kinds[k].statuses = map[int]int64{}
		s.kinds[k].cache = map[string]int64{}
	}
	return s
}

// admit reports whether a request may be sent now (the run is not stopping) and the time it is sent at.
func (s *mixStats) admit(stopCtx context.Context) (time.Time, bool) {
	s.gate.RLock()
	defer s.gate.RUnlock()
	return time.Now(), stopCtx.Err() == nil
}

// finish stops the run (stop keeps new requests from starting) and closes the window; it returns the end.
func (s *mixStats) finish(stop func()) time.Time {
	s.gate.Lock()
	defer s.gate.Unlock()
	stop()
	end := time.Now()
	s.win.end.Store(end.UnixNano())
	return end
}

// record counts one request of kind k sent at sent and answered after latency, if sent inside the window.
// okStatus is the status the route answers on success.
func (s *mixStats) record(k reqKind, sent time.Time, latency time.Duration, okStatus int, o outcome) {
	if !s.win.contains(sent) {
		return
	}
	ks := &s.kinds[k]
	ks.bytes.Add(o.bytes)
	switch {
	case o.timeout:
		ks.timeout.Add(1)
		ks.sample("timeout after " + short(latency).String())
		return
	case o.transport:
		ks.transport.Add(1)
		ks.sample("transport: " + o.detail)
		return
	}
	ks.mu.Lock()
	ks.statuses[o.status]++
	if o.xcache != "" && o.status == okStatus {
		ks.cache[o.xcache]++
	}
	ks.mu.Unlock()
	switch {
	case o.status != okStatus:
		ks.status.Add(1)
		ks.sample(statusText(o.status) + ": " + o.detail)
	case o.badBody != "":
		ks.body.Add(1)
		ks.sample("body: " + o.badBody)
	default:
		ks.ok.Add(1)
		ks.hist.record(latency)
	}
}

func statusText(code int) string {
	if code == 0 {
		return "no status"
	}
	return "status " + strconv.Itoa(code)
}

func (ks *kindStats) sample(text string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if len(ks.samples) < maxErrorSamples {
		ks.samples = append(ks.samples, text)
	}
}

// streamMessage counts one message received on a live connection at t, if inside the window.
func (s *mixStats) streamMessage(typ string, size int, t time.Time) {
	if !s.win.contains(t) {
		return
	}
	s.streamBytes.Add(int64(size))
	s.mu.Lock()
	s.streamTypes[typ]++
	s.mu.Unlock()
}

// streamError counts an error message of the stream (a final one also ends its subscribe's wait).
func (s *mixStats) streamError(status int, detail string, final bool, t time.Time) {
	if !s.win.contains(t) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streamErrors[status]++
	if len(s.streamSamples) < maxErrorSamples {
		kind := "passing"
		if final {
			kind = "final"
		}
		s.streamSamples = append(s.streamSamples, statusText(status)+" ("+kind+"): "+detail)
	}
}

// subscribed adds n subscriptions held over [from, to) to the live subscription time inside the window.
func (s *mixStats) subscribed(n int, from, to time.Time) {
	d := s.win.overlap(from, to)
	if n == 0 || d == 0 {
		return
	}
	s.mu.Lock()
	s.liveSubSeconds += float64(n) * d.Seconds()
	s.mu.Unlock()
}

func (s *mixStats) userStarted(t time.Time) {
	s.mu.Lock()
	s.userStarts = append(s.userStarts, t)
	s.mu.Unlock()
}

// userMinutes is the time users spent with a dashboard open inside the window, in minutes.
func (s *mixStats) userMinutes(end time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d time.Duration
	for _, t := range s.userStarts {
		d += s.win.overlap(t, end)
	}
	return d.Minutes()
}

// KindResult is one kind's measured requests.
type KindResult struct {
	Name     string
	Requests int64 // OK plus every error
	OK       int64
	Errors   Errors
	Statuses map[int]int64
	Cache    map[string]int64 // X-Cache of OK curve answers
	Bytes    int64            // response bodies as the client read them (gzip undone)
	Latency  Latency          // OK requests only
	Samples  []string         // the first few errors, as text
}

func (ks *kindStats) result(k reqKind) KindResult {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	r := KindResult{
		Name: k.String(), OK: ks.ok.Load(), Bytes: ks.bytes.Load(), Latency: ks.hist.summary(),
		Errors:   Errors{Status: ks.status.Load(), Transport: ks.transport.Load(), Timeout: ks.timeout.Load(), Body: ks.body.Load()},
		Statuses: maps.Clone(ks.statuses), Cache: maps.Clone(ks.cache), Samples: append([]string(nil), ks.samples...),
	}
	r.Requests = r.OK + r.Errors.Total()
	return r
}

// oldBackendRequests is the data-api requests the old Python backend would have made for the same mix, computed
// from its contract (docs/api.md), not measured: every curve request went to data-api, every ^name$ search was a
// live data-api search (texts over 4 characters skipped its cache), and the old frontend has no stream, so a live
// subscription is an auto-apply curve request every refresh period instead. It is a lower bound: with
// rawWhenSparse (the frontend's default) a binned answer holding fewer events than bins was fetched again as raw
// events, a second data-api request.
func oldBackendRequests(curves, searches int64, liveSubSeconds float64, refresh time.Duration) float64 {
	return float64(curves+searches) + liveSubSeconds/refresh.Seconds()
}
