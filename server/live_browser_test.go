package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
	"github.com/databoard/databoard/stream"
)

// TestLiveBrowser opens /live in headless Chromium against a databoard -demo-style server (simulator,
// curve computation, the stream hub and the REST API, in process, on the real clock), adds two
// channels through the page's search, and checks in the browser: the curves grow, stream.js's curves
// equal /channels/curve for the same window before the settle line (docs/streaming.md, "The exactness
// rule"), the page reconnects and resumes after the server drops its sockets and ends exact again, and
// the console shows no error. It saves screenshots under the test's temp dir (paths printed with -v;
// set DATABOARD_TEST_SCREENSHOTS to a directory to keep them).
//
// Chromium: DATABOARD_TEST_CHROMIUM, else chromium, chromium-browser, google-chrome on PATH
// (./scripts/test installs Debian's chromium). Without one the test skips, except under CI=true.
func TestLiveBrowser(t *testing.T) {
	chrome := findChromium(t)
	env := newLiveEnv(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // CI containers run as root, where Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.WindowSize(1600, 900),
		chromedp.Flag("hide-scrollbars", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()

	console := watchConsole(ctx)

	// 1. The page, connected.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1600, 900), chromedp.Navigate(env.url+"/live")); err != nil {
		t.Fatalf("open /live: %v", err)
	}
	waitJS(t, ctx, "the page connects to /stream", `window.__live !== undefined && __live.client.state === "open"`)
	evalJS[bool](t, ctx, `window.__states = []; window.__resumes = 0;
		__live.client.on("state", (s) => __states.push(s));
		__live.client.on("resumed", () => __resumes++); true`)

	// JavaScript objects list "array index" keys (integers up to 2^32-2) first, in numeric order, and
	// every other key in insertion order. Nanosecond keys are far beyond 2^32, so a curve object keeps
	// the order in which stream.js inserts its points, as a parsed REST answer does.
	if got := evalJS[string](t, ctx, `(() => { const o = {};
		for (const k of ["1765100599750000000", "4294967295", "4294967294", "1765100599250000000_3"]) o[k] = 0;
		return Object.keys(o).join(); })()`); got != "4294967294,1765100599750000000,4294967295,1765100599250000000_3" {
		t.Fatalf("JavaScript key order: %s", got)
	}

	// 2. Two channels through the search box, and the 10-minute window.
	for _, name := range []string{"SIM-F64:SINE", "SIM-F64:NOISE"} {
		pattern := "^" + name + "$"
		evalJS[bool](t, ctx, `document.getElementById("q").value = ""; true`)
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("q"), pattern)); err != nil {
			t.Fatalf("type a search: %v", err)
		}
		// The simulator has the channel on three backends: pick sf-databuffer's.
		find := fmt.Sprintf(`[...document.querySelectorAll("#results li[role=option]")].findIndex((li) =>
			li.querySelector(".name").textContent === %q && li.querySelector(".meta").textContent.startsWith("sf-databuffer "))`, name)
		waitJS(t, ctx, "search results for "+pattern, find+" >= 0")
		nth := evalJS[int](t, ctx, find) + 1
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#results li:nth-child(%d)`, nth)))); err != nil {
			t.Fatalf("pick %s: %v", name, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#windows button[data-ms="600000"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "both curves have data", `__live.curves().length === 2 &&
		__live.curves().every((c) => c.status === "live" && c.curve && Object.keys(c.curve[c.channel_name]).length > 100)`)

	// 3. The curves grow: newer points arrive in appends.
	first := pageCurves(t, ctx)
	waitFor(t, "three more appends and a newer last point for every curve", 2*time.Minute, func() (bool, string) {
		now := pageCurves(t, ctx)
		for i, c := range now {
			if c.Messages < first[i].Messages+3 || c.lastTime(t) <= first[i].lastTime(t) {
				return false, fmt.Sprintf("%s: %d messages, last point %d (first %d, %d)",
					c.Name, c.Messages, c.lastTime(t), first[i].Messages, first[i].lastTime(t))
			}
		}
		return true, ""
	})
	for _, c := range pageCurves(t, ctx) {
		if n := env.checkExact(t, c); n < 100 {
			t.Errorf("%s: only %d settled points compared", c.Name, n)
		}
	}

	// 4. The 1-hour window (both curves subscribe again): several events a bin, so min/max bands.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#windows button[data-ms="3600000"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "both curves in the 1-hour window", `__live.curves().every((c) => c.window_ms === 3600000 &&
		c.status === "live" && c.messages >= 2 && Object.keys(c.curve[c.channel_name + "_max"] || {}).length > 100)`)

	// 5. The server drops every stream socket: the page reconnects, resumes from history, ends exact.
	before := pageCurves(t, ctx)
	connects := evalJS[int](t, ctx, `__live.client.stats.connects`)
	if n := env.dropStreams(); n == 0 {
		t.Fatal("no stream connection to drop")
	}
	waitJS(t, ctx, "the page reconnects", fmt.Sprintf(
		`__live.client.state === "open" && __live.client.stats.connects > %d && __states.includes("reconnecting")`, connects))
	waitJS(t, ctx, "both subscriptions resume from the server's history", `__resumes >= 2`)
	waitFor(t, "two appends on the new connection for every curve", 2*time.Minute, func() (bool, string) {
		for i, c := range pageCurves(t, ctx) {
			if c.Messages < before[i].Messages+2 || !c.Info.Recovered {
				return false, fmt.Sprintf("%s: %d messages (before the drop %d), recovered %v", c.Name, c.Messages, before[i].Messages, c.Info.Recovered)
			}
		}
		return true, ""
	})
	for _, c := range pageCurves(t, ctx) {
		if n := env.checkExact(t, c); n < 100 {
			t.Errorf("%s after the reconnect: only %d settled points compared", c.Name, n)
		}
	}

	// 6. Screenshots (the status line has counted a few seconds by now), then the console.
	time.Sleep(2 * time.Second)
	dir := t.TempDir() // removed after the test: DATABOARD_TEST_SCREENSHOTS names a directory that keeps them
	if keep := os.Getenv("DATABOARD_TEST_SCREENSHOTS"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		dir = keep
	}
	for _, shot := range []struct {
		name string
		w, h int64
	}{{"live-1600x900.png", 1600, 900}, {"live-420x900.png", 420, 900}} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(shot.w, shot.h), chromedp.Sleep(time.Second)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(dir, shot.name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of /live: %s", path)
	}
	if errs := console.errors(); len(errs) > 0 {
		t.Errorf("the browser console shows errors:\n%s", strings.Join(errs, "\n"))
	}
}

// findChromium returns the browser to drive, or skips (fails under CI=true) when there is none.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DATABOARD_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium found (DATABOARD_TEST_CHROMIUM, chromium, chromium-browser, google-chrome); " +
		"./scripts/test installs Debian's chromium, or: apt-get install -y chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// liveEnv is databoard's wiring for -demo without the dashboard store: the simulator, the channel
// list, the curve computation, the stream hub and the REST API, on one loopback server.
type liveEnv struct {
	url string

	mu    sync.Mutex
	conns map[net.Conn]struct{} // hijacked connections: the WebSockets
}

func newLiveEnv(t *testing.T) *liveEnv {
	t.Helper()
	simSrv := httptest.NewServer(sim.New(sim.Config{}))
	t.Cleanup(simSrv.Close)
	client, err := daqbuf.New(daqbuf.Config{BaseURL: simSrv.URL + "/api/4"})
	if err != nil {
		t.Fatal(err)
	}
	channels := catalogue.New(client, catalogue.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := channels.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	curves := curve.New(curves.Direct{Client: client}, channels, curve.Config{})
	reg := prometheus.NewRegistry()
	hub := stream.New(stream.Config{PollMin: 250 * time.Millisecond, PollMax: time.Second}, curves, reg)
	srv := New(Config{}, Deps{Channels: channels, Curves: curves, Stream: hub, Metrics: reg})

	e := &liveEnv{conns: map[net.Conn]struct{}{}}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateHijacked { // the hub took it over as a WebSocket
			e.mu.Lock()
			e.conns[c] = struct{}{}
			e.mu.Unlock()
		}
	}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := hub.Close(ctx); err != nil {
			t.Errorf("hub close: %v", err)
		}
		hs.Close()
	})
	e.url = hs.URL
	return e
}

// dropStreams closes the server side of every WebSocket at the TCP level, as a crashed proxy or a
// network failure would: no close frame. It returns how many it closed.
func (e *liveEnv) dropStreams() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for c := range e.conns {
		if c.Close() == nil {
			n++
		}
		delete(e.conns, c)
	}
	return n
}

// pageCurve is one entry of window.__live.curves(): what stream.js handed the page last.
type pageCurve struct {
	Name     string          `json:"channel_name"`
	Backend  string          `json:"backend"`
	NumBins  int             `json:"num_bins"`
	Status   string          `json:"status"`
	Messages int             `json:"messages"`
	Curve    json.RawMessage `json:"curve"`
	Info     struct {
		Type      string `json:"type"`
		Recovered bool   `json:"recovered"`
		BeginTime int64  `json:"begin_time"`
		EndTime   int64  `json:"end_time"`
	} `json:"info"`
}

// lastTime is the time of the curve's newest value point (0 without points).
func (c pageCurve) lastTime(t *testing.T) int64 {
	doc := parseCurve(t, c.Curve)
	pts := doc.maps[c.Name]
	if len(pts) == 0 {
		return 0
	}
	return pointTime(pts[len(pts)-1].key)
}

func pageCurves(t *testing.T, ctx context.Context) []pageCurve {
	t.Helper()
	s := evalJS[string](t, ctx, `JSON.stringify(__live.curves())`)
	var out []pageCurve
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("__live.curves(): %v: %.300s", err, s)
	}
	return out
}

// checkExact compares the page's curve with GET /channels/curve for the window of its last message,
// every map point for point (keys, their order, values) before the settle line. It returns the
// number of points compared.
func (e *liveEnv) checkExact(t *testing.T, c pageCurve) int {
	t.Helper()
	q := url.Values{"channel_name": {c.Name}, "backend": {c.Backend}, "num_bins": {strconv.Itoa(c.NumBins)},
		"useEventsIfBinCountTooLarge": {"true"}, "removeEmptyBins": {"true"},
		"begin_time": {strconv.FormatInt(c.Info.BeginTime, 10)}, "end_time": {strconv.FormatInt(c.Info.EndTime, 10)}}
	res, err := http.Get(e.url + "/channels/curve?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("REST %d: %s", res.StatusCode, body)
	}
	var top struct {
		Curve json.RawMessage `json:"curve"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	got, want := parseCurve(t, c.Curve), parseCurve(t, top.Curve)
	if !reflect.DeepEqual(got.order, want.order) {
		t.Errorf("%s: curve keys %v, REST %v", c.Name, got.order, want.order)
	}
	if !reflect.DeepEqual(got.metaOrder, want.metaOrder) {
		t.Errorf("%s: meta keys %v, REST %v", c.Name, got.metaOrder, want.metaOrder)
	}
	for _, k := range []string{"raw", "waveform"} {
		if got.scalars[k] != want.scalars[k] {
			t.Errorf("%s: meta %s = %s, REST %s", c.Name, k, got.scalars[k], want.scalars[k])
		}
	}
	settle := int64(time.Minute)
	if c.NumBins > 0 {
		rng := daqbuf.Range{Beg: c.Info.BeginTime * 1e6, End: c.Info.EndTime * 1e6}
		settle = max(settle, 2*daqbuf.WidthForCount(rng, c.NumBins))
	}
	line := max(c.Info.EndTime*1e6-settle, c.Info.BeginTime*1e6)
	compared := 0
	for _, name := range want.order {
		gotPts, wantPts := got.maps[name], want.maps[name]
		for i := 1; i < len(gotPts); i++ {
			if pointTime(gotPts[i].key) < pointTime(gotPts[i-1].key) {
				t.Errorf("%s map %s: key %s after %s: not in ascending time order", c.Name, name, gotPts[i].key, gotPts[i-1].key)
				break
			}
		}
		g, w := settledPoints(gotPts, line), settledPoints(wantPts, line)
		if len(g) != len(w) {
			t.Errorf("%s map %s: %d points before the settle line, REST %d (window [%d, %d])", c.Name, name, len(g), len(w),
				c.Info.BeginTime, c.Info.EndTime)
			continue
		}
		for i := range w {
			if g[i].key != w[i].key || !reflect.DeepEqual(g[i].val, w[i].val) {
				t.Errorf("%s map %s point %d: page %s=%v, REST %s=%v", c.Name, name, i, g[i].key, g[i].val, w[i].key, w[i].val)
				break
			}
		}
		compared += len(w)
	}
	return compared
}

// curveDoc is a curve object read in document order: every point map by name (the meta's pointMeta
// under "<name>_meta.pointMeta"), the meta's scalars, and the key orders.
type curveDoc struct {
	order     []string
	metaOrder []string
	maps      map[string][]point
	scalars   map[string]string
}

type point struct {
	key string
	val any // the JSON value decoded (numbers as float64): equal values compare equal however written
}

func parseCurve(t *testing.T, raw []byte) curveDoc {
	t.Helper()
	d := curveDoc{maps: map[string][]point{}, scalars: map[string]string{}}
	for _, m := range orderedObject(t, raw) {
		if !strings.HasSuffix(m.key, "_meta") {
			d.order = append(d.order, m.key)
			d.maps[m.key] = decodePoints(t, m.val)
			continue
		}
		d.order = append(d.order, m.key)
		for _, f := range orderedObject(t, m.val) {
			d.metaOrder = append(d.metaOrder, f.key)
			if f.key == "pointMeta" {
				d.maps[m.key+".pointMeta"] = decodePoints(t, f.val)
			} else {
				d.scalars[f.key] = string(f.val)
			}
		}
	}
	return d
}

func decodePoints(t *testing.T, raw []byte) []point {
	t.Helper()
	var out []point
	for _, e := range orderedObject(t, raw) {
		var v any
		if err := json.Unmarshal(e.val, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, point{key: e.key, val: v})
	}
	return out
}

// pointTime is a point key's time in ns: the key, or the part before "_" of a waveform key.
func pointTime(key string) int64 {
	if i := strings.IndexByte(key, '_'); i >= 0 {
		key = key[:i]
	}
	n, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return math.MinInt64
	}
	return n
}

func settledPoints(pts []point, line int64) []point {
	var out []point
	for _, p := range pts {
		if pointTime(p.key) < line {
			out = append(out, p)
		}
	}
	return out
}

// consoleLog keeps what the page reports as errors: console.error calls, uncaught exceptions and
// unhandled rejections, and the browser's own error entries (failed loads, Content-Security-Policy
// violations).
type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

// watchConsole collects the console of ctx's page from now on, until ctx ends.
func watchConsole(ctx context.Context) *consoleLog {
	l := &consoleLog{}
	messages := chromedp.Console(ctx) // subscribed now, read below
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				l.mu.Lock()
				l.errs = append(l.errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func (l *consoleLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// evalJS runs a JavaScript expression in the page and returns its value.
func evalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %q: %v", js, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true, for up to two minutes.
func waitJS(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	waitFor(t, what, 2*time.Minute, func() (bool, string) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+cond+")"))
		if err != nil {
			return false, err.Error()
		}
		return ok, ""
	})
}

// waitFor polls cond every 200 ms until it holds; after timeout the test fails with cond's last note.
// The deadlines are generous on purpose: the suite runs on loaded two-core machines under -race.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, note := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after %v (%s)", what, timeout, note)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
