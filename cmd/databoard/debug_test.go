package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDebugHandler checks that the profiles DEBUG_LISTEN_ADDR serves answer, and nothing else does.
func TestDebugHandler(t *testing.T) {
	srv := httptest.NewServer(debugHandler())
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
