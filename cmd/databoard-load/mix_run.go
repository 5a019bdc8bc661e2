package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxAnswerBytes bounds what the mix reads of one answer (the whole channel list of a large catalogue is tens of MB).
const maxAnswerBytes = 256 << 20

// mixLoader runs the users of one mix.
type mixLoader struct {
	cfg    mixConfig
	client *http.Client // REST: one pool for every user's "browser" (each limited to BrowserConns requests)
	ws     *http.Client // WebSocket dials
	stats  *mixStats
	ids    []string // the dashboards made by the setup
	plan   [][][]int
}

func newMixLoader(cfg mixConfig) *mixLoader {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !cfg.AllowRemote {
		dialer.Control = dialLoopbackOnly
	}
	idle := min(cfg.Users*cfg.BrowserConns, 4096)
	transport := &http.Transport{
		Proxy:               nil, // measure the target, never an environment-configured proxy
		DialContext:         dialer.DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		// Compression stays on, as in a browser: the server gzips answers of 1 KiB and more, the transport
		// undoes it, and bytes are counted as read (uncompressed).
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	wsTransport := &http.Transport{Proxy: nil, DialContext: dialer.DialContext}
	return &mixLoader{
		cfg:    cfg,
		client: &http.Client{Transport: transport, CheckRedirect: noRedirect},
		ws:     &http.Client{Transport: wsTransport, CheckRedirect: noRedirect},
		stats:  newMixStats(),
	}
}

// MixResult is what one mix run measured.
type MixResult struct {
	Config      mixConfig
	Setup       error // the dashboards could not be made: nothing else is set
	Dashboards  int
	Curves      int // plot-channel pairs over every dashboard
	LiveUsers   int
	Duration    time.Duration // of the measurement
	UserMinutes float64       // users × the minutes each had a dashboard open inside the measurement
	Kinds       [numKinds]KindResult

	StreamMessages   map[string]int64
	StreamBytes      int64
	StreamErrors     map[int]int64
	StreamSamples    []string
	StreamDropped    int64 // live connections that ended before the run did
	StreamDialErrors int64
	LiveSubMinutes   float64 // subscription time inside the measurement

	Upstream    upstreamCount // databoard's own count of data-api requests (/metrics), during the measurement
	SimUpstream upstreamCount // what the simulator received (/sim/requests), during the measurement
	OldBackend  float64       // data-api requests the old backend would have made for the same requests (computed)

	Server, Client ServerUsage
}

// run creates the dashboards, starts the users over the ramp, measures for the duration and stops. Requests
// in flight when the measurement ends are waited for (up to their timeout) but no new ones start.
func (m *mixLoader) run(ctx context.Context, progress io.Writer) (MixResult, error) {
	cfg := m.cfg
	res := MixResult{Config: cfg}
	defer m.client.CloseIdleConnections()

	setupCtx, cancelSetup := context.WithTimeout(ctx, 5*time.Minute)
	ids, err := m.setupDashboards(setupCtx)
	cancelSetup()
	if err != nil {
		res.Setup = err
		return res, ctx.Err()
	}
	m.ids, m.plan = ids, dashboardPlan(cfg)
	res.Dashboards = len(ids)
	for _, plots := range m.plan {
		for _, idx := range plots {
			res.Curves += len(idx)
		}
	}
	fmt.Fprintf(progress, "databoard-load mix: %d dashboards made (%d plot-channels); starting %d users\n", len(ids), res.Curves, cfg.Users)

	// stop ends the users' schedules and keeps new requests from starting; ctx (an interrupt) cancels all.
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg    sync.WaitGroup
		start procState
		first = time.Now()
	)
	if cfg.Warmup == 0 {
		start = m.begin(ctx, progress) // before the first request, so that every request counts
	}
	for i := range cfg.Users {
		u := m.newUser(i)
		res.LiveUsers += btoi(u.live)
		wg.Go(func() { u.run(ctx, stopCtx, first) })
	}
	if cfg.Warmup > 0 {
		sleepUntil(ctx, first.Add(cfg.Warmup))
		start = m.begin(ctx, progress)
	}
	sleepUntil(ctx, start.at.Add(cfg.Duration))
	mStart, mEnd := start.at, m.stats.finish(stop)
	end := m.sample(ctx)
	wg.Wait()

	res.Duration = mEnd.Sub(mStart)
	res.UserMinutes = m.stats.userMinutes(mEnd)
	m.collect(&res)
	res.Upstream, res.SimUpstream = end.up.minus(start.up), end.sim.minus(start.sim)
	var curves int64
	for k := range res.Kinds {
		if reqKind(k).isCurve() {
			curves += res.Kinds[k].Requests
		}
	}
	res.OldBackend = oldBackendRequests(curves, res.Kinds[kindSearch].Requests, 60*res.LiveSubMinutes, cfg.Refresh)
	if cfg.PID > 0 {
		res.Server = usage(start.server, start.server, end.server, res.Duration, 0, -1, -1)
	}
	res.Client = usage(start.self, start.self, end.self, res.Duration, 0, -1, -1)
	return res, ctx.Err()
}

// procState is what is read at the start and the end of the measurement.
type procState struct {
	at           time.Time
	server, self procSample
	up, sim      upstreamCount
}

func (m *mixLoader) sample(ctx context.Context) procState {
	var st procState
	if m.cfg.PID > 0 {
		st.server = procUsage(m.cfg.PID)
	}
	st.self = procUsage(0)
	st.up, st.sim = m.upstream(ctx)
	st.at = time.Now()
	return st
}

// begin reads the counters and opens the measurement.
func (m *mixLoader) begin(ctx context.Context, progress io.Writer) procState {
	st := m.sample(ctx)
	m.stats.gate.Lock()
	m.stats.win.start.Store(st.at.UnixNano())
	m.stats.gate.Unlock()
	fmt.Fprintf(progress, "databoard-load mix: measuring for %v\n", m.cfg.Duration)
	return st
}

func (m *mixLoader) collect(res *MixResult) {
	s := m.stats
	for k := range s.kinds {
		res.Kinds[k] = s.kinds[k].result(reqKind(k))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res.StreamMessages = s.streamTypes
	res.StreamErrors = s.streamErrors
	res.StreamSamples = s.streamSamples
	res.LiveSubMinutes = s.liveSubSeconds / 60
	res.StreamBytes = s.streamBytes.Load()
	res.StreamDropped = s.streamDropped.Load()
	res.StreamDialErrors = s.streamDialErrors.Load()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// answer is a response read in full.
type answer struct {
	status int
	body   []byte
	header http.Header
}

// do sends one request to databoard and reads the whole answer. A non-nil error means no complete answer.
func (m *mixLoader) do(ctx context.Context, method, path string, body []byte) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.cfg.URL+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	return answer{status: resp.StatusCode, body: b, header: resp.Header}, err
}

// setupCall runs one unmeasured request and decodes a JSON answer into into.
func (m *mixLoader) setupCall(ctx context.Context, method, path string, body []byte, into any) (int, error) {
	a, err := m.do(ctx, method, path, body)
	if err != nil {
		return 0, err
	}
	if a.status >= 300 {
		return a.status, fmt.Errorf("%s", detailOf(a.body))
	}
	return a.status, json.Unmarshal(a.body, into)
}

// detailOf is the "detail" of an error answer, else the start of its body.
func detailOf(body []byte) string {
	var e struct{ Detail any }
	if json.Unmarshal(body, &e) == nil && e.Detail != nil {
		if s, ok := e.Detail.(string); ok {
			return s
		}
		b, _ := json.Marshal(e.Detail)
		return string(b)
	}
	const max = 200
	if len(body) > max {
		body = body[:max]
	}
	return strings.TrimSpace(string(body))
}

// measured sends one request of kind k for user u: it waits for one of the user's browser slots, sends unless
// the run is stopping, and records the outcome. check, when not nil, says what is wrong with an answer of the
// expected status ("" when nothing). It returns the answer and whether it was what the route promises.
func (m *mixLoader) measured(ctx, stopCtx context.Context, u *user, k reqKind, method, path string, body []byte,
	okStatus int, check func(answer) string) (answer, bool) {
	select {
	case u.slots <- struct{}{}:
	case <-stopCtx.Done():
		return answer{}, false
	}
	defer func() { <-u.slots }()
	sent, ok := m.stats.admit(stopCtx)
	if !ok {
		return answer{}, false
	}
	rctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	a, err := m.do(rctx, method, path, body)
	latency := time.Since(sent)
	if ctx.Err() != nil {
		return answer{}, false // interrupted: not a measurement
	}
	o := outcome{status: a.status, bytes: int64(len(a.body)), xcache: a.header.Get("X-Cache")}
	switch {
	case err != nil && (errors.Is(rctx.Err(), context.DeadlineExceeded) || isTimeout(err)):
		o.timeout = true
	case err != nil:
		o.transport, o.detail = true, err.Error()
	case a.status != okStatus:
		o.detail = detailOf(a.body)
	case check != nil:
		o.badBody = check(a)
	}
	m.stats.record(k, sent, latency, okStatus, o)
	return a, err == nil && a.status == okStatus && o.badBody == ""
}

// newUser makes user i: its random stream, whether it is live, its screen width.
func (m *mixLoader) newUser(i int) *user {
	rng := rand.New(rand.NewPCG(m.cfg.Seed, uint64(i)+2)) // streams 0 and 1 are the dashboards'
	return &user{
		m: m, rng: rng,
		live:  isLive(i, m.cfg.Live),
		width: screenWidths[rng.IntN(len(screenWidths))],
		slots: make(chan struct{}, m.cfg.BrowserConns),
	}
}

// isLive spreads the live users evenly: user i is live when the running count of Users×live grows at i, so
// exactly ⌊Users×live⌋ users are live, whatever the seed.
func isLive(i int, live float64) bool {
	return int(float64(i+1)*live+1e-9) > int(float64(i)*live+1e-9)
}

// screenWidths are common browser viewport widths: the frontend asks for window.innerWidth bins.
var screenWidths = []int{1280, 1440, 1536, 1920, 1920, 2560}
