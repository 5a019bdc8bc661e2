package sim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf/sim"
)

func TestFaultStatusCountAndPrefix(t *testing.T) {
	e := newEnv(t, sim.Config{})
	q := rangeQuery("sf-databuffer", "SIM-F64:SINE", t0().Add(-time.Minute), t0())
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/events", Status: http.StatusServiceUnavailable, Message: "down for maintenance", Count: 2})

	resp, body := e.get(t, "/api/4/binned", q, "")
	wantStatus(t, resp, body, http.StatusOK) // other path: unaffected, does not consume the count
	for i := 0; i < 2; i++ {
		resp, body = e.get(t, "/api/4/events", q, acceptCFramed)
		wantStatus(t, resp, body, http.StatusServiceUnavailable)
		if obj := decodeJSON(t, body); obj["message"] != "down for maintenance" || obj["requestid"] != resp.Header.Get("requestid") {
			t.Fatalf("fault body %s", body)
		}
	}
	resp, body = e.get(t, "/api/4/events", q, acceptCFramed)
	wantStatus(t, resp, body, http.StatusOK)

	e.sim.SetFault(sim.Fault{Status: http.StatusGatewayTimeout})
	for i := 0; i < 3; i++ {
		resp, body = e.get(t, "/api/4/backend/list", nil, "")
		wantStatus(t, resp, body, http.StatusGatewayTimeout)
	}
	e.sim.ClearFault()
	resp, body = e.get(t, "/api/4/backend/list", nil, "")
	wantStatus(t, resp, body, http.StatusOK)
}

func TestFaultCutConnection(t *testing.T) {
	e := newEnv(t, sim.Config{})
	e.sim.SetFault(sim.Fault{CutConnection: true, Count: 1})
	q := rangeQuery("sf-databuffer", "SIM-F64:SINE", t0().Add(-time.Minute), t0())
	if _, _, err := e.do(t, "/api/4/events", q, ""); !isConnectionClosed(err) {
		t.Fatalf("want connection closed, got %v", err)
	}
	resp, body := e.get(t, "/api/4/events", q, "")
	wantStatus(t, resp, body, http.StatusOK)
}

func TestFaultMidStreamError(t *testing.T) {
	e := newEnv(t, sim.Config{EventsPerFrame: 10})
	e.sim.SetFault(sim.Fault{MidStreamError: true, Message: "scylla read failed"})
	ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-F64:SINE")
	q := rangeQuery(ch.Backend, ch.Name, t0().Add(-time.Minute), t0().Add(-time.Second))

	resp, body := e.get(t, "/api/4/events", q, acceptCFramed)
	wantStatus(t, resp, body, http.StatusOK)
	frames := splitBinaryFrames(t, body)
	if len(frames) != 2 {
		t.Fatalf("%d frames, want one data frame and the error", len(frames))
	}
	if n := len(eventsFromCBOR(t, ch, decodeCBOR(t, frames[0]))); n != 10 {
		t.Fatalf("data frame with %d events", n)
	}
	if obj := decodeCBOR(t, frames[1]); obj["error"] != "scylla read failed" {
		t.Fatalf("last frame %v", obj)
	}

	q.Set("binWidth", "20ms") // 2950 bins: more than one frame's worth
	resp, body = e.get(t, "/api/4/binned", q, acceptJFramed)
	wantStatus(t, resp, body, http.StatusOK)
	frames = splitASCIIFrames(t, body)
	if len(frames) != 2 || len(binsFromJSON(t, decodeJSON(t, frames[0]))) != 128 || decodeJSON(t, frames[1])["error"] != "scylla read failed" {
		t.Fatalf("binned frames %d", len(frames))
	}

	// Plain JSON: the body breaks off.
	if _, _, err := e.do(t, "/api/4/events", q, acceptJSON); err == nil {
		t.Fatal("plain JSON with a mid-stream fault read cleanly")
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t, sim.Config{Latency: 30 * time.Millisecond})
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/search", Latency: 50 * time.Millisecond})
	for _, tt := range []struct {
		path string
		min  time.Duration
	}{{"/api/4/backend/list", 30 * time.Millisecond}, {"/api/4/search/channel", 80 * time.Millisecond}} {
		start := time.Now()
		resp, body := e.get(t, tt.path, url.Values{"nameRegex": {"x"}}, "")
		wantStatus(t, resp, body, http.StatusOK)
		if took := time.Since(start); took < tt.min {
			t.Errorf("%s answered after %v, want at least %v", tt.path, took, tt.min)
		}
	}
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t, sim.Config{})
	ch := mustChannel(t, e.sim, "sf-archiver", "SIM-F64:RAMP")
	beg, end := t0().Add(-time.Hour), t0()
	q := rangeQuery(ch.Backend, "", beg, end)
	q.Del("channelName")
	q.Set("seriesId", fmt.Sprint(ch.SeriesID))
	q.Set("binCount", "7")
	e.get(t, "/api/4/binned", q, acceptJFramed)
	e.get(t, "/somewhere/else", nil, "") // not under /api/4: not logged

	reqs := e.sim.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests logged", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/api/4/binned" || r.Accept != acceptJFramed || r.Backend != "sf-archiver" || r.SeriesID != ch.SeriesID ||
		r.Beg != beg.UnixNano() || r.End != end.UnixNano() || r.BinCount != 7 || r.Query != q.Encode() || !r.Time.Equal(t0()) {
		t.Fatalf("logged %+v", r)
	}

	// Concurrent requests are all logged (run with -race).
	e.sim.ResetRequests()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _, err := e.do(t, "/api/4/events", rangeQuery("sf-databuffer", "SIM-F64:SINE", beg, end), acceptCFramed)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("concurrent request: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := len(e.sim.Requests()); n != 20 {
		t.Fatalf("%d requests logged, want 20", n)
	}
	e.sim.ResetRequests()
	if n := len(e.sim.Requests()); n != 0 {
		t.Fatalf("%d requests after reset", n)
	}
}
