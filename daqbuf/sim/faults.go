package sim

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request is one logged request to /api/4, for tests that count upstream calls.
type Request struct {
	Time     time.Time // the simulator clock when the request arrived
	Path     string
	Accept   string
	Backend  string
	Channel  string // channelName
	SeriesID uint64
	Beg, End int64 // ns, 0 if absent or unparsable
	BinCount int
	BinWidth string
	Query    string // raw query string
}

// Fault is an injected failure. SetFault replaces the current fault, ClearFault removes it.
type Fault struct {
	PathPrefix     string // only requests whose path starts with it ("" = all), e.g. "/api/4/binned"
	Status         int    // answer with this status and a data-api style error body (0 = no status fault)
	Message        string // error text (default: the status text, or a generic mid-stream message)
	MidStreamError bool   // framed modes: send some data frames, then {"error": Message} and end
	CutConnection  bool   // hijack and close the connection without any response
	// DropFrames: framed binned answers start (200) but their data frames are dropped and the stream just
	// ends, with no error frame — what docs/daqbuf.md §6.2 says a mid-stream failure of framed binned looks like.
	DropFrames bool
	Latency    time.Duration // extra delay for matching requests
	Count      int           // affect only the next Count matching requests (0 = until cleared)
}

// SetFault replaces the current fault.
func (s *Sim) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault, s.faultLeft = &f, f.Count
}

// ClearFault removes the current fault.
func (s *Sim) ClearFault() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = nil
}

// takeFault returns the fault that applies to a request on path, consuming one of its Count.
func (s *Sim) takeFault(path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault == nil || !strings.HasPrefix(path, s.fault.PathPrefix) {
		return Fault{}, false
	}
	f := *s.fault
	if f.Count > 0 {
		s.faultLeft--
		if s.faultLeft <= 0 {
			s.fault = nil
		}
	}
	return f, true
}

// Requests returns a copy of the request log, oldest first.
func (s *Sim) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests empties the request log.
func (s *Sim) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// record appends r to the request log, with whatever parameters parse.
func (s *Sim) record(r *http.Request) {
	q := r.URL.Query()
	now := s.now()
	rec := Request{
		Time:     now,
		Path:     r.URL.Path,
		Accept:   r.Header.Get("Accept"),
		Backend:  q.Get("backend"),
		Channel:  q.Get("channelName"),
		BinWidth: q.Get("binWidth"),
		Query:    r.URL.RawQuery,
	}
	rec.SeriesID, _ = strconv.ParseUint(q.Get("seriesId"), 10, 64)
	rec.BinCount, _ = strconv.Atoi(q.Get("binCount"))
	if beg, end, err := parseRange(q, now.UnixNano()); err == nil {
		rec.Beg, rec.End = beg, end
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
}
