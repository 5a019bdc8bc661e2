package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newTestEnv(t, withMetrics(reg))
	e.do(t, http.MethodGet, "/health", "")
	e.do(t, http.MethodGet, "/health", "")
	e.do(t, http.MethodGet, "/dashboard/no-such-id", "")
	e.do(t, http.MethodGet, "/no/such/route/with/a/long/name", "")

	r := e.do(t, http.MethodGet, "/metrics", "")
	if r.status != http.StatusOK {
		t.Fatalf("/metrics = %d %s", r.status, r.body)
	}
	body := string(r.body)
	for _, want := range []string{
		`databoard_http_requests_total{method="GET",route="/health",status="200"} 2`,
		`databoard_http_requests_total{method="GET",route="/dashboard/:id",status="404"} 1`,
		`databoard_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`databoard_http_request_duration_seconds_count{route="/health"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "no-such-id") || strings.Contains(body, "long/name") {
		t.Error("/metrics leaks raw paths into labels")
	}
}

func TestMetricsDisabled(t *testing.T) {
	e := newTestEnv(t)
	if r := e.do(t, http.MethodGet, "/metrics", ""); r.status != http.StatusNotFound {
		t.Errorf("/metrics without a registry = %d, want 404", r.status)
	}
}

// The whole-list answer's size is in /metrics: 0 before the first full-list request, then at least the
// JSON's length (with its offsets, and its gzip form once made).
func TestMetricsChannelListAnswerBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newTestEnv(t, withMetrics(reg))
	size := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "databoard_channel_list_answer_bytes" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no databoard_channel_list_answer_bytes")
		return 0
	}
	if got := size(); got != 0 {
		t.Errorf("before any list request: %v bytes", got)
	}
	r := e.do(t, http.MethodGet, "/channels/search", "")
	if r.status != http.StatusOK {
		t.Fatalf("/channels/search = %d", r.status)
	}
	if n, got := float64(len(r.body)), size(); got < n || got > 3*n {
		t.Errorf("after a list of %v bytes: %v bytes held", n, got)
	}
}
