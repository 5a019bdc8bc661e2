package sim_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf/sim"
)

var allChannels = []string{
	"SIM-F64:SINE", "SIM-F64:RAMP", "SIM-F64:NOISE", "SIM-F64:NULLS", "SIM-F32:SINE", "SIM-I32:COUNTER",
	"SIM-U64:BIG", "SIM-BOOL:TOGGLE", "SIM-STRING:STATE", "SIM-ENUM:MODE", "SIM-WAVE:SPECTRUM",
	"SIM-PULSED:BPM", "SIM-SPARSE:TEMP", "SIM-DENSE:100HZ",
}

// eventsVia fetches events in one response mode and rebuilds them, also reporting rangeFinal.
func eventsVia(t *testing.T, e *env, ch sim.Channel, q url.Values, accept string) ([]sim.Event, bool) {
	t.Helper()
	resp, body := e.get(t, "/api/4/events", q, accept)
	if resp.StatusCode == http.StatusNoContent {
		return nil, false
	}
	wantStatus(t, resp, body, http.StatusOK)
	var events []sim.Event
	final := false
	switch accept {
	case acceptJSON:
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		obj := decodeJSON(t, body)
		return eventsFromJSON(t, ch, obj), obj["rangeFinal"] == true
	case acceptJFramed:
		if ct := resp.Header.Get("Content-Type"); ct != acceptJFramed {
			t.Fatalf("Content-Type %q", ct)
		}
		for _, f := range splitASCIIFrames(t, body) {
			if final {
				t.Fatal("frame after rangeFinal")
			}
			obj := decodeJSON(t, f)
			if obj["rangeFinal"] == true {
				final = true
				continue
			}
			events = append(events, eventsFromJSON(t, ch, obj)...)
		}
	case acceptCFramed:
		if ct := resp.Header.Get("Content-Type"); ct != acceptCFramed {
			t.Fatalf("Content-Type %q", ct)
		}
		for _, f := range splitBinaryFrames(t, body) {
			if final {
				t.Fatal("frame after rangeFinal")
			}
			obj := decodeCBOR(t, f)
			if obj["rangeFinal"] == true {
				final = true
				continue
			}
			events = append(events, eventsFromCBOR(t, ch, obj)...)
		}
	}
	return events, final
}

func TestEventsAllChannelsAllModes(t *testing.T) {
	e := newEnv(t, sim.Config{EventsPerFrame: 7})
	beg, end := t0().Add(-2*time.Minute-123*time.Nanosecond), t0().Add(-time.Minute)
	for _, name := range allChannels {
		ch := mustChannel(t, e.sim, "sf-databuffer", name)
		want := e.sim.Events(ch, beg.UnixNano(), end.UnixNano())
		if name != "SIM-SPARSE:TEMP" && len(want) == 0 {
			t.Fatalf("%s: no ground-truth events", name)
		}
		for _, accept := range []string{acceptJSON, acceptJFramed, acceptCFramed} {
			t.Run(name+"/"+accept, func(t *testing.T) {
				got, final := eventsVia(t, e, ch, rangeQuery("sf-databuffer", name, beg, end), accept)
				sameEvents(t, got, want)
				if len(want) > 0 && !final {
					t.Error("range in the past without rangeFinal")
				}
			})
		}
	}
}

func TestEventsValuesMatchCatalogue(t *testing.T) {
	e := newEnv(t, sim.Config{})
	get := func(name string) []sim.Event {
		ch := mustChannel(t, e.sim, "sf-archiver", name)
		return e.sim.Events(ch, t0().Add(-time.Hour).UnixNano(), t0().UnixNano())
	}
	for i, ev := range get("SIM-U64:BIG") {
		if v := ev.Value.(uint64); v <= 1<<63 {
			t.Fatalf("BIG event %d = %d, want above 2^63", i, v)
		}
	}
	nans := 0
	for _, ev := range get("SIM-F64:NULLS") {
		if math.IsNaN(ev.Value.(float64)) {
			nans++
		}
	}
	if nans < 3600/7-1 || nans > 3600/7+1 {
		t.Errorf("NULLS has %d NaNs in 3600 events, want every 7th", nans)
	}
	for _, ev := range get("SIM-F32:SINE") {
		if f := ev.Value.(float64); float64(float32(f)) != f {
			t.Fatalf("f32 value %v not representable as float32", f)
		}
	}
	for _, ev := range get("SIM-PULSED:BPM")[:100] {
		if ev.Pulse < 2e10 || ev.Ts%1000 != int64(ev.Pulse%1000) {
			t.Fatalf("pulse %d at ts %d", ev.Pulse, ev.Ts)
		}
	}
	prev := int64(0)
	jitter := false
	for _, ev := range get("SIM-F64:SINE") {
		if ev.Ts <= prev {
			t.Fatal("timestamps not strictly increasing")
		}
		jitter = jitter || ev.Ts%int64(time.Second) != 0
		prev = ev.Ts
	}
	if !jitter {
		t.Error("no ns jitter in timestamps")
	}
	for _, ev := range get("SIM-WAVE:SPECTRUM")[:3] {
		if n := len(ev.Value.([]any)); n != 16 {
			t.Fatalf("waveform of %d elements", n)
		}
	}
}

func TestEventsFramesCarryOwnAnchors(t *testing.T) {
	e := newEnv(t, sim.Config{EventsPerFrame: 100})
	q := rangeQuery("sf-databuffer", "SIM-PULSED:BPM", t0().Add(-5*time.Second), t0().Add(-time.Second))
	resp, body := e.get(t, "/api/4/events", q, acceptJFramed)
	wantStatus(t, resp, body, http.StatusOK)
	frames := splitASCIIFrames(t, body)
	if len(frames) != 5 { // 400 events at 100 Hz in frames of 100, and rangeFinal
		t.Fatalf("%d frames, want 5", len(frames))
	}
	var anchors []any
	for _, f := range frames[:4] {
		obj := decodeJSON(t, f)
		if n := len(list(t, obj["values"])); n != 100 {
			t.Fatalf("frame with %d events", n)
		}
		anchors = append(anchors, obj["tsAnchor"])
	}
	if anchors[0] == anchors[len(anchors)-1] {
		t.Error("frames four seconds apart share one tsAnchor")
	}
}

func TestEventsRangeFinalOnlyWhenComplete(t *testing.T) {
	e := newEnv(t, sim.Config{})
	for _, accept := range []string{acceptJSON, acceptJFramed, acceptCFramed} {
		ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-F64:SINE")
		q := rangeQuery("sf-databuffer", ch.Name, t0().Add(-10*time.Second), t0().Add(time.Hour))
		got, final := eventsVia(t, e, ch, q, accept)
		if final {
			t.Errorf("%s: rangeFinal for a range reaching past now", accept)
		}
		if len(got) != 10 {
			t.Errorf("%s: %d events, want the 10 before now", accept, len(got))
		}
	}
}

func TestEventsNoData(t *testing.T) {
	e := newEnv(t, sim.Config{})
	past := rangeQuery("sf-databuffer", "SIM-F64:SINE", time.Unix(0, sim.DataStart).Add(-time.Hour), time.Unix(0, sim.DataStart))
	future := rangeQuery("sf-databuffer", "SIM-F64:SINE", t0().Add(time.Hour), t0().Add(2*time.Hour))
	for name, q := range map[string]url.Values{"before DataStart": past, "future": future} {
		resp, body := e.get(t, "/api/4/events", q, "")
		wantStatus(t, resp, body, http.StatusNoContent)
		if len(body) != 0 {
			t.Errorf("%s: 204 with body %q", name, body)
		}
	}
	// Framed: a stream with no data frames; rangeFinal only for the past range.
	resp, body := e.get(t, "/api/4/events", past, acceptCFramed)
	wantStatus(t, resp, body, http.StatusOK)
	frames := splitBinaryFrames(t, body)
	if len(frames) != 1 || decodeCBOR(t, frames[0])["rangeFinal"] != true {
		t.Fatalf("past empty range: frames %q", frames)
	}
	resp, body = e.get(t, "/api/4/events", future, acceptCFramed)
	wantStatus(t, resp, body, http.StatusOK)
	if len(body) != 0 {
		t.Fatalf("future empty range: body %q", body)
	}
}

func TestControlFrameBytes(t *testing.T) {
	tests := []struct {
		name      string
		keepalive bool
		accept    string
		want      string // hex of the whole body
	}{
		{"cbor rangeFinal", false, acceptCFramed,
			"0d000000000000000000000000000000a16a72616e676546696e616cf5000000"},
		{"cbor keepalive then rangeFinal", true, acceptCFramed,
			"10000000000000000000000000000000a16474797065696b656570616c697665" +
				"0d000000000000000000000000000000a16a72616e676546696e616cf5000000"},
		{"json rangeFinal", false, acceptJFramed,
			hex.EncodeToString([]byte("             19\n{\"rangeFinal\":true}\n"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sim.Config{Keepalive: tt.keepalive})
			// A past range without events: the stream holds only the control frames.
			q := rangeQuery("sf-databuffer", "SIM-SPARSE:TEMP", t0().Add(-time.Hour+time.Second), t0().Add(-time.Hour+2*time.Second))
			resp, body := e.get(t, "/api/4/events", q, tt.accept)
			wantStatus(t, resp, body, http.StatusOK)
			if got := hex.EncodeToString(body); got != tt.want {
				t.Fatalf("body\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestLegacyJSONFrameHeader(t *testing.T) {
	e := newEnv(t, sim.Config{LegacyJSONFrameHeader: true, Keepalive: true})
	ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-ENUM:MODE")
	beg, end := t0().Add(-time.Minute), t0().Add(-time.Second)
	resp, body := e.get(t, "/api/4/events", rangeQuery(ch.Backend, ch.Name, beg, end), acceptJFramed)
	wantStatus(t, resp, body, http.StatusOK)
	if len(body)%8 != 0 {
		t.Fatalf("body of %d bytes is not a multiple of 8", len(body))
	}
	frames := splitBinaryFrames(t, body)
	if len(frames) != 3 {
		t.Fatalf("%d frames, want keepalive, data, rangeFinal", len(frames))
	}
	if string(frames[0]) != `{"type":"keepalive"}` || string(frames[2]) != `{"rangeFinal":true}` {
		t.Fatalf("control frames %q %q", frames[0], frames[2])
	}
	sameEvents(t, eventsFromJSON(t, ch, decodeJSON(t, frames[1])), e.sim.Events(ch, beg.UnixNano(), end.UnixNano()))
}

func TestEventsPlainJSONLimit(t *testing.T) {
	e := newEnv(t, sim.Config{})
	ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-DENSE:100HZ")
	beg, end := t0().Add(-20*time.Minute), t0().Add(-time.Minute) // 114 000 events
	want := e.sim.Events(ch, beg.UnixNano(), end.UnixNano())

	got, final := eventsVia(t, e, ch, rangeQuery(ch.Backend, ch.Name, beg, end), acceptJSON)
	if final || len(got) != 80_000 {
		t.Fatalf("default limit: %d events, rangeFinal %v; want 80000 without rangeFinal", len(got), final)
	}
	sameEvents(t, got, want[:80_000])

	q := rangeQuery(ch.Backend, ch.Name, beg, end)
	q.Set("eventsMax", "10")
	got, final = eventsVia(t, e, ch, q, acceptJSON)
	if final || len(got) != 10 {
		t.Fatalf("eventsMax=10: %d events, rangeFinal %v", len(got), final)
	}
	// The framed modes have no limit.
	got, final = eventsVia(t, e, ch, q, acceptCFramed)
	if !final || len(got) != len(want) {
		t.Fatalf("cbor-framed: %d events, rangeFinal %v; want %d", len(got), final, len(want))
	}
}

func TestOneBeforeRangeAndBegExcl(t *testing.T) {
	e := newEnv(t, sim.Config{})
	ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-SPARSE:TEMP")
	all := e.sim.Events(ch, t0().Add(-time.Hour).UnixNano(), t0().UnixNano())
	if len(all) != 12 {
		t.Fatalf("%d sparse events in an hour, want 12", len(all))
	}
	at := func(ev sim.Event) time.Time { return time.Unix(0, ev.Ts) }
	tests := []struct {
		name     string
		beg, end time.Time
		params   map[string]string
		want     []sim.Event
	}{
		{"plain", at(all[3]), at(all[6]), nil, all[3:6]},
		{"oneBefore", at(all[3]), at(all[6]), map[string]string{"oneBeforeRange": "true"}, all[2:6]},
		{"oneBefore empty range", at(all[3]).Add(time.Nanosecond), at(all[4]), map[string]string{"oneBeforeRange": "true"}, all[3:4]},
		{"begExcl", at(all[3]), at(all[6]), map[string]string{"begExcl": "true"}, all[4:6]},
		{"begExcl oneBefore", at(all[3]), at(all[6]), map[string]string{"begExcl": "true", "oneBeforeRange": "true"}, all[3:6]},
		{"oneBefore future", t0().Add(time.Hour), t0().Add(2 * time.Hour), map[string]string{"oneBeforeRange": "true"}, all[11:]},
	}
	for _, tt := range tests {
		for _, accept := range []string{acceptJSON, acceptJFramed, acceptCFramed} {
			t.Run(tt.name+"/"+accept, func(t *testing.T) {
				q := rangeQuery(ch.Backend, ch.Name, tt.beg, tt.end)
				for k, v := range tt.params {
					q.Set(k, v)
				}
				got, _ := eventsVia(t, e, ch, q, accept)
				sameEvents(t, got, tt.want)
			})
		}
	}
}

func TestEventsDeterministicAndLive(t *testing.T) {
	e := newEnv(t, sim.Config{})
	other := newEnv(t, sim.Config{})
	q := rangeQuery("sls-archiver", "SIM-F64:NOISE", t0().Add(-time.Minute), t0().Add(time.Minute))
	_, first := e.get(t, "/api/4/events", q, acceptCFramed)
	_, again := e.get(t, "/api/4/events", q, acceptCFramed)
	_, elsewhere := other.get(t, "/api/4/events", q, acceptCFramed)
	if !bytes.Equal(first, again) || !bytes.Equal(first, elsewhere) {
		t.Fatal("same request, different bytes")
	}

	ch := mustChannel(t, e.sim, "sls-archiver", "SIM-F64:NOISE")
	before, final := eventsVia(t, e, ch, q, acceptCFramed)
	if final || len(before) != 60 {
		t.Fatalf("%d events before now, final %v", len(before), final)
	}
	e.clock.Set(t0().Add(30 * time.Second))
	during, final := eventsVia(t, e, ch, q, acceptCFramed)
	if final || len(during) != 90 {
		t.Fatalf("after 30 s: %d events, final %v; want 90", len(during), final)
	}
	sameEvents(t, during[:60], before)
	e.clock.Set(t0().Add(2 * time.Minute))
	after, final := eventsVia(t, e, ch, q, acceptCFramed)
	if !final || len(after) != 120 {
		t.Fatalf("range complete: %d events, final %v", len(after), final)
	}
	sameEvents(t, after[:90], during)
}

func TestEventsErrors(t *testing.T) {
	e := newEnv(t, sim.Config{})
	good := rangeQuery("sf-databuffer", "SIM-F64:SINE", t0().Add(-time.Minute), t0())
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range good {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	malformed := map[string]url.Values{
		"no backend":      with("backend", ""),
		"no channel":      with("channelName", ""),
		"no range":        with("begDate", ""),
		"date no zone":    with("begDate", "2024-09-15T11:00:00"),
		"bad seriesId":    with("seriesId", "abc"),
		"unknown backend": with("backend", "nope"),
	}
	for name, q := range malformed {
		t.Run(name, func(t *testing.T) {
			resp, body := e.get(t, "/api/4/events", q, "")
			wantStatus(t, resp, body, http.StatusInternalServerError)
			obj := decodeJSON(t, body)
			msg, _ := obj["message"].(string)
			if !strings.HasPrefix(msg, "malformed request or missing parameters") || !strings.Contains(msg, "/api/4/events?") {
				t.Errorf("message %q", msg)
			}
			if obj["requestid"] != resp.Header.Get("requestid") || obj["requestid"] == "" {
				t.Errorf("requestid %v vs header %q", obj["requestid"], resp.Header.Get("requestid"))
			}
			for _, accept := range []string{acceptJFramed, acceptCFramed} {
				resp, _, err := e.do(t, "/api/4/events", q, accept)
				if !isConnectionClosed(err) {
					t.Errorf("%s: want connection closed without response, got %v %v", accept, resp, err)
				}
			}
		})
	}
	for _, accept := range []string{"", acceptCFramed} {
		resp, body := e.get(t, "/api/4/events", with("channelName", "SIM-NOPE"), accept)
		wantStatus(t, resp, body, http.StatusNotFound)
		if obj := decodeJSON(t, body); obj["message"] != "channel not found" || obj["requestid"] != resp.Header.Get("requestid") {
			t.Errorf("404 body %s", body)
		}
	}
	resp, body := e.get(t, "/api/4/events", good, "text/csv")
	wantStatus(t, resp, body, http.StatusInternalServerError)
	if decodeJSON(t, body)["message"] == nil {
		t.Errorf("unsupported accept body %s", body)
	}
}

func TestEventsBySeriesID(t *testing.T) {
	e := newEnv(t, sim.Config{})
	ch := mustChannel(t, e.sim, "sf-archiver", "SIM-I32:COUNTER")
	if ch.SeriesID < 1<<60 || ch.SeriesID >= 1<<63 {
		t.Fatalf("series id %d outside [2^60, 2^63)", ch.SeriesID)
	}
	q := rangeQuery("sf-archiver", "", t0().Add(-time.Minute), t0())
	q.Del("channelName")
	q.Set("seriesId", fmtNs(int64(ch.SeriesID)))
	got, _ := eventsVia(t, e, ch, q, acceptCFramed)
	sameEvents(t, got, e.sim.Events(ch, t0().Add(-time.Minute).UnixNano(), t0().UnixNano()))
	other := mustChannel(t, e.sim, "sf-databuffer", "SIM-I32:COUNTER")
	if other.SeriesID == ch.SeriesID {
		t.Error("same series id on two backends")
	}
}

func TestTimeParameterFormats(t *testing.T) {
	e := newEnv(t, sim.Config{})
	base := t0().Add(-time.Hour)
	tests := []struct {
		name   string
		params url.Values
		beg    int64 // 0: expect 500
	}{
		{"rfc3339 Z", url.Values{"begDate": {"2024-09-15T11:00:00Z"}}, base.UnixNano()},
		{"space and 9 digits", url.Values{"begDate": {"2024-09-15 11:00:00.123456789Z"}}, base.UnixNano() + 123456789},
		{"offset", url.Values{"begDate": {"2024-09-15T13:00:00+02:00"}}, base.UnixNano()},
		{"offset no colon", url.Values{"begDate": {"2024-09-15T13:00:00.5+0200"}}, base.UnixNano() + 5e8},
		{"UTC", url.Values{"begDate": {"2024-09-15T11:00:00 UTC"}}, base.UnixNano()},
		{"relative", url.Values{"begDate": {"1h ago"}}, base.UnixNano()},
		{"ns", url.Values{"begNs": {fmtNs(base.UnixNano() + 7)}, "endNs": {fmtNs(t0().UnixNano())}}, base.UnixNano() + 7},
		{"no zone", url.Values{"begDate": {"2024-09-15T11:00:00"}}, 0},
		{"garbage", url.Values{"begDate": {"yesterday"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"backend": {"sf-databuffer"}, "channelName": {"SIM-F64:SINE"}}
			for k, v := range tt.params {
				q[k] = v
			}
			if q.Has("begDate") {
				q.Set("endDate", "2024-09-15T12:00:00Z")
			}
			e.sim.ResetRequests()
			resp, body := e.get(t, "/api/4/events", q, "")
			if tt.beg == 0 {
				wantStatus(t, resp, body, http.StatusInternalServerError)
				return
			}
			wantStatus(t, resp, body, http.StatusOK)
			reqs := e.sim.Requests()
			if len(reqs) != 1 || reqs[0].Beg != tt.beg || reqs[0].End != t0().UnixNano() {
				t.Fatalf("logged %+v, want beg %d", reqs, tt.beg)
			}
			ch := mustChannel(t, e.sim, "sf-databuffer", "SIM-F64:SINE")
			sameEvents(t, eventsFromJSON(t, ch, decodeJSON(t, body)), e.sim.Events(ch, tt.beg, t0().UnixNano()))
		})
	}
}
