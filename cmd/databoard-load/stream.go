package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Hard limits of the stream mode: every run stops by itself, whatever the flags say.
const (
	maxStreamConns  = 20_000
	maxStreamSubs   = 100 // the server's default STREAM_MAX_SUBSCRIPTIONS
	maxStreamSeries = 100_000
	maxStreamDial   = 256
)

// streamConfig describes one stream run. The zero value of each field is its default.
type streamConfig struct {
	URL           string        // ws:// or http:// URL of /stream
	Conns         int           // WebSocket connections; default 1000
	Subs          int           // subscriptions per connection; default 10; 0 = idle connections
	Series        int           // distinct series the subscriptions spread over; default 100
	ChannelFormat string        // fmt format of channel i's name; default "SIM-GEN:CH%06d" (daqbuf-sim -catalogue N)
	Backend       string        // default sf-databuffer
	Window        time.Duration // rolling window; default 10m
	Bins          int           // num_bins; default 1000; 0 = raw events
	Duration      time.Duration // measurement; default 60s, at most 10 minutes
	Warmup        time.Duration // after every connection got its first messages; default 5s
	Ready         time.Duration // how long to wait for every connection to be dialled and greeted; default 2m
	Dial          int           // connections dialled at once; default 32
	PID           int           // the server's process id, for RSS and CPU from /proc; 0 = none
	MetricsURL    string        // the server's /metrics, for its Go heap; "" = none
	UpdatesURL    string        // the server's /debug/stream/updates, for "poll result ready → decoded"; "" = none
	AllowRemote   bool
}

func (c streamConfig) withDefaults() streamConfig {
	if c.Conns == 0 {
		c.Conns = 1000
	}
	if c.Series == 0 {
		c.Series = 100
	}
	if c.ChannelFormat == "" {
		c.ChannelFormat = "SIM-GEN:CH%06d"
	}
	if c.Backend == "" {
		c.Backend = "sf-databuffer"
	}
	if c.Window == 0 {
		c.Window = 10 * time.Minute
	}
	if c.Duration == 0 {
		c.Duration = 60 * time.Second
	}
	if c.Ready == 0 {
		c.Ready = 2 * time.Minute
	}
	if c.Dial == 0 {
		c.Dial = 32
	}
	return c
}

func (c streamConfig) validate() error {
	if c.URL == "" {
		return errors.New("no target: give -url ws://host:port/stream")
	}
	if err := checkTarget(httpURL(c.URL), c.AllowRemote); err != nil {
		return err
	}
	for _, u := range []string{c.MetricsURL, c.UpdatesURL} {
		if u == "" {
			continue
		}
		if err := checkTarget(u, c.AllowRemote); err != nil {
			return err
		}
	}
	switch {
	case c.Conns < 1 || c.Conns > maxStreamConns:
		return fmt.Errorf("-conns %d: want 1..%d", c.Conns, maxStreamConns)
	case c.Subs < 0 || c.Subs > maxStreamSubs:
		return fmt.Errorf("-subs %d: want 0..%d", c.Subs, maxStreamSubs)
	case c.Series < 1 || c.Series > maxStreamSeries:
		return fmt.Errorf("-series %d: want 1..%d", c.Series, maxStreamSeries)
	case c.Subs > c.Series:
		return fmt.Errorf("-subs %d above -series %d: a connection's subscriptions are distinct series", c.Subs, c.Series)
	case c.Window <= 0:
		return fmt.Errorf("-window %v: want more than 0", c.Window)
	case c.Bins < 0:
		return fmt.Errorf("-bins %d: want 0 (raw) or more", c.Bins)
	case c.Duration <= 0 || c.Duration > maxDuration:
		return fmt.Errorf("-d %v: want more than 0 and at most %v", c.Duration, maxDuration)
	case c.Warmup < 0 || c.Warmup > maxDuration:
		return fmt.Errorf("-warmup %v: want 0 to %v", c.Warmup, maxDuration)
	case c.Ready <= 0 || c.Ready > maxDuration:
		return fmt.Errorf("-ready %v: want more than 0 and at most %v", c.Ready, maxDuration)
	case c.Dial < 1 || c.Dial > maxStreamDial:
		return fmt.Errorf("-dial %d: want 1..%d", c.Dial, maxStreamDial)
	}
	return nil
}

// httpURL maps ws(s):// to http(s)://, for the loopback check.
func httpURL(raw string) string {
	switch {
	case strings.HasPrefix(raw, "ws://"):
		return "http://" + strings.TrimPrefix(raw, "ws://")
	case strings.HasPrefix(raw, "wss://"):
		return "https://" + strings.TrimPrefix(raw, "wss://")
	}
	return raw
}

const streamUsageLine = `usage: databoard-load stream -url ws://127.0.0.1:8080/stream [-conns 1000] [-subs 10] [-series 100]
       [-channel-format 'SIM-GEN:CH%06d'] [-backend sf-databuffer] [-window 10m] [-bins 1000]
       [-d 60s] [-warmup 5s] [-ready 2m] [-dial 32] [-pid PID] [-metrics URL] [-updates URL] [-json] [-allow-remote]`

func parseStreamFlags(args []string, stderr io.Writer) (streamConfig, bool, error) {
	fs := flag.NewFlagSet("databoard-load stream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, streamUsageLine)
		fs.PrintDefaults()
	}
	var c streamConfig
	fs.StringVar(&c.URL, "url", "", "the server's /stream, ws://host:port/stream")
	fs.IntVar(&c.Conns, "conns", 1000, fmt.Sprintf("WebSocket connections (at most %d)", maxStreamConns))
	fs.IntVar(&c.Subs, "subs", 10, "subscriptions per connection (0: idle connections)")
	fs.IntVar(&c.Series, "series", 100, "distinct series: subscription j of connection i is series (i*subs+j) mod series")
	fs.StringVar(&c.ChannelFormat, "channel-format", "SIM-GEN:CH%06d", "channel name of series i, a fmt format of i (daqbuf-sim -catalogue N serves SIM-GEN:CH000000...)")
	fs.StringVar(&c.Backend, "backend", "sf-databuffer", "backend of every subscription")
	fs.DurationVar(&c.Window, "window", 10*time.Minute, "rolling window (window_ms)")
	fs.IntVar(&c.Bins, "bins", 1000, "num_bins (0: raw events)")
	fs.DurationVar(&c.Duration, "d", 60*time.Second, fmt.Sprintf("duration of the measurement (at most %v)", maxDuration))
	fs.DurationVar(&c.Warmup, "warmup", 5*time.Second, "unmeasured time after every connection got its first messages")
	fs.DurationVar(&c.Ready, "ready", 2*time.Minute, "how long dialling and the first messages may take")
	fs.IntVar(&c.Dial, "dial", 32, "connections dialled at once")
	fs.IntVar(&c.PID, "pid", 0, "the server's process id: its RSS and CPU time are read from /proc")
	fs.StringVar(&c.MetricsURL, "metrics", "", "the server's /metrics URL: its Go heap is read from it")
	fs.StringVar(&c.UpdatesURL, "updates", "", "the server's /debug/stream/updates (on its DEBUG_LISTEN_ADDR): fan-out is also measured from each update's ready time")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow non-loopback targets")
	if err := fs.Parse(args); err != nil {
		return streamConfig{}, false, err
	}
	if fs.NArg() > 0 {
		return streamConfig{}, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := refuseZero(fs, "conns", "series", "d", "ready", "dial", "window"); err != nil {
		return streamConfig{}, false, err
	}
	return c, *asJSON, nil
}

// runStream is the stream subcommand: it parses args, runs the load and prints the result.
func runStream(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, asJSON, code, ok := configure("databoard-load stream", stderr, func() (streamConfig, bool, error) { return parseStreamFlags(args, stderr) })
	if !ok {
		return code
	}
	fmt.Fprintf(stderr, "databoard-load stream: %d connections × %d subscriptions over %d series (%s, %v window, %d bins), warm-up %v, measuring %v\n",
		cfg.Conns, cfg.Subs, cfg.Series, cfg.ChannelFormat, cfg.Window, cfg.Bins, cfg.Warmup, cfg.Duration)
	res, runErr := newStreamLoader(cfg).run(ctx, stderr)
	return printResult(stdout, stderr, "databoard-load stream", res, runErr, asJSON, writeStreamText, writeStreamJSON)
}

// StreamResult is what one stream run measured. Latencies are from the messages received while measuring.
type StreamResult struct {
	Conns, Subs, Series int
	Connected           int           // connections that were dialled and got every first message in time
	DialErrors          int64         // connections that could not be dialled
	Dropped             int64         // connections that ended before the run did
	ReadyIn             time.Duration // from the first dial until every connection had its first messages

	Duration  time.Duration // of the measurement
	Messages  map[string]int64
	Bytes     int64
	Appends   int64
	Snapshots int64 // snapshots while measuring: slow-consumer conflation, or a change of bin width

	// FanOut is from a message's end_time (the time of the poll that made it; a rolling window ends at
	// the poll's now) to the moment the client decoded it: poll duration + fan-out, an upper bound of
	// "poll result ready → decoded". Appends only.
	FanOut Latency
	// Ready is "poll result ready → decoded": from the time the server lists for an update
	// (-updates) to each decode of it. Appends only; ReadyJoined of them had a time listed,
	// ReadyUnlisted had none (older than the server's history, or -updates not given).
	Ready                      Latency
	ReadyJoined, ReadyUnlisted int64
	// Spread is, per (series, offset) that reached every subscriber of the series while measuring, the
	// time from the first subscriber's decode to the last one's.
	Spread Latency
	// Freshness is from the previous message's end_time of the same subscription to the decode of this
	// append: the age of the oldest event that this append is the first to carry (an event at time t is
	// upstream from t on; it was not in the previous poll).
	Freshness Latency
	// AppendBytes: the size of every append frame (JSON text as received); AppendPoints: points in its
	// value map.
	AppendBytes, AppendPoints Distribution
	Samples                   uint64 // appends behind FanOut

	Server ServerUsage
	Client ServerUsage // this process, which shares the machine
}

// Distribution summarises sizes (recorded in the latency histogram as nanoseconds: exact below 512).
type Distribution struct{ Min, P50, P99, Max int64 }

// ServerUsage is a process's memory and CPU over the run.
type ServerUsage struct {
	Measured        bool
	RSSBefore       int64   // bytes, before the first dial
	RSSReady        int64   // bytes, every connection greeted and warmed up
	RSSEnd          int64   // bytes, at the end of the measurement
	RSSPeak         int64   // bytes, VmHWM at the end (the process's peak since it started)
	HeapBefore      int64   // go_memstats_heap_inuse_bytes before the first dial (-metrics); -1 = unknown
	HeapReady       int64   // and once every connection was greeted and warmed up
	CPUSeconds      float64 // user+system during the measurement
	CPUShare        float64 // CPUSeconds / measurement wall time (1 = one core busy)
	PerConnRSSBytes float64 // (RSSReady - RSSBefore) / connections
	PerConnHeap     float64 // (HeapReady - HeapBefore) / connections; 0 when unknown
}

// streamLoader runs the connections and collects what they receive.
type streamLoader struct {
	cfg    streamConfig
	client *http.Client

	measuring atomic.Bool
	fanOut    histogram
	freshness histogram
	appendB   histogram
	appendP   histogram
	bytes     atomic.Int64
	appends   atomic.Int64
	snapshots atomic.Int64
	dialErrs  atomic.Int64
	dropped   atomic.Int64

	mu       sync.Mutex
	types    map[string]int64
	receipts map[receiptKey]*receipt
	subsOf   []int // subscribers of each series
}

type receiptKey struct {
	series int
	offset string
}

type receipt struct {
	first, last time.Time
	n           int
	times       []int64 // every decode, Unix ns; kept only with -updates
}

func newStreamLoader(cfg streamConfig) *streamLoader {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !cfg.AllowRemote {
		dialer.Control = dialLoopbackOnly
	}
	transport := &http.Transport{Proxy: nil, DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}
	l := &streamLoader{cfg: cfg, client: &http.Client{Transport: transport},
		types: map[string]int64{}, receipts: map[receiptKey]*receipt{}, subsOf: make([]int, cfg.Series)}
	for i := range cfg.Conns {
		for j := range cfg.Subs {
			l.subsOf[l.seriesOf(i, j)]++
		}
	}
	return l
}

// seriesOf is the series of connection i's subscription j.
func (l *streamLoader) seriesOf(i, j int) int { return (i*l.cfg.Subs + j) % l.cfg.Series }

// subscribeMsg is the subscribe of series k, with id "s<k>".
func (l *streamLoader) subscribeMsg(k int) []byte {
	m := map[string]any{
		"type": "subscribe", "id": fmt.Sprintf("s%d", k),
		"channel_name": fmt.Sprintf(l.cfg.ChannelFormat, k), "backend": l.cfg.Backend,
		"window_ms": l.cfg.Window.Milliseconds(), "num_bins": l.cfg.Bins,
		"useEventsIfBinCountTooLarge": true, "removeEmptyBins": false,
	}
	b, _ := json.Marshal(m)
	return b
}

// serverMessage is every field a server message may have (docs/streaming.md), decoded in full.
type serverMessage struct {
	Type        string                    `json:"type"`
	ID          string                    `json:"id"`
	Epoch       string                    `json:"epoch"`
	Offset      string                    `json:"offset"`
	Recovered   bool                      `json:"recovered"`
	BeginTime   int64                     `json:"begin_time"`
	EndTime     int64                     `json:"end_time"`
	TrimBefore  string                    `json:"trim_before"`
	ReplaceFrom string                    `json:"replace_from"`
	Curve       map[string]map[string]any `json:"curve"`
	Status      int                       `json:"status"`
	Detail      string                    `json:"detail"`
	Final       bool                      `json:"final"`
	Time        int64                     `json:"time"`
}

func (l *streamLoader) run(ctx context.Context, progress io.Writer) (StreamResult, error) {
	cfg := l.cfg
	res := StreamResult{Conns: cfg.Conns, Subs: cfg.Subs, Series: cfg.Series}
	self := procUsage(0)
	var server procSample
	if cfg.PID > 0 {
		server = procUsage(cfg.PID)
	}
	heapBefore := l.heap(ctx)

	runCtx, cancel := context.WithTimeout(ctx, cfg.Ready+cfg.Warmup+cfg.Duration+30*time.Second)
	defer cancel()
	var (
		wg        sync.WaitGroup
		greeted   sync.WaitGroup // one per connection: dialled and got its first message for every subscription
		slots     = make(chan struct{}, cfg.Dial)
		connected atomic.Int64
		start     = time.Now()
	)
	// -ready bounds the dialling too: a server that holds handshakes must not keep the loop waiting for a
	// free slot past it (the connections dialled by then are measured, the rest never start).
	readyCtx, readyCancel := context.WithTimeout(runCtx, cfg.Ready)
	defer readyCancel()
	greeted.Add(cfg.Conns)
	for i := range cfg.Conns {
		select {
		case slots <- struct{}{}:
		case <-readyCtx.Done():
			greeted.Done() // this one and the rest never start
			continue
		}
		wg.Go(func() {
			once := sync.OnceFunc(greeted.Done)
			defer once()
			ws := l.dial(runCtx, i)
			<-slots
			if ws == nil {
				return
			}
			defer ws.CloseNow()
			l.serve(runCtx, ws, i, func() { connected.Add(1); once() })
		})
	}
	ready := make(chan struct{})
	go func() { greeted.Wait(); close(ready) }()
	select {
	case <-ready:
	case <-readyCtx.Done():
		if ctx.Err() == nil {
			fmt.Fprintf(progress, "databoard-load stream: only %d of %d connections ready after %v; measuring those\n", connected.Load(), cfg.Conns, cfg.Ready)
		}
	}
	res.ReadyIn = time.Since(start)
	res.Connected = int(connected.Load())
	fmt.Fprintf(progress, "databoard-load stream: %d connections ready in %v; warming up\n", res.Connected, res.ReadyIn.Round(time.Millisecond))
	sleepUntil(ctx, time.Now().Add(cfg.Warmup))

	var serverReady procSample
	if cfg.PID > 0 {
		serverReady = procUsage(cfg.PID)
	}
	heapReady := l.heap(ctx)
	selfReady := procUsage(0)
	l.measuring.Store(true)
	mStart := time.Now()
	sleepUntil(ctx, mStart.Add(cfg.Duration))
	l.measuring.Store(false)
	res.Duration = time.Since(mStart)
	var serverEnd procSample
	if cfg.PID > 0 {
		serverEnd = procUsage(cfg.PID)
	}
	selfEnd := procUsage(0)
	cancel()
	wg.Wait()

	res.DialErrors = l.dialErrs.Load()
	res.Dropped = l.dropped.Load()
	res.Bytes = l.bytes.Load()
	res.Appends = l.appends.Load()
	res.Snapshots = l.snapshots.Load()
	res.FanOut = l.fanOut.summary()
	res.Samples = l.fanOut.count()
	res.Freshness = l.freshness.summary()
	res.AppendBytes = distribution(&l.appendB)
	res.AppendPoints = distribution(&l.appendP)
	var spread histogram
	l.mu.Lock()
	res.Messages = l.types
	for _, r := range l.receipts {
		if r.n >= l.subsOfAll() {
			spread.record(r.last.Sub(r.first))
		}
	}
	l.mu.Unlock()
	res.Spread = spread.summary()
	if cfg.UpdatesURL != "" {
		if err := l.joinUpdates(ctx, &res); err != nil {
			fmt.Fprintf(progress, "databoard-load stream: no ready times: %v\n", err)
		}
	}
	if cfg.PID > 0 {
		res.Server = usage(server, serverReady, serverEnd, res.Duration, res.Connected, heapBefore, heapReady)
	}
	res.Client = usage(self, selfReady, selfEnd, res.Duration, res.Connected, -1, -1)
	return res, ctx.Err()
}

// subsOfAll is the subscriber count of the least subscribed series: a (series, offset) seen that many
// times reached all its subscribers (the count is the same for every series when conns*subs is a
// multiple of series, as in every run of BENCHMARKS.md).
func (l *streamLoader) subsOfAll() int {
	m := l.subsOf[0]
	for _, n := range l.subsOf {
		m = min(m, n)
	}
	return max(m, 1)
}

func distribution(h *histogram) Distribution {
	s := h.summary()
	return Distribution{Min: int64(s.Min), P50: int64(s.P50), P99: int64(s.P99), Max: int64(s.Max)}
}

func (l *streamLoader) dial(ctx context.Context, i int) *websocket.Conn {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, l.cfg.URL, &websocket.DialOptions{HTTPClient: l.client})
	if err != nil {
		l.dialErrs.Add(1)
		return nil
	}
	ws.SetReadLimit(64 << 20)
	for j := range l.cfg.Subs {
		if err := ws.Write(dctx, websocket.MessageText, l.subscribeMsg(l.seriesOf(i, j))); err != nil {
			l.dialErrs.Add(1)
			_ = ws.CloseNow()
			return nil
		}
	}
	return ws
}

// serve reads and decodes every message of connection i until ctx ends, calling greeted once every
// subscription has had its first message (at once for idle connections).
func (l *streamLoader) serve(ctx context.Context, ws *websocket.Conn, i int, greeted func()) {
	lastEnd := make(map[string]int64, l.cfg.Subs) // id -> end_time of its previous message
	if l.cfg.Subs == 0 {
		greeted()
	}
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.dropped.Add(1)
			}
			return
		}
		var m serverMessage
		if err := json.Unmarshal(b, &m); err != nil {
			l.count("undecodable")
			continue
		}
		now := time.Now()
		measuring := l.measuring.Load()
		prevEnd, hadPrev := lastEnd[m.ID]
		switch m.Type {
		case "snapshot", "append":
			lastEnd[m.ID] = m.EndTime
			if len(lastEnd) == l.cfg.Subs && !hadPrev {
				greeted()
			}
		case "error":
			if m.Final {
				lastEnd[m.ID] = 0 // count it as greeted: it will get nothing more
				if len(lastEnd) == l.cfg.Subs && !hadPrev {
					greeted()
				}
			}
		}
		if !measuring {
			continue
		}
		l.count(m.Type)
		l.bytes.Add(int64(len(b)))
		switch m.Type {
		case "snapshot":
			l.snapshots.Add(1)
		case "append":
			l.appends.Add(1)
			l.fanOut.record(now.Sub(time.UnixMilli(m.EndTime)))
			if hadPrev && prevEnd > 0 {
				l.freshness.record(now.Sub(time.UnixMilli(prevEnd)))
			}
			l.appendB.record(time.Duration(len(b)))
			var k int
			if _, err := fmt.Sscanf(m.ID, "s%d", &k); err == nil && k < l.cfg.Series {
				l.appendP.record(time.Duration(len(m.Curve[fmt.Sprintf(l.cfg.ChannelFormat, k)])))
				l.receipt(receiptKey{series: k, offset: m.Epoch + "/" + m.Offset}, now)
			}
		}
	}
}

func (l *streamLoader) count(typ string) {
	l.mu.Lock()
	l.types[typ]++
	l.mu.Unlock()
}

func (l *streamLoader) receipt(k receiptKey, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.receipts[k]
	if r == nil {
		r = &receipt{first: at, last: at}
		l.receipts[k] = r
	}
	r.first = minTime(r.first, at)
	r.last = maxTime(r.last, at)
	r.n++
	if l.cfg.UpdatesURL != "" {
		r.times = append(r.times, at.UnixNano())
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// heap reads go_memstats_heap_inuse_bytes from -metrics; -1 when not given or unreadable.
func (l *streamLoader) heap(ctx context.Context) int64 {
	if l.cfg.MetricsURL == "" {
		return -1
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.cfg.MetricsURL, nil)
	if err != nil {
		return -1
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return -1
	}
	return metricValue(string(body), "go_memstats_heap_inuse_bytes")
}

// metricValue returns the value of an unlabelled metric in a Prometheus text exposition, or -1.
func metricValue(text, name string) int64 {
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g", &f); err == nil {
				return int64(f)
			}
		}
	}
	return -1
}

func usage(before, ready, end procSample, wall time.Duration, conns int, heapBefore, heapReady int64) ServerUsage {
	u := ServerUsage{Measured: before.ok && end.ok, RSSBefore: before.rss, RSSReady: ready.rss, RSSEnd: end.rss,
		RSSPeak: end.hwm, HeapBefore: heapBefore, HeapReady: heapReady}
	if ready.ok && end.ok && wall > 0 {
		u.CPUSeconds = end.cpu - ready.cpu
		u.CPUShare = u.CPUSeconds / wall.Seconds()
	}
	if conns > 0 {
		u.PerConnRSSBytes = float64(ready.rss-before.rss) / float64(conns)
		if heapBefore >= 0 && heapReady >= 0 {
			u.PerConnHeap = float64(heapReady-heapBefore) / float64(conns)
		}
	}
	return u
}
