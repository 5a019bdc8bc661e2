package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/databoard/databoard/dashboards"
)

// referenceDashboards are real dashboards, all valid against the schema. go test runs in the package
// directory; the one copy lives with the dashboards package's test data.
const referenceDashboards = "../dashboards/testdata/dashboards"

// readDashboard reads one of the reference dashboards (a DashboardDTO, {"dashboard": {...}}).
func readDashboard(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(referenceDashboards, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallDashboard is a schema-valid dashboard with one empty plot, keyed by name.
func smallDashboard(name string) string {
	return `{"dashboard":{"widgets":[{"channels":[],"layout":{"i":` + strconv.Quote(name) + `,"x":0,"y":0,"w":12,"h":19.25}}]}}`
}

// tokens is the token stream of a JSON document: member order, every value, numbers as written.
func tokens(t *testing.T, doc []byte) []any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var out []any
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		out = append(out, tok)
	}
}

// member returns the raw value of a top-level member.
func member(t *testing.T, doc []byte, key string) json.RawMessage {
	t.Helper()
	for _, m := range orderedObject(t, doc) {
		if m.key == key {
			return m.val
		}
	}
	t.Fatalf("no %q in %s", key, truncate(string(doc), 200))
	return nil
}

// sameJSON fails unless got and want are the same document: same members in the same order, same
// values, and numbers spelled the same.
func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	g, w := tokens(t, got), tokens(t, want)
	if len(g) != len(w) {
		t.Fatalf("%s: %d tokens, want %d", what, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s: token %d is %#v, want %#v", what, i, g[i], w[i])
		}
	}
	// And the canonical re-marshalled forms (sorted keys) agree, numbers kept as written.
	canon := func(b []byte) string {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if canon(got) != canon(want) {
		t.Fatalf("%s: canonical forms differ", what)
	}
}

// createdID checks a create answer {"id": uuid4, "dashboard": ...} and returns the id.
func createdID(t *testing.T, r response, body []byte) string {
	t.Helper()
	wantStatus(t, r, http.StatusCreated)
	members := orderedObject(t, r.body)
	if len(members) != 2 || members[0].key != "id" || members[1].key != "dashboard" {
		t.Fatalf("create answered members %v, want id, dashboard", memberKeys(members))
	}
	var id string
	if err := json.Unmarshal(members[0].val, &id); err != nil || !uuid4.MatchString(id) {
		t.Fatalf("id %s is not a uuid4", members[0].val)
	}
	sameJSON(t, "created dashboard", members[1].val, member(t, body, "dashboard"))
	return id
}

func TestCompatDashboardRoundTrip(t *testing.T) {
	// No background last_access writes: TestCompatDashboardReplaceSurvivesAccessFlush covers their race
	// with a PATCH, which would make this test flaky.
	e := newTestEnv(t, withStore(func(c *dashboards.Config) { c.AccessFlushInterval = time.Hour }))
	files, err := filepath.Glob(filepath.Join(referenceDashboards, "*.json"))
	if err != nil || len(files) < 5 {
		t.Fatalf("reference dashboards: %v, %d files", err, len(files))
	}
	spelled := string(readDashboard(t, "timing_sync-cezary.json"))
	for _, r := range []struct{ old, new string }{
		{`"w": 12,`, `"w": 2.0,`}, {`"h": 23,`, `"h": 19.25,`}, {`"y": 0,`, `"y": -0.5,`},
		{`"min": null`, `"min": 1e+300`}, {`"max": null`, `"max": 123456789012.5`},
	} {
		if !strings.Contains(spelled, r.old) {
			t.Fatalf("timing_sync-cezary.json has no %s", r.old)
		}
		spelled = strings.Replace(spelled, r.old, r.new, 1)
	}
	bodies := map[string][]byte{"number spellings": []byte(spelled)}
	for _, f := range files {
		bodies[filepath.Base(f)] = readDashboard(t, filepath.Base(f))
	}
	var previous string
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", string(body)), body)
			for i := range 2 { // the second read may come from a cache
				r := e.do(t, http.MethodGet, "/dashboard/"+id, "")
				wantStatus(t, r, http.StatusOK)
				if string(member(t, r.body, "id")) != strconv.Quote(id) {
					t.Errorf("read %d: id %s", i, member(t, r.body, "id"))
				}
				sameJSON(t, "read "+strconv.Itoa(i), member(t, r.body, "dashboard"), member(t, body, "dashboard"))
			}
			// Replacing another dashboard with this body stores it just as well.
			if previous != "" {
				r := e.do(t, http.MethodPatch, "/dashboard/"+previous, string(body))
				wantStatus(t, r, http.StatusOK)
				sameJSON(t, "replace answer", member(t, r.body, "dashboard"), member(t, body, "dashboard"))
				r = e.do(t, http.MethodGet, "/dashboard/"+previous, "")
				sameJSON(t, "read after replace", member(t, r.body, "dashboard"), member(t, body, "dashboard"))
			}
			previous = id
		})
	}
	// Spellings the frontend hashes survive literally.
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard", spelled), []byte(spelled))
	got := string(e.do(t, http.MethodGet, "/dashboard/"+id, "").body)
	for _, want := range []string{`"w":2.0,`, `"h":19.25,`, `"y":-0.5,`, `"min":1e+300`, `"max":123456789012.5`, `"max":null`} {
		if !strings.Contains(got, want) {
			t.Errorf("read answer lacks %s", want)
		}
	}
}

func TestCompatDashboardOldBackendTests(t *testing.T) {
	e := newTestEnv(t)
	payload := readDashboard(t, "example.json")
	create := func() string {
		t.Helper()
		return createdID(t, e.do(t, http.MethodPost, "/dashboard/", string(payload)), payload)
	}

	t.Run("create, with and without the trailing slash", func(t *testing.T) {
		for _, p := range []string{"/dashboard/", "/dashboard"} {
			createdID(t, e.do(t, http.MethodPost, p, string(payload)), payload)
		}
	})
	t.Run("get", func(t *testing.T) {
		id := create()
		r := e.do(t, http.MethodGet, "/dashboard/"+id, "")
		wantStatus(t, r, http.StatusOK)
		if got := memberKeys(orderedObject(t, r.body)); !slices.Equal(got, []string{"id", "dashboard"}) {
			t.Errorf("members %v", got)
		}
		wantDetail(t, e.do(t, http.MethodGet, "/dashboard/nonexistent", ""), http.StatusNotFound, "Dashboard not found")
	})
	t.Run("patch changes plotTitle", func(t *testing.T) {
		id := create()
		updated := bytes.Replace(payload, []byte(`"plotTitle": "Plot 1"`), []byte(`"plotTitle": "Updated"`), 1)
		if bytes.Equal(updated, payload) {
			t.Fatal("example has no plot titled Plot 1")
		}
		for _, r := range []response{e.do(t, http.MethodPatch, "/dashboard/"+id, string(updated)), e.do(t, http.MethodGet, "/dashboard/"+id, "")} {
			wantStatus(t, r, http.StatusOK)
			var got struct {
				ID        string `json:"id"`
				Dashboard struct {
					Widgets []struct {
						PlotSettings struct{ PlotTitle string } `json:"plotSettings"`
					} `json:"widgets"`
				} `json:"dashboard"`
			}
			decode(t, r, &got)
			if got.ID != id || len(got.Dashboard.Widgets) == 0 || got.Dashboard.Widgets[0].PlotSettings.PlotTitle != "Updated" {
				t.Errorf("after PATCH: id %s, widgets %+v", got.ID, got.Dashboard.Widgets)
			}
		}
	})
	t.Run("patch unknown", func(t *testing.T) {
		wantDetail(t, e.do(t, http.MethodPatch, "/dashboard/nonexistent", string(payload)), http.StatusNotFound, "Dashboard not found")
	})
	t.Run("patch invalid", func(t *testing.T) {
		id := create()
		wantDetail(t, e.do(t, http.MethodPatch, "/dashboard/"+id, "{}"), http.StatusUnprocessableEntity, "Dashboard validation failed.")
		r := e.do(t, http.MethodGet, "/dashboard/"+id, "")
		sameJSON(t, "after a refused PATCH", member(t, r.body, "dashboard"), member(t, payload, "dashboard"))
	})
	t.Run("protected refuses patch and delete", func(t *testing.T) {
		id := create()
		wantStatus(t, e.do(t, http.MethodPost, "/maintenance/dashboard/"+id+"/protect", ""), http.StatusOK)
		wantDetail(t, e.do(t, http.MethodPatch, "/dashboard/"+id, string(payload)), http.StatusForbidden, "Dashboard is protected and read-only")
		wantDetail(t, e.do(t, http.MethodDelete, "/dashboard/"+id, ""), http.StatusForbidden, "Dashboard is protected and read-only")
		wantStatus(t, e.do(t, http.MethodGet, "/dashboard/"+id, ""), http.StatusOK)
	})
	t.Run("delete", func(t *testing.T) {
		id := create()
		r := e.do(t, http.MethodDelete, "/dashboard/"+id, "")
		wantStatus(t, r, http.StatusOK)
		if string(member(t, r.body, "id")) != strconv.Quote(id) {
			t.Errorf("DELETE answered id %s", member(t, r.body, "id"))
		}
		sameJSON(t, "deleted dashboard", member(t, r.body, "dashboard"), member(t, payload, "dashboard"))
		wantDetail(t, e.do(t, http.MethodGet, "/dashboard/"+id, ""), http.StatusNotFound, "Dashboard not found")
		wantDetail(t, e.do(t, http.MethodDelete, "/dashboard/"+id, ""), http.StatusNotFound, "Dashboard not found")
		wantDetail(t, e.do(t, http.MethodDelete, "/dashboard/nonexistent", ""), http.StatusNotFound, "Dashboard not found")
	})
	t.Run("unprotect allows delete", func(t *testing.T) {
		id := create()
		wantStatus(t, e.do(t, http.MethodPost, "/maintenance/dashboard/"+id+"/protect", ""), http.StatusOK)
		wantStatus(t, e.do(t, http.MethodDelete, "/maintenance/dashboard/"+id+"/protect", ""), http.StatusOK)
		wantStatus(t, e.do(t, http.MethodDelete, "/dashboard/"+id, ""), http.StatusOK)
		wantStatus(t, e.do(t, http.MethodGet, "/dashboard/"+id, ""), http.StatusNotFound)
	})
	t.Run("full record", func(t *testing.T) {
		id := create()
		r := e.do(t, http.MethodGet, "/maintenance/dashboard/"+id, "")
		wantStatus(t, r, http.StatusOK)
		if string(member(t, r.body, "_id")) != strconv.Quote(id) {
			t.Errorf("_id %s, want %s", member(t, r.body, "_id"), id)
		}
		sameJSON(t, "record dashboard", member(t, r.body, "dashboard"), payload)
		wantDetail(t, e.do(t, http.MethodGet, "/maintenance/dashboard/nonexistent", ""), http.StatusNotFound, "Dashboard not found")
	})
}

func TestCompatDashboardEviction(t *testing.T) {
	e := newTestEnv(t)
	payload := readDashboard(t, "low_level_rf-roger.json")
	create := func() string {
		t.Helper()
		return createdID(t, e.do(t, http.MethodPost, "/dashboard/", string(payload)), payload)
	}
	normal, whitelisted, protected := create(), create(), create()
	wantStatus(t, e.do(t, http.MethodPost, "/maintenance/dashboard/"+whitelisted+"/whitelist", ""), http.StatusOK)
	wantStatus(t, e.do(t, http.MethodPost, "/maintenance/dashboard/"+protected+"/protect", ""), http.StatusOK)

	// The same database behind an instance whose total limit is 1 byte: the next write evicts what it may.
	tiny := e.sibling(t, withStore(func(c *dashboards.Config) { c.MaxTotalBytes = 1 }))
	wantStatus(t, tiny.do(t, http.MethodPatch, "/dashboard/"+whitelisted, string(payload)), http.StatusOK)
	wantStatus(t, tiny.do(t, http.MethodGet, "/dashboard/"+normal, ""), http.StatusNotFound)
	wantStatus(t, tiny.do(t, http.MethodGet, "/dashboard/"+whitelisted, ""), http.StatusOK)
	wantStatus(t, tiny.do(t, http.MethodGet, "/dashboard/"+protected, ""), http.StatusOK)

	// A normal dashboard written there evicts itself on its own next write, as in the old backend.
	own := createdID(t, e.do(t, http.MethodPost, "/dashboard/", string(payload)), payload)
	wantStatus(t, tiny.do(t, http.MethodPatch, "/dashboard/"+own, string(payload)), http.StatusOK)
	wantStatus(t, tiny.do(t, http.MethodGet, "/dashboard/"+own, ""), http.StatusNotFound)

	// Unwhitelisted, it goes on the next write.
	wantStatus(t, tiny.do(t, http.MethodDelete, "/maintenance/dashboard/"+whitelisted+"/whitelist", ""), http.StatusOK)
	wantStatus(t, tiny.do(t, http.MethodPatch, "/dashboard/"+whitelisted, string(payload)), http.StatusOK)
	wantStatus(t, tiny.do(t, http.MethodGet, "/dashboard/"+whitelisted, ""), http.StatusNotFound)
	wantStatus(t, tiny.do(t, http.MethodGet, "/dashboard/"+protected, ""), http.StatusOK)
}

func TestCompatDashboardInvalidBodies(t *testing.T) {
	e := newTestEnv(t)
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", smallDashboard("a")), []byte(smallDashboard("a")))
	tests := []struct {
		name, body string
	}{
		{"empty object", `{}`},
		{"malformed JSON", `{"dashboard": {"widgets": [}`},
		{"truncated", smallDashboard("x")[:40]},
		{"trailing garbage", smallDashboard("x") + `}`},
		{"not an object", `[1, 2]`},
		{"null", `null`},
		{"string", `"dashboard"`},
		{"no body", ``},
		{"widgets is not an array", `{"dashboard": {"widgets": "none"}}`},
		{"dashboard is an array", `{"dashboard": []}`},
		{"unknown top-level key", `{"dashboard": {"widgets": []}, "extra": 1}`},
		{"unknown widget key", `{"dashboard": {"widgets": [{"channels": [], "layout": {"i": "a", "x": 0, "y": 0, "w": 1, "h": 1}, "colour": "red"}]}}`},
		{"channel with an extra key", `{"dashboard": {"widgets": [{"channels": [{"backend": "b", "name": "n", "seriesId": "1", "source": "", ` +
			`"type": "f64", "shape": [], "unit": "", "description": "", "extra": 1}], "layout": {"i": "a", "x": 0, "y": 0, "w": 1, "h": 1}}]}}`},
		{"seriesId as a number", `{"dashboard": {"widgets": [{"channels": [{"backend": "b", "name": "n", "seriesId": 1, "source": "", ` +
			`"type": "f64", "shape": [], "unit": "", "description": ""}], "layout": {"i": "a", "x": 0, "y": 0, "w": 1, "h": 1}}]}}`},
		{"layout height as text", `{"dashboard": {"widgets": [{"channels": [], "layout": {"i": "a", "x": 0, "y": 0, "w": 1, "h": "1"}}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantDetail(t, e.do(t, http.MethodPost, "/dashboard/", tt.body), http.StatusUnprocessableEntity, "Dashboard validation failed.")
			wantDetail(t, e.do(t, http.MethodPatch, "/dashboard/"+id, tt.body), http.StatusUnprocessableEntity, "Dashboard validation failed.")
		})
	}
	r := e.do(t, http.MethodGet, "/dashboard/"+id, "")
	sameJSON(t, "after refused writes", member(t, r.body, "dashboard"), member(t, []byte(smallDashboard("a")), "dashboard"))
}

func TestCompatDashboardTooLarge(t *testing.T) {
	big := readDashboard(t, "example.json") // 71 KB
	e := newTestEnv(t,
		withServer(func(c *Config) { c.BodyLimit = 50_000 }),
		withStore(func(c *dashboards.Config) { c.MaxSingleBytes = 5_000 }))
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", smallDashboard("a")), []byte(smallDashboard("a")))
	medium := readDashboard(t, "timing_sync-helge.json") // 28 KB (11 KB compact): under the edge limit, over the store's
	if len(medium) >= 50_000 || len(medium) < 15_000 || len(big) <= 50_000 {
		t.Fatal("reference dashboard sizes changed: the cases test nothing")
	}
	tests := []struct {
		name    string
		body    []byte
		chunked bool
		detail  string
	}{
		{"over the edge limit", big, false, "Request body too large"},
		{"over the edge limit, chunked", big, true, "Request body too large"},
		{"over DASHBOARD_MAX_SINGLE_BYTES", medium, false, ""},
		{"over DASHBOARD_MAX_SINGLE_BYTES, chunked", medium, true, ""},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodPost, http.MethodPatch} {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				path := "/dashboard/"
				if method == http.MethodPatch {
					path += id
				}
				var body io.Reader = bytes.NewReader(tt.body)
				if tt.chunked {
					body = io.MultiReader(body) // hides the length: sent chunked
				}
				req, err := http.NewRequest(method, e.url+path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Origin", "http://localhost:3000")
				r := send(t, req)
				// A cross-origin frontend (local development) can only read the status with CORS headers.
				if got := r.header.Get("Access-Control-Allow-Origin"); got != "http://localhost:3000" {
					t.Errorf("Access-Control-Allow-Origin %q on the 413", got)
				}
				if r.header.Get("X-Request-ID") == "" {
					t.Error("no X-Request-ID on the 413")
				}
				if tt.detail != "" {
					wantDetail(t, r, http.StatusRequestEntityTooLarge, tt.detail)
					return
				}
				if d := wantDetailPrefix(t, r, http.StatusRequestEntityTooLarge, ""); !strings.Contains(d, "5000") {
					t.Errorf("detail %q does not name the limit", d)
				}
			})
		}
	}
	// The server still answers on the same client after refusing a body.
	r := e.do(t, http.MethodGet, "/dashboard/"+id, "")
	sameJSON(t, "after refused writes", member(t, r.body, "dashboard"), member(t, []byte(smallDashboard("a")), "dashboard"))
}

func TestCompatMaintenance(t *testing.T) {
	e := newTestEnv(t, withStore(func(c *dashboards.Config) { c.AccessFlushInterval = 20 * time.Millisecond }))
	body := smallDashboard("maint")
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", body), []byte(body))
	m := "/maintenance/dashboard/" + id

	type record struct {
		ID          string          `json:"_id"`
		Dashboard   json.RawMessage `json:"dashboard"`
		Size        json.Number     `json:"_size"`
		LastAccess  string          `json:"last_access"`
		Whitelisted bool            `json:"whitelisted"`
		Protected   bool            `json:"protected"`
	}
	get := func() record {
		t.Helper()
		r := e.do(t, http.MethodGet, m, "")
		wantStatus(t, r, http.StatusOK)
		want := []string{"_id", "dashboard", "_size", "last_access", "whitelisted", "protected"}
		if got := memberKeys(orderedObject(t, r.body)); !slices.Equal(got, want) {
			t.Errorf("record members %v, want %v", got, want)
		}
		var rec record
		decode(t, r, &rec)
		return rec
	}
	rec := get()
	if rec.ID != id || rec.Whitelisted || rec.Protected {
		t.Errorf("new record %+v", rec)
	}
	sameJSON(t, "record dashboard", rec.Dashboard, []byte(body))
	if n, err := rec.Size.Int64(); err != nil || n <= int64(len(`{"dashboard":{"widgets":[]}}`)) || n > int64(2*len(body)) {
		t.Errorf("_size %s for a %d-byte body", rec.Size, len(body))
	}
	created, err := time.Parse(time.RFC3339Nano, rec.LastAccess)
	if err != nil || time.Since(created) > time.Minute || time.Until(created) > time.Second {
		t.Fatalf("last_access %q: %v", rec.LastAccess, err)
	}

	// A read refreshes last_access (written in batches: poll).
	wantStatus(t, e.do(t, http.MethodGet, "/dashboard/"+id, ""), http.StatusOK)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := get()
		la, _ := time.Parse(time.RFC3339Nano, r.LastAccess)
		if la.After(created) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last_access still %s after a read", r.LastAccess)
		}
		time.Sleep(20 * time.Millisecond)
	}

	steps := []struct {
		method, path, message  string
		whitelisted, protected bool
	}{
		{http.MethodPost, "/whitelist", "Dashboard " + id + " whitelisted", true, false},
		{http.MethodDelete, "/whitelist", "Dashboard " + id + " unwhitelisted", false, false},
		{http.MethodPost, "/protect", "Dashboard " + id + " protected and whitelisted", true, true},
		{http.MethodDelete, "/protect", "Dashboard " + id + " unprotected, may still be whitelisted", true, false},
		{http.MethodDelete, "/whitelist", "Dashboard " + id + " unwhitelisted", false, false},
		{http.MethodDelete, "/protect", "Dashboard " + id + " unprotected, may still be whitelisted", false, false},
	}
	for _, st := range steps {
		r := e.do(t, st.method, m+st.path, "")
		wantStatus(t, r, http.StatusOK)
		if string(r.body) != `{"message":`+strconv.Quote(st.message)+`}` {
			t.Errorf("%s %s answered %s, want message %q", st.method, st.path, r.body, st.message)
		}
		if rec := get(); rec.Whitelisted != st.whitelisted || rec.Protected != st.protected {
			t.Errorf("after %s %s: whitelisted %v protected %v, want %v %v", st.method, st.path,
				rec.Whitelisted, rec.Protected, st.whitelisted, st.protected)
		}
	}
	for _, rt := range []struct{ method, path string }{
		{http.MethodGet, ""}, {http.MethodPost, "/whitelist"}, {http.MethodDelete, "/whitelist"},
		{http.MethodPost, "/protect"}, {http.MethodDelete, "/protect"},
	} {
		wantDetail(t, e.do(t, rt.method, "/maintenance/dashboard/nonexistent"+rt.path, ""), http.StatusNotFound, "Dashboard not found")
	}
}

func TestCompatMaintenanceToken(t *testing.T) {
	const token = "s3cret-token"
	e := newTestEnv(t, withServer(func(c *Config) { c.MaintenanceToken = token }))
	body := smallDashboard("token")
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", body), []byte(body))
	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"token without Bearer", http.Header{"Authorization": {token}}, http.StatusUnauthorized},
		{"token prefix", http.Header{"Authorization": {"Bearer " + token[:5]}}, http.StatusUnauthorized},
		{"other scheme", http.Header{"Authorization": {"Basic " + token}}, http.StatusUnauthorized},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, http.StatusUnauthorized},
		{"bearer token", http.Header{"Authorization": {"Bearer " + token}}, http.StatusOK},
		{"scheme in lower case", http.Header{"Authorization": {"bearer " + token}}, http.StatusOK},
		{"scheme in upper case", http.Header{"Authorization": {"BEARER " + token}}, http.StatusOK},
		{"several spaces", http.Header{"Authorization": {"Bearer   " + token}}, http.StatusOK},
		// Removed (undocumented, and one header is what proxies must redact): now refused.
		{"old token header", http.Header{"X-Maintenance-Token": {token}}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rt := range []struct{ method, path string }{
				{http.MethodGet, ""}, {http.MethodPost, "/whitelist"}, {http.MethodDelete, "/whitelist"},
				{http.MethodPost, "/protect"}, {http.MethodDelete, "/protect"},
			} {
				r := e.request(t, rt.method, "/maintenance/dashboard/"+id+rt.path, "", tt.header)
				if tt.status == http.StatusUnauthorized {
					wantDetail(t, r, tt.status, "Maintenance routes require a valid token")
					if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
						t.Errorf("401 with WWW-Authenticate %q, want the Bearer scheme", h)
					}
				} else {
					wantStatus(t, r, tt.status)
				}
			}
		})
	}
	// The public routes need no token.
	wantStatus(t, e.do(t, http.MethodGet, "/dashboard/"+id, ""), http.StatusOK)
}

func TestCompatSeparateMaintenance(t *testing.T) {
	e := newTestEnv(t, withServer(func(c *Config) { c.SeparateMaintenance = true }))
	body := smallDashboard("separate")
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", body), []byte(body))
	wantDetail(t, e.do(t, http.MethodGet, "/maintenance/dashboard/"+id, ""), http.StatusNotFound, "Not Found")

	ms := httptest.NewServer(e.srv.MaintenanceHandler())
	t.Cleanup(ms.Close)
	maint := &testEnv{url: ms.URL}
	wantStatus(t, maint.do(t, http.MethodGet, "/maintenance/dashboard/"+id, ""), http.StatusOK)
	wantDetail(t, maint.do(t, http.MethodGet, "/dashboard/"+id, ""), http.StatusNotFound, "Not Found")

	// The main port documents only what it serves.
	for _, p := range []string{"/openapi.json", "/docs"} {
		r := e.do(t, http.MethodGet, p, "")
		wantStatus(t, r, http.StatusOK)
		for _, hidden := range []string{"/maintenance/", "/metrics"} {
			if strings.Contains(string(r.body), hidden) {
				t.Errorf("%s lists %s, which the main port does not serve", p, hidden)
			}
		}
	}
}

func TestCompatDashboardStoreUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + addr + "/").
		SetServerSelectionTimeout(300 * time.Millisecond).SetConnectTimeout(300 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	st, err := dashboards.New(client.Database("databoard_down"), dashboards.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	srv := New(Config{}, Deps{Dashboards: st})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &testEnv{url: hs.URL}

	body := smallDashboard("down")
	for _, rt := range []struct{ method, path, body string }{
		{http.MethodPost, "/dashboard/", body},
		{http.MethodGet, "/dashboard/x", ""},
		{http.MethodPatch, "/dashboard/x", body},
		{http.MethodDelete, "/dashboard/x", ""},
		{http.MethodGet, "/maintenance/dashboard/x", ""},
		{http.MethodPost, "/maintenance/dashboard/x/whitelist", ""},
		{http.MethodDelete, "/maintenance/dashboard/x/protect", ""},
	} {
		start := time.Now()
		wantDetail(t, e.do(t, rt.method, rt.path, rt.body), http.StatusServiceUnavailable, "Dashboard storage is unavailable, try again later")
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s %s took %v with MongoDB down", rt.method, rt.path, d)
		}
	}
	// The rest of the API does not depend on MongoDB.
	wantStatus(t, e.do(t, http.MethodGet, "/health", ""), http.StatusOK)
}

// A save must never be lost. The store writes last_access of read dashboards in the background; on the
// embedded MongoDB-wire server (FerretDB v1 over SQLite) every update is a read-modify-write of the whole
// document without isolation, so a flush that overlaps a PATCH can write the old dashboard back.
func TestCompatDashboardReplaceSurvivesAccessFlush(t *testing.T) {
	e := newTestEnv(t, withStore(func(c *dashboards.Config) { c.AccessFlushInterval = time.Millisecond }))
	id := createdID(t, e.do(t, http.MethodPost, "/dashboard/", smallDashboard("v0")), []byte(smallDashboard("v0")))
	lost := 0
	for i := 1; i <= 100; i++ {
		wantStatus(t, e.do(t, http.MethodGet, "/dashboard/"+id, ""), http.StatusOK) // queues an access time
		body := smallDashboard("v" + strconv.Itoa(i))
		wantStatus(t, e.do(t, http.MethodPatch, "/dashboard/"+id, body), http.StatusOK)
		r := e.do(t, http.MethodGet, "/dashboard/"+id, "")
		if !bytes.Contains(r.body, []byte(`"i":"v`+strconv.Itoa(i)+`"`)) {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of 100 saves were lost to a concurrent last_access flush", lost)
	}
}
