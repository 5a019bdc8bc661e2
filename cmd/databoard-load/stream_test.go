package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeStream is a /stream that answers every subscribe with a snapshot and then sends an append for
// every subscription every 50 ms, with end_time now, as a rolling window's poll would. Each connection
// has an epoch of its own; /updates lists when each (epoch, offset) was first sent, as the server's
// debug listener does.
func fakeStream(t *testing.T) *httptest.Server {
	var (
		timesMu sync.Mutex
		times   = map[string]int64{} // "epoch offset" -> Unix ns
		conns   int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/updates" {
			timesMu.Lock()
			defer timesMu.Unlock()
			for k, at := range times {
				epoch, off, _ := strings.Cut(k, " ")
				fmt.Fprintf(w, "{\"epoch\":%q,\"offset\":%q,\"at_ns\":%d}\n", epoch, off, at)
			}
			return
		}
		timesMu.Lock()
		conns++
		epoch := fmt.Sprintf("e%d", conns)
		timesMu.Unlock()
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		var (
			mu  sync.Mutex
			ids = map[string]string{} // id -> channel
		)
		send := func(v map[string]any) error {
			b, _ := json.Marshal(v)
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return ws.Write(wctx, websocket.MessageText, b)
		}
		go func() {
			for off := 2; ; off++ {
				select {
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
				at := time.Now()
				now := at.UnixMilli()
				timesMu.Lock()
				times[fmt.Sprintf("%s %d", epoch, off)] = at.UnixNano()
				timesMu.Unlock()
				mu.Lock()
				subs := make(map[string]string, len(ids))
				for id, ch := range ids {
					subs[id] = ch
				}
				mu.Unlock()
				for id, ch := range subs {
					if send(map[string]any{"type": "append", "id": id, "epoch": epoch, "offset": fmt.Sprint(off),
						"begin_time": now - 600000, "end_time": now, "trim_before": "1",
						"curve": map[string]any{ch: map[string]any{fmt.Sprint(now * 1e6): 1.5}, ch + "_meta": map[string]any{"raw": false}}}) != nil {
						return
					}
				}
			}
		}()
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var m struct{ Type, ID, Channel_name string }
			if json.Unmarshal(b, &m) != nil || m.Type != "subscribe" {
				t.Errorf("unexpected client message %s", b)
				continue
			}
			now := time.Now().UnixMilli()
			_ = send(map[string]any{"type": "snapshot", "id": m.ID, "epoch": epoch, "offset": "1", "recovered": false,
				"begin_time": now - 600000, "end_time": now, "curve": map[string]any{m.Channel_name: map[string]any{}}})
			mu.Lock()
			ids[m.ID] = m.Channel_name
			mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestStreamRun(t *testing.T) {
	srv := fakeStream(t)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	out := runArgs(t, "stream", "-url", url, "-conns", "4", "-subs", "2", "-series", "4", "-channel-format", "CH%d",
		"-d", "1s", "-warmup", "100ms", "-pid", "0", "-updates", srv.URL+"/updates", "-json")
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", out.code, out.stderr)
	}
	var res struct {
		Connected   int                `json:"connected"`
		Messages    map[string]int64   `json:"messages"`
		Appends     int64              `json:"appends"`
		FanOutMS    map[string]float64 `json:"fanout_ms"`
		SpreadMS    map[string]float64 `json:"spread_ms"`
		ReadyMS     map[string]float64 `json:"ready_to_decoded_ms"`
		Joined      int64              `json:"ready_joined"`
		Unlisted    int64              `json:"ready_unlisted"`
		FreshnessMS map[string]float64 `json:"freshness_ms"`
		AppendBytes Distribution       `json:"append_bytes"`
		Points      Distribution       `json:"append_points"`
		Client      ServerUsage        `json:"client"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.stdout)
	}
	// 8 subscriptions, an append each every 50 ms for 1 s: about 160.
	if res.Connected != 4 || res.Appends < 40 || res.Messages["append"] != res.Appends {
		t.Errorf("connected %d, appends %d, messages %v", res.Connected, res.Appends, res.Messages)
	}
	if res.FanOutMS["p99"] <= 0 || res.FanOutMS["p99"] > 1000 || res.FreshnessMS["p50"] < 30 || res.SpreadMS["max"] < 0 {
		t.Errorf("fan-out %v, freshness %v, spread %v", res.FanOutMS, res.FreshnessMS, res.SpreadMS)
	}
	// Every append's time is listed; each was decoded after it and no earlier than its end_time allows
	// (end_time is that time in whole ms, so fan-out ≥ ready→decoded − 1 ms).
	if res.Joined != res.Appends || res.Unlisted != 0 || res.ReadyMS["min"] < 0 || res.ReadyMS["max"] <= 0 ||
		res.ReadyMS["max"] > res.FanOutMS["max"]+1 {
		t.Errorf("ready→decoded %v over %d appends (%d unlisted), fan-out %v", res.ReadyMS, res.Joined, res.Unlisted, res.FanOutMS)
	}
	if res.AppendBytes.Min < 100 || res.Points.Max != 1 || !res.Client.Measured || res.Client.RSSEnd <= 0 {
		t.Errorf("append bytes %+v, points %+v, client usage %+v", res.AppendBytes, res.Points, res.Client)
	}
}

// TestStreamReadyBoundsDialling: with a server that accepts connections but never answers the
// upgrade, -ready ends the dialling (one slot here, so the loop waits for it) and the run goes on to
// measure what is connected (nothing), instead of waiting for the whole run's deadline (-ready +
// -warmup + -d + 30 s).
func TestStreamReadyBoundsDialling(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hold the handshake
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	start := time.Now()
	out := runArgs(t, "stream", "-url", url, "-conns", "3", "-dial", "1", "-subs", "1", "-series", "1",
		"-ready", "500ms", "-d", "100ms", "-warmup", "0s", "-pid", "0", "-json")
	took := time.Since(start)
	var res struct {
		Connected int `json:"connected"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatalf("exit %d, stdout is not JSON: %v\n%s\nstderr:\n%s", out.code, err, out.stdout, out.stderr)
	}
	if res.Connected != 0 || !strings.Contains(out.stderr, "only 0 of 3 connections ready after 500ms") {
		t.Errorf("connected %d; stderr:\n%s", res.Connected, out.stderr)
	}
	// The run's own deadline is 30.6 s away; ending well before it is what -ready promises.
	if took > 20*time.Second {
		t.Errorf("the run took %v with -ready 500ms", took)
	}
}

func TestStreamRefusesRemoteAndBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"stream", "-url", "ws://example.com/stream"},
		{"stream", "-url", "ws://127.0.0.1:1/stream", "-conns", "0"},
		{"stream", "-url", "ws://127.0.0.1:1/stream", "-subs", "11", "-series", "10"},
		{"stream", "-url", "ws://127.0.0.1:1/stream", "-d", "11m"},
		{"stream"},
	} {
		if out := runArgs(t, args...); out.code != exitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %s", args, out.code, exitUsage, out.stderr)
		}
	}
}

func TestProcParsing(t *testing.T) {
	stat := "4242 (data (board)) S 1 2 3 4 5 6 7 8 9 10 250 130 0 0 20 0 12 0 99 1000 200"
	if cpu, err := statCPU(stat); err != nil || cpu != 3.8 {
		t.Errorf("statCPU = %v, %v; want 3.8", cpu, err)
	}
	status := "Name:\tdataboard\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"
	if rss, hwm := statusKB(status, "VmRSS"), statusKB(status, "VmHWM"); rss != 1024 || hwm != 2048 {
		t.Errorf("VmRSS %d, VmHWM %d", rss, hwm)
	}
	if s := procUsage(0); !s.ok || s.rss <= 0 || s.cpu < 0 {
		t.Errorf("procUsage(self) = %+v", s)
	}
	if v := metricValue("# HELP x\ngo_memstats_heap_inuse_bytes 3.5e+06\n", "go_memstats_heap_inuse_bytes"); v != 3_500_000 {
		t.Errorf("metricValue = %d", v)
	}
}

func TestParseUpdates(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]int64
		wantErr  bool
	}{
		{"empty", "", map[string]int64{}, false},
		{"two", "{\"epoch\":\"ab\",\"offset\":\"7\",\"at_ns\":1765000000123456789}\n\n{\"epoch\":\"ab\",\"offset\":\"8\",\"at_ns\":5}\n",
			map[string]int64{"ab/7": 1765000000123456789, "ab/8": 5}, false},
		{"malformed", "{\"epoch\":\"ab\",\"offset\":7}\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUpdates(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr || (!tc.wantErr && !maps.Equal(got, tc.want)) {
				t.Errorf("parseUpdates = %v, %v; want %v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
