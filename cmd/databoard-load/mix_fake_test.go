package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/xeipuuv/gojsonschema"
)

// fakeBoard is a databoard stand-in for the mix: it keeps dashboards (validated against the shipped schema),
// answers ^name$ searches for the channels it knows, curves, /metrics with a data-api counter and /stream,
// checks that every request has the shape the frontend gives it, and counts what it saw.
type fakeBoard struct {
	*httptest.Server
	schema   *gojsonschema.Schema
	channels int // SIM-GEN:CH000000 .. channels-1 exist
	// failCurve, when set, answers curve request n with a status and detail instead (0: answer normally; -1:
	// a 200 without the curve).
	failCurve func(n int) (int, string)

	mu           sync.Mutex
	boards       map[string][]byte // id -> the stored DTO
	created      [][]byte          // POST bodies, in order
	seen         map[string]int    // requests by route
	wantSearches int               // plot-channels of every dashboard GET: the searches (and first curves) that follow
	bySeries     int               // curve requests that sent a seriesId
	spans        map[int64]int     // curve windows (end - begin, ms) seen
	widths       map[int]bool      // num_bins seen
	problems     []string          // requests not shaped as the frontend's
	upstream     int64             // "data-api requests": one per search and curve
	scraped      []int64           // upstream as served by each /metrics scrape
	subscribes   int
	unsubscribes int
}

const testSchemaPath = "../../configs/schema/dashboarddto.schema.json"

func newFakeBoard(t *testing.T, channels int) *fakeBoard {
	t.Helper()
	raw, err := os.ReadFile(testSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := gojsonschema.NewSchema(gojsonschema.NewBytesLoader(raw))
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	f := &fakeBoard{schema: schema, channels: channels, boards: map[string][]byte{}, seen: map[string]int{},
		spans: map[int64]int{}, widths: map[int]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBoard) problem(format string, args ...any) {
	f.mu.Lock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fakeBoard) count(route string) {
	f.mu.Lock()
	f.seen[route]++
	f.mu.Unlock()
}

func (f *fakeBoard) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/stream":
		f.serveStream(w, r)
	case path == "/metrics":
		f.mu.Lock()
		n := f.upstream
		f.scraped = append(f.scraped, n)
		f.mu.Unlock()
		fmt.Fprintf(w, "# TYPE databoard_daqbuf_requests_total counter\ndataboard_daqbuf_requests_total{endpoint=\"/binned\"} %d\n", n)
	case path == "/health":
		f.count("health")
		io.WriteString(w, `{"message":"Alive and Well!"}`)
	case path == "/channels/recent":
		f.count("recent")
		io.WriteString(w, `{"channels":[]}`)
	case path == "/channels/search":
		f.serveSearch(w, r)
	case path == "/channels/curve":
		f.serveCurve(w, r)
	case path == "/dashboard/" && r.Method == http.MethodPost:
		f.saveDashboard(w, r, "")
	case strings.HasPrefix(path, "/dashboard/") && r.Method == http.MethodPatch:
		f.saveDashboard(w, r, strings.TrimPrefix(path, "/dashboard/"))
	case strings.HasPrefix(path, "/dashboard/") && r.Method == http.MethodGet:
		f.getDashboard(w, strings.TrimPrefix(path, "/dashboard/"))
	default:
		f.problem("unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

// seriesOf is the fake's seriesId of a channel name.
func seriesOf(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	return strconv.FormatUint(h.Sum64()>>1, 10)
}

var genName = regexp.MustCompile(`^SIM-GEN:CH(\d{6})$`)

func (f *fakeBoard) known(name string) bool {
	m := genName.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	i, _ := strconv.Atoi(m[1])
	return i < f.channels
}

func (f *fakeBoard) serveSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	text := q.Get("search_text")
	name := strings.TrimSuffix(strings.TrimPrefix(text, "^"), "$")
	if text != "^"+name+"$" || q.Get("allow_cached_response") != "false" || q.Get("backend") != "sf-databuffer" {
		f.problem("search %s: want ^name$, allow_cached_response=false and the backend", r.URL.RawQuery)
	}
	f.mu.Lock()
	f.seen["search"]++
	f.upstream++
	f.mu.Unlock()
	channels := []channelObj{}
	if f.known(name) {
		channels = append(channels, channelObj{Backend: "sf-databuffer", Name: name, SeriesID: seriesOf(name), Type: "f64", Shape: json.RawMessage("[]")})
	}
	json.NewEncoder(w).Encode(map[string]any{"channels": channels})
}

func (f *fakeBoard) serveCurve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("channel_name")
	begin, err1 := strconv.ParseInt(q.Get("begin_time"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end_time"), 10, 64)
	bins, err3 := strconv.Atoi(q.Get("num_bins"))
	byID := name != "" && strings.Trim(name, "0123456789") == ""
	if err1 != nil || err2 != nil || err3 != nil || begin >= end || !slices.Contains(screenWidths, bins) ||
		q.Get("useEventsIfBinCountTooLarge") != "true" || q.Get("removeEmptyBins") != "true" || q.Get("backend") != "sf-databuffer" ||
		(!byID && !f.known(name)) {
		f.problem("curve %s: not as the frontend asks", r.URL.RawQuery)
	}
	f.mu.Lock()
	n := f.seen["curve"]
	f.seen["curve"]++
	f.upstream++
	f.spans[end-begin]++
	f.widths[bins] = true
	if byID {
		f.bySeries++
	}
	f.mu.Unlock()
	if f.failCurve != nil {
		switch status, detail := f.failCurve(n); {
		case status == -1: // a 200 without the curve asked for
			io.WriteString(w, `{"curve":{}}`)
			return
		case status != 0:
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"detail": detail})
			return
		}
	}
	w.Header().Set("X-Cache", "hit")
	fmt.Fprintf(w, `{"curve":{%q:{"%d000000":1.5},%q:{"raw":false,"waveform":false,"pointMeta":{}}}}`, name, end, name+"_meta")
}

func (f *fakeBoard) getDashboard(w http.ResponseWriter, id string) {
	f.mu.Lock()
	f.seen["dashboard"]++
	body, ok := f.boards[id]
	if ok {
		var doc dashboardDTO
		json.Unmarshal(body, &doc)
		for _, wd := range doc.Dashboard.Widgets {
			f.wantSearches += len(wd.Channels)
		}
	}
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"detail":"Dashboard not found"}`)
		return
	}
	fmt.Fprintf(w, `{"id":%q,"dashboard":%s}`, id, dashboardOf(body))
}

// dashboardOf is the "dashboard" member of a DTO, as stored.
func dashboardOf(dto []byte) []byte {
	var v struct{ Dashboard json.RawMessage }
	json.Unmarshal(dto, &v)
	return v.Dashboard
}

func (f *fakeBoard) saveDashboard(w http.ResponseWriter, r *http.Request, id string) {
	body, _ := io.ReadAll(r.Body)
	res, err := f.schema.Validate(gojsonschema.NewBytesLoader(body))
	if err != nil || !res.Valid() {
		f.problem("%s %s: invalid dashboard: %v %v", r.Method, r.URL.Path, err, res.Errors())
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"detail":"Dashboard validation failed."}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	status := http.StatusOK
	if id == "" {
		f.seen["post"]++
		f.created = append(f.created, body)
		id, status = fmt.Sprintf("d%04d", len(f.created)), http.StatusCreated
	} else {
		f.seen["patch"]++
		if _, ok := f.boards[id]; !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
	}
	f.boards[id] = body
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"id":%q,"dashboard":%s}`, id, dashboardOf(body))
}

// serveStream answers every subscribe with a snapshot and then an append every 20 ms, and every unsubscribe.
func (f *fakeBoard) serveStream(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var (
		mu     sync.Mutex
		active = map[string]bool{}
	)
	send := func(v map[string]any) {
		b, _ := json.Marshal(v)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ws.Write(wctx, websocket.MessageText, b)
	}
	go func() {
		for ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond) // the stream's poll period, not a wait for readiness
			mu.Lock()
			ids := slices.Collect(func(yield func(string) bool) {
				for id := range active {
					if !yield(id) {
						return
					}
				}
			})
			mu.Unlock()
			for _, id := range ids {
				send(map[string]any{"type": "append", "id": id, "trim_before": "1", "curve": map[string]any{}})
			}
		}
	}()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Type, ID, Channel_name string
			Window_ms              int64
			Num_bins               int
		}
		json.Unmarshal(b, &m)
		switch m.Type {
		case "subscribe":
			if !f.known(m.Channel_name) || m.Window_ms != 600_000 || !slices.Contains(screenWidths, m.Num_bins) {
				f.problem("subscribe %s: not as expected", b)
			}
			f.mu.Lock()
			f.subscribes++
			f.mu.Unlock()
			send(map[string]any{"type": "snapshot", "id": m.ID, "curve": map[string]any{}})
			mu.Lock()
			active[m.ID] = true
			mu.Unlock()
		case "unsubscribe":
			f.mu.Lock()
			f.unsubscribes++
			f.mu.Unlock()
			mu.Lock()
			delete(active, m.ID)
			mu.Unlock()
			send(map[string]any{"type": "unsubscribed", "id": m.ID})
		default:
			f.problem("stream message %s", b)
		}
	}
}

// snapshot returns a copy of the fake's counts, for comparing after a run.
func (f *fakeBoard) snapshot() fakeCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeCounts{seen: maps.Clone(f.seen), wantSearches: f.wantSearches, bySeries: f.bySeries, spans: maps.Clone(f.spans),
		problems: slices.Clone(f.problems), scraped: slices.Clone(f.scraped), subscribes: f.subscribes,
		unsubscribes: f.unsubscribes, created: slices.Clone(f.created)}
}

type fakeCounts struct {
	seen                     map[string]int
	wantSearches, bySeries   int
	spans                    map[int64]int
	problems                 []string
	scraped                  []int64
	subscribes, unsubscribes int
	created                  [][]byte
}
