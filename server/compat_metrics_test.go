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
