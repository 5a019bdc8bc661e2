package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// fuzzMethods are the methods a fuzzed request picks from.
var fuzzMethods = []string{"GET", "HEAD", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "TRACE", "BREW"}

// fuzzSlow is far beyond every deadline of the fuzzed server (2 s), even on a loaded machine.
const fuzzSlow = 20 * time.Second

// fuzzHeapBound is the heap (bytes in objects) no fuzzed request may leave behind or reach at its end.
const fuzzHeapBound = 512 << 20

// FuzzHandlers sends random routes, query strings, headers and bodies through the whole handler (edge,
// middleware, routes) and checks what must hold for any input: no panic, no 5xx except the documented
// ones (upstream failure 500, store or body budget 503, deadline 504), an answer that is JSON whenever
// it is an error, and a bounded heap. Its seeds run in the normal suite; `go test -fuzz FuzzHandlers`
// explores further.
func FuzzHandlers(f *testing.F) {
	for _, s := range []struct {
		method              byte
		path, query, hk, hv string
		body                []byte
	}{
		{0, "/", "", "", "", nil},
		{0, "/health", "", "Origin", "https://x.example", nil},
		{0, "/channels/search", "search_text=((((", "", "", nil},
		{0, "/channels/search", "search_text=" + strings.Repeat("a*", 500), "", "", nil},
		{0, "/channels/curve", "channel_name=SIM-F64:SINE&begin_time=1747404000000&end_time=1747404060000&num_bins=10", "", "", nil},
		{0, "/channels/curve", "channel_name=SIM-F64:SINE&begin_time=-1&end_time=99999999999999999999", "", "", nil},
		{0, "/channels/curve", "channel_name=18446744073709551616&begin_time=1&end_time=2&num_bins=9223372036854775807", "", "", nil},
		{0, "/channels/curve", "channel_name=%00%ff&begin_time=1e3&end_time=true&isString=maybe", "", "", nil},
		{0, "/channels/raw-link", "channel_name=A&begin_time=2&end_time=1", "", "", nil},
		{2, "/dashboard/", "", "Content-Type", "application/json", []byte(`{"dashboard":{"widgets":[]}}`)},
		{2, "/dashboard", "", "", "", []byte(`{"dashboard":` + strings.Repeat("[", 5000) + `}`)},
		{2, "/dashboard/", "", "", "", []byte("\xff\xfe{\"dashboard\":1e999999}")},
		{3, "/dashboard/../../etc/passwd", "", "", "", []byte(`{}`)},
		{0, "/dashboard/%2e%2e", "", "", "", nil},
		{4, "/maintenance/cache", "", "Authorization", "Bearer  x", nil},
		{2, "/maintenance/dashboard/x/protect", "", "Authorization", "bearer", nil},
		{0, "/openapi.json", "", "X-Request-ID", strings.Repeat("z", 100), nil},
		{6, "/channels/curve", "", "Access-Control-Request-Method", "DELETE", nil},
		{8, "/health", "", "", "", []byte("x")},
		{0, "/docs/", "a=%zz", "", "", nil},
	} {
		f.Add(s.method, s.path, s.query, s.hk, s.hv, s.body)
	}
	e := newTestEnv(f, withServer(func(c *Config) {
		c.BodyLimit = 1 << 20
		c.MaintenanceToken = "fuzz-token"
		// Short deadlines: a random window can ask the simulator for years of data.
		c.Deadlines = Deadlines{Search: 2 * time.Second, Recent: 2 * time.Second, Curve: 2 * time.Second,
			RawLink: time.Second, Dashboards: 2 * time.Second, Root: time.Second}
	}))
	handler := e.srv.Handler()
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

	f.Fuzz(func(t *testing.T, method byte, path, query, hk, hv string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		target := path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(fuzzMethods[int(method)%len(fuzzMethods)], "http://databoard.test"+target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if hk != "" {
			if !validHeader(hk, hv) {
				return // net/http refuses such a header on the wire
			}
			req.Header.Set(hk, hv)
		}
		req.RequestURI = req.URL.RequestURI()
		rec := httptest.NewRecorder()
		start := time.Now()
		handler.ServeHTTP(rec, req)
		if took := time.Since(start); took > fuzzSlow {
			// Every route has a deadline of at most 2 s here: far beyond it, something ignores it.
			t.Fatalf("%s %s took %v", req.Method, target, took)
		}

		status := rec.Code
		detail := ""
		if status >= 400 && req.Method != http.MethodHead {
			var answer struct {
				Detail any `json:"detail"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Detail == nil {
				t.Fatalf("%s %s: error %d is not {\"detail\": ...}: %q", req.Method, target, status, truncate(rec.Body.String(), 200))
			}
			detail, _ = answer.Detail.(string)
		}
		switch {
		case status < 500:
		case status == http.StatusInternalServerError && detail == msgUpstream:
		case status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		default:
			t.Fatalf("%s %s: %d %q, not a documented server error", req.Method, target, status, detail)
		}
		metrics.Read(heap)
		if v := heap[0].Value.Uint64(); v > fuzzHeapBound {
			t.Fatalf("%s %s: heap at %d MiB after the request, bound %d MiB", req.Method, target, v>>20, fuzzHeapBound>>20)
		}
	})
}

// validHeader says whether a header field could come over the wire: a token name, a value without
// control characters other than tab.
func validHeader(name, value string) bool {
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for _, c := range []byte(value) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return name != ""
}
