package server

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/databoard/databoard/server/web"
)

// TestWebAssets checks the browser files' routes: content types, the /live page's Content-Security-
// Policy, conditional requests, HEAD, the /live/ redirect, and that every file the page names is served
// by a route relative to it (so the page works behind a proxy's path prefix).
func TestWebAssets(t *testing.T) {
	s := New(Config{}, Deps{})
	h := s.Handler()
	get := func(method, path string, header http.Header) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		for k, vs := range header {
			req.Header[k] = vs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		path, contentType string
		asset             web.Asset
	}{
		{"/stream.js", "text/javascript; charset=utf-8", web.StreamJS},
		{"/live", "text/html; charset=utf-8", web.LiveHTML},
		{"/live.js", "text/javascript; charset=utf-8", web.LiveJS},
		{"/live.css", "text/css; charset=utf-8", web.LiveCSS},
	} {
		rec := get("GET", tc.path, nil)
		if rec.Code != http.StatusOK || rec.Body.String() != string(tc.asset.Body) {
			t.Errorf("GET %s = %d, %d bytes; want 200 and the embedded file", tc.path, rec.Code, rec.Body.Len())
		}
		if got := rec.Header().Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", tc.path, rec.Header())
		}
		etag := rec.Header().Get("ETag")
		if etag == "" || etag != tc.asset.ETag {
			t.Errorf("GET %s: ETag %q, want %q", tc.path, etag, tc.asset.ETag)
		}
		if rec := get("GET", tc.path, http.Header{"If-None-Match": {`"other", ` + etag}}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("GET %s with its ETag = %d, %d bytes; want 304 without a body", tc.path, rec.Code, rec.Body.Len())
		}
		if rec := get("HEAD", tc.path, nil); rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tc.contentType {
			t.Errorf("HEAD %s = %d %q", tc.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}

	rec := get("GET", "/live", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self' ws: wss:", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("/live CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("/live CSP allows unsafe sources: %q", csp)
	}
	if rec := get("GET", "/stream.js", nil); rec.Header().Get("Content-Security-Policy") != "" {
		t.Error("stream.js carries the page's CSP; it is a module other pages import")
	}
	if rec := get("GET", "/live/", nil); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "../live" {
		t.Errorf("GET /live/ = %d Location %q, want 301 to ../live", rec.Code, rec.Header().Get("Location"))
	}

	// The page names its files relatively, and only files that have routes; nothing from elsewhere.
	page := string(web.LiveHTML.Body)
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("live.html names %d files, want its icon, stylesheet and script", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," {
			continue // the empty icon, so browsers ask for no /favicon.ico
		}
		if strings.Contains(ref, ":") || strings.HasPrefix(ref, "/") {
			t.Errorf("live.html names %q: not relative to the page", ref)
			continue
		}
		if rec := get("GET", "/"+ref, nil); rec.Code != http.StatusOK {
			t.Errorf("live.html names %q, which is not served (%d)", ref, rec.Code)
		}
	}
	imports := regexp.MustCompile(`(?m)^import .* from "\./([^"]+)";`).FindAllStringSubmatch(string(web.LiveJS.Body), -1)
	if len(imports) != 1 || imports[0][1] != "stream.js" {
		t.Errorf("live.js imports %v, want ./stream.js only", imports)
	}
	network := regexp.MustCompile(`(?:from|import\(|fetch\()\s*["'\x60](?:https?:)?//|@import|url\(`)
	for _, a := range []web.Asset{web.StreamJS, web.LiveJS, web.LiveCSS} {
		if m := network.Find(a.Body); m != nil {
			t.Errorf("an embedded file loads from the network: %s", m)
		}
	}
}
