package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/databoard/databoard/dashboards"
)

// httpMetrics are the server's own Prometheus collectors. Labels are the route pattern (never the raw
// path, whose ids and channel names would make cardinality unbounded), the method and the status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "databoard_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "databoard_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) observe(c *fiber.Ctx, took time.Duration) {
	if m == nil {
		return
	}
	route := c.Route().Path
	if route == "/" && c.Path() != "/" {
		route = "unmatched" // the catch-all 404 handler
	}
	m.requests.WithLabelValues(route, c.Method(), strconv.Itoa(c.Response().StatusCode())).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

// storeCollector exports the dashboard store's state at scrape time (no I/O: Stats is in memory).
type storeCollector struct{ store DashboardStore }

var (
	descStoreUp = prometheus.NewDesc("databoard_dashboard_store_up",
		"1 when the dashboard store answered its last operation or probe, 0 when it was unreachable, wedged or too slow.",
		nil, nil)
	descStoreFailures = prometheus.NewDesc("databoard_dashboard_store_failures_total",
		"Dashboard store operations and probes that found the store unavailable.", nil, nil)
	descStoreLastError = prometheus.NewDesc("databoard_dashboard_store_last_error_timestamp_seconds",
		"When the dashboard store was last found unavailable (0: never).", nil, nil)
	descStoreBytes = prometheus.NewDesc("databoard_dashboard_store_bytes",
		"Total size of all dashboards as the size counter last said (-1: not known yet).", nil, nil)
	descStorePending = prometheus.NewDesc("databoard_dashboard_access_times_pending",
		"Dashboard reads whose access time is not written yet.", nil, nil)
	descStoreRecounts = prometheus.NewDesc("databoard_dashboard_store_size_recounts_total",
		"Full recounts of the dashboards' total size (each reads every dashboard on FerretDB).", nil, nil)
)

func (storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStoreUp, descStoreFailures, descStoreLastError, descStoreBytes, descStorePending, descStoreRecounts} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.store.Stats()
	up, lastErr := 0.0, 0.0
	if st.State != dashboards.StateDown {
		up = 1
	}
	if !st.LastErrorAt.IsZero() {
		lastErr = float64(st.LastErrorAt.UnixMilli()) / 1e3
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descStoreUp, up)
	ch <- prometheus.MustNewConstMetric(descStoreFailures, prometheus.CounterValue, float64(st.Failures))
	gauge(descStoreLastError, lastErr)
	gauge(descStoreBytes, float64(st.TotalBytes))
	gauge(descStorePending, float64(st.PendingAccessTimes))
	ch <- prometheus.MustNewConstMetric(descStoreRecounts, prometheus.CounterValue, float64(st.SizeRecounts))
}

// handleMetrics serves the registry in Prometheus text format.
func (s *Server) handleMetrics() fiber.Handler {
	if s.deps.Metrics == nil {
		return func(c *fiber.Ctx) error {
			return newHTTPError(http.StatusNotFound, "metrics are not enabled")
		}
	}
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.deps.Metrics, promhttp.HandlerOpts{}))
}
