package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/stream"
)

// TestDebugHandler checks that the profiles and the stream's update times DEBUG_LISTEN_ADDR serves
// answer, and nothing else does.
func TestDebugHandler(t *testing.T) {
	updates := func() []stream.UpdateTime {
		return []stream.UpdateTime{
			{Epoch: "0a1b2c", Offset: 7, At: time.Unix(1_765_000_000, 123_456_789)},
			{Epoch: "0a1b2c", Offset: 8, At: time.Unix(1_765_000_001, 5)},
		}
	}
	srv := httptest.NewServer(debugHandler(updates))
	defer srv.Close()
	for _, tc := range []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/debug/pprof/", 200, "heap"},
		{"/debug/pprof/heap?debug=1", 200, "heap profile"},
		{"/debug/pprof/goroutine?debug=1", 200, "goroutine profile"},
		{"/debug/pprof/cmdline", 200, ""},
		{"/debug/stream/updates", 200, `{"epoch":"0a1b2c","offset":"7","at_ns":1765000000123456789}` + "\n" +
			`{"epoch":"0a1b2c","offset":"8","at_ns":1765000001000000005}` + "\n"},
		{"/health", 404, ""},
		{"/stream", 404, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.wantCode || !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("GET %s = %d %.200q; want %d containing %q", tc.path, res.StatusCode, b, tc.wantCode, tc.wantBody)
			}
		})
	}
}
