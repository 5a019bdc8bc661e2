package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

// handleMetrics serves the registry in Prometheus text format.
func (s *Server) handleMetrics() fiber.Handler {
	if s.deps.Metrics == nil {
		return func(c *fiber.Ctx) error {
			return newHTTPError(http.StatusNotFound, "metrics are not enabled")
		}
	}
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.deps.Metrics, promhttp.HandlerOpts{}))
}
