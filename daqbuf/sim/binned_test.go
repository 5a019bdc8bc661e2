package sim_test

import (
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf/sim"
)

func TestBinGridWidthChoice(t *testing.T) {
	e := newEnv(t, sim.Config{})
	ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-F64:SINE")
	day := time.Date(2024, 9, 14, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		beg, end  time.Time
		binCount  int
		binWidth  time.Duration
		wantWidth time.Duration
		wantBins  int
		wantFirst time.Time
	}{
		{"1h n=10", day, day.Add(time.Hour), 10, 0, 5 * time.Minute, 12, day},
		{"00:20:10-10:20:30 n=10", day.Add(20*time.Minute + 10*time.Second), day.Add(10*time.Hour + 20*time.Minute + 30*time.Second),
			10, 0, time.Hour, 11, day},
		{"default 20", day, day.Add(time.Hour), 0, 0, 2 * time.Minute, 30, day},
		{"off grid below 20ms", day, day.Add(time.Second), 100, 0, 10 * time.Millisecond, 100, day},
		{"off grid unaligned", day.Add(5 * time.Millisecond), day.Add(5*time.Millisecond + 300*time.Millisecond), 100, 0, 3 * time.Millisecond, 101, day.Add(3 * time.Millisecond)},
		{"30s -> 20s", day, day.Add(time.Minute), 0, 30 * time.Second, 20 * time.Second, 3, day},
		{"45s -> 1m", day, day.Add(3 * time.Minute), 0, 45 * time.Second, time.Minute, 3, day},
		{"3m -> 5m", day, day.Add(time.Hour), 0, 3 * time.Minute, 5 * time.Minute, 12, day},
		{"90s -> 2m", day, day.Add(time.Hour), 0, 90 * time.Second, 2 * time.Minute, 30, day},
		{"2.5h -> 4h", day, day.Add(12 * time.Hour), 0, 150 * time.Minute, 4 * time.Hour, 3, day},
		{"exact 10m", day, day.Add(time.Hour), 0, 10 * time.Minute, 10 * time.Minute, 6, day},
		{"clamp 1ms -> 20ms", day, day.Add(100 * time.Millisecond), 0, time.Millisecond, 20 * time.Millisecond, 5, day},
		{"sub-ms dropped", day, day.Add(100 * time.Millisecond), 0, 50*time.Millisecond + 999*time.Microsecond, 50 * time.Millisecond, 2, day},
		{"edges beyond range", day.Add(7 * time.Minute), day.Add(13 * time.Minute), 0, 5 * time.Minute, 5 * time.Minute, 2, day.Add(5 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bins, err := e.sim.Bins(ch, tt.beg.UnixNano(), tt.end.UnixNano(), tt.binCount, tt.binWidth)
			if err != nil {
				t.Fatal(err)
			}
			if len(bins) != tt.wantBins {
				t.Fatalf("%d bins, want %d", len(bins), tt.wantBins)
			}
			if bins[0].Ts1 != tt.wantFirst.UnixNano() {
				t.Errorf("first bin at %v, want %v", time.Unix(0, bins[0].Ts1).UTC(), tt.wantFirst)
			}
			for i, b := range bins {
				if time.Duration(b.Ts2-b.Ts1) != tt.wantWidth || b.Ts1%int64(tt.wantWidth) != 0 {
					t.Fatalf("bin %d [%d, %d) not a %v grid bin", i, b.Ts1, b.Ts2, tt.wantWidth)
				}
				if i > 0 && b.Ts1 != bins[i-1].Ts2 {
					t.Fatalf("bin %d not contiguous", i)
				}
			}
		})
	}
	for _, bad := range []struct {
		count int
		width time.Duration
	}{{10, time.Minute}, {-1, 0}} {
		if _, err := e.sim.Bins(ch, day.UnixNano(), day.Add(time.Hour).UnixNano(), bad.count, bad.width); err == nil {
			t.Errorf("Bins(%d, %v): no error", bad.count, bad.width)
		}
	}
}

// binsVia fetches /binned in one mode and rebuilds the bins; it fails on frames other than data.
func binsVia(t *testing.T, e *env, q url.Values, accept string) ([]sim.Bin, []int) {
	t.Helper()
	resp, body := e.get(t, "/api/4/binned", q, accept)
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	wantStatus(t, resp, body, http.StatusOK)
	var bins []sim.Bin
	var sizes []int
	switch accept {
	case acceptJSON:
		return binsFromJSON(t, decodeJSON(t, body)), nil
	case acceptJFramed:
		for _, f := range splitASCIIFrames(t, body) {
			b := binsFromJSON(t, decodeJSON(t, f))
			bins, sizes = append(bins, b...), append(sizes, len(b))
		}
	case acceptCFramed:
		for _, f := range splitBinaryFrames(t, body) {
			obj := decodeCBOR(t, f)
			if _, ok := obj["rangeFinal"]; ok {
				t.Fatal("rangeFinal in a binned stream")
			}
			b := binsFromCBOR(t, obj)
			bins, sizes = append(bins, b...), append(sizes, len(b))
		}
	}
	return bins, sizes
}

func TestBinnedModesMatchGroundTruth(t *testing.T) {
	e := newEnv(t, sim.Config{})
	beg, end := t0().Add(-3*time.Hour-17*time.Second), t0().Add(-time.Hour)
	for _, name := range allChannels {
		ch := mustChannel(t, e.sim, "sf-databuffer", name)
		want, err := e.sim.Bins(ch, beg.UnixNano(), end.UnixNano(), 50, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, accept := range []string{acceptJSON, acceptJFramed, acceptCFramed} {
			t.Run(name+"/"+accept, func(t *testing.T) {
				q := rangeQuery(ch.Backend, ch.Name, beg, end)
				q.Set("binCount", "50")
				got, _ := binsVia(t, e, q, accept)
				sameBins(t, got, want)
			})
		}
	}
}

func TestBinnedStepSignalAverage(t *testing.T) {
	// SIM-BOOL:TOGGLE is 0 for 30 s and 1 for 30 s, sampled every 5 s (plus ns jitter). Over the
	// minute [T, T+60 s) with T a multiple of 60 s the value carried in from T−5 s is 1 until the
	// first event (T+j0, value 0); the event at T+30 s+j30 switches to 1 until the bin end.
	e := newEnv(t, sim.Config{})
	ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-BOOL:TOGGLE")
	T := t0().Add(-10 * time.Minute).UnixNano()
	events := e.sim.Events(ch, T-5e9, T+60e9)
	if len(events) != 13 || events[0].Value != true || events[1].Value != false || events[7].Value != true {
		t.Fatalf("unexpected step events %+v", events)
	}
	j0, j30 := events[1].Ts-T, events[7].Ts-(T+30e9)
	want := float32(float64(j0+60e9-30e9-j30) / 60e9)

	q := rangeQuery(ch.Backend, ch.Name, time.Unix(0, T), time.Unix(0, T+60e9))
	q.Set("binWidth", "1m")
	bins, _ := binsVia(t, e, q, acceptJSON)
	if len(bins) != 1 {
		t.Fatalf("%d bins", len(bins))
	}
	b := bins[0]
	if b.Count != 12 || b.Min != 0 || b.Max != 1 || math.Abs(float64(b.Avg-want)) > 1e-6 {
		t.Fatalf("bin %+v, want count 12, min 0, max 1, avg %v", b, want)
	}
	// A bin wholly inside a constant stretch carries its value: [T+10 s, T+20 s) is all zeros
	// except the carried 0.
	q = rangeQuery(ch.Backend, ch.Name, time.Unix(0, T+10e9), time.Unix(0, T+20e9))
	q.Set("binWidth", "10s")
	bins, _ = binsVia(t, e, q, acceptJSON)
	if len(bins) != 1 || bins[0].Avg != 0 || bins[0].Max != 0 || bins[0].Count != 2 {
		t.Fatalf("constant bin %+v", bins)
	}
}

func TestBinnedFirstValueZeroCountAndNow(t *testing.T) {
	e := newEnv(t, sim.Config{})
	sparse := mustChannel(t, e.sim, "sf-databuffer", "SIM-SPARSE:TEMP")

	// Bins before the first event ever are not emitted.
	start := time.Unix(0, sim.DataStart)
	bins, err := e.sim.Bins(sparse, start.Add(-time.Hour).UnixNano(), start.Add(time.Hour).UnixNano(), 0, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != 12 || bins[0].Ts1 != sim.DataStart || bins[0].Count != 1 {
		t.Fatalf("straddling DataStart: %d bins, first %+v", len(bins), bins[0])
	}

	// Empty bins after a known value carry it.
	beg, end := t0().Add(-time.Hour), t0().Add(-30*time.Minute)
	q := rangeQuery(sparse.Backend, sparse.Name, beg, end)
	q.Set("binWidth", "1m")
	bins, _ = binsVia(t, e, q, acceptJFramed)
	if len(bins) != 30 {
		t.Fatalf("%d bins, want 30", len(bins))
	}
	events := e.sim.Events(sparse, beg.UnixNano(), end.UnixNano())
	for i, b := range bins {
		if b.Count == 0 {
			var carried float32
			for _, ev := range events {
				if ev.Ts < b.Ts1 {
					carried = float32(ev.Value.(float64))
				}
			}
			if b.Min != carried || b.Max != carried || b.Avg != carried {
				t.Fatalf("empty bin %d = %+v, want carried %v", i, b, carried)
			}
		} else if b.Count != 1 || i%5 != 0 {
			t.Fatalf("bin %d count %d", i, b.Count)
		}
	}

	// Bins stop at now; the open bin is computed from the data so far.
	sine := mustChannel(t, e.sim, "sf-databuffer", "SIM-F64:SINE")
	e.clock.Set(t0().Add(30*time.Second + time.Millisecond))
	q = rangeQuery(sine.Backend, sine.Name, t0().Add(-10*time.Minute), t0().Add(10*time.Minute))
	q.Set("binWidth", "1m")
	bins, _ = binsVia(t, e, q, acceptCFramed)
	if len(bins) != 11 {
		t.Fatalf("%d bins up to now, want 11", len(bins))
	}
	last := bins[10]
	if last.Ts1 != t0().UnixNano() || last.Ts2 != t0().Add(time.Minute).UnixNano() || last.Count != 31 {
		t.Fatalf("open bin %+v", last)
	}
}

func TestBinnedNullAverages(t *testing.T) {
	e := newEnv(t, sim.Config{})
	q := rangeQuery("sf-databuffer", "SIM-F64:NULLS", t0().Add(-time.Hour), t0().Add(-50*time.Minute))
	q.Set("binWidth", "1m")
	resp, body := e.get(t, "/api/4/binned", q, "")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(string(body), `"avgs":[null,`) {
		t.Fatalf("NULLS averages not null: %s", body)
	}
	bins := binsFromJSON(t, decodeJSON(t, body))
	for _, b := range bins {
		if !math.IsNaN(float64(b.Avg)) || math.IsNaN(float64(b.Min)) || b.Min > b.Max {
			t.Fatalf("bin %+v", b)
		}
	}
	bins, _ = binsVia(t, e, q, acceptCFramed)
	if !math.IsNaN(float64(bins[0].Avg)) {
		t.Fatalf("CBOR avg %v, want NaN", bins[0].Avg)
	}
}

func TestBinnedLimitsAndFrames(t *testing.T) {
	e := newEnv(t, sim.Config{})
	ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-DENSE:100HZ")
	beg, end := t0().Add(-time.Hour), t0().Add(-time.Hour+200*time.Second) // 10 000 bins of 20 ms
	q := rangeQuery(ch.Backend, ch.Name, beg, end)
	q.Set("binWidth", "20ms")
	want, err := e.sim.Bins(ch, beg.UnixNano(), end.UnixNano(), 0, 20*time.Millisecond)
	if err != nil || len(want) != 10_000 {
		t.Fatalf("%d bins, %v", len(want), err)
	}
	plain, _ := binsVia(t, e, q, acceptJSON)
	sameBins(t, plain, want[:2500])
	for _, accept := range []string{acceptJFramed, acceptCFramed} {
		got, sizes := binsVia(t, e, q, accept)
		sameBins(t, got, want)
		for i, n := range sizes {
			if n != 128 && i != len(sizes)-1 {
				t.Fatalf("%s: frame %d holds %d bins, want 128", accept, i, n)
			}
		}
	}
}

func TestBinnedErrors(t *testing.T) {
	e := newEnv(t, sim.Config{})
	base := func(kv ...string) url.Values {
		q := rangeQuery("sf-databuffer", "SIM-F64:SINE", t0().Add(-time.Hour), t0())
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				q.Del(kv[i])
			} else {
				q.Set(kv[i], kv[i+1])
			}
		}
		return q
	}
	tests := []struct {
		name    string
		q       url.Values
		accept  string
		status  int
		message string // prefix; "" = no body check
	}{
		{"both params", base("binCount", "10", "binWidth", "1m"), "", 500, "bad binned query"},
		{"binCount zero", base("binCount", "0"), acceptJFramed, 500, "bad binned query"},
		{"binCount garbage", base("binCount", "x"), "", 500, "malformed request or missing parameters"},
		{"no channel framed", base("channelName", ""), acceptJFramed, 500, "malformed request or missing parameters"},
		{"unknown backend", base("backend", "nope"), acceptCFramed, 500, "malformed request or missing parameters"},
		{"unknown channel", base("channelName", "SIM-NOPE"), acceptJFramed, 404, "channel not found"},
		{"octet-stream", base(), "application/octet-stream", 500, "binary binned data not yet available"},
		{"other accept", base(), "text/csv", 500, "Unsupported Accept: text/csv"},
		{"future", base("begDate", t0().Add(time.Hour).Format(time.RFC3339), "endDate", t0().Add(2*time.Hour).Format(time.RFC3339)), "", 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(t, "/api/4/binned", tt.q, tt.accept)
			wantStatus(t, resp, body, tt.status)
			if tt.message == "" {
				if len(body) != 0 {
					t.Fatalf("body %q", body)
				}
				return
			}
			obj := decodeJSON(t, body)
			if msg, _ := obj["message"].(string); !strings.HasPrefix(msg, tt.message) {
				t.Errorf("message %q, want prefix %q", msg, tt.message)
			}
			if obj["requestid"] != resp.Header.Get("requestid") {
				t.Errorf("requestid %v", obj["requestid"])
			}
		})
	}
	// An unparsable binWidth is ignored: the default 20 bins apply (1 h → 2 min grid, 30 bins).
	bins, _ := binsVia(t, e, base("binWidth", "2.0"), acceptJSON)
	if len(bins) != 30 || bins[0].Ts2-bins[0].Ts1 != int64(2*time.Minute) {
		t.Fatalf("binWidth=2.0: %d bins", len(bins))
	}
}

func TestBinWidthHumantime(t *testing.T) {
	e := newEnv(t, sim.Config{})
	day := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		binWidth string
		want     time.Duration
	}{
		{"500ms", 500 * time.Millisecond}, {"10s", 10 * time.Second}, {"2m", 2 * time.Minute}, {"2min", 2 * time.Minute},
		{"1h", time.Hour}, {"1h 30m", 2 * time.Hour}, {"1d", 24 * time.Hour}, {"1w", 8 * 24 * time.Hour},
		{"2.0", 2 * time.Minute /* ignored: default 20 bins over 1 h */}, {"10", 2 * time.Minute}, {"5 parsecs", 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.binWidth, func(t *testing.T) {
			q := rangeQuery("sf-databuffer", "SIM-F64:SINE", day, day.Add(time.Hour))
			q.Set("binWidth", tt.binWidth)
			bins, _ := binsVia(t, e, q, acceptCFramed)
			if len(bins) == 0 || time.Duration(bins[0].Ts2-bins[0].Ts1) != tt.want {
				t.Fatalf("%d bins, first %+v; want width %v", len(bins), bins, tt.want)
			}
		})
	}
}
