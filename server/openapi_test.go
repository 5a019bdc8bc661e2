package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/cache/store"
)

// loadOpenAPI parses and validates the document the server serves with kin-openapi, an OpenAPI 3
// implementation independent of the code that writes it.
func loadOpenAPI(t *testing.T, srv *Server) *openapi3.T {
	t.Helper()
	b, err := json.Marshal(srv.openAPI())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("OpenAPI document does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("OpenAPI document is not valid: %v", err)
	}
	return doc
}

// The document is valid OpenAPI 3 in every configuration, every route's success answer has a body
// description, and the bearer scheme is there exactly when a token is set.
func TestOpenAPIValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{}},
		{"maintenance token", Config{MaintenanceToken: "t"}},
		{"separate maintenance", Config{SeparateMaintenance: true, MaintenanceToken: "t"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := New(tc.cfg, Deps{})
			doc := loadOpenAPI(t, srv)
			for _, r := range srv.publicRoutes() {
				op := doc.Paths.Find(openAPIPath(r.path)).GetOperation(r.method)
				if op == nil {
					t.Errorf("%s %s is missing", r.method, r.path)
					continue
				}
				var success *openapi3.Response
				for code, resp := range op.Responses.Map() {
					if strings.HasPrefix(code, "2") {
						success = resp.Value
					}
				}
				if success == nil || len(success.Content) == 0 {
					t.Errorf("%s %s: no success answer with a body", r.method, r.path)
				}
				wantSecurity := r.maintenance && tc.cfg.MaintenanceToken != ""
				if got := op.Security != nil && len(*op.Security) > 0; got != wantSecurity {
					t.Errorf("%s %s: security %v, want %v", r.method, r.path, got, wantSecurity)
				}
			}
			_, hasScheme := doc.Components.SecuritySchemes[maintenanceScheme]
			if hasScheme != (tc.cfg.MaintenanceToken != "") {
				t.Errorf("security scheme present %v with token %q", hasScheme, tc.cfg.MaintenanceToken)
			}
		})
	}
}

// Real answers of every JSON route, successes and errors, match the schemas of the document (validated by
// kin-openapi's response validator), and /docs shows the schemas.
func TestOpenAPIDescribesAnswers(t *testing.T) {
	e := newTestEnv(t, withCache(store.NewMemory(store.MemoryConfig{MaxBytes: 16 << 20}), curves.Config{}))
	doc := loadOpenAPI(t, e.srv)
	body := smallDashboard("openapi")
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", body), []byte(body))
	curve := func(extra ...string) string {
		return curvePath("SIM-F64:SINE", "sf-databuffer", baseMs, baseMs+60_000, extra...)
	}
	for _, tc := range []struct {
		method, path, spec, body string
		status                   int
	}{
		{"GET", "/", "/", "", 200},
		{"GET", "/health", "/health", "", 200},
		{"GET", "/channels/search?search_text=SINE", "/channels/search", "", 200},
		{"GET", "/channels/search?search_text=(", "/channels/search", "", 400},
		{"GET", "/channels/recent", "/channels/recent", "", 200},
		{"GET", curve("num_bins", "10"), "/channels/curve", "", 200},
		{"GET", curve(), "/channels/curve", "", 200},
		{"GET", curvePath("SIM-F64:SINE", "", baseMs, baseMs-1), "/channels/curve", "", 400},
		{"GET", "/channels/curve?channel_name=X", "/channels/curve", "", 422},
		{"GET", "/channels/raw-link?channel_name=A&begin_time=1&end_time=2", "/channels/raw-link", "", 200},
		{"POST", "/dashboard/", "/dashboard/", body, 201},
		{"POST", "/dashboard/", "/dashboard/", `{"x":1}`, 422},
		{"GET", "/dashboard/" + id, "/dashboard/{id}", "", 200},
		{"GET", "/dashboard/nope", "/dashboard/{id}", "", 404},
		{"PATCH", "/dashboard/" + id, "/dashboard/{id}", body, 200},
		{"GET", "/maintenance/dashboard/" + id, "/maintenance/dashboard/{id}", "", 200},
		{"POST", "/maintenance/dashboard/" + id + "/whitelist", "/maintenance/dashboard/{id}/whitelist", "", 200},
		{"DELETE", "/maintenance/dashboard/" + id + "/whitelist", "/maintenance/dashboard/{id}/whitelist", "", 200},
		{"POST", "/maintenance/dashboard/" + id + "/protect", "/maintenance/dashboard/{id}/protect", "", 200},
		{"DELETE", "/dashboard/" + id, "/dashboard/{id}", "", 403},
		{"DELETE", "/maintenance/dashboard/" + id + "/protect", "/maintenance/dashboard/{id}/protect", "", 200},
		{"DELETE", "/dashboard/" + id, "/dashboard/{id}", "", 200},
		{"GET", "/maintenance/dashboards", "/maintenance/dashboards", "", 200},
		{"GET", "/maintenance/cache", "/maintenance/cache", "", 200},
		{"DELETE", "/maintenance/cache/curves?channel_name=SIM-F64:SINE", "/maintenance/cache/curves", "", 200},
		{"DELETE", "/maintenance/cache/channels", "/maintenance/cache/channels", "", 200},
		{"DELETE", "/maintenance/cache", "/maintenance/cache", "", 200},
		{"GET", "/openapi.json", "/openapi.json", "", 200},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.body)
			wantStatus(t, r, tc.status)
			item := doc.Paths.Find(tc.spec)
			if item == nil || item.GetOperation(tc.method) == nil {
				t.Fatalf("%s %s is not in the document", tc.method, tc.spec)
			}
			req, _ := http.NewRequest(tc.method, e.url+tc.path, nil)
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: &routers.Route{
					Spec: doc, Path: tc.spec, PathItem: item, Method: tc.method, Operation: item.GetOperation(tc.method)}},
				Status: r.status, Header: r.header,
				Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
			}
			in.SetBodyBytes(bytes.Clone(r.body))
			if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
				t.Errorf("answer %d does not match the document: %v\nbody %s", r.status, err, truncate(string(r.body), 300))
			}
		})
	}
	docs := e.do(t, http.MethodGet, "/docs", "")
	for _, name := range []string{"Channel", "Curve", "Dashboard", "DashboardRecord", "CacheStats"} {
		if !strings.Contains(string(docs.body), `id="schema-`+name+`"`) {
			t.Errorf("/docs does not show the schema %s", name)
		}
	}
}
