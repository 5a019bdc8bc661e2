package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/databoard/databoard/daqbuf"
)

func TestCompatRootBodies(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		path, want string
	}{
		{"/", `{"message":"Hello, World!"}`},
		{"/health", `{"message":"Alive and Well!"}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := e.do(t, http.MethodGet, tt.path, "")
			wantStatus(t, r, http.StatusOK)
			if string(r.body) != tt.want {
				t.Errorf("body %s, want %s", r.body, tt.want)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// openAPIDoc is the part of the OpenAPI document the tests read.
type openAPIDoc struct {
	OpenAPI string                                 `json:"openapi"`
	Servers []struct{ URL string }                 `json:"servers"`
	Paths   map[string]map[string]openAPIOperation `json:"paths"`
}

type openAPIOperation struct {
	Parameters []openAPIParam  `json:"parameters"`
	Responses  map[string]any  `json:"responses"`
	Body       json.RawMessage `json:"requestBody"`
}

type openAPIParam struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
	Schema   struct {
		Type    string          `json:"type"`
		Default json.RawMessage `json:"default"`
	} `json:"schema"`
}

func TestCompatOpenAPIListsEveryRoute(t *testing.T) {
	e := newTestEnv(t)
	r := e.do(t, http.MethodGet, "/openapi.json", "")
	wantStatus(t, r, http.StatusOK)
	var doc openAPIDoc
	decode(t, r, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	routes := e.srv.routes()
	if len(routes) < 18 {
		t.Fatalf("route table has only %d routes", len(routes))
	}
	for _, rt := range routes {
		p := openAPIPath(rt.path)
		op, ok := doc.Paths[p][strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("openapi.json lacks %s %s", rt.method, p)
			continue
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s %s: no responses", rt.method, p)
		}
		if rt.body != (op.Body != nil) {
			t.Errorf("%s %s: request body documented %v, route takes one %v", rt.method, p, op.Body != nil, rt.body)
		}
	}
	for p, ops := range doc.Paths {
		if strings.Contains(p, ":") {
			t.Errorf("path %q is in Fiber form, not OpenAPI's {id}", p)
		}
		if len(ops) == 0 {
			t.Errorf("path %q has no operation", p)
		}
	}

	// The documented parameters and defaults are the contract's.
	params := map[string]openAPIParam{}
	for _, p := range doc.Paths["/channels/curve"]["get"].Parameters {
		params[p.Name] = p
	}
	tests := []struct {
		name, typ, def string
		required       bool
	}{
		{"channel_name", "string", "", true},
		{"begin_time", "integer", "", true},
		{"end_time", "integer", "", true},
		{"backend", "string", `"sf-databuffer"`, false},
		{"num_bins", "integer", "0", false},
		{"useEventsIfBinCountTooLarge", "boolean", "false", false},
		{"removeEmptyBins", "boolean", "false", false},
		{"isString", "boolean", "", false},
	}
	for _, tt := range tests {
		p, ok := params[tt.name]
		switch {
		case !ok:
			t.Errorf("curve parameter %s missing", tt.name)
		case p.In != "query" || p.Schema.Type != tt.typ || p.Required != tt.required || string(p.Schema.Default) != tt.def:
			t.Errorf("curve parameter %s = in %s, type %s, required %v, default %s; want query, %s, %v, %s",
				tt.name, p.In, p.Schema.Type, p.Required, p.Schema.Default, tt.typ, tt.required, tt.def)
		}
	}
	search := map[string]openAPIParam{}
	for _, p := range doc.Paths["/channels/search"]["get"].Parameters {
		search[p.Name] = p
	}
	if d := string(search["allow_cached_response"].Schema.Default); d != "true" {
		t.Errorf("allow_cached_response default %s, want true", d)
	}
	if d := string(search["search_text"].Schema.Default); d != `""` {
		t.Errorf("search_text default %s, want \"\"", d)
	}
}

func TestCompatDocsMentionEveryPath(t *testing.T) {
	e := newTestEnv(t, withServer(func(c *Config) { c.RootPath = "/api" }))
	r := e.do(t, http.MethodGet, "/docs", "")
	wantStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	page := string(r.body)
	for _, rt := range e.srv.routes() {
		if want := rt.method + " " + openAPIPath(rt.path); !strings.Contains(page, want) {
			t.Errorf("/docs does not mention %q", want)
		}
	}
	// ROOT_PATH only changes where the documents say they live (the proxy strips the prefix).
	if !strings.Contains(page, `href="/api/openapi.json"`) {
		t.Errorf("/docs does not link the OpenAPI document under ROOT_PATH /api")
	}
	var doc openAPIDoc
	decode(t, e.do(t, http.MethodGet, "/openapi.json", ""), &doc)
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/api" {
		t.Errorf("openapi servers %+v, want one at /api", doc.Servers)
	}
}

// With CORS_ALLOW_ORIGINS, only the listed origins get CORS headers, on answers of the Fiber app and of
// the edge alike; other origins' pages cannot read the answers.
func TestCompatCORSAllowList(t *testing.T) {
	const allowed, other = "https://board.example.org", "https://evil.example"
	e := newTestEnv(t, withServer(func(c *Config) {
		c.AllowOrigins, c.BodyLimit = []string{allowed}, 50 // a 100-byte body is the edge's 413
	}))
	big := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name, method, path, origin, body string
		wantCORS                         bool
	}{
		{"allowed GET", http.MethodGet, "/health", allowed, "", true},
		{"allowed, other case", http.MethodGet, "/health", "https://Board.Example.org", "", true},
		{"allowed preflight", http.MethodOptions, "/dashboard/x", allowed, "", true},
		{"allowed edge error", http.MethodPost, "/dashboard/", allowed, big, true},
		{"other GET", http.MethodGet, "/health", other, "", false},
		{"other maintenance", http.MethodGet, "/maintenance/dashboards", other, "", false},
		{"other preflight", http.MethodOptions, "/maintenance/cache", other, "", false},
		{"other edge error", http.MethodPost, "/dashboard/", other, big, false},
		{"same scheme, other port", http.MethodGet, "/health", allowed + ":8443", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Origin": {tc.origin}}
			if tc.method == http.MethodOptions {
				h.Set("Access-Control-Request-Method", "DELETE")
			}
			r := e.request(t, tc.method, tc.path, tc.body, h)
			acao, creds := r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Access-Control-Allow-Credentials")
			if tc.wantCORS && (acao != tc.origin || creds != "true") {
				t.Errorf("status %d: Access-Control-Allow-Origin %q, credentials %q; want the origin echoed", r.status, acao, creds)
			}
			if !tc.wantCORS && (acao != "" || creds != "" || r.header.Get("Access-Control-Allow-Methods") != "") {
				t.Errorf("status %d: CORS headers for an origin not allowed: %v", r.status, r.header)
			}
			if !strings.Contains(r.header.Get("Vary"), "Origin") {
				t.Errorf("Vary %q lacks Origin: a cache could serve one origin's answer to another", r.header.Get("Vary"))
			}
		})
	}
}

func TestCompatCORS(t *testing.T) {
	e := newTestEnv(t)
	const origin = "http://localhost:3000"
	tests := []struct {
		name      string
		method    string
		path      string
		header    http.Header
		status    int
		preflight bool
	}{
		{"preflight curve", http.MethodOptions, "/channels/curve", http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"GET"},
			"Access-Control-Request-Headers": {"content-type,x-custom"}}, http.StatusOK, true},
		{"preflight dashboard patch", http.MethodOptions, "/dashboard/some-id", http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"PATCH"}}, http.StatusOK, true},
		{"simple GET", http.MethodGet, "/health", http.Header{"Origin": {origin}}, http.StatusOK, false},
		{"error answer", http.MethodGet, "/dashboard/does-not-exist", http.Header{"Origin": {origin}}, http.StatusNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.request(t, tt.method, tt.path, "", tt.header)
			wantStatus(t, r, tt.status)
			if got := r.header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("Access-Control-Allow-Origin %q, want the origin echoed", got)
			}
			if got := r.header.Get("Access-Control-Allow-Credentials"); got != "true" {
				t.Errorf("Access-Control-Allow-Credentials %q, want true", got)
			}
			if !tt.preflight {
				if !strings.Contains(r.header.Get("Vary"), "Origin") {
					t.Errorf("Vary %q lacks Origin", r.header.Get("Vary"))
				}
				return
			}
			methods := r.header.Get("Access-Control-Allow-Methods")
			if !strings.Contains(methods, tt.header.Get("Access-Control-Request-Method")) {
				t.Errorf("Access-Control-Allow-Methods %q lacks the requested method", methods)
			}
			if h := tt.header.Get("Access-Control-Request-Headers"); h != "" && r.header.Get("Access-Control-Allow-Headers") != h {
				t.Errorf("Access-Control-Allow-Headers %q, want %q", r.header.Get("Access-Control-Allow-Headers"), h)
			}
		})
	}
	// Without Origin there is nothing to allow.
	r := e.do(t, http.MethodGet, "/health", "")
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("Access-Control-Allow-Origin %q without an Origin", got)
	}
}

func TestCompatRequestID(t *testing.T) {
	e := newTestEnv(t)
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"none", "", false},
		{"nginx style", "7f3c2a9e0b1d4c5e8f6a7b8c9d0e1f2a", true},
		{"uuid", "0b7c6a3e-5d4f-4e2a-9c1b-8a7f6e5d4c3b", true},
		{"unsafe characters", "evil\"id<script>", false},
		{"too long", strings.Repeat("a", 65), false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.sent != "" {
				h.Set("X-Request-ID", tt.sent)
			}
			got := e.request(t, http.MethodGet, "/health", "", h).header.Get("X-Request-ID")
			switch {
			case tt.echoed && got != tt.sent:
				t.Errorf("X-Request-ID %q, want %q echoed", got, tt.sent)
			case !tt.echoed && !generated.MatchString(got):
				t.Errorf("X-Request-ID %q, want a generated 16-hex-digit id", got)
			case !tt.echoed && seen[got]:
				t.Errorf("generated X-Request-ID %q twice", got)
			}
			seen[got] = true
		})
	}
}

func TestCompatUnknownRoutes(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		method, path string
		status       int
		detail       string
		allow        string
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, "Not Found", ""},
		{http.MethodGet, "/channels", http.StatusNotFound, "Not Found", ""},
		{http.MethodGet, "/channels/curve/extra", http.StatusNotFound, "Not Found", ""},
		{http.MethodGet, "/Health", http.StatusNotFound, "Not Found", ""}, // paths are case-sensitive, as in FastAPI
		// A known path with another method is 405 with Allow, as FastAPI answers.
		{http.MethodPost, "/health", http.StatusMethodNotAllowed, "Method Not Allowed", "GET, HEAD"},
		{http.MethodPut, "/dashboard/some-id", http.StatusMethodNotAllowed, "Method Not Allowed", "GET, HEAD, PATCH, DELETE"},
		{http.MethodDelete, "/channels/search", http.StatusMethodNotAllowed, "Method Not Allowed", "GET, HEAD"},
		{http.MethodGet, "/dashboard/", http.StatusMethodNotAllowed, "Method Not Allowed", "POST"},
		{http.MethodGet, "/maintenance/dashboard/x/protect", http.StatusMethodNotAllowed, "Method Not Allowed", "POST, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, "")
			wantDetail(t, r, tt.status, tt.detail)
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
	// HEAD is answered for GET routes, without a body.
	for _, p := range []string{"/health", "/channels/recent", "/openapi.json"} {
		r := e.do(t, http.MethodHead, p, "")
		if r.status != http.StatusOK || len(r.body) != 0 {
			t.Errorf("HEAD %s: %d %q", p, r.status, r.body)
		}
	}
}

// panickingDirectory is a channel directory whose Recent panics, standing in for any handler bug.
type panickingDirectory struct{ ChannelDirectory }

func (panickingDirectory) Recent() []daqbuf.Channel { panic("test: handler bug") }

func TestCompatPanicIs500AndServerKeepsServing(t *testing.T) {
	e := newTestEnv(t)
	srv := New(Config{}, Deps{Channels: panickingDirectory{e.channels}})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	get := func(path string) response {
		req, err := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return send(t, req)
	}
	for range 3 {
		wantDetail(t, get("/channels/recent"), http.StatusInternalServerError, "Internal Server Error")
		r := get("/health")
		wantStatus(t, r, http.StatusOK)
		if string(r.body) != `{"message":"Alive and Well!"}` {
			t.Errorf("after a panic /health answered %s", r.body)
		}
		// Another directory method still works: the panic left no lock or state behind.
		r = get("/channels/search?search_text=SINE")
		wantStatus(t, r, http.StatusOK)
	}
}
