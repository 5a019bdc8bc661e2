package stream

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/databoard/databoard/daqbuf/curve"
)

// Hub serves /stream: it accepts WebSocket connections and keeps one series stream per distinct set
// of subscription parameters, shared by every subscription that has them. Build it with New, serve it
// as an http.Handler, stop it with Close.
type Hub struct {
	cfg     Config
	curves  *curve.Service
	log     *slog.Logger
	metrics *metrics
	broker  broker
	batches *sync.Pool // buffers of the connections' write batches (frameBatcher)

	life   context.Context // ends with Close: every poller and connection runs under it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closing bool
	series  map[Params]*series
	conns   map[*conn]struct{}
}

// New returns a Hub computing curves with curves (a Service whose source refetches the open tail at
// least every PollMin) and registering its metrics on reg when not nil. It does no I/O and starts no
// goroutine.
func New(cfg Config, curves *curve.Service, reg prometheus.Registerer) *Hub {
	cfg = cfg.withDefaults()
	life, cancel := context.WithCancel(context.Background())
	h := &Hub{cfg: cfg, curves: curves, log: cfg.Logger, life: life, cancel: cancel,
		series: map[Params]*series{}, conns: map[*conn]struct{}{}, batches: newBatchPool()}
	h.metrics = newMetrics(reg)
	h.broker = inProcess{pollMax: cfg.PollMax}
	if cfg.Redis != nil {
		h.broker = newRedisBroker(h, cfg.Redis, cfg.RedisPrefix, cfg.LeaseTTL)
	}
	return h
}

// ServeHTTP upgrades the request to a WebSocket and returns; the connection is served on a goroutine
// of its own until either side closes.
//
// Why not on the HTTP server's goroutine: its stack grew to 8 KiB reading the request and running the
// handshake, and while the handler runs net/http keeps the request, its headers and the response
// alive. An idle connection then cost ~25 KiB. A new goroutine starts on a small stack, and every
// handshake object is garbage once this returns (BENCHMARKS.md, "Memory and scale, second pass").
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	sb := &smallBuffers{ResponseWriter: w, newBatcher: h.newBatcher}
	ws, err := websocket.Accept(sb, r, &websocket.AcceptOptions{
		Subprotocols:       []string{subprotocolMsgpack, subprotocolJSON},
		InsecureSkipVerify: len(h.cfg.AllowOrigins) == 0,
		OriginPatterns:     h.cfg.AllowOrigins,
		// Off: per-message deflate keeps a compressor per connection (tens of KiB), and appends are small.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept has answered the client
	}
	c := newConn(h, ws, sb.batch)
	if !h.track(c) {
		_ = ws.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	h.metrics.connections.Inc()
	go h.serveConn(c)
}

// newBatcher returns the frameBatcher under a new connection's writes.
func (h *Hub) newBatcher(nc net.Conn) *frameBatcher {
	return &frameBatcher{nc: nc, bufs: h.batches, timeout: h.cfg.WriteTimeout, writes: h.metrics.writes}
}

// serveConn reads c's client messages until the client goes, a write fails (the writer closes the
// socket), or Close, then frees it. Its context is the hub's life: Close ends every reader with it.
func (h *Hub) serveConn(c *conn) {
	defer h.untrack(c)
	defer h.metrics.connections.Dec()
	c.start()
	c.readLoop(h.life)
	c.close()
}

func (h *Hub) track(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Hub) untrack(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	h.wg.Done()
}

// attach adds sub to the series of p, starting one when there is none.
func (h *Hub) attach(sub *subscription, p Params, resume *resumePoint) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.series[p]; s != nil && s.add(sub, resume) {
		return
	}
	s := h.newSeries(p)
	s.add(sub, resume) // before its poller starts: a first poll that fails at once reaches sub
	h.startSeries(s)
}

// newSeries makes the series of p, replacing any that ended. Called with mu held.
func (h *Hub) newSeries(p Params) *series {
	s := &series{hub: h, params: p, done: make(chan struct{}), epoch: newEpoch(),
		subs: map[*subscription]struct{}{}, idleSince: h.cfg.Now()}
	h.series[p] = s
	return s
}

// startSeries starts the poller of a new series. Called with mu held.
func (h *Hub) startSeries(s *series) {
	ctx, cancel := context.WithCancel(h.life)
	s.cancel = cancel
	h.metrics.seriesCount.Inc()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.metrics.seriesCount.Dec()
		defer cancel()
		s.run(ctx)
		h.detach(s)
	}()
}

// detach forgets s if it is still the series of its parameters.
func (h *Hub) detach(s *series) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.series[s.params] == s {
		delete(h.series, s.params)
	}
}

func (s *series) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes every connection (status 1001, going away), then stops every poller, and waits for
// them until ctx ends.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	// The close handshake first, while the connections' readers still run to receive the answer.
	var closing sync.WaitGroup
	for _, c := range conns {
		closing.Go(func() { _ = c.ws.Close(websocket.StatusGoingAway, "server shutting down") })
	}
	closing.Wait()
	h.cancel()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
