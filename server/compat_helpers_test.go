package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/databoard/databoard/daqbuf/sim"
)

// request sends one request with extra headers.
func (e *testEnv) request(t *testing.T, method, path, body string, header http.Header) response {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, e.url+path, rd)
	} else {
		req, err = http.NewRequest(method, e.url+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return send(t, req)
}

// pathWith is path?query with the parameters form-encoded in the given order (as axios does).
func pathWith(path string, kv ...string) string {
	if len(kv)%2 != 0 {
		panic("pathWith: odd number of key/value strings")
	}
	var b strings.Builder
	b.WriteString(path)
	for i := 0; i < len(kv); i += 2 {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// decode unmarshals a JSON body, failing the test when it is not valid JSON.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("body is not JSON (%v), status %d: %s", err, r.status, truncate(string(r.body), 300))
	}
	if dec.More() {
		t.Fatalf("trailing data after the JSON body: %s", truncate(string(r.body), 300))
	}
}

// wantStatus fails the test unless r has the status.
func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, truncate(string(r.body), 400))
	}
}

// wantDetail checks an error answer: the status, a JSON content type and {"detail": detail} exactly.
func wantDetail(t *testing.T, r response, status int, detail string) {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body map[string]any
	decode(t, r, &body)
	if len(body) != 1 || body["detail"] != detail {
		t.Errorf("body %s, want {\"detail\": %q}", r.body, detail)
	}
}

// wantDetailPrefix is wantDetail for messages that end with a variable reason.
func wantDetailPrefix(t *testing.T, r response, status int, prefix string) string {
	t.Helper()
	wantStatus(t, r, status)
	var body map[string]any
	decode(t, r, &body)
	d, ok := body["detail"].(string)
	if len(body) != 1 || !ok || !strings.HasPrefix(d, prefix) {
		t.Errorf("body %s, want {\"detail\": \"%s...\"}", r.body, prefix)
	}
	return d
}

// simChannel is the simulator's catalogue entry, failing the test when it does not exist.
func (e *testEnv) simChannel(t *testing.T, backend, name string) sim.Channel {
	t.Helper()
	ch, ok := e.sim.Channel(backend, name)
	if !ok {
		t.Fatalf("simulator has no channel %s/%s", backend, name)
	}
	return ch
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return strings.TrimSpace(s)
}

// uuid4 matches a random (version 4) UUID in canonical form.
var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
