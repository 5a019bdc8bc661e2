package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what one measured run produced.
type Result struct {
	Method      string
	URLs        []string
	Concurrency int
	Rate        int // target requests per second; 0 = closed loop

	Requests  int64 // completed requests: OK plus every error
	OK        int64 // requests answered with the expected status
	Errors    Errors
	Statuses  map[int]int64 // responses by status code, expected or not
	Bytes     int64         // response body bytes received
	Duration  time.Duration // from the first send (or first scheduled send) until the last request finished
	Latency   Latency       // of OK requests; open loop: from the scheduled send time
	Samples   uint64        // latencies behind Latency (equals OK)
	StopCause string        // which bound ended the run: "requests", "duration" or "interrupted"
}

// Errors counts failed requests by kind.
type Errors struct {
	Status    int64 // a response with a status other than the expected one
	Transport int64 // no complete response: refused, reset, malformed, ...
	Timeout   int64 // the per-request timeout expired, response body included
	Body      int64 // mix mode: an expected status with a body that is not what the route promises
}

// Total returns the number of failed requests.
func (e Errors) Total() int64 { return e.Status + e.Transport + e.Timeout + e.Body }

// Throughput returns completed requests per second.
func (r Result) Throughput() float64 { return perSecond(r.Requests, r.Duration) }

// BytesPerSecond returns response body bytes per second.
func (r Result) BytesPerSecond() float64 { return perSecond(r.Bytes, r.Duration) }

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// loader generates load as described by its config. It holds one http.Client shared by all workers so that
// connections are kept alive and reused across requests.
type loader struct {
	cfg    config
	client *http.Client
	host   string // request Host override from a "Host" header; "" = from the URL
	header http.Header
}

// newLoader validates cfg (zero fields take their defaults) and builds the shared client. It does no I/O.
func newLoader(cfg config) (*loader, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	header := cfg.Header.Clone()
	host := header.Get("Host")
	header.Del("Host")

	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowRemote {
		dialer.Control = dialLoopbackOnly
	}
	hosts := map[string]bool{}
	for _, raw := range cfg.URLs {
		if u, err := url.Parse(raw); err == nil {
			hosts[u.Host] = true
		}
	}
	transport := &http.Transport{
		Proxy:               nil, // measure the target, never an environment-configured proxy
		DialContext:         dialer.DialContext,
		MaxIdleConns:        cfg.Concurrency * len(hosts),
		MaxIdleConnsPerHost: cfg.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: cfg.Timeout,
		DisableCompression:  true, // count bytes as sent; ask for gzip with -header to measure it
	}
	client := &http.Client{
		Transport: transport,
		// A redirect is an answer like any other (and following one could leave loopback).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &loader{cfg: cfg, client: client, host: host, header: header}, nil
}

// Run runs the warm-up, if any, then the measurement, and returns the measurement's result. It stops at the first
// bound reached: the request count, the duration, or ctx being done; in the last case it returns the partial result
// together with ctx's error. Requests cut short by ctx are not counted.
func (l *loader) Run(ctx context.Context) (Result, error) {
	defer l.client.CloseIdleConnections()
	if l.cfg.Warmup > 0 {
		l.phase(ctx, maxRequests, l.cfg.Warmup)
		if err := ctx.Err(); err != nil {
			return l.result(&phaseStats{stopCause: "interrupted"}), fmt.Errorf("warm-up: %w", err)
		}
	}
	ps := l.phase(ctx, l.cfg.Requests, l.cfg.Duration)
	return l.result(ps), ctx.Err()
}

// phaseStats is the merged outcome of one phase.
type phaseStats struct {
	tally
	hist      *histogram
	elapsed   time.Duration
	stopCause string
}

// tally is one worker's count of outcomes; each worker owns one, merged when all have finished.
type tally struct {
	ok, status, transport, timeout, bytes int64
	statuses                              map[int]int64
}

func (t *tally) add(o *tally) {
	t.ok += o.ok
	t.status += o.status
	t.transport += o.transport
	t.timeout += o.timeout
	t.bytes += o.bytes
	for code, n := range o.statuses {
		t.statuses[code] += n
	}
}

// phase sends requests from cfg.Concurrency workers until count requests have been claimed, dur has passed (no
// request starts, or in open loop is scheduled, at or after start+dur; requests in flight finish) or ctx is done.
func (l *loader) phase(ctx context.Context, count int64, dur time.Duration) *phaseStats {
	var (
		next  atomic.Int64 // index of the next request to claim
		wg    sync.WaitGroup
		hist  = new(histogram)
		tals  = make([]tally, l.cfg.Concurrency)
		start = time.Now()
		end   = start.Add(dur)
	)
	for w := range tals {
		tals[w].statuses = map[int]int64{}
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= count {
					return
				}
				var due time.Time
				if l.cfg.Rate > 0 {
					// Integer maths keeps the schedule exact: i ≤ 1e7, so i*1e9 fits in an int64.
					due = start.Add(time.Duration(i) * time.Second / time.Duration(l.cfg.Rate))
					if !due.Before(end) || !sleepUntil(ctx, due) {
						return
					}
				} else {
					due = time.Now()
					if !due.Before(end) {
						return
					}
				}
				if ctx.Err() != nil {
					return
				}
				l.send(ctx, i, due, &tals[w], hist)
			}
		})
	}
	wg.Wait()

	ps := &phaseStats{hist: hist, elapsed: time.Since(start), tally: tally{statuses: map[int]int64{}}}
	for w := range tals {
		ps.add(&tals[w])
	}
	switch {
	case ctx.Err() != nil:
		ps.stopCause = "interrupted"
	case next.Load() >= count:
		ps.stopCause = "requests"
	default:
		ps.stopCause = "duration"
	}
	return ps
}

// sleepUntil waits until t or ctx is done, reporting whether t was reached.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// send performs request i, reads the whole response body and counts the outcome in t; the latency of an OK
// request, measured from due, goes into hist.
func (l *loader) send(ctx context.Context, i int64, due time.Time, t *tally, hist *histogram) {
	reqCtx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()

	var body io.Reader
	if l.cfg.Body != nil {
		body = bytes.NewReader(l.cfg.Body)
	}
	target := l.cfg.URLs[int(i%int64(len(l.cfg.URLs)))]
	req, err := http.NewRequestWithContext(reqCtx, l.cfg.Method, target, body)
	if err != nil { // validated up front; count it rather than crash
		t.transport++
		return
	}
	if len(l.header) > 0 {
		req.Header = l.header.Clone() // the transport may read headers while another worker builds its request
	}
	if l.host != "" {
		req.Host = l.host
	}

	resp, err := l.client.Do(req)
	if err == nil {
		var n int64
		n, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.bytes += n
	}
	switch {
	case ctx.Err() != nil:
		// Cut short by the caller, not by the target: not a measurement.
		return
	case err != nil && (errors.Is(reqCtx.Err(), context.DeadlineExceeded) || isTimeout(err)):
		t.timeout++
		return
	case err != nil:
		t.transport++
		return
	}
	latency := time.Since(due)
	t.statuses[resp.StatusCode]++
	if resp.StatusCode != l.cfg.Expect {
		t.status++
		return
	}
	t.ok++
	hist.record(latency)
}

// isTimeout reports whether err is a network timeout (a dial or TLS handshake deadline, for instance).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// result turns a phase's stats into a Result.
func (l *loader) result(ps *phaseStats) Result {
	r := Result{
		Method:      l.cfg.Method,
		URLs:        l.cfg.URLs,
		Concurrency: l.cfg.Concurrency,
		Rate:        l.cfg.Rate,
		OK:          ps.ok,
		Errors:      Errors{Status: ps.status, Transport: ps.transport, Timeout: ps.timeout},
		Statuses:    ps.statuses,
		Bytes:       ps.bytes,
		Duration:    ps.elapsed,
		StopCause:   ps.stopCause,
	}
	r.Requests = r.OK + r.Errors.Total()
	if ps.hist != nil {
		r.Latency = ps.hist.summary()
		r.Samples = ps.hist.count()
	}
	return r
}
