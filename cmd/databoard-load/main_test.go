package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

type runOutput struct {
	code           int
	stdout, stderr string
}

func runArgs(t *testing.T, args ...string) runOutput {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return runOutput{code, stdout.String(), stderr.String()}
}

func TestRunJSON(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		io.WriteString(w, "0123456789")
	}))
	t.Cleanup(srv.Close)
	out := runArgs(t, "-url", srv.URL, "-n", "20", "-c", "3", "-json")
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", out.code, out.stderr)
	}
	var res struct {
		Requests  int64              `json:"requests"`
		OK        int64              `json:"ok"`
		Bytes     int64              `json:"bytes"`
		Statuses  map[string]int64   `json:"statuses"`
		LatencyMS map[string]float64 `json:"latency_ms"`
		System    sysInfo            `json:"system"`
		Stop      string             `json:"stop_cause"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.stdout)
	}
	if res.Requests != 20 || res.OK != 20 || res.Bytes != 200 || res.Statuses["200"] != 20 || got.Load() != 20 {
		t.Errorf("result %+v, server saw %d; want 20 requests of 10 bytes", res, got.Load())
	}
	if res.LatencyMS["p50"] <= 0 || res.LatencyMS["max"] < res.LatencyMS["p99"] || res.System.NumCPU < 1 || res.System.GOOS == "" {
		t.Errorf("latency %v, system %+v", res.LatencyMS, res.System)
	}
}

func TestRunText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	out := runArgs(t, "-url", srv.URL, "-n", "5", "-c", "1")
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", out.code, out.stderr)
	}
	for _, want := range []string{"requests    5 (ok 5, errors 0", "throughput", "p99.9", "log-linear histogram", "NumCPU"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, out.stdout)
		}
	}
}

func TestRunFiles(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body, _ := io.ReadAll(r.Body); r.Method == http.MethodPut && string(body) == "payload" {
			posts.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	urls := filepath.Join(dir, "urls.txt")
	body := filepath.Join(dir, "body")
	writeFile(t, urls, "# targets\n"+srv.URL+"/a\n\n  "+srv.URL+"/b  \n")
	writeFile(t, body, "payload")
	out := runArgs(t, "-urls-file", urls, "-body-file", body, "-method", "PUT", "-n", "6", "-json")
	if out.code != exitOK || posts.Load() != 6 || !strings.Contains(out.stdout, srv.URL+"/b") {
		t.Errorf("exit %d, %d PUTs with the body; stdout:\n%s\nstderr:\n%s", out.code, posts.Load(), out.stdout, out.stderr)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesRemote(t *testing.T) {
	out := runArgs(t, "-url", "http://192.0.2.1/", "-n", "1")
	if out.code != exitUsage || out.stdout != "" || !strings.Contains(out.stderr, "-allow-remote") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a usage exit naming -allow-remote", out.code, out.stdout, out.stderr)
	}
}

func TestRunBadFlags(t *testing.T) {
	const u = "http://127.0.0.1:1/"
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{}, "no target"},
		{[]string{"-url", u, "-n", "0"}, "-n 0"},
		{[]string{"-url", u, "-n", "10000001"}, "-n 10000001"},
		{[]string{"-url", u, "-d", "11m"}, "-d 11m0s"},
		{[]string{"-url", u, "-d", "0s"}, "-d 0s"},
		{[]string{"-url", u, "-c", "0"}, "-c 0"},
		{[]string{"-url", u, "-c", "5000"}, "-c 5000"},
		{[]string{"-url", u, "-rate", "-1"}, "-rate -1"},
		{[]string{"-url", u, "-warmup", "1h"}, "-warmup 1h0m0s"},
		{[]string{"-url", u, "-timeout", "0s"}, "-timeout 0s"},
		{[]string{"-url", u, "-expect", "99"}, "-expect 99"},
		{[]string{"-url", u, "-header", "no colon"}, "-header"},
		{[]string{"-url", u, "-method", "BAD METHOD"}, "-method"},
		{[]string{"-url", u, "extra"}, "unexpected argument"},
		{[]string{"-url", u, "-urls-file", "/nonexistent/urls"}, "-urls-file"},
		{[]string{"-url", u, "-body-file", "/nonexistent/body"}, "-body-file"},
		{[]string{"-url", u, "-bogus"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		out := runArgs(t, tt.args...)
		if out.code != exitUsage || !strings.Contains(out.stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, out.code, out.stderr, exitUsage, tt.want)
		}
	}
}

func TestRunHelp(t *testing.T) {
	out := runArgs(t, "-h")
	if out.code != exitOK || !strings.Contains(out.stderr, "usage: databoard-load") {
		t.Errorf("-h: exit %d, stderr %q", out.code, out.stderr)
	}
}

func TestCPUModel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: other\n", "AMD EPYC 7B13"},
		{"processor\t: 0\nBogoMIPS\t: 48.00\n\nHardware\t: BCM2835\n", "BCM2835"},
		{"model name\t:\n", "unknown"},
		{"", "unknown"},
	}
	for _, tt := range tests {
		if got := cpuModel(strings.NewReader(tt.in)); got != tt.want {
			t.Errorf("cpuModel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
