package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawExchange opens a TCP connection to the test server, writes head (and nothing else), and reads the
// answer; a connection the server closed without answering is a nil response. The generous read deadline
// only stops a hung test: the outcome is what the test asserts, not how long it took.
func rawExchange(t *testing.T, base, head string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("no answer and no close: the slow body was not cut")
		}
		return nil
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

// A client that declares a body and sends only part of it is cut after BodyTimeout with 408, on every
// route that reads a body; a body sent in time is served as before.
func TestEdgeSlowBodyIsCut(t *testing.T) {
	e := newTestEnv(t, withServer(func(c *Config) { c.BodyTimeout = 300 * time.Millisecond }))
	for _, tc := range []struct{ method, path string }{
		{"POST", "/dashboard/"},
		{"POST", "/dashboard"},
		{"PATCH", "/dashboard/0123"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res := rawExchange(t, e.url, tc.method+" "+tc.path+" HTTP/1.1\r\nHost: test\r\n"+
				"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"+`{"dashboard"`)
			if res == nil {
				return // closed without an answer: cut as well
			}
			if res.StatusCode != http.StatusRequestTimeout || !res.Close {
				t.Errorf("slow body: status %d, close %v; want 408 and the connection closed", res.StatusCode, res.Close)
			}
		})
	}
	r := e.do(t, http.MethodPost, "/dashboard/", `{"dashboard":{"widgets":[]}}`)
	wantStatus(t, r, http.StatusCreated)
}
