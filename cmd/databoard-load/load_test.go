package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is a loopback server that answers 200 "ok" and counts requests by path.
type countingServer struct {
	*httptest.Server
	total  atomic.Int64
	mu     sync.Mutex
	byPath map[string]int64
}

func newCountingServer(t *testing.T) *countingServer {
	t.Helper()
	s := &countingServer{byPath: map[string]int64{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.total.Add(1)
		s.mu.Lock()
		s.byPath[r.URL.Path]++
		s.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) path(p string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPath[p]
}

// runLoad builds a loader for cfg and runs it to completion, failing the test on any error.
func runLoad(t *testing.T, cfg config) Result {
	t.Helper()
	l, err := newLoader(cfg)
	if err != nil {
		t.Fatalf("newLoader: %v", err)
	}
	res, err := l.Run(t.Context())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestRunSendsExactlyN(t *testing.T) {
	tests := []struct {
		name        string
		n           int64
		concurrency int
		paths       []string
	}{
		{"one request", 1, 1, []string{"/a"}},
		{"many workers", 1000, 8, []string{"/a"}},
		{"more workers than requests", 37, 64, []string{"/a"}},
		{"rotating URLs", 1000, 16, []string{"/a", "/b", "/c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCountingServer(t)
			var urls []string
			for _, p := range tt.paths {
				urls = append(urls, srv.URL+p)
			}
			res := runLoad(t, config{URLs: urls, Concurrency: tt.concurrency, Requests: tt.n})
			if got := srv.total.Load(); got != tt.n {
				t.Errorf("server received %d requests, want %d", got, tt.n)
			}
			if res.Requests != tt.n || res.OK != tt.n || res.Errors.Total() != 0 {
				t.Errorf("result requests %d ok %d errors %+v, want %d ok and no errors", res.Requests, res.OK, res.Errors, tt.n)
			}
			if res.Samples != uint64(tt.n) || res.Bytes != 2*tt.n || res.StopCause != "requests" {
				t.Errorf("samples %d bytes %d stop %q, want %d, %d, requests", res.Samples, res.Bytes, res.StopCause, tt.n, 2*tt.n)
			}
			// Request i goes to paths[i%len]: the first n%len paths get one more.
			k := int64(len(tt.paths))
			for i, p := range tt.paths {
				want := tt.n / k
				if int64(i) < tt.n%k {
					want++
				}
				if got := srv.path(p); got != want {
					t.Errorf("%s received %d, want %d", p, got, want)
				}
			}
			if res.Latency.Min <= 0 || res.Latency.Min > res.Latency.P50 || res.Latency.P50 > res.Latency.Max {
				t.Errorf("implausible latency %+v", res.Latency)
			}
		})
	}
}

func TestWarmupIsNotCounted(t *testing.T) {
	srv := newCountingServer(t)
	res := runLoad(t, config{URLs: []string{srv.URL}, Concurrency: 2, Requests: 50, Warmup: 100 * time.Millisecond})
	if res.Requests != 50 || res.OK != 50 {
		t.Errorf("measured %d requests (%d ok), want 50", res.Requests, res.OK)
	}
	if got := srv.total.Load(); got <= 50 {
		t.Errorf("server received %d requests, want more than 50 (warm-up plus measurement)", got)
	}
}

func TestDurationBound(t *testing.T) {
	srv := newCountingServer(t)
	start := time.Now()
	res := runLoad(t, config{URLs: []string{srv.URL}, Concurrency: 4, Duration: 300 * time.Millisecond})
	elapsed := time.Since(start)
	if res.StopCause != "duration" || res.Requests == 0 || res.Requests != srv.total.Load() {
		t.Errorf("stop %q, %d requests measured, %d received", res.StopCause, res.Requests, srv.total.Load())
	}
	if res.Duration < 300*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("measured %v (took %v), want at least 300ms and a prompt stop", res.Duration, elapsed)
	}
}

func TestRateModeKeepsTargetRate(t *testing.T) {
	tests := []struct {
		name     string
		rate     int
		n        int64
		duration time.Duration
		want     int64 // requests: the schedule fixes the count
	}{
		{"count bound", 400, 200, 0, 200},
		{"duration bound", 300, 0, 500 * time.Millisecond, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCountingServer(t)
			res := runLoad(t, config{
				URLs: []string{srv.URL}, Concurrency: 8, Rate: tt.rate, Requests: tt.n, Duration: tt.duration,
			})
			if res.Requests != tt.want || srv.total.Load() != tt.want {
				t.Errorf("measured %d, received %d, want %d", res.Requests, srv.total.Load(), tt.want)
			}
			// The last request is due at (want-1)/rate: finishing earlier means sending faster than the rate.
			lastDue := time.Duration(tt.want-1) * time.Second / time.Duration(tt.rate)
			if res.Duration < lastDue {
				t.Errorf("finished after %v, before the last scheduled send at %v", res.Duration, lastDue)
			}
			// Loose: the machine is shared and the test may run under -race.
			if got, lo, hi := res.Throughput(), 0.7*float64(tt.rate), 1.05*float64(tt.rate); got < lo || got > hi {
				t.Errorf("throughput %.1f req/s, want %.0f..%.0f for a target of %d", got, lo, hi, tt.rate)
			}
		})
	}
}

// TestOpenLoopMeasuresFromSchedule stalls one request and checks that the open-loop run charges the stall to every
// request it delayed (latency from the scheduled send time), while a closed-loop run charges it to one request.
func TestOpenLoopMeasuresFromSchedule(t *testing.T) {
	const stall = 300 * time.Millisecond
	newStallingServer := func(t *testing.T) string {
		t.Helper()
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 10 {
				time.Sleep(stall) // the server being slow is what is measured, not a readiness wait
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	// Open loop at 100 req/s on one worker: the 300 ms stall at request 10 delays requests 11..~39, about 20 of
	// them by more than 100 ms.
	open := runLoad(t, config{URLs: []string{newStallingServer(t)}, Concurrency: 1, Requests: 50, Rate: 100})
	if open.Latency.P90 < 100*time.Millisecond || open.Latency.Max < stall {
		t.Errorf("open loop p90 %v max %v, want p90 ≥ 100ms and max ≥ %v", open.Latency.P90, open.Latency.Max, stall)
	}
	closed := runLoad(t, config{URLs: []string{newStallingServer(t)}, Concurrency: 1, Requests: 50})
	if closed.Latency.P90 >= 100*time.Millisecond || closed.Latency.Max < stall {
		t.Errorf("closed loop p90 %v max %v, want p90 < 100ms and max ≥ %v", closed.Latency.P90, closed.Latency.Max, stall)
	}
}

func TestExpectStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "fine")
		case "/redirect":
			// Following this would leave loopback; the tool must count the 302 instead.
			http.Redirect(w, r, "http://192.0.2.1/", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	// Per round of four: two 200s, one 404, one 302.
	urls := []string{srv.URL + "/ok", srv.URL + "/missing", srv.URL + "/ok", srv.URL + "/redirect"}
	tests := []struct {
		expect     int
		ok, status int64
	}{
		{0, 20, 20}, // default 200
		{http.StatusOK, 20, 20},
		{http.StatusNotFound, 10, 30},
		{http.StatusFound, 10, 30},
		{http.StatusInternalServerError, 0, 40},
	}
	for _, tt := range tests {
		res := runLoad(t, config{URLs: urls, Concurrency: 4, Requests: 40, Expect: tt.expect})
		if res.OK != tt.ok || res.Errors.Status != tt.status || res.Errors.Transport+res.Errors.Timeout != 0 {
			t.Errorf("-expect %d: ok %d errors %+v, want ok %d, status errors %d", tt.expect, res.OK, res.Errors, tt.ok, tt.status)
		}
		if res.Requests != 40 || res.Samples != uint64(tt.ok) {
			t.Errorf("-expect %d: %d requests, %d latency samples; want 40 and %d", tt.expect, res.Requests, res.Samples, tt.ok)
		}
		want := map[int]int64{200: 20, 404: 10, 302: 10}
		for code, n := range want {
			if res.Statuses[code] != n {
				t.Errorf("-expect %d: statuses %v, want %v", tt.expect, res.Statuses, want)
				break
			}
		}
	}
}

func TestErrorKinds(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			select { // answer only after the client has given up
			case <-r.Context().Done():
			case <-release:
			}
		case "/slow-body":
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/hangup":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })

	tests := []struct {
		path string
		want Errors
	}{
		{"/slow", Errors{Timeout: 4}},
		{"/slow-body", Errors{Timeout: 4}},
		{"/hangup", Errors{Transport: 4}},
	}
	for _, tt := range tests {
		res := runLoad(t, config{URLs: []string{srv.URL + tt.path}, Concurrency: 2, Requests: 4, Timeout: 100 * time.Millisecond})
		if res.Errors != tt.want || res.OK != 0 || res.Requests != 4 {
			t.Errorf("%s: requests %d ok %d errors %+v, want errors %+v", tt.path, res.Requests, res.OK, res.Errors, tt.want)
		}
	}
}

func TestRequestShape(t *testing.T) {
	type seen struct{ method, host, header, body string }
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Host, r.Header.Get("X-Test"), string(body)}
	}))
	t.Cleanup(srv.Close)
	runLoad(t, config{
		URLs: []string{srv.URL}, Concurrency: 2, Requests: 4, Method: http.MethodPost, Body: []byte(`{"a":1}`),
		Header: http.Header{"X-Test": {"yes"}, "Host": {"databoard.test"}},
	})
	want := seen{http.MethodPost, "databoard.test", "yes", `{"a":1}`}
	for range 4 {
		if s := <-got; s != want {
			t.Errorf("server saw %+v, want %+v", s, want)
		}
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 50 {
			cancel()
		}
	}))
	t.Cleanup(srv.Close)
	l, err := newLoader(config{URLs: []string{srv.URL}, Concurrency: 4}) // no -n: up to 10 minutes
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Run(ctx)
	if !errors.Is(err, context.Canceled) || res.StopCause != "interrupted" {
		t.Fatalf("Run: err %v, stop %q; want context.Canceled and interrupted", err, res.StopCause)
	}
	if res.Errors.Total() != 0 || res.Requests < 40 || res.Requests > n.Load() {
		t.Errorf("interrupted run: %d requests, errors %+v, server saw %d; want ≥ 40, no errors", res.Requests, res.Errors, n.Load())
	}
}
