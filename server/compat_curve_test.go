package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf/sim"
)

// A fixed window in the past: data there never changes.
const (
	baseMs = int64(1747404000000) // 2025-05-16T14:00:00Z
	msNs   = int64(time.Millisecond)
)

// curveAnswer is a parsed /channels/curve answer with every object's member order.
type curveAnswer struct {
	raw  []byte
	top  []kv // members of "curve", in order
	maps map[string][]kv
}

// curveMeta is NAME_meta.
type curveMeta struct {
	Raw            *bool           `json:"raw"`
	Waveform       *bool           `json:"waveform"`
	IntervalAvg    json.Number     `json:"interval_avg"`
	IntervalStddev json.Number     `json:"interval_stddev"`
	PointMeta      json.RawMessage `json:"pointMeta"`
}

// pointMeta is one entry of pointMeta.
type pointMeta struct {
	Count   *json.Number `json:"count"`
	PulseID *json.Number `json:"pulseId"`
	Desc    *string      `json:"desc"`
	hasPID  bool
}

// curveOf parses a 200 curve answer. Besides the shape it checks what holds for every answer: the body
// is JSON encoding/json accepts (no NaN), and every map of timestamps is in ascending time order.
func curveOf(t *testing.T, r response) curveAnswer {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	var anyBody any
	if err := json.Unmarshal(r.body, &anyBody); err != nil {
		t.Fatalf("encoding/json rejects the answer: %v\n%s", err, truncate(string(r.body), 300))
	}
	top := orderedObject(t, r.body)
	if len(top) != 1 || top[0].key != "curve" {
		t.Fatalf("answer is not {\"curve\": ...}: %s", truncate(string(r.body), 300))
	}
	a := curveAnswer{raw: r.body, top: orderedObject(t, top[0].val), maps: map[string][]kv{}}
	for _, m := range a.top {
		members := orderedObject(t, m.val)
		a.maps[m.key] = members
		if strings.HasSuffix(m.key, "_meta") {
			var meta curveMeta
			if err := json.Unmarshal(m.val, &meta); err != nil {
				t.Fatal(err)
			}
			if meta.PointMeta == nil {
				t.Errorf("%s has no pointMeta", m.key)
				continue
			}
			checkAscending(t, m.key+".pointMeta", orderedObject(t, meta.PointMeta))
			continue
		}
		checkAscending(t, m.key, members)
	}
	return a
}

// tsKey splits "<ts>" or "<ts>_<i>" into numbers.
func tsKey(t *testing.T, k string) (ts int64, idx int64) {
	t.Helper()
	idx = -1
	s := k
	if i := strings.IndexByte(k, '_'); i >= 0 {
		var err error
		if idx, err = strconv.ParseInt(k[i+1:], 10, 64); err != nil {
			t.Fatalf("key %q: %v", k, err)
		}
		s = k[:i]
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("key %q is not a ns timestamp", k)
	}
	return ts, idx
}

// checkAscending fails unless the keys of members are strictly ascending in (time, index).
func checkAscending(t *testing.T, name string, members []kv) {
	t.Helper()
	for i := 1; i < len(members); i++ {
		t0, i0 := tsKey(t, members[i-1].key)
		t1, i1 := tsKey(t, members[i].key)
		if t1 < t0 || t1 == t0 && i1 <= i0 {
			t.Errorf("%s: key %s after %s, not ascending", name, members[i].key, members[i-1].key)
			return
		}
	}
}

func (a curveAnswer) meta(t *testing.T, name string) (curveMeta, []kv) {
	t.Helper()
	for _, m := range a.top {
		if m.key == name+"_meta" {
			var meta curveMeta
			dec := json.NewDecoder(bytes.NewReader(m.val))
			dec.UseNumber()
			if err := dec.Decode(&meta); err != nil {
				t.Fatal(err)
			}
			if meta.Raw == nil || meta.Waveform == nil || meta.IntervalAvg == "" || meta.IntervalStddev == "" {
				t.Errorf("%s_meta lacks raw, waveform or the interval fields: %s", name, m.val)
			}
			return meta, orderedObject(t, meta.PointMeta)
		}
	}
	t.Fatalf("no %s_meta in %s", name, truncate(string(a.raw), 300))
	return curveMeta{}, nil
}

func parsePointMeta(t *testing.T, raw json.RawMessage) pointMeta {
	t.Helper()
	var pm pointMeta
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&pm); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	_, pm.hasPID = m["pulseId"]
	return pm
}

func (a curveAnswer) topKeys() []string {
	out := make([]string, len(a.top))
	for i, m := range a.top {
		out[i] = m.key
	}
	return out
}

func memberKeys(members []kv) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.key
	}
	return out
}

// curvePath is the frontend's request for [begin, end) ms.
func curvePath(name, backend string, beginMs, endMs int64, extra ...string) string {
	kv := []string{"channel_name", name, "begin_time", strconv.FormatInt(beginMs, 10), "end_time", strconv.FormatInt(endMs, 10)}
	if backend != "" {
		kv = append(kv, "backend", backend)
	}
	return pathWith("/channels/curve", append(kv, extra...)...)
}

// upstream returns the data-api requests on paths ending in suffix.
func upstream(s *sim.Sim, suffix string) []sim.Request {
	var out []sim.Request
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func TestCompatCurveValidation(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	begin, end := strconv.FormatInt(baseMs, 10), strconv.FormatInt(baseMs+60_000, 10)
	series := strconv.FormatUint(e.simChannel(t, "sf-databuffer", "SIM-F64:SINE").SeriesID, 10)
	tests := []struct {
		name    string
		query   []string
		status  int
		detail  string   // for {"detail": "..."} answers; "" = any non-empty text
		invalid []string // for 422: the parameters named
	}{
		{"unknown name is checked before times", []string{"channel_name", "SIM-NOPE:X", "begin_time", "0", "end_time", "0"},
			http.StatusNotFound, "Channel not found in backend", nil},
		{"unknown name", []string{"channel_name", "SIM-NOPE:X", "begin_time", begin, "end_time", end},
			http.StatusNotFound, "Channel not found in backend", nil},
		{"name of another backend's channel only", []string{"channel_name", "SIM-F64:SINE", "backend", "no-such-backend",
			"begin_time", begin, "end_time", end}, http.StatusNotFound, "Channel not found in backend", nil},
		{"a regex is not a channel name", []string{"channel_name", "SIM-F64:SIN", "begin_time", begin, "end_time", end},
			http.StatusNotFound, "Channel not found in backend", nil},
		{"digits are a seriesId, not verified", []string{"channel_name", "12345", "begin_time", "0", "end_time", end},
			http.StatusBadRequest, "", nil},
		{"begin 0", []string{"channel_name", "SIM-F64:SINE", "begin_time", "0", "end_time", end}, http.StatusBadRequest, "", nil},
		{"end 0", []string{"channel_name", "SIM-F64:SINE", "begin_time", begin, "end_time", "0"}, http.StatusBadRequest, "", nil},
		{"begin after end", []string{"channel_name", series, "begin_time", end, "end_time", begin}, http.StatusBadRequest, "", nil},
		{"too many bins", []string{"channel_name", "SIM-F64:SINE", "begin_time", begin, "end_time", end, "num_bins", "100000000"},
			http.StatusBadRequest, "", nil},
		{"missing channel_name", []string{"begin_time", begin, "end_time", end}, http.StatusUnprocessableEntity, "",
			[]string{"channel_name"}},
		{"nothing at all", nil, http.StatusUnprocessableEntity, "", []string{"channel_name", "begin_time", "end_time"}},
		{"float time (axios never sends one)", []string{"channel_name", "SIM-F64:SINE", "begin_time", "1747404000000.5", "end_time", end},
			http.StatusUnprocessableEntity, "", []string{"begin_time"}},
		{"text time", []string{"channel_name", "SIM-F64:SINE", "begin_time", begin, "end_time", "now"},
			http.StatusUnprocessableEntity, "", []string{"end_time"}},
		{"ill-typed before unknown name", []string{"channel_name", "SIM-NOPE:X", "begin_time", "x", "end_time", end},
			http.StatusUnprocessableEntity, "", []string{"begin_time"}},
		{"num_bins", []string{"channel_name", "SIM-F64:SINE", "begin_time", begin, "end_time", end, "num_bins", "many"},
			http.StatusUnprocessableEntity, "", []string{"num_bins"}},
		{"flags", []string{"channel_name", "SIM-F64:SINE", "begin_time", begin, "end_time", end,
			"useEventsIfBinCountTooLarge", "2", "removeEmptyBins", "maybe", "isString", "sometimes"},
			http.StatusUnprocessableEntity, "", []string{"useEventsIfBinCountTooLarge", "removeEmptyBins", "isString"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sim.ResetRequests()
			r := e.do(t, http.MethodGet, pathWith("/channels/curve", tt.query...), "")
			switch {
			case tt.invalid != nil:
				wantValidation(t, r, tt.invalid...)
			case tt.detail != "":
				wantDetail(t, r, tt.status, tt.detail)
			default:
				if d := wantDetailPrefix(t, r, tt.status, ""); d == "" {
					t.Errorf("empty detail")
				}
			}
			if n := len(upstream(e.sim, "/events")) + len(upstream(e.sim, "/binned")); n != 0 {
				t.Errorf("a rejected request fetched data (%d requests)", n)
			}
		})
	}
}

func TestCompatCurveFlagsAcceptPydanticBooleans(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	for _, v := range []string{"true", "True", "1", "yes", "on", "false", "False", "0", "no", "off"} {
		r := e.do(t, http.MethodGet, curvePath("SIM-F64:SINE", "", baseMs, baseMs+10_000, "removeEmptyBins", v,
			"useEventsIfBinCountTooLarge", v, "num_bins", "5"), "")
		wantStatus(t, r, http.StatusOK)
	}
}

func TestCompatCurveEndClampedToNow(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	before := time.Now()
	r := e.do(t, http.MethodGet, curvePath("SIM-F64:SINE", "", before.Add(-5*time.Second).UnixMilli(),
		before.Add(time.Hour).UnixMilli()), "")
	after := time.Now()
	a := curveOf(t, r)
	reqs := upstream(e.sim, "/events")
	if len(reqs) != 1 {
		t.Fatalf("%d events requests, want 1", len(reqs))
	}
	if end := reqs[0].End; end > after.UnixNano() || end < before.Truncate(time.Millisecond).UnixNano() {
		t.Errorf("upstream end %v, want clamped to now (%v..%v)", time.Unix(0, end), before, after)
	}
	if n := len(a.maps["SIM-F64:SINE"]); n < 3 {
		t.Errorf("%d events in the last 5 s of a 1 Hz channel", n)
	}

	// A window wholly in the future has no data, and data-api is not asked.
	e.sim.ResetRequests()
	r = e.do(t, http.MethodGet, curvePath("SIM-F64:SINE", "", after.Add(time.Hour).UnixMilli(), after.Add(2*time.Hour).UnixMilli()), "")
	wantStatus(t, r, http.StatusOK)
	if string(r.body) != `{"curve":{"SIM-F64:SINE":{}}}` {
		t.Errorf("future window: %s", r.body)
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("future window asked data-api %d times", n)
	}
}

// intervalStats is the contract's interval_avg and interval_stddev of the midpoints mids.
func wantIntervals(mids []int64) (avg, stddev float64) {
	if len(mids) < 2 {
		return 0, 0
	}
	d := make([]float64, len(mids)-1)
	for i := range d {
		d[i] = float64(mids[i+1] - mids[i])
		avg += d[i]
	}
	avg /= float64(len(d))
	for _, x := range d {
		stddev += (x - avg) * (x - avg)
	}
	return avg, math.Sqrt(stddev / float64(len(d)))
}

func numberIs(t *testing.T, what string, got json.RawMessage, want float64, tolerance float64) {
	t.Helper()
	f, err := strconv.ParseFloat(string(got), 64)
	if err != nil {
		t.Errorf("%s: %s is not a number", what, got)
		return
	}
	if math.Abs(f-want) > tolerance {
		t.Errorf("%s = %s, want %v", what, got, want)
	}
}

func TestCompatCurveBinned(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	tests := []struct {
		name, backend     string
		beginMs, endMs    int64
		numBins           int
		removeEmpty       bool
		wantSomeEmpty     bool
		wantEmptyBinsGone bool
	}{
		{name: "SIM-F64:SINE", beginMs: baseMs, endMs: baseMs + 600_000, numBins: 10},
		{name: "SIM-F64:SINE", backend: "sf-archiver", beginMs: baseMs + 123, endMs: baseMs + 3_600_456, numBins: 37},
		{name: "SIM-F32:SINE", beginMs: baseMs, endMs: baseMs + 60_000, numBins: 7},
		{name: "SIM-I32:COUNTER", beginMs: baseMs - 1_800_000, endMs: baseMs + 1_800_000, numBins: 30},
		{name: "SIM-DENSE:100HZ", beginMs: baseMs, endMs: baseMs + 60_000, numBins: 20},
		{name: "SIM-F64:NOISE", beginMs: baseMs, endMs: baseMs + 86_400_000, numBins: 1920},
		{name: "SIM-SPARSE:TEMP", beginMs: baseMs, endMs: baseMs + 3_600_000, numBins: 60, wantSomeEmpty: true},
		{name: "SIM-SPARSE:TEMP", beginMs: baseMs, endMs: baseMs + 3_600_000, numBins: 60, removeEmpty: true, wantEmptyBinsGone: true},
		{name: "SIM-F64:SINE", beginMs: baseMs, endMs: baseMs + 600_000, numBins: 10, removeEmpty: true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+strconv.Itoa(tt.numBins)+"/"+strconv.FormatBool(tt.removeEmpty), func(t *testing.T) {
			backend := tt.backend
			if backend == "" {
				backend = "sf-databuffer"
			}
			ch := e.simChannel(t, backend, tt.name)
			e.sim.ResetRequests()
			a := curveOf(t, e.do(t, http.MethodGet, curvePath(tt.name, tt.backend, tt.beginMs, tt.endMs,
				"num_bins", strconv.Itoa(tt.numBins), "removeEmptyBins", strconv.FormatBool(tt.removeEmpty)), ""))

			reqs := upstream(e.sim, "/binned")
			if len(reqs) != 1 || reqs[0].BinCount != tt.numBins || reqs[0].Beg != tt.beginMs*msNs || reqs[0].End != tt.endMs*msNs {
				t.Fatalf("upstream binned requests %+v, want one for %d bins over the window", reqs, tt.numBins)
			}
			bins, err := e.sim.Bins(ch, tt.beginMs*msNs, tt.endMs*msNs, tt.numBins, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(bins) < tt.numBins {
				t.Fatalf("ground truth has %d bins for %d asked", len(bins), tt.numBins)
			}
			var mids, kept []int64
			var want []sim.Bin
			empty := 0
			for _, b := range bins {
				mid := (b.Ts1 + b.Ts2) / 2
				mids = append(mids, mid)
				if b.Count == 0 {
					empty++
					if tt.removeEmpty {
						continue
					}
				}
				kept = append(kept, mid)
				want = append(want, b)
			}
			if tt.wantSomeEmpty && empty == 0 || tt.wantEmptyBinsGone && empty < len(bins)/2 {
				t.Fatalf("ground truth has %d empty bins of %d: the case tests nothing", empty, len(bins))
			}

			name := tt.name
			if got, want := a.topKeys(), []string{name, name + "_min", name + "_max", name + "_meta"}; !slices.Equal(got, want) {
				t.Fatalf("curve keys %v, want %v", got, want)
			}
			wantKeys := make([]string, len(kept))
			for i, m := range kept {
				wantKeys[i] = strconv.FormatInt(m, 10)
			}
			columns := []struct {
				suffix string
				of     func(sim.Bin) float32
			}{{"", func(b sim.Bin) float32 { return b.Avg }}, {"_min", func(b sim.Bin) float32 { return b.Min }},
				{"_max", func(b sim.Bin) float32 { return b.Max }}}
			for _, col := range columns {
				got := a.maps[name+col.suffix]
				if !slices.Equal(memberKeys(got), wantKeys) {
					t.Errorf("%s keys %v,\nwant the bin midpoints %v", name+col.suffix, memberKeys(got), wantKeys)
					continue
				}
				for i, m := range got {
					f, err := strconv.ParseFloat(string(m.val), 64)
					if err != nil || float32(f) != col.of(want[i]) {
						t.Errorf("%s[%s] = %s, want %v", name+col.suffix, m.key, m.val, col.of(want[i]))
					}
				}
			}
			meta, pm := a.meta(t, name)
			if *meta.Raw || *meta.Waveform {
				t.Errorf("meta raw %v waveform %v, want false false", *meta.Raw, *meta.Waveform)
			}
			if !slices.Equal(memberKeys(pm), wantKeys) {
				t.Errorf("pointMeta keys %v, want %v", memberKeys(pm), wantKeys)
			}
			for i, p := range pm {
				got := parsePointMeta(t, p.val)
				if got.Count == nil || got.Count.String() != strconv.FormatUint(want[i].Count, 10) || got.hasPID || got.Desc != nil {
					t.Errorf("pointMeta[%s] = %s, want {\"count\": %d}", p.key, p.val, want[i].Count)
				}
			}
			// Intervals over the midpoints of every bin data-api returned (the old backend's count series).
			avg, sd := wantIntervals(mids)
			numberIs(t, "interval_avg", json.RawMessage(meta.IntervalAvg), avg, 1e-6*avg)
			numberIs(t, "interval_stddev", json.RawMessage(meta.IntervalStddev), sd, 1e-3)
		})
	}
}

// rawCase describes how one channel's events appear in a raw answer.
type rawCase struct {
	name           string
	beginMs, endMs int64
	extra          []string
	// value is the expected JSON number text of the value map, ok false when the event is left out.
	value func(ev sim.Event) (text string, ok bool)
	// desc is the expected pointMeta desc (nil: none).
	desc func(ev sim.Event) *string
}

func floatText(f float64) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	b, _ := json.Marshal(f)
	return string(b), true
}

func ptr[T any](v T) *T { return &v }

func TestCompatCurveRaw(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	oddHourMs := baseMs + 3_600_000 // the counter is negative in odd hours
	tests := []rawCase{
		{name: "SIM-F64:SINE", beginMs: baseMs, endMs: baseMs + 30_000,
			value: func(ev sim.Event) (string, bool) { return floatText(ev.Value.(float64)) }},
		{name: "SIM-F32:SINE", beginMs: baseMs, endMs: baseMs + 30_000,
			value: func(ev sim.Event) (string, bool) { return floatText(ev.Value.(float64)) }},
		{name: "SIM-PULSED:BPM", beginMs: baseMs + 250, endMs: baseMs + 1_250,
			value: func(ev sim.Event) (string, bool) { return floatText(ev.Value.(float64)) }},
		{name: "SIM-F64:NULLS", beginMs: baseMs, endMs: baseMs + 60_000,
			value: func(ev sim.Event) (string, bool) { return floatText(ev.Value.(float64)) }},
		{name: "SIM-I32:COUNTER", beginMs: oddHourMs - 10_000, endMs: oddHourMs + 10_000,
			value: func(ev sim.Event) (string, bool) { return strconv.FormatInt(ev.Value.(int64), 10), true }},
		{name: "SIM-U64:BIG", beginMs: baseMs, endMs: baseMs + 20_000,
			value: func(ev sim.Event) (string, bool) { return strconv.FormatUint(ev.Value.(uint64), 10), true }},
		{name: "SIM-BOOL:TOGGLE", beginMs: baseMs, endMs: baseMs + 120_000,
			value: func(ev sim.Event) (string, bool) {
				if ev.Value.(bool) {
					return "1", true
				}
				return "0", true
			}},
		{name: "SIM-ENUM:MODE", beginMs: baseMs, endMs: baseMs + 120_000,
			value: func(ev sim.Event) (string, bool) { return strconv.Itoa(int(ev.Value.(sim.EnumValue).Index)), true },
			desc:  func(ev sim.Event) *string { return ptr(ev.Value.(sim.EnumValue).Label) }},
		{name: "SIM-STRING:STATE", beginMs: baseMs, endMs: baseMs + 120_000,
			value: func(ev sim.Event) (string, bool) {
				if ev.Value.(string) != "" {
					return "1", true
				}
				return "0", true
			},
			desc: func(ev sim.Event) *string { return ptr(ev.Value.(string)) }},
		{name: "SIM-F64:RAMP", beginMs: baseMs, endMs: baseMs + 10_000, extra: []string{"isString", "true"},
			value: func(ev sim.Event) (string, bool) { return "1", true },
			desc:  func(ev sim.Event) *string { return ptr(strconv.FormatFloat(ev.Value.(float64), 'g', -1, 64)) }},
		{name: "SIM-F64:SINE", beginMs: baseMs, endMs: baseMs + 10_000, extra: []string{"num_bins", "-5"},
			value: func(ev sim.Event) (string, bool) { return floatText(ev.Value.(float64)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name+strings.Join(tt.extra, "="), func(t *testing.T) {
			ch := e.simChannel(t, "sf-databuffer", tt.name)
			events := e.sim.Events(ch, tt.beginMs*msNs, tt.endMs*msNs)
			if len(events) < 2 {
				t.Fatalf("ground truth has %d events", len(events))
			}
			a := curveOf(t, e.do(t, http.MethodGet, curvePath(tt.name, "", tt.beginMs, tt.endMs, tt.extra...), ""))
			if got, want := a.topKeys(), []string{tt.name, tt.name + "_meta"}; !slices.Equal(got, want) {
				t.Fatalf("curve keys %v, want %v", got, want)
			}
			var wantKeys, wantVals []string
			var kept []sim.Event
			for _, ev := range events {
				v, ok := tt.value(ev)
				if !ok {
					continue
				}
				kept = append(kept, ev)
				wantKeys = append(wantKeys, strconv.FormatInt(ev.Ts, 10))
				wantVals = append(wantVals, v)
			}
			if len(kept) == len(events) && tt.name == "SIM-F64:NULLS" {
				t.Fatalf("no null in the window: the case tests nothing")
			}
			values := a.maps[tt.name]
			if !slices.Equal(memberKeys(values), wantKeys) {
				t.Fatalf("keys %v,\nwant the event timestamps %v", memberKeys(values), wantKeys)
			}
			for i, m := range values {
				if string(m.val) != wantVals[i] {
					t.Errorf("value at %s = %s, want %s", m.key, m.val, wantVals[i])
				}
			}
			meta, pm := a.meta(t, tt.name)
			if !*meta.Raw || *meta.Waveform || meta.IntervalAvg != "0" || meta.IntervalStddev != "0" {
				t.Errorf("meta %+v, want raw, not waveform, intervals 0", meta)
			}
			if !slices.Equal(memberKeys(pm), wantKeys) {
				t.Fatalf("pointMeta keys differ from the value keys")
			}
			for i, p := range pm {
				got := parsePointMeta(t, p.val)
				ev := kept[i]
				switch {
				case !got.hasPID:
					t.Errorf("pointMeta[%s] = %s lacks pulseId", p.key, p.val)
				case ch.Pulsed && (got.PulseID == nil || got.PulseID.String() != strconv.FormatUint(ev.Pulse, 10)):
					t.Errorf("pointMeta[%s] = %s, want pulseId %d", p.key, p.val, ev.Pulse)
				case !ch.Pulsed && got.PulseID != nil:
					t.Errorf("pointMeta[%s] = %s, want pulseId null", p.key, p.val)
				case got.Count != nil:
					t.Errorf("pointMeta[%s] = %s has a count in raw mode", p.key, p.val)
				}
				var want *string
				if tt.desc != nil {
					want = tt.desc(ev)
				}
				if (want == nil) != (got.Desc == nil) || want != nil && *want != *got.Desc {
					t.Errorf("pointMeta[%s] = %s, want desc %v", p.key, p.val, want)
				}
			}
		})
	}
}

func TestCompatCurveWaveform(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	const name = "SIM-WAVE:SPECTRUM"
	ch := e.simChannel(t, "sf-databuffer", name)
	tests := []struct {
		label          string
		beginMs, endMs int64
		extra          []string
		raw            bool
	}{
		{"raw", baseMs, baseMs + 3_000, nil, true},
		// The waveform preview asks a window around one event, without num_bins.
		{"preview of one", baseMs + 500, baseMs + 1_500, nil, true},
		// Raw when sparse applies to a single waveform only.
		{"single waveform when sparse", baseMs + 500, baseMs + 1_500, []string{"num_bins", "100", "useEventsIfBinCountTooLarge", "true"}, true},
		{"several waveforms stay binned", baseMs, baseMs + 5_000, []string{"num_bins", "100", "useEventsIfBinCountTooLarge", "true"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			a := curveOf(t, e.do(t, http.MethodGet, curvePath(name, "", tt.beginMs, tt.endMs, tt.extra...), ""))
			if len(a.top) == 0 || a.top[0].key != name {
				t.Fatalf("first key of curve %v, want %s (the waveform popup reads Object.keys(curve)[0])", a.topKeys(), name)
			}
			meta, pm := a.meta(t, name)
			if !tt.raw {
				if *meta.Raw || *meta.Waveform {
					t.Errorf("binned waveform meta raw %v waveform %v", *meta.Raw, *meta.Waveform)
				}
				return
			}
			if !*meta.Raw || !*meta.Waveform {
				t.Errorf("meta raw %v waveform %v, want true true", *meta.Raw, *meta.Waveform)
			}
			events := e.sim.Events(ch, tt.beginMs*msNs, tt.endMs*msNs)
			var wantKeys, wantVals, wantTs []string
			for _, ev := range events {
				ts := strconv.FormatInt(ev.Ts, 10)
				wantTs = append(wantTs, ts)
				for i, v := range ev.Value.([]any) {
					s, ok := floatText(v.(float64))
					if !ok {
						continue
					}
					wantKeys = append(wantKeys, ts+"_"+strconv.Itoa(i))
					wantVals = append(wantVals, s)
				}
			}
			if len(wantKeys) != len(events)*int(ch.Shape[0]) {
				t.Fatalf("ground truth: %d elements for %d events", len(wantKeys), len(events))
			}
			values := a.maps[name]
			if !slices.Equal(memberKeys(values), wantKeys) {
				t.Fatalf("keys %v,\nwant %v", memberKeys(values), wantKeys)
			}
			for i, m := range values {
				if string(m.val) != wantVals[i] {
					t.Errorf("%s = %s, want %s", m.key, m.val, wantVals[i])
				}
			}
			if !slices.Equal(memberKeys(pm), wantTs) {
				t.Errorf("pointMeta keys %v, want the event timestamps %v", memberKeys(pm), wantTs)
			}
			for _, p := range pm {
				if got := parsePointMeta(t, p.val); !got.hasPID || got.PulseID != nil {
					t.Errorf("pointMeta[%s] = %s, want {\"pulseId\": null}", p.key, p.val)
				}
			}
		})
	}
}

func TestCompatCurveRawWhenSparse(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	tests := []struct {
		name           string
		beginMs, endMs int64
		numBins        int
		flag           string
		raw            bool
	}{
		{"SIM-SPARSE:TEMP", baseMs, baseMs + 3_600_000, 100, "true", true},
		{"SIM-SPARSE:TEMP", baseMs, baseMs + 3_600_000, 100, "false", false},
		{"SIM-DENSE:100HZ", baseMs, baseMs + 60_000, 100, "true", false},
		// 30 events in 30 bins: not below num_bins, so binned.
		{"SIM-F64:SINE", baseMs, baseMs + 30_000, 30, "true", false},
		{"SIM-F64:SINE", baseMs, baseMs + 30_000, 31, "true", true},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+strconv.Itoa(tt.numBins)+"/"+tt.flag, func(t *testing.T) {
			ch := e.simChannel(t, "sf-databuffer", tt.name)
			e.sim.ResetRequests()
			a := curveOf(t, e.do(t, http.MethodGet, curvePath(tt.name, "", tt.beginMs, tt.endMs, "num_bins", strconv.Itoa(tt.numBins),
				"useEventsIfBinCountTooLarge", tt.flag, "removeEmptyBins", "true"), ""))
			meta, _ := a.meta(t, tt.name)
			if *meta.Raw != tt.raw {
				t.Fatalf("raw %v, want %v", *meta.Raw, tt.raw)
			}
			wantEvents := 0
			if tt.raw {
				wantEvents = 1
				events := e.sim.Events(ch, tt.beginMs*msNs, tt.endMs*msNs)
				var want []string
				for _, ev := range events {
					want = append(want, strconv.FormatInt(ev.Ts, 10))
				}
				if got := memberKeys(a.maps[tt.name]); !slices.Equal(got, want) {
					t.Errorf("keys %v, want the events %v", got, want)
				}
				if _, ok := a.maps[tt.name+"_min"]; ok {
					t.Errorf("raw answer has a _min map")
				}
			} else if _, ok := a.maps[tt.name+"_min"]; !ok {
				t.Errorf("binned answer has no _min map")
			}
			if n := len(upstream(e.sim, "/binned")); n != 1 {
				t.Errorf("%d binned requests, want 1", n)
			}
			if n := len(upstream(e.sim, "/events")); n != wantEvents {
				t.Errorf("%d events requests, want %d", n, wantEvents)
			}
		})
	}
}

func TestCompatCurveNoData(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	before := time.Unix(0, sim.DataStart).Add(-24 * time.Hour).UnixMilli()
	for _, extra := range [][]string{nil, {"num_bins", "100"}, {"num_bins", "100", "useEventsIfBinCountTooLarge", "true"}} {
		t.Run(strings.Join(extra, "="), func(t *testing.T) {
			r := e.do(t, http.MethodGet, curvePath("SIM-F64:SINE", "", before, before+3_600_000, extra...), "")
			wantStatus(t, r, http.StatusOK)
			if string(r.body) != `{"curve":{"SIM-F64:SINE":{}}}` {
				t.Errorf("no data answered %s", r.body)
			}
		})
	}
}

func TestCompatCurveNameIsWhatWasSent(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	ch := e.simChannel(t, "sf-archiver", "SIM-F64:SINE")
	series := strconv.FormatUint(ch.SeriesID, 10)
	tests := []struct {
		sent, backend string
		extra         []string
		keys          []string
	}{
		{series, "sf-archiver", []string{"num_bins", "5"}, []string{series, series + "_min", series + "_max", series + "_meta"}},
		{series, "sf-archiver", nil, []string{series, series + "_meta"}},
		{"SIM-F64:SINE", "sf-archiver", nil, []string{"SIM-F64:SINE", "SIM-F64:SINE_meta"}},
	}
	for _, tt := range tests {
		t.Run(tt.sent+strings.Join(tt.extra, "="), func(t *testing.T) {
			a := curveOf(t, e.do(t, http.MethodGet, curvePath(tt.sent, tt.backend, baseMs, baseMs+10_000, tt.extra...), ""))
			if !slices.Equal(a.topKeys(), tt.keys) {
				t.Errorf("curve keys %v, want %v", a.topKeys(), tt.keys)
			}
			if len(a.maps[tt.sent]) == 0 {
				t.Errorf("no data under %s", tt.sent)
			}
		})
	}
	// The seriesId of a channel that exists nowhere: data-api's 404 is the contract's.
	wantDetail(t, e.do(t, http.MethodGet, curvePath("1152921504606846977", "sf-databuffer", baseMs, baseMs+10_000), ""),
		http.StatusNotFound, "Channel not found in backend")
}

func TestCompatCurveUpstreamFailures(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	// Windows long enough that framed answers have several frames.
	const dense, sparse = "SIM-DENSE:100HZ", "SIM-SPARSE:TEMP"
	tests := []struct {
		name    string
		fault   sim.Fault
		channel string
		extra   []string
	}{
		{"binned 500", sim.Fault{PathPrefix: "/api/4/binned", Status: http.StatusInternalServerError}, dense, []string{"num_bins", "10"}},
		{"events 500", sim.Fault{PathPrefix: "/api/4/events", Status: http.StatusInternalServerError}, dense, nil},
		{"events 500 after sparse bins", sim.Fault{PathPrefix: "/api/4/events", Status: http.StatusInternalServerError}, sparse,
			[]string{"num_bins", "1000", "useEventsIfBinCountTooLarge", "true"}},
		{"binned cut connection", sim.Fault{PathPrefix: "/api/4/binned", CutConnection: true}, dense, []string{"num_bins", "10"}},
		{"events cut connection", sim.Fault{PathPrefix: "/api/4/events", CutConnection: true}, dense, nil},
		{"events error mid-stream", sim.Fault{PathPrefix: "/api/4/events", MidStreamError: true}, dense, nil},
		{"binned error mid-stream", sim.Fault{PathPrefix: "/api/4/binned", MidStreamError: true}, dense, []string{"num_bins", "3000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sim.SetFault(tt.fault)
			defer e.sim.ClearFault()
			r := e.do(t, http.MethodGet, curvePath(tt.channel, "", baseMs, baseMs+600_000, tt.extra...), "")
			wantDetail(t, r, http.StatusInternalServerError, "Error fetching data from backend")
		})
	}
	// The server keeps working once data-api recovers.
	curveOf(t, e.do(t, http.MethodGet, curvePath("SIM-F64:SINE", "", baseMs, baseMs+10_000), ""))
}

func TestCompatCurveDeadline(t *testing.T) {
	const deadline = 300 * time.Millisecond
	e := newTestEnv(t, withoutStore(), withServer(func(c *Config) { c.Deadlines.Curve, c.Deadlines.Search = deadline, deadline }))

	// A live search past the deadline: 504, unless the list has matches to answer with.
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/search", Latency: 5 * time.Second})
	start := time.Now()
	wantDetail(t, e.do(t, http.MethodGet, "/channels/search?search_text=%5ESIM-NOT-LISTED%24", ""), http.StatusGatewayTimeout, "Request timed out")
	if got := channelsOf(t, e.do(t, http.MethodGet, "/channels/search?search_text=%5ESIM-F64:SINE%24", "")); len(got) != len(simBackends) {
		t.Errorf("slow data-api: %d channels from the list, want %d", len(got), len(simBackends))
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("two searches took %v with a %v deadline", took, deadline)
	}
	e.sim.ClearFault()

	tests := []struct {
		name  string
		path  string
		extra []string
	}{
		{"events", "/api/4/events", nil},
		{"binned", "/api/4/binned", []string{"num_bins", "10"}},
		{"name lookup", "/api/4/search", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sim.SetFault(sim.Fault{PathPrefix: tt.path, Latency: 5 * time.Second})
			defer e.sim.ClearFault()
			name := "SIM-F64:SINE"
			if tt.name == "name lookup" {
				name = "SIM-NOT-LISTED:YET"
			}
			start := time.Now()
			r := e.do(t, http.MethodGet, curvePath(name, "", baseMs, baseMs+10_000, tt.extra...), "")
			took := time.Since(start)
			wantDetail(t, r, http.StatusGatewayTimeout, "Request timed out")
			if took < deadline || took > deadline+2*time.Second {
				t.Errorf("answered after %v, want soon after the %v deadline", took, deadline)
			}
		})
	}
}

// An empty window [t, t) has no data; data-api refuses it, so it must not be asked (the waveform
// preview can send begin_time == end_time).
func TestCompatCurveEmptyWindow(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	for _, extra := range [][]string{nil, {"num_bins", "100"}, {"num_bins", "100", "useEventsIfBinCountTooLarge", "true"}} {
		t.Run(strings.Join(extra, "="), func(t *testing.T) {
			e.sim.ResetRequests()
			r := e.do(t, http.MethodGet, curvePath("SIM-F64:SINE", "", baseMs, baseMs, extra...), "")
			wantStatus(t, r, http.StatusOK)
			if string(r.body) != `{"curve":{"SIM-F64:SINE":{}}}` {
				t.Errorf("empty window answered %s", r.body)
			}
			if n := len(e.sim.Requests()); n != 0 {
				t.Errorf("empty window asked data-api %d times", n)
			}
			if got := r.header.Get("X-Cache"); got != "hit" {
				t.Errorf("empty window X-Cache %q, want hit (every curve answer carries it)", got)
			}
		})
	}
}

// accessLines is a slog handler that hands every access-log line ("request") to a channel.
type accessLines chan slog.Record

func (h accessLines) Enabled(context.Context, slog.Level) bool { return true }
func (h accessLines) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "request" || r.Level >= slog.LevelError {
		select {
		case h <- r:
		default:
		}
	}
	return nil
}
func (h accessLines) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h accessLines) WithGroup(string) slog.Handler      { return h }

// A client that goes away cancels the upstream work: the handler ends long before data-api would answer,
// and its access line is 499 at info (as nginx logs it), with no error logged: the client left, the
// server did not fail.
func TestCompatCurveClientGoneCancelsUpstream(t *testing.T) {
	lines := make(accessLines, 16)
	e := newTestEnv(t, withoutStore(), withLogger(slog.New(lines)))
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/events", Latency: 20 * time.Second})
	defer e.sim.ClearFault()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	path := curvePath("SIM-F64:SINE", "", baseMs, baseMs+10_000)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("answered %d before data-api did", res.StatusCode)
	}
	for {
		select {
		case r := <-lines:
			if r.Level >= slog.LevelError {
				t.Errorf("logged %s %q after the client left, want only the access line at info", r.Level, r.Message)
				continue
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("handler ended %v after the request, want soon after the client left", took)
			}
			status := int64(-1)
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "status" {
					status = a.Value.Int64()
				}
				return true
			})
			if r.Level != slog.LevelInfo || status != statusClientClosed {
				t.Errorf("access line %s status %d, want INFO 499", r.Level, status)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatal("the handler was still waiting for data-api 10 s after the client left")
		}
	}
}

// Bins whose average data-api sends as null (a NaN was active in them) are left out of every map: the
// answer stays JSON, and value, min and max keep one key set.
func TestCompatCurveBinnedNulls(t *testing.T) {
	e := newTestEnv(t, withoutStore())
	const name = "SIM-F64:NULLS"
	ch := e.simChannel(t, "sf-databuffer", name)
	beginMs, endMs, numBins := baseMs, baseMs+60_000, 20
	a := curveOf(t, e.do(t, http.MethodGet, curvePath(name, "", beginMs, endMs, "num_bins", strconv.Itoa(numBins)), ""))
	bins, err := e.sim.Bins(ch, beginMs*msNs, endMs*msNs, numBins, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, b := range bins {
		if !math.IsNaN(float64(b.Avg)) && !math.IsNaN(float64(b.Min)) && !math.IsNaN(float64(b.Max)) {
			want = append(want, strconv.FormatInt((b.Ts1+b.Ts2)/2, 10))
		}
	}
	if len(want) == 0 || len(want) == len(bins) {
		t.Fatalf("%d of %d bins have an average: the case tests nothing", len(want), len(bins))
	}
	for _, m := range []string{name, name + "_min", name + "_max"} {
		if got := memberKeys(a.maps[m]); !slices.Equal(got, want) {
			t.Errorf("%s keys %v, want the bins with an average %v", m, got, want)
		}
	}
	if _, pm := a.meta(t, name); !slices.Equal(memberKeys(pm), want) {
		t.Errorf("pointMeta keys %v, want %v", memberKeys(pm), want)
	}
}
