package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// countsPath is where the stand-alone simulator reports how many data-api requests it has received. It is
// outside /api/4, so it is neither counted nor mistaken for a data-api route; load tests read it before
// and after a run to learn what the system under test asked upstream.
const countsPath = "/sim/requests"

// requestCounter counts the requests under /api/4 by path. The simulator keeps a full request log too
// (sim.Requests), but that is for tests: it grows with every request, so a count is what a long run reads.
type requestCounter struct {
	next   http.Handler
	byPath sync.Map // path -> *atomic.Uint64; data-api paths only, so the set stays small
	other  atomic.Uint64
}

func (c *requestCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == countsPath {
		c.serveCounts(w)
		return
	}
	c.count(r.URL.Path)
	c.next.ServeHTTP(w, r)
}

// count counts one request: by path for the routes the simulator serves, else as "other" (so a client
// probing random paths cannot grow the map).
func (c *requestCounter) count(path string) {
	if !strings.HasPrefix(path, "/api/4/") || !knownRoute[strings.TrimPrefix(path, "/api/4")] {
		c.other.Add(1)
		return
	}
	n, ok := c.byPath.Load(path)
	if !ok {
		n, _ = c.byPath.LoadOrStore(path, new(atomic.Uint64))
	}
	n.(*atomic.Uint64).Add(1)
}

// knownRoute is data-api v4's routes as the simulator serves them (daqbuf/sim).
var knownRoute = map[string]bool{
	"/backend/list": true, "/search/channel": true, "/events": true, "/binned": true,
	"/channel/config": true, "/series/config": true, "/private/version": true,
}

// counts is the answer of countsPath: {"total": N, "by_path": {"/api/4/binned": n, ...}}, total including
// requests to other paths.
type counts struct {
	Total  uint64            `json:"total"`
	ByPath map[string]uint64 `json:"by_path"`
}

func (c *requestCounter) snapshot() counts {
	out := counts{Total: c.other.Load(), ByPath: map[string]uint64{}}
	if n := c.other.Load(); n > 0 {
		out.ByPath["other"] = n
	}
	c.byPath.Range(func(k, v any) bool {
		n := v.(*atomic.Uint64).Load()
		out.ByPath[k.(string)] = n
		out.Total += n
		return true
	})
	return out
}

func (c *requestCounter) serveCounts(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(c.snapshot())
}
