package main

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// runMixOn runs the mix against fake with quiet defaults (no ramp, no pans, saves, switches or polls, no
// auto-apply within the run) overridden by args, and decodes its JSON result.
func runMixOn(t *testing.T, f *fakeBoard, args ...string) (jsonMixResult, runOutput) {
	t.Helper()
	base := []string{"mix", "-url", f.URL, "-channels", "30", "-ramp", "0", "-warmup", "0", "-pan-every", "0",
		"-save-every", "0", "-switch-every", "0", "-health", "0", "-refresh", "1h", "-live", "0", "-json"}
	out := runArgs(t, append(base, args...)...)
	var res jsonMixResult
	if out.code == exitOK {
		if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, out.stdout)
		}
	}
	return res, out
}

func mustRun(t *testing.T, f *fakeBoard, args ...string) (jsonMixResult, fakeCounts) {
	t.Helper()
	res, out := runMixOn(t, f, args...)
	if out.code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", out.code, out.stderr)
	}
	got := f.snapshot()
	if len(got.problems) > 0 {
		t.Errorf("requests not as the frontend sends them:\n%s", strings.Join(got.problems, "\n"))
	}
	return res, got
}

func requests(res jsonMixResult, kind string) int64 { return res.Kinds[kind].Requests }

// checkClean fails for any error of any kind.
func checkClean(t *testing.T, res jsonMixResult) {
	t.Helper()
	for name, k := range res.Kinds {
		if k.Errors.Total != 0 || k.OK != k.Requests {
			t.Errorf("%s: %d requests, %d ok, errors %+v %v", name, k.Requests, k.OK, k.Errors, k.Samples)
		}
	}
}

func TestMixOpensAsTheFrontendDoes(t *testing.T) {
	f := newFakeBoard(t, 30)
	res, got := mustRun(t, f, "-users", "6", "-dashboards", "3", "-d", "3s")
	checkClean(t, res)
	if len(got.created) != 3 || res.Dashboards != 3 {
		t.Errorf("%d dashboards created (result says %d), want 3", len(got.created), res.Dashboards)
	}
	// A page load: the dashboard, recent channels and a health ping, then a search and a curve per plot-channel.
	for kind, route := range map[string]string{"dashboard": "dashboard", "recent": "recent", "health": "health"} {
		if requests(res, kind) != 6 || got.seen[route] != 6 {
			t.Errorf("%s: measured %d, server saw %d; want one per user (6)", kind, requests(res, kind), got.seen[route])
		}
	}
	// The setup's lookups are searches the server saw but the measurement did not.
	setupSearches := got.seen["search"] - got.wantSearches
	if got.wantSearches == 0 || requests(res, "search") != int64(got.wantSearches) || requests(res, "curve-open") != int64(got.wantSearches) ||
		got.seen["curve"] != got.wantSearches || setupSearches <= 0 || setupSearches > 30 {
		t.Errorf("searches measured %d, curves measured %d, server saw %d searches and %d curves; want %d of each (plot-channels of the dashboards opened) plus ≤ 30 setup lookups",
			requests(res, "search"), requests(res, "curve-open"), got.seen["search"], got.seen["curve"], got.wantSearches)
	}
	if len(got.spans) != 1 || got.spans[600_000] != got.wantSearches {
		t.Errorf("curve windows %v, want only 10 minutes", got.spans)
	}
	// Upstream: the difference of the two /metrics scrapes, exactly.
	if len(got.scraped) != 2 || !res.Upstream.Known || res.Upstream.Requests != float64(got.scraped[1]-got.scraped[0]) || res.Upstream.Requests == 0 {
		t.Errorf("upstream %+v, scrapes served %v", res.Upstream, got.scraped)
	}
	if res.UserMinutes <= 0 || res.UserMinutes > 6*res.DurationS/60+1e-9 {
		t.Errorf("user-minutes %.4f for 6 users over %.2f s", res.UserMinutes, res.DurationS)
	}
	if want := float64(2 * got.wantSearches); res.OldBackend.Requests != want {
		t.Errorf("old backend %v, want %v: one data-api request per curve and per search", res.OldBackend.Requests, want)
	}
}

func TestMixAutoApply(t *testing.T) {
	f := newFakeBoard(t, 30)
	res, got := mustRun(t, f, "-users", "2", "-dashboards", "1", "-refresh", "100ms", "-d", "2500ms")
	checkClean(t, res)
	refresh := requests(res, "curve-refresh")
	if refresh == 0 {
		t.Errorf("no auto-apply refresh in 2.5 s at a 100 ms period")
	}
	// Every refresh comes after the plot's search: by seriesId, as the frontend does.
	if int64(got.bySeries) < refresh || int64(got.seen["curve"]) != requests(res, "curve-open")+refresh {
		t.Errorf("%d curves by seriesId, %d refreshes; server saw %d curves, measured %d + %d",
			got.bySeries, refresh, got.seen["curve"], requests(res, "curve-open"), refresh)
	}
	if len(got.spans) != 1 || got.spans[600_000] == 0 {
		t.Errorf("curve windows %v, want only the relative 10 minutes", got.spans)
	}
}

func TestMixLiveUsers(t *testing.T) {
	f := newFakeBoard(t, 30)
	res, got := mustRun(t, f, "-users", "4", "-dashboards", "2", "-live", "0.5", "-d", "2500ms")
	checkClean(t, res)
	subs := requests(res, "subscribe")
	if res.LiveUsers != 2 || subs == 0 || int64(got.subscribes) != subs || res.StreamMessages["snapshot"] != subs {
		t.Errorf("live users %d, subscribes measured %d, server saw %d, snapshots %d", res.LiveUsers, subs, got.subscribes, res.StreamMessages["snapshot"])
	}
	if res.StreamMessages["append"] == 0 || res.StreamBytes == 0 || res.StreamDropped != 0 || res.StreamDialErrs != 0 {
		t.Errorf("stream messages %v, %d bytes, dropped %d, dial errors %d", res.StreamMessages, res.StreamBytes, res.StreamDropped, res.StreamDialErrs)
	}
	if res.LiveSubMinutes <= 0 || res.LiveSubMinutes > float64(subs)*res.DurationS/60+1e-9 {
		t.Errorf("live subscription-minutes %.4f for %d subscriptions over %.2f s", res.LiveSubMinutes, subs, res.DurationS)
	}
	// The old frontend has no stream: every live subscription is an auto-apply curve per refresh (1h here).
	curves := requests(res, "curve-open")
	want := float64(curves+requests(res, "search")) + res.LiveSubMinutes*60/3600
	if math.Abs(res.OldBackend.Requests-want) > 1e-6 {
		t.Errorf("old backend %v, want %v", res.OldBackend.Requests, want)
	}
}

func TestMixPansAndSaves(t *testing.T) {
	f := newFakeBoard(t, 30)
	res, got := mustRun(t, f, "-users", "3", "-dashboards", "2", "-live", "0.34", "-pan-every", "50ms", "-pan-stay", "50ms",
		"-save-every", "50ms", "-save-new", "0.5", "-d", "2500ms")
	checkClean(t, res) // every saved dashboard passed the schema (the fake answers 422 otherwise)
	if requests(res, "curve-pan") == 0 || requests(res, "save-update") == 0 || requests(res, "save-new") == 0 {
		t.Errorf("pans %d, updates %d, new %d: want some of each", requests(res, "curve-pan"), requests(res, "save-update"), requests(res, "save-new"))
	}
	if int64(got.seen["patch"]) != requests(res, "save-update") || int64(got.seen["post"]) != 2+requests(res, "save-new") {
		t.Errorf("server saw %d PATCH and %d POST; measured %d updates and %d new (+2 setup POSTs)",
			got.seen["patch"], got.seen["post"], requests(res, "save-update"), requests(res, "save-new"))
	}
	for span := range got.spans {
		if span != 600_000 && !slices.Contains(panSpans, time.Duration(span)*time.Millisecond) {
			t.Errorf("a curve window of %d ms: neither the relative window nor a pan span", span)
		}
	}
	if got.unsubscribes == 0 {
		t.Errorf("the live user never left the stream to look at the past")
	}
}

func TestMixSeedDecidesTheDashboards(t *testing.T) {
	made := func(seed string) [][]byte {
		f := newFakeBoard(t, 30)
		mustRun(t, f, "-users", "1", "-dashboards", "3", "-d", "50ms", "-seed", seed)
		return f.snapshot().created
	}
	a, b, c := made("7"), made("7"), made("8")
	if !slices.EqualFunc(a, b, bytes.Equal) {
		t.Errorf("the same seed made different dashboards")
	}
	if slices.EqualFunc(a, c, bytes.Equal) {
		t.Errorf("seeds 7 and 8 made the same dashboards")
	}
}

func TestMixReportsErrors(t *testing.T) {
	f := newFakeBoard(t, 30)
	f.failCurve = func(n int) (int, string) {
		switch n % 3 {
		case 0:
			return 500, "Error fetching data from backend"
		}
		return 0, "" // a normal answer
	}
	res, out := runMixOn(t, f, "-users", "3", "-dashboards", "2", "-d", "1s")
	if out.code != exitOK {
		t.Fatalf("exit %d: %s", out.code, out.stderr)
	}
	k := res.Kinds["curve-open"]
	failed := (int64(f.snapshot().seen["curve"]) + 2) / 3
	if k.Errors.Status != failed || k.Statuses["500"] != failed || k.OK != k.Requests-failed || len(k.Samples) == 0 ||
		k.Samples[0] != "status 500: Error fetching data from backend" {
		t.Errorf("curve-open %+v; want %d status errors with their detail", k, failed)
	}
}

func TestMixCountsWrongBodies(t *testing.T) {
	f := newFakeBoard(t, 30)
	f.failCurve = func(int) (int, string) { return -1, "" }
	res, out := runMixOn(t, f, "-users", "2", "-dashboards", "1", "-d", "1s")
	if out.code != exitOK {
		t.Fatalf("exit %d: %s", out.code, out.stderr)
	}
	if k := res.Kinds["curve-open"]; k.Errors.Body == 0 || k.Errors.Body != k.Requests || !strings.HasPrefix(k.Samples[0], "body: ") {
		t.Errorf("curve-open %+v: every answer lacks the curve, want body errors", k)
	}
}

func TestMixText(t *testing.T) {
	f := newFakeBoard(t, 30)
	out := runArgs(t, "mix", "-url", f.URL, "-users", "2", "-dashboards", "1", "-ramp", "0", "-d", "300ms", "-channels", "30")
	if out.code != exitOK {
		t.Fatalf("exit %d: %s", out.code, out.stderr)
	}
	for _, want := range []string{"mix         2 users", "curve-open", "subscribe", "upstream    databoard /metrics (databoard_daqbuf_requests_total): ",
		"data-api (daqbuf-sim /sim/requests): unknown", "old backend ", "computed from this mix, not measured", "system "} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, out.stdout)
		}
	}
}

func TestMixSetupFails(t *testing.T) {
	f := newFakeBoard(t, 5) // the dashboards draw from 30 channels; only 5 exist
	_, out := runMixOn(t, f, "-users", "1", "-d", "1s")
	if out.code != exitSetup || out.stdout != "" || !strings.Contains(out.stderr, "not found") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit %d naming the missing channel", out.code, out.stdout, out.stderr, exitSetup)
	}
}

func TestMixBadFlags(t *testing.T) {
	const u = "http://127.0.0.1:1"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"mix"}, "no target"},
		{[]string{"mix", "-url", "http://192.0.2.1:8080"}, "-allow-remote"},
		{[]string{"mix", "-url", u, "-sim", "http://192.0.2.1:8091"}, "-allow-remote"},
		{[]string{"mix", "-url", u, "-users", "0"}, "-users 0"},
		{[]string{"mix", "-url", u, "-users", "20001"}, "-users 20001"},
		{[]string{"mix", "-url", u, "-live", "1.5"}, "-live 1.5"},
		{[]string{"mix", "-url", u, "-plots", "3-2"}, "-plots"},
		{[]string{"mix", "-url", u, "-per-plot", "0"}, "-per-plot"},
		{[]string{"mix", "-url", u, "-per-plot", "21"}, "-per-plot 21"},
		{[]string{"mix", "-url", u, "-d", "11m"}, "-d 11m0s"},
		{[]string{"mix", "-url", u, "-d", "0s"}, "-d 0"},
		{[]string{"mix", "-url", u, "-refresh", "0s"}, "-refresh 0"},
		{[]string{"mix", "-url", u, "-ramp", "-1s"}, "-ramp -1s"},
		{[]string{"mix", "-url", u, "-browser-conns", "65"}, "-browser-conns 65"},
		{[]string{"mix", "-url", u, "extra"}, "unexpected argument"},
	}
	for _, tt := range tests {
		out := runArgs(t, tt.args...)
		if out.code != exitUsage || !strings.Contains(out.stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, out.code, out.stderr, exitUsage, tt.want)
		}
	}
}

func TestIntRange(t *testing.T) {
	tests := []struct {
		in   string
		want intRange
		ok   bool
	}{
		{"3", intRange{3, 3}, true},
		{"2-4", intRange{2, 4}, true},
		{" 1 - 5 ", intRange{1, 5}, true},
		{"0", intRange{}, false},
		{"4-2", intRange{}, false},
		{"a-b", intRange{}, false},
		{"-3", intRange{}, false},
	}
	for _, tt := range tests {
		var r intRange
		err := r.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && r != tt.want) {
			t.Errorf("Set(%q) = %v, %v; want %v (ok %v)", tt.in, r, err, tt.want, tt.ok)
		}
	}
}

func TestIsLiveSpreadsExactly(t *testing.T) {
	for _, tt := range []struct {
		users int
		live  float64
		want  int
	}{{200, 0.2, 40}, {10, 0.5, 5}, {3, 0.34, 1}, {7, 0, 0}, {7, 1, 7}, {1000, 0.333, 333}} {
		n, firstHalf := 0, 0
		for i := range tt.users {
			if isLive(i, tt.live) {
				n++
				if i < tt.users/2 {
					firstHalf++
				}
			}
		}
		if n != tt.want || (tt.want >= 10 && (firstHalf < tt.want/2-1 || firstHalf > tt.want/2+1)) {
			t.Errorf("%d users at %g: %d live (%d in the first half), want %d spread evenly", tt.users, tt.live, n, firstHalf, tt.want)
		}
	}
}

func TestParseDaqbufMetric(t *testing.T) {
	tests := []struct {
		name, text string
		want       upstreamCount
	}{
		{"two endpoints", "# HELP x\n# TYPE databoard_daqbuf_requests_total counter\ndataboard_daqbuf_requests_total{endpoint=\"/binned\"} 12\ndataboard_daqbuf_requests_total{endpoint=\"/events\"} 3.5e+01\ndataboard_upstream_requests_total 99\n",
			upstreamCount{Known: true, Total: 47, ByEndpoint: map[string]float64{"/binned": 12, "/events": 35}}},
		{"declared, nothing sent", "# TYPE databoard_daqbuf_requests_total counter\n", upstreamCount{Known: true, ByEndpoint: map[string]float64{}}},
		{"an older server", "databoard_upstream_requests_total 5\n", upstreamCount{ByEndpoint: map[string]float64{}}},
		{"other labels too", "databoard_daqbuf_requests_total{instance=\"a\",endpoint=\"/binned\"} 2\n",
			upstreamCount{Known: true, Total: 2, ByEndpoint: map[string]float64{"/binned": 2}}},
	}
	for _, tt := range tests {
		got := parseDaqbufMetric(tt.text)
		if got.Known != tt.want.Known || got.Total != tt.want.Total || !mapsEqual(got.ByEndpoint, tt.want.ByEndpoint) {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
	d := parseDaqbufMetric("databoard_daqbuf_requests_total{endpoint=\"/binned\"} 20\n").minus(parseDaqbufMetric("databoard_daqbuf_requests_total{endpoint=\"/binned\"} 12\n"))
	if !d.Known || d.Total != 8 || d.ByEndpoint["/binned"] != 8 {
		t.Errorf("difference %+v, want 8", d)
	}
	if d := (upstreamCount{Known: true}).minus(upstreamCount{}); d.Known {
		t.Errorf("a difference with an unknown sample is known: %+v", d)
	}
}

func TestParseSimCounts(t *testing.T) {
	got := parseSimCounts([]byte(`{"total":9,"by_path":{"/api/4/binned":4,"/api/4/events":3,"other":2}}`))
	if !got.Known || got.Total != 9 || got.ByEndpoint["/binned"] != 4 || got.ByEndpoint["/events"] != 3 || got.ByEndpoint["other"] != 2 {
		t.Errorf("%+v", got)
	}
	if got := parseSimCounts([]byte(`<html>`)); got.Known {
		t.Errorf("a non-JSON answer is known: %+v", got)
	}
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestOldBackendRequests(t *testing.T) {
	tests := []struct {
		curves, searches int64
		liveSubSeconds   float64
		refresh          time.Duration
		want             float64
	}{
		{0, 0, 0, autoApplyPeriod, 0},
		{100, 20, 0, autoApplyPeriod, 120},
		// 10 subscriptions for 606 s at 60.6 s: 100 auto-apply curves the old frontend would have asked.
		{0, 0, 6060, autoApplyPeriod, 100},
		{5, 5, 120, time.Minute, 12},
	}
	for _, tt := range tests {
		if got := oldBackendRequests(tt.curves, tt.searches, tt.liveSubSeconds, tt.refresh); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("oldBackendRequests(%d, %d, %g, %v) = %g, want %g", tt.curves, tt.searches, tt.liveSubSeconds, tt.refresh, got, tt.want)
		}
	}
}

func TestDashboardPlan(t *testing.T) {
	cfg := mixConfig{Dashboards: 50, Plots: intRange{2, 4}, PerPlot: intRange{1, 4}, Channels: 3, Seed: 9}
	plan := dashboardPlan(cfg)
	sizes := map[int]bool{}
	for d, plots := range plan {
		if len(plots) < 2 || len(plots) > 4 {
			t.Errorf("dashboard %d has %d plots, want 2-4", d, len(plots))
		}
		for p, idx := range plots {
			sizes[len(idx)] = true
			if len(idx) < 1 || len(idx) > 3 { // at most -channels distinct channels in a plot
				t.Errorf("dashboard %d plot %d has %d channels, want 1-3", d, p, len(idx))
			}
			seen := map[int]bool{}
			for _, i := range idx {
				if i < 0 || i >= 3 || seen[i] {
					t.Errorf("dashboard %d plot %d: channels %v, want distinct ones below 3", d, p, idx)
				}
				seen[i] = true
			}
		}
	}
	if len(sizes) != 3 {
		t.Errorf("plot sizes %v over 50 dashboards: the range is not used", sizes)
	}
}

func TestWindowOverlap(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	var w window
	if w.overlap(at(0), at(10)) != 0 || w.contains(at(5)) {
		t.Errorf("a window not started yet holds time")
	}
	w.start.Store(at(5).UnixNano())
	if got := w.overlap(at(0), at(10)); got != 5*time.Second || !w.contains(at(100)) || w.contains(at(4)) {
		t.Errorf("open window: overlap %v", got)
	}
	w.end.Store(at(8).UnixNano())
	for _, tt := range []struct {
		from, to int
		want     time.Duration
	}{{0, 10, 3 * time.Second}, {6, 7, time.Second}, {9, 12, 0}, {0, 4, 0}} {
		if got := w.overlap(at(tt.from), at(tt.to)); got != tt.want {
			t.Errorf("overlap [%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	if w.contains(at(8)) || !w.contains(at(5)) {
		t.Errorf("contains: the window is [5, 8)")
	}
}
