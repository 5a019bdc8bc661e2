package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/databoard/databoard/dashboards"
	"github.com/databoard/databoard/dashboards/mongowire/mongotest"
)

// stallingProxy forwards TCP connections to target until stall is called; from then on it holds every byte
// (connections stay open, nothing answers), as a wedged server does, until resume.
type stallingProxy struct {
	addr    string
	mu      sync.Mutex
	stalled bool
	resumed chan struct{}
}

func newStallingProxy(t *testing.T, target string) *stallingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingProxy{addr: ln.Addr().String(), resumed: make(chan struct{})}
	close(p.resumed)
	var conns sync.WaitGroup
	var open []net.Conn
	var openMu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		p.resume()
		openMu.Lock()
		for _, c := range open {
			c.Close()
		}
		openMu.Unlock()
		conns.Wait()
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			openMu.Lock()
			open = append(open, in, out)
			openMu.Unlock()
			conns.Add(2)
			go func() { defer conns.Done(); p.pipe(out, in) }()
			go func() { defer conns.Done(); p.pipe(in, out) }()
		}
	}()
	return p
}

func (p *stallingProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		gate := p.resumed
		p.mu.Unlock()
		<-gate
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *stallingProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		p.stalled, p.resumed = true, make(chan struct{})
	}
}

func (p *stallingProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.resumed)
	}
}

// TestCompatDashboardStoreWedged: when the store stops answering (connections open, no replies, as a wedged
// FerretDB does), every dashboard route answers 503 with the contract's detail, not the deadline's 504,
// PATCH included while another write holds the store's write lock; /health stays 200; the maintenance
// statistics and /metrics say the store is down, and up again once it answers.
func TestCompatDashboardStoreWedged(t *testing.T) {
	target, err := url.Parse(mongotest.URI(t))
	if err != nil {
		t.Fatal(err)
	}
	db := mongotest.Database(t) // a fresh database name, dropped at the end
	proxy := newStallingProxy(t, target.Host)
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + proxy.addr + "/").
		SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	st, err := dashboards.New(client.Database(db.Name()), dashboards.Config{ProbeInterval: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := st.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.resume(); _ = st.Close(context.Background()) })
	srv := New(Config{}, Deps{Dashboards: st, Metrics: prometheus.NewRegistry()})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &testEnv{url: hs.URL}

	body := smallDashboard("wedged")
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", body), []byte(body))
	wantStatus(t, e.do(t, http.MethodGet, "/maintenance/dashboards", ""), http.StatusOK)

	proxy.stall()
	// A POST and a PATCH at once: one of them waits for the write lock the other holds.
	var wg sync.WaitGroup
	for _, rt := range []struct{ method, path string }{{http.MethodPost, "/dashboard/"}, {http.MethodPatch, "/dashboard/" + id}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wantDetail(t, e.do(t, rt.method, rt.path, body), http.StatusServiceUnavailable, msgStoreUnavailable)
		}()
	}
	wg.Wait()
	wantDetail(t, e.do(t, http.MethodDelete, "/dashboard/"+id, ""), http.StatusServiceUnavailable, msgStoreUnavailable)
	wantDetail(t, e.do(t, http.MethodGet, "/dashboard/"+id, ""), http.StatusServiceUnavailable, msgStoreUnavailable)
	wantStatus(t, e.do(t, http.MethodGet, "/health", ""), http.StatusOK)

	stats := storeStats(t, e)
	if stats.State != dashboards.StateDown || stats.LastError == "" || stats.Failures == 0 {
		t.Errorf("/maintenance/dashboards while wedged: %+v, want state down with the last error", stats)
	}
	if m := e.do(t, http.MethodGet, "/metrics", "").body; !strings.Contains(string(m), "databoard_dashboard_store_up 0") {
		t.Errorf("/metrics while wedged lacks databoard_dashboard_store_up 0")
	}

	proxy.resume()
	for storeStats(t, e).State != dashboards.StateUp { // the probe sees it answer again
		select {
		case <-ctx.Done():
			t.Fatal("the store state did not return to up after the store answered again")
		case <-time.After(50 * time.Millisecond): // polling interval
		}
	}
	m := string(e.do(t, http.MethodGet, "/metrics", "").body)
	for _, want := range []string{"databoard_dashboard_store_up 1", "\ndataboard_dashboard_store_size_recounts_total "} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics after recovery lacks %q", want)
		}
	}
	wantStatus(t, e.do(t, http.MethodPatch, "/dashboard/"+id, body), http.StatusOK)
}

func storeStats(t *testing.T, e *testEnv) dashboards.Stats {
	t.Helper()
	var st dashboards.Stats
	if err := json.Unmarshal(e.do(t, http.MethodGet, "/maintenance/dashboards", "").body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
