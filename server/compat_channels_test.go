package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/databoard/databoard/daqbuf/sim"
)

// channelKeys are the contract's eight keys of a Channel, in the old backend's order.
var channelKeys = []string{"backend", "name", "seriesId", "source", "type", "shape", "unit", "description"}

// channelJSON is one channel of an answer, with its key order.
type channelJSON struct {
	keys        []string
	Backend     string          `json:"backend"`
	Name        string          `json:"name"`
	SeriesID    any             `json:"seriesId"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Shape       json.RawMessage `json:"shape"`
	Unit        string          `json:"unit"`
	Description string          `json:"description"`
}

// channelsOf decodes {"channels": [...]} keeping each channel's key order; it fails the test unless the
// answer is exactly that.
func channelsOf(t *testing.T, r response) []channelJSON {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	var top map[string]json.RawMessage
	decode(t, r, &top)
	raw, ok := top["channels"]
	if len(top) != 1 || !ok {
		t.Fatalf("answer %s, want {\"channels\": [...]}", truncate(string(r.body), 300))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		t.Fatalf("channels is not an array: %s", truncate(string(raw), 300))
	}
	out := make([]channelJSON, len(items))
	for i, it := range items {
		dec := json.NewDecoder(bytes.NewReader(it))
		dec.UseNumber()
		if err := dec.Decode(&out[i]); err != nil {
			t.Fatalf("channel %s: %v", it, err)
		}
		for _, kv := range orderedObject(t, it) {
			out[i].keys = append(out[i].keys, kv.key)
		}
	}
	return out
}

// kv is one member of a JSON object.
type kv struct {
	key string
	val json.RawMessage
}

// orderedObject returns the members of a JSON object in document order.
func orderedObject(t *testing.T, raw []byte) []kv {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", truncate(string(raw), 200))
	}
	var out []kv
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, kv{tok.(string), v})
	}
	return out
}

// checkChannel compares an answered channel with the simulator's catalogue entry.
func checkChannel(t *testing.T, got channelJSON, want sim.Channel) {
	t.Helper()
	if !slices.Equal(got.keys, channelKeys) {
		t.Errorf("%s/%s: keys %v, want exactly %v", got.Backend, got.Name, got.keys, channelKeys)
	}
	id, isString := got.SeriesID.(string)
	if !isString || id != strconv.FormatUint(want.SeriesID, 10) {
		t.Errorf("%s/%s: seriesId %#v, want the string %q", got.Backend, got.Name, got.SeriesID, strconv.FormatUint(want.SeriesID, 10))
	}
	wantShape, _ := json.Marshal(want.Shape)
	if got.Backend != want.Backend || got.Name != want.Name || got.Type != want.Type || string(got.Shape) != string(wantShape) ||
		got.Unit != want.Unit || got.Description != want.Description || got.Source != "" {
		t.Errorf("channel %+v, want %+v (shape %s)", got, want, wantShape)
	}
}

// simBackends are the simulator's default backends.
var simBackends = []string{"sf-databuffer", "sf-archiver", "sls-archiver"}

// simMatches is the catalogue filtered as the contract's search: case-insensitive, unanchored, on the name.
func simMatches(t *testing.T, s *sim.Sim, pattern, backend string) map[string]sim.Channel {
	t.Helper()
	re := regexp.MustCompile("(?i)" + pattern)
	out := map[string]sim.Channel{}
	for _, b := range simBackends {
		if backend != "" && b != backend {
			continue
		}
		for _, ch := range s.Channels(b) {
			if re.MatchString(ch.Name) {
				out[ch.Backend+"/"+ch.Name] = ch
			}
		}
	}
	return out
}

// searchRequests counts the channel searches data-api received.
func searchRequests(s *sim.Sim) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, "/search/channel") {
			n++
		}
	}
	return n
}

func TestCompatSearch(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	tests := []struct {
		name    string
		query   []string
		pattern string // the contract's matching, applied to the catalogue
		backend string
		live    bool // data-api asked
	}{
		{name: "empty text: the whole list", query: []string{"search_text", ""}, pattern: ""},
		{name: "no parameter at all", query: nil, pattern: ""},
		{name: "case-insensitive, unanchored", query: []string{"search_text", "sine"}, pattern: "sine"},
		{name: "regex", query: []string{"search_text", "f(32|64):s"}, pattern: "f(32|64):s", live: true},
		{name: "spaces around are ignored", query: []string{"search_text", " wave "}, pattern: "wave"},
		{name: "backend filter", query: []string{"search_text", "SINE", "backend", "sls-archiver"}, pattern: "SINE", backend: "sls-archiver"},
		{name: "backend filter, empty text", query: []string{"backend", "sf-archiver"}, pattern: "", backend: "sf-archiver"},
		// data-api answers an empty nameRegex with nothing, so the list is the only useful answer.
		{name: "empty text, cache refused", query: []string{"search_text", "", "allow_cached_response", "false"}, pattern: ""},
		{name: "empty text, cache refused, backend filter", query: []string{"search_text", "", "allow_cached_response", "false",
			"backend", "sls-archiver"}, pattern: "", backend: "sls-archiver"},
		{name: "frontend seriesId lookup", query: []string{"search_text", "^SIM-F64:SINE$", "allow_cached_response", "false",
			"backend", "sf-databuffer"}, pattern: "^SIM-F64:SINE$", backend: "sf-databuffer", live: true},
		{name: "anchored without backend", query: []string{"search_text", "^sim-enum:mode$"}, pattern: "^SIM-ENUM:MODE$", live: true},
		{name: "allow_cached_response=false is a boolean", query: []string{"search_text", "BIG", "allow_cached_response", "false"},
			pattern: "BIG", live: true},
		// A different pattern: live answers are cached for a few seconds (issue 4), so "BIG" again would
		// not reach data-api.
		{name: "allow_cached_response=0", query: []string{"search_text", "U64", "allow_cached_response", "0"}, pattern: "U64", live: true},
		{name: "allow_cached_response=true", query: []string{"search_text", "BIG", "allow_cached_response", "true"}, pattern: "BIG"},
		{name: "texts over 4 characters go live", query: []string{"search_text", "SPARSE"}, pattern: "SPARSE", live: true},
		{name: "4 characters use the list", query: []string{"search_text", "WAVE"}, pattern: "WAVE"},
		{name: "no match", query: []string{"search_text", "^nothing-like-this$"}, pattern: "^nothing-like-this$", live: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sim.ResetRequests()
			got := channelsOf(t, e.do(t, http.MethodGet, pathWith("/channels/search", tt.query...), ""))
			want := simMatches(t, e.sim, tt.pattern, tt.backend)
			if len(got) != len(want) {
				t.Errorf("%d channels, want %d", len(got), len(want))
			}
			seen := map[string]bool{}
			for _, ch := range got {
				k := ch.Backend + "/" + ch.Name
				w, ok := want[k]
				if !ok || seen[k] {
					t.Errorf("unexpected or repeated channel %s", k)
					continue
				}
				seen[k] = true
				checkChannel(t, ch, w)
			}
			if live := searchRequests(e.sim) > 0; live != tt.live {
				t.Errorf("data-api asked: %v, want %v", live, tt.live)
			}
		})
	}
}

func TestCompatSearchChannelDetails(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	got := channelsOf(t, e.do(t, http.MethodGet, pathWith("/channels/search", "search_text", "^SIM-F64:SINE$",
		"backend", "sf-databuffer", "allow_cached_response", "false"), ""))
	if len(got) != 1 {
		t.Fatalf("%d channels, want 1", len(got))
	}
	want := e.simChannel(t, "sf-databuffer", "SIM-F64:SINE")
	if want.SeriesID <= 1<<53 || want.Unit != "mm" {
		t.Fatalf("the simulator no longer tests precision or units: %+v", want)
	}
	checkChannel(t, got[0], want)

	wave := channelsOf(t, e.do(t, http.MethodGet, pathWith("/channels/search", "search_text", "SPECTRUM", "backend", "sf-archiver"), ""))
	if len(wave) != 1 || string(wave[0].Shape) != "[16]" {
		t.Errorf("waveform channel %+v, want shape [16]", wave)
	}
}

func TestCompatSearchErrors(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	tests := []struct {
		name   string
		query  []string
		status int
		prefix string
		reason string
	}{
		{"bad regex", []string{"search_text", "SIM-(F64"}, http.StatusBadRequest, "invalid regular expression", "missing closing )"},
		{"bad regex, short", []string{"search_text", "*"}, http.StatusBadRequest, "invalid regular expression", "missing argument to repetition operator"},
		{"overlong pattern", []string{"search_text", strings.Repeat("a", 1025)}, http.StatusBadRequest, "search_text is longer than 1024", ""},
		{"ill-typed flag", []string{"search_text", "SINE", "allow_cached_response", "perhaps"}, http.StatusUnprocessableEntity, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sim.ResetRequests()
			r := e.do(t, http.MethodGet, pathWith("/channels/search", tt.query...), "")
			if tt.status == http.StatusUnprocessableEntity {
				wantValidation(t, r, "allow_cached_response")
				return
			}
			d := wantDetailPrefix(t, r, tt.status, tt.prefix)
			if !strings.Contains(d, tt.reason) {
				t.Errorf("detail %q does not give the reason %q", d, tt.reason)
			}
			if n := searchRequests(e.sim); n != 0 {
				t.Errorf("a rejected pattern reached data-api (%d searches)", n)
			}
		})
	}

	// A live search that fails is answered from the list when it has matches, else 500.
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/search", Status: http.StatusInternalServerError})
	defer e.sim.ClearFault()
	if got := channelsOf(t, e.do(t, http.MethodGet, pathWith("/channels/search", "search_text", "^SIM-F64:RAMP$"), "")); len(got) != 3 {
		t.Errorf("with data-api failing, %d channels from the list, want 3", len(got))
	}
	wantDetail(t, e.do(t, http.MethodGet, pathWith("/channels/search", "search_text", "^SIM-NOPE$"), ""),
		http.StatusInternalServerError, "Error fetching data from backend")
}

// wantValidation checks a FastAPI-shaped 422: {"detail": [{"loc": ["query", name], "msg", "type"}, ...]}
// naming exactly the given parameters, in order.
func wantValidation(t *testing.T, r response, params ...string) {
	t.Helper()
	wantStatus(t, r, http.StatusUnprocessableEntity)
	var body struct {
		Detail []struct {
			Loc  []string `json:"loc"`
			Msg  string   `json:"msg"`
			Type string   `json:"type"`
		} `json:"detail"`
	}
	decode(t, r, &body)
	var got []string
	for _, d := range body.Detail {
		if len(d.Loc) != 2 || d.Loc[0] != "query" || d.Msg == "" || d.Type == "" {
			t.Errorf("detail item %+v is not FastAPI-shaped", d)
			continue
		}
		got = append(got, d.Loc[1])
	}
	if !slices.Equal(got, params) {
		t.Errorf("422 names %v, want %v; body %s", got, params, r.body)
	}
}

func TestCompatSearchAddsLiveFindsToTheList(t *testing.T) {
	e := newTestEnv(t, withoutStore(), withEmptyChannelList())
	if got := channelsOf(t, e.do(t, http.MethodGet, "/channels/search?search_text=", "")); len(got) != 0 {
		t.Fatalf("unloaded list answered %d channels", len(got))
	}
	found := channelsOf(t, e.do(t, http.MethodGet, pathWith("/channels/search", "search_text", "^SIM-ENUM:MODE$",
		"allow_cached_response", "false"), ""))
	if len(found) != len(simBackends) {
		t.Fatalf("live search found %d channels, want %d", len(found), len(simBackends))
	}
	all := channelsOf(t, e.do(t, http.MethodGet, "/channels/search?search_text=", ""))
	if len(all) != len(found) {
		t.Fatalf("after a live find the list has %d channels, want %d", len(all), len(found))
	}
	for _, ch := range all {
		checkChannel(t, ch, e.simChannel(t, ch.Backend, ch.Name))
	}
	// A short text now finds them in the list without asking data-api.
	e.sim.ResetRequests()
	if got := channelsOf(t, e.do(t, http.MethodGet, "/channels/search?search_text=MODE", "")); len(got) != len(found) {
		t.Errorf("cached search found %d, want %d", len(got), len(found))
	}
	if n := searchRequests(e.sim); n != 0 {
		t.Errorf("cached search asked data-api %d times", n)
	}
	// Repeating the live search adds no duplicates.
	channelsOf(t, e.do(t, http.MethodGet, pathWith("/channels/search", "search_text", "^SIM-ENUM:MODE$", "allow_cached_response", "false"), ""))
	if all := channelsOf(t, e.do(t, http.MethodGet, "/channels/search", "")); len(all) != len(found) {
		t.Errorf("repeated live search grew the list to %d", len(all))
	}
}

// allSimChannels is every channel of every backend sorted by backend, then name (the list's order).
func allSimChannels(s *sim.Sim) []sim.Channel {
	var out []sim.Channel
	for _, b := range simBackends {
		out = append(out, s.Channels(b)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Backend != out[j].Backend {
			return out[i].Backend < out[j].Backend
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func TestCompatRecent(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	recent := func() []string {
		t.Helper()
		var out []string
		for _, ch := range channelsOf(t, e.do(t, http.MethodGet, "/channels/recent", "")) {
			checkChannel(t, ch, e.simChannel(t, ch.Backend, ch.Name))
			out = append(out, ch.Backend+"/"+ch.Name)
		}
		return out
	}
	// Before any curve: the last 10 of the list.
	all := allSimChannels(e.sim)
	var want []string
	for _, ch := range all[len(all)-10:] {
		want = append(want, ch.Backend+"/"+ch.Name)
	}
	if got := recent(); !slices.Equal(got, want) {
		t.Fatalf("recent before any curve:\n got %v\nwant %v", got, want)
	}

	curve := func(backend, name string) {
		t.Helper()
		r := e.do(t, http.MethodGet, pathWith("/channels/curve", "channel_name", name, "backend", backend,
			"begin_time", "1747405000000", "end_time", "1747405001000"), "")
		wantStatus(t, r, http.StatusOK)
	}
	steps := []struct {
		backend, name string
		want          []string
	}{
		{"sf-databuffer", "SIM-F64:SINE", []string{"sf-databuffer/SIM-F64:SINE"}},
		{"sf-archiver", "SIM-F64:SINE", []string{"sf-archiver/SIM-F64:SINE", "sf-databuffer/SIM-F64:SINE"}},
		{"sf-databuffer", "SIM-F64:RAMP", []string{"sf-databuffer/SIM-F64:RAMP", "sf-archiver/SIM-F64:SINE", "sf-databuffer/SIM-F64:SINE"}},
		// Requested again: moves to the front, no duplicate.
		{"sf-databuffer", "SIM-F64:SINE", []string{"sf-databuffer/SIM-F64:SINE", "sf-databuffer/SIM-F64:RAMP", "sf-archiver/SIM-F64:SINE"}},
		// By seriesId: the channel it names.
		{"sf-archiver", strconv.FormatUint(e.simChannel(t, "sf-archiver", "SIM-F64:RAMP").SeriesID, 10),
			[]string{"sf-archiver/SIM-F64:RAMP", "sf-databuffer/SIM-F64:SINE", "sf-databuffer/SIM-F64:RAMP", "sf-archiver/SIM-F64:SINE"}},
	}
	// As in the old backend, the startup entries stay behind the requested channels until pushed out.
	model := slices.Clone(want)
	for i, st := range steps {
		curve(st.backend, st.name)
		model = slices.DeleteFunc(model, func(k string) bool { return slices.Contains(st.want, k) })
		model = append(slices.Clone(st.want), model...)
		if len(model) > 10 {
			model = model[:10]
		}
		if got := recent(); !slices.Equal(got, model) {
			t.Fatalf("after curve %d (%s %s):\n got %v\nwant %v", i, st.backend, st.name, got, model)
		}
	}
	// At most 10, most recent first.
	var names []string
	for _, ch := range e.sim.Channels("sls-archiver") {
		if len(names) < 12 {
			names = append(names, ch.Name)
		}
	}
	for _, n := range names {
		curve("sls-archiver", n)
	}
	got := recent()
	if len(got) != 10 {
		t.Fatalf("recent has %d channels, want 10", len(got))
	}
	for i, g := range got {
		if want := "sls-archiver/" + names[len(names)-1-i]; g != want {
			t.Errorf("recent[%d] = %s, want %s", i, g, want)
		}
	}
	// A failed validation is not a request for a curve.
	e.do(t, http.MethodGet, pathWith("/channels/curve", "channel_name", "SIM-F64:NOISE", "begin_time", "0", "end_time", "1"), "")
	if after := recent(); !slices.Equal(after, got) {
		t.Errorf("a rejected curve request changed recent: %v", after)
	}
}
