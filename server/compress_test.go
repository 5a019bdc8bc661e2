package server

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/cache/store"
)

// rawGet sends GET or HEAD with the given Accept-Encoding ("" = none) through a client that neither
// adds gzip nor decompresses.
func rawGet(t *testing.T, method, url, acceptEncoding string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 13: large JSON answers are gzipped for a client that asks, byte for byte the plain answer once
// decompressed; cached ones (whole list, kept curve answers) as well as per-request ones.
func TestGzipAnswers(t *testing.T) {
	e := newTestEnv(t, withoutStore(), withCache(store.NewMemory(store.MemoryConfig{}), curves.Config{}))
	now := time.Now()
	past := binnedPath("SIM-F64:SINE", now.Add(-26*time.Hour), now.Add(-25*time.Hour), 300)
	paths := []string{
		"/channels/search?search_text=",     // whole list, cached per generation
		"/channels/search?search_text=SIM-", // per request
		past,                                // miss, chunk hit, then a kept answer
		past,
		past,
		"/openapi.json",
	}
	for _, p := range paths {
		plain := rawGet(t, http.MethodGet, e.url+p, "")
		if plain.status != http.StatusOK || plain.header.Get("Content-Encoding") != "" {
			t.Fatalf("GET %s without Accept-Encoding: %d, Content-Encoding %q", p, plain.status, plain.header.Get("Content-Encoding"))
		}
		if len(plain.body) < compressMin {
			t.Fatalf("GET %s: %d bytes, too small for this test", p, len(plain.body))
		}
		if !strings.Contains(plain.header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("GET %s: Vary %q lacks Accept-Encoding", p, plain.header.Get("Vary"))
		}
		for _, ae := range []string{"gzip", "br;q=1.0, gzip;q=0.8, *;q=0.1", "deflate, gzip"} {
			z := rawGet(t, http.MethodGet, e.url+p, ae)
			if z.header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("GET %s with %q: Content-Encoding %q", p, ae, z.header.Get("Content-Encoding"))
			}
			if !strings.Contains(z.header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s gzipped: Vary %q", p, z.header.Get("Vary"))
			}
			if len(z.body) >= len(plain.body) {
				t.Errorf("GET %s: gzipped %d bytes, plain %d", p, len(z.body), len(plain.body))
			}
			if got := gunzip(t, z.body); !bytes.Equal(got, plain.body) {
				t.Fatalf("GET %s: gunzipped answer differs from the plain one (%d vs %d bytes)", p, len(got), len(plain.body))
			}
		}
		for _, ae := range []string{"identity", "gzip;q=0", "br", "gzip;q=0.000, deflate"} {
			if r := rawGet(t, http.MethodGet, e.url+p, ae); r.header.Get("Content-Encoding") != "" || !bytes.Equal(r.body, plain.body) {
				t.Errorf("GET %s with %q: Content-Encoding %q", p, ae, r.header.Get("Content-Encoding"))
			}
		}
		head := rawGet(t, http.MethodHead, e.url+p, "gzip")
		if head.header.Get("Content-Encoding") != "" || len(head.body) != 0 {
			t.Errorf("HEAD %s: Content-Encoding %q, %d body bytes", p, head.header.Get("Content-Encoding"), len(head.body))
		}
	}
	small := rawGet(t, http.MethodGet, e.url+"/health", "gzip")
	if small.header.Get("Content-Encoding") != "" || small.header.Get("Vary") != "" || string(small.body) != `{"message":"Alive and Well!"}` {
		t.Errorf("small answer touched: Content-Encoding %q, Vary %q, body %s", small.header.Get("Content-Encoding"), small.header.Get("Vary"), small.body)
	}
	// The kept curve answer has its gzip copy beside it: compressed once, not per request.
	if n := answersKept(t, e); n != 2 {
		t.Errorf("answers kept: %d, want 2 (the plain answer and its gzip copy)", n)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "x-gzip": true, "*": true, "identity": false, "br, zstd": false,
		"gzip;q=0": false, "gzip; q=0.0": false, "gzip;q=0.001": true, "gzip;q=1": true, "deflate, gzip;q=0.5": true,
		"gzipx": false, " gzip ": true,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

// Issue 13: a list search with many matches is answered from the answer cache the second time, the same
// bytes, plain and gzipped.
func TestListSearchAnswerKept(t *testing.T) {
	e := newTestEnv(t, withoutStore(), withSimCatalogue(400), withCache(store.NewMemory(store.MemoryConfig{}), curves.Config{}))
	path := "/channels/search?search_text=ch0" // ≤ 4 characters: the list, not data-api
	first := rawGet(t, http.MethodGet, e.url+path, "")
	if n := answersKept(t, e); n != 1 {
		t.Fatalf("after a list search with %d bytes: %d answers kept, want 1", len(first.body), n)
	}
	e.sim.ResetRequests()
	second := rawGet(t, http.MethodGet, e.url+path, "")
	z := rawGet(t, http.MethodGet, e.url+path, "gzip")
	if !bytes.Equal(second.body, first.body) || !bytes.Equal(gunzip(t, z.body), first.body) {
		t.Error("kept search answer differs from the first")
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("kept search made %d data-api requests", n)
	}
	if n := answersKept(t, e); n != 2 {
		t.Errorf("answers kept: %d, want 2 (plain and gzip)", n)
	}
	// A small search is not kept.
	rawGet(t, http.MethodGet, e.url+"/channels/search?search_text=sine", "")
	if n := answersKept(t, e); n != 2 {
		t.Errorf("answers kept after a small search: %d, want 2", n)
	}
}
