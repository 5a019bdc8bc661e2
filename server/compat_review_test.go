package server

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/dashboards"
)

// Points found in review against the contract.
func TestCompatReviewPoints(t *testing.T) {
	e := newTestEnv(t, withStore(func(c *dashboards.Config) { c.MaxSingleBytes = 30 }))

	t.Run("raw link is written without HTML escapes", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/channels/raw-link?channel_name=A&begin_time=1&end_time=2", "")
		if !strings.Contains(string(r.body), "&channelName=A&begDate=") || strings.Contains(string(r.body), `\u0026`) {
			t.Errorf("raw link body %s", r.body)
		}
	})
	t.Run("negative times are 400", func(t *testing.T) {
		r := e.do(t, http.MethodGet, "/channels/curve?channel_name=SIM-F64:SINE&begin_time=-5&end_time=1000&num_bins=3", "")
		if r.status != http.StatusBadRequest {
			t.Errorf("begin_time=-5: %d %s", r.status, r.body)
		}
	})
	t.Run("413 detail as the old backend", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/dashboard/", `{"dashboard":{"widgets":[]}}`)
		if r.status != http.StatusRequestEntityTooLarge || !regexp.MustCompile(`^\{"detail":"Size \d+ exceeds max 30"\}$`).Match(r.body) {
			t.Errorf("oversized dashboard: %d %s", r.status, r.body)
		}
	})
}

// A data-api that answers 404 to everything (a wrong DAQBUF_DEFAULT_URL) is an upstream failure, not a
// missing channel.
func TestCompatSearchUpstream404Is500(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(up.Close)
	client, err := daqbuf.New(daqbuf.Config{BaseURL: up.URL + "/api/4"})
	if err != nil {
		t.Fatal(err)
	}
	channels := catalogue.New(client, catalogue.Config{})
	srv := New(Config{}, Deps{Channels: channels, Curves: curve.New(curves.Direct{Client: client}, channels, curve.Config{})})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &testEnv{url: hs.URL}
	r := e.do(t, http.MethodGet, "/channels/search?search_text=abcdef", "")
	if r.status != http.StatusInternalServerError || string(r.body) != `{"detail":"Error fetching data from backend"}` {
		t.Errorf("search with data-api answering 404: %d %s", r.status, r.body)
	}
}

func TestCompatRawValuesBounded(t *testing.T) {
	e := newTestEnv(t, withCurveConfig(func(c *curve.Config) { c.MaxRawValues = 1000 }))
	end := int64(1747405000000)
	r := e.do(t, http.MethodGet, curvePath("SIM-DENSE:100HZ", "sf-databuffer", end-20_000, end), "") // 2 000 events
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "too many raw values (2000") {
		t.Errorf("2 000 raw events with a bound of 1 000: %d %s", r.status, r.body)
	}
	r = e.do(t, http.MethodGet, curvePath("SIM-DENSE:100HZ", "sf-databuffer", end-5_000, end), "") // 500 events
	if r.status != http.StatusOK {
		t.Errorf("500 raw events: %d", r.status)
	}
}

func TestOpenAPIListsErrorAnswers(t *testing.T) {
	doc := New(Config{}, Deps{}).openAPI()
	paths := doc["paths"].(map[string]any)
	responses := func(path, method string) map[string]any {
		return paths[path].(map[string]any)[method].(map[string]any)["responses"].(map[string]any)
	}
	for _, tc := range []struct{ path, method, code string }{
		{"/channels/curve", "get", "404"}, {"/channels/curve", "get", "500"},
		{"/dashboard/{id}", "patch", "403"}, {"/dashboard/{id}", "patch", "413"},
		{"/dashboard/", "post", "413"}, {"/channels/search", "get", "400"},
	} {
		if _, ok := responses(tc.path, tc.method)[tc.code]; !ok {
			t.Errorf("%s %s lacks %s", tc.method, tc.path, tc.code)
		}
	}
}
