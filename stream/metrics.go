package stream

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Hub's Prometheus figures (no channel names as labels).
type metrics struct {
	connections, subscriptions, seriesCount prometheus.Gauge
	leases                                  prometheus.Gauge
	polls                                   prometheus.Counter
	pollSeconds                             prometheus.Histogram
	messages, bytes, writes                 prometheus.Counter
	slowSnapshots, slowCloses               prometheus.Counter
	resumes                                 *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "databoard_stream_connections", Help: "Open /stream WebSocket connections."}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "databoard_stream_subscriptions", Help: "Active stream subscriptions."}),
		seriesCount:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "databoard_stream_series", Help: "Series streams in this instance (with subscribers or lingering)."}),
		leases:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "databoard_stream_leases_held", Help: "Series whose poller lease this instance holds."}),
		polls:         prometheus.NewCounter(prometheus.CounterOpts{Name: "databoard_stream_polls_total", Help: "Polls of series streams (each reads the window through the curve cache)."}),
		pollSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "databoard_stream_poll_seconds", Help: "Duration of one poll.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9)}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{Name: "databoard_stream_messages_sent_total", Help: "Messages written to stream connections."}),
		bytes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "databoard_stream_bytes_sent_total", Help: "Bytes of messages written to stream connections."}),
		writes: prometheus.NewCounter(prometheus.CounterOpts{Name: "databoard_stream_socket_writes_total",
			Help: "Writes of stream frames to sockets (system calls); fewer than messages when queued messages go out together."}),
		slowSnapshots: prometheus.NewCounter(prometheus.CounterOpts{Name: "databoard_stream_slow_consumer_snapshots_total", Help: "Snapshots sent instead of dropped appends to subscriptions on full send queues."}),
		slowCloses:    prometheus.NewCounter(prometheus.CounterOpts{Name: "databoard_stream_slow_consumer_closes_total", Help: "Connections closed as slow consumers."}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "databoard_stream_resumes_total", Help: "Subscribes with resume, by answer: recovered (from history) or snapshot."},
			[]string{"answer"}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.subscriptions, m.seriesCount, m.leases, m.polls, m.pollSeconds,
			m.messages, m.bytes, m.writes, m.slowSnapshots, m.slowCloses, m.resumes)
	}
	return m
}
