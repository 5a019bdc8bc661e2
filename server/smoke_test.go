package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestSmoke(t *testing.T) {
	e := newTestEnv(t)
	for _, p := range []string{"/", "/health", "/channels/recent", "/channels/search?search_text=SINE",
		"/channels/curve?channel_name=SIM-F64:SINE&backend=sf-databuffer&begin_time=1700000000000&end_time=1700000600000&num_bins=10"} {
		r := e.do(t, http.MethodGet, p, "")
		t.Logf("%s -> %d %s", p, r.status, truncate(string(r.body), 400))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return strings.TrimSpace(s)
}
