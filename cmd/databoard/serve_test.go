package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/configs"
)

// TestServeDemo runs the whole binary's wiring in demo mode (simulator in-process, embedded store in a
// temporary directory), answers real requests, and shuts down cleanly on cancel.
func TestServeDemo(t *testing.T) {
	cfg, err := configs.Load(func(name string) string {
		return map[string]string{"DEMO": "true", "LISTEN_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir()}[name]
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

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/health"); code != 200 || body != `{"message":"Alive and Well!"}` {
		t.Errorf("/health = %d %s", code, body)
	}
	now := time.Now().UnixMilli()
	path := "/channels/curve?channel_name=SIM-F64:SINE&begin_time=" + itoa(now-600_000) + "&end_time=" + itoa(now) + "&num_bins=10"
	if code, body := get(path); code != 200 || !strings.Contains(body, `"SIM-F64:SINE_meta"`) {
		t.Errorf("curve = %d %.300s", code, body)
	}
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

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
