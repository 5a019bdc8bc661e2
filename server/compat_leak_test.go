package server

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf/sim"
)

// Requests of every kind, including failed and abandoned ones, leave no goroutine behind once the
// environment is closed.
func TestCompatNoGoroutineLeak(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	before := runtime.NumGoroutine()
	t.Run("traffic", func(t *testing.T) {
		e := newTestEnv(t)
		body := smallDashboard("leak")
		id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", body), []byte(body))
		for _, p := range []string{"/", "/channels/recent", "/channels/search?search_text=SINE",
			"/channels/search?search_text=%5ESIM-F64:SINE%24", "/dashboard/" + id, "/maintenance/dashboard/" + id,
			curvePath("SIM-F64:SINE", "", baseMs, baseMs+60_000, "num_bins", "10"),
			curvePath("SIM-SPARSE:TEMP", "", baseMs, baseMs+3_600_000, "num_bins", "100", "useEventsIfBinCountTooLarge", "true"),
			curvePath("SIM-WAVE:SPECTRUM", "", baseMs, baseMs+2_000)} {
			e.do(t, http.MethodGet, p, "")
		}
		e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/events", MidStreamError: true})
		e.do(t, http.MethodGet, curvePath("SIM-DENSE:100HZ", "", baseMs, baseMs+60_000), "")
		e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/events", CutConnection: true})
		e.do(t, http.MethodGet, curvePath("SIM-DENSE:100HZ", "", baseMs, baseMs+60_000), "")
		e.sim.ClearFault()
		e.do(t, http.MethodPost, "/dashboard/", strings.Repeat("x", 100))
	})
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
