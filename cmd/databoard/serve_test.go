package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/configs"
)

// TestServeDemo runs the whole binary's wiring in demo mode (simulator in-process, embedded store in a
// temporary directory), answers real requests, and shuts down cleanly on cancel.
func TestServeDemo(t *testing.T) {
	for _, tc := range []struct{ name, redisURL string }{{"in-process cache", ""}, {"redis cache", redistest.URL()}} {
		t.Run(tc.name, func(t *testing.T) { testServeDemo(t, tc.redisURL) })
	}
}

func testServeDemo(t *testing.T, redisURL string) {
	prefix := "databoard:v1:"
	if redisURL != "" {
		prefix = redistest.Prefix(t) // a fresh key space, deleted afterwards; fails with how-to-start without Redis
	}
	cfg, err := configs.Load(func(name string) string {
		return map[string]string{"DEMO": "true", "LISTEN_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir(),
			"REDIS_URL": redisURL, "REDIS_KEY_PREFIX": prefix, "CORS_ALLOW_ORIGINS": allowedOrigin}[name]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), func(addr string) { addrc <- addr })
	}()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("serve returned before listening: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start within 60s")
	}

	var lastHeader http.Header
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		lastHeader = res.Header
		return res.StatusCode, string(b)
	}
	if code, body := get("/health"); code != 200 || body != `{"message":"Alive and Well!"}` {
		t.Errorf("/health = %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") ||
		!strings.Contains(body, `databoard_http_requests_total{method="GET",route="/health",status="200"} 1`) {
		t.Errorf("/metrics = %d %.300s", code, body)
	}
	now := time.Now().UnixMilli()
	path := "/channels/curve?channel_name=SIM-F64:SINE&begin_time=" + itoa(now-600_000) + "&end_time=" + itoa(now) + "&num_bins=10"
	if code, body := get(path); code != 200 || !strings.Contains(body, `"SIM-F64:SINE_meta"`) {
		t.Errorf("curve = %d %.300s", code, body)
	}
	// A window well in the past, asked twice: the second answer comes from the curve cache, identical.
	past := now - 3*86_400_000
	path = "/channels/curve?channel_name=SIM-F64:RAMP&begin_time=" + itoa(past-3_600_000) + "&end_time=" + itoa(past) + "&num_bins=100"
	_, first := get(path)
	if got := lastHeader.Get("X-Cache"); got != "miss" {
		t.Errorf("first X-Cache = %q, want miss", got)
	}
	_, second := get(path)
	if got := lastHeader.Get("X-Cache"); got != "hit" || second != first {
		t.Errorf("second X-Cache = %q (want hit), identical body %v", got, second == first)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `databoard_curve_answers_total{cache="hit"} 1`) {
		t.Errorf("/metrics after one cache hit = %d, lacks the hit counter", code)
	} else if !regexp.MustCompile(`(?m)^databoard_daqbuf_requests_total\{endpoint="/binned"\} [1-9]`).MatchString(body) ||
		!regexp.MustCompile(`(?m)^databoard_daqbuf_requests_total\{endpoint="/search/channel"\} [1-9]`).MatchString(body) {
		t.Errorf("/metrics lacks data-api requests by endpoint (binned curves, the channel list's searches):\n%s", grepLines(body, "databoard_daqbuf"))
	}
	if code, body := get("/maintenance/cache"); code != 200 || !strings.Contains(body, `"UpstreamCallsSaved"`) {
		t.Errorf("/maintenance/cache = %d %.200s", code, body)
	}
	checkStream(t, base)
	checkStreamOrigins(t, base)
	res, err := http.Post(base+"/dashboard/", "application/json", strings.NewReader(`{"dashboard":{"widgets":[]}}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("POST /dashboard/ = %d", res.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

// allowedOrigin is the CORS_ALLOW_ORIGINS of the demo server.
const allowedOrigin = "https://board.example.org"

// checkStreamOrigins: the WebSocket admits the pages CORS_ALLOW_ORIGINS names and refuses others (403),
// as the REST API's CORS answers do.
func checkStreamOrigins(t *testing.T, base string) {
	t.Helper()
	for _, tc := range []struct {
		origin string
		ok     bool
	}{{allowedOrigin, true}, {"https://evil.example", false}, {"http://board.example.org", false}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ws, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/stream",
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {tc.origin}}})
		cancel()
		switch {
		case tc.ok && err != nil:
			t.Errorf("stream from %s: %v", tc.origin, err)
		case !tc.ok && (err == nil || res == nil || res.StatusCode != http.StatusForbidden):
			t.Errorf("stream from %s: error %v, want 403", tc.origin, err)
		}
		if ws != nil {
			_ = ws.CloseNow()
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/health", nil)
	req.Header.Set("Origin", "https://evil.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("REST answer to another origin has Access-Control-Allow-Origin %q", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// checkStream subscribes on /stream of the real wiring and expects a snapshot, then an append.
func checkStream(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/stream", nil)
	if err != nil {
		t.Fatalf("dial /stream: %v", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(16 << 20)
	sub := `{"type":"subscribe","id":"p","channel_name":"SIM-F64:SINE","window_ms":60000,"num_bins":60}`
	if err := ws.Write(ctx, websocket.MessageText, []byte(sub)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"snapshot"`, `"type":"append"`} {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			if strings.Contains(string(b), `"type":"error"`) {
				t.Fatalf("stream error: %s", b)
			}
			if strings.Contains(string(b), want) {
				break
			}
		}
	}
}

// TestDashboardsExportImport backs up the embedded store to a file and restores it into another one.
func TestDashboardsExportImport(t *testing.T) {
	env := func(dir string) func(string) string {
		return func(name string) string { return map[string]string{"DATA_DIR": dir, "LOG_LEVEL": "error"}[name] }
	}
	src, dst := t.TempDir(), t.TempDir()
	cfg, err := configs.Load(env(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cleanup closers
	store, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), &cleanup)
	if err != nil {
		t.Fatal(err)
	}
	want, err := store.Create(ctx, []byte(`{"dashboard":{"widgets":[]}}`))
	if err != nil {
		t.Fatal(err)
	}
	cleanup.run(ctx)

	file := filepath.Join(t.TempDir(), "backup.jsonl")
	var out, errb strings.Builder
	if code := run(ctx, []string{"dashboards", "export", "-o", file}, env(src), &out, &errb); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	if code := run(ctx, []string{"dashboards", "import", file}, env(dst), &out, &errb); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errb.String())
	}
	cfg.DataDir = dst
	cleanup = nil
	defer func() { cleanup.run(ctx) }()
	store, err = openStore(ctx, cfg, slog.New(slog.DiscardHandler), &cleanup)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, want.ID)
	if err != nil {
		t.Fatalf("restored store: %v", err)
	}
	if string(got.JSON) != string(want.JSON) {
		t.Errorf("restored %s, want %s", got.JSON, want.JSON)
	}
	if code := run(ctx, []string{"dashboards", "import"}, env(dst), &out, &errb); code != exitUsage {
		t.Errorf("import without a file: exit %d, want %d", code, exitUsage)
	}
}

func TestNewRedisClientTopology(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"redis://127.0.0.1:6379/0", "*redis.Client"},
		{"redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380", "*redis.Client"}, // failover client
		{"redis://127.0.0.1:7000?addr=127.0.0.1:7001", "*redis.ClusterClient"},
	}
	for _, tt := range tests {
		c, err := newRedisClient(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if got := fmt.Sprintf("%T", c); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.url, got, tt.want)
		}
		_ = c.Close()
	}
	if _, err := newRedisClient("redis://h:1?master_name=m&nonsense=1"); err == nil {
		t.Error("an unknown parameter was accepted")
	}
}

func TestOriginPatterns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		origins []string
		want    []string
	}{
		{"any origin", nil, nil},
		{"origins keep scheme and port", []string{"https://board.example.org", "http://localhost:5173"},
			[]string{"https://board.example.org", "http://localhost:5173"}},
		{"unusable only: none, not any", []string{"%zz"}, []string{"invalid.invalid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := originPatterns(tc.origins); !slices.Equal(got, tc.want) {
				t.Errorf("originPatterns(%q) = %q, want %q", tc.origins, got, tc.want)
			}
		})
	}
}

// TestCurvesFetchCapFromConfig (issue 12, point 6): the curve cache's upstream fetch cap follows
// DAQBUF_MAX_CONNS instead of a fixed 4.
func TestCurvesFetchCapFromConfig(t *testing.T) {
	for _, n := range []int{3, 16, 64} {
		cfg := configs.Config{DaqbufMaxConns: n}
		got := curvesConfig(cfg, slog.New(slog.DiscardHandler))
		if got.FetchConcurrency != n {
			t.Errorf("DAQBUF_MAX_CONNS=%d: FetchConcurrency %d", n, got.FetchConcurrency)
		}
		if got.FreshTail != time.Second {
			t.Errorf("FreshTail %s, want 1s", got.FreshTail)
		}
	}
}

// grepLines returns the lines of text that contain sub, for failure messages.
func grepLines(text, sub string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
