package daqbuf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// truncatingServer serves plain-JSON events ts = base + k s for k in [0, total), at most perAnswer
// per answer, and adds rangeFinal only to the answer that reaches the end. Like the proxy (µs
// begDate), it repeats the event at a begExcl begin, which the client must drop.
func truncatingServer(t *testing.T, cfg Config, base int64, total, perAnswer int, neverFinal bool) (*testServer, *Client) {
	t.Helper()
	return newTestServerCfg(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		beg, err := time.Parse(time.RFC3339Nano, q.Get("begDate"))
		if err != nil {
			t.Errorf("begDate %q: %v", q.Get("begDate"), err)
		}
		var ms, ns, vals []string
		k := 0
		for ; k < total && len(vals) < perAnswer; k++ {
			ts := base + int64(k)*int64(time.Second)
			if ts < beg.UnixNano() {
				continue
			}
			off := ts - base/1e9*1e9 // offsets from the whole-second anchor
			ms = append(ms, fmt.Sprint(off/1e6))
			ns = append(ns, fmt.Sprint(off%1e6))
			vals = append(vals, fmt.Sprintf("%d.5", k))
		}
		final := ""
		if k == total && !neverFinal {
			final = `,"rangeFinal":true`
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"tsAnchor":%d,"tsMs":[%s],"tsNs":[%s],"values":[%s]%s}`, base/1e9,
			strings.Join(ms, ","), strings.Join(ns, ","), strings.Join(vals, ","), final)
	})
}

func readAll(t *testing.T, s *EventStream) ([]int64, []float64, error) {
	t.Helper()
	var ts []int64
	var vals []float64
	for {
		b, err := s.Next()
		if err == io.EOF {
			return ts, vals, nil
		}
		if err != nil {
			return ts, vals, err
		}
		ts = append(ts, b.Ts...)
		vals = append(vals, b.Values.Floats...)
	}
}

func TestContinuationCompletesTruncatedAnswer(t *testing.T) {
	base := utc(2024, 9, 26, 7, 0, 0) + 123_456_789
	r := Range{Beg: base, End: base + int64(time.Minute)}
	ts, cl := truncatingServer(t, Config{}, base, 12, 5, false)
	s, err := cl.Events(context.Background(), EventsQuery{Channel: testChannel, Range: r, Mode: ModeJSON, ValueType: "f64", OneBeforeRange: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gotTs, gotVals, err := readAll(t, s)
	if err != nil {
		t.Fatal(err)
	}
	var wantTs []int64
	var wantVals []float64
	for k := range 12 {
		wantTs = append(wantTs, base+int64(k)*int64(time.Second))
		wantVals = append(wantVals, float64(k)+0.5)
	}
	if !reflect.DeepEqual(gotTs, wantTs) || !reflect.DeepEqual(gotVals, wantVals) {
		t.Errorf("ts %v vals %v\nwant %v %v", gotTs, gotVals, wantTs, wantVals)
	}
	if !s.RangeFinal() || s.Continuations() != 2 {
		t.Errorf("RangeFinal %v after %d continuations; want true after 2", s.RangeFinal(), s.Continuations())
	}
	reqs := ts.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	second := reqs[1].URL.Query()
	if second.Get("begExcl") != "true" || second.Get("oneBeforeRange") != "" ||
		second.Get("begDate") != FormatDate(base+4*int64(time.Second)) || second.Get("endDate") != FormatDate(r.End) {
		t.Errorf("continuation query %v", second)
	}
}

func TestContinuationLimits(t *testing.T) {
	base := utc(2024, 9, 26, 7, 0, 0)
	r := Range{Beg: base, End: base + int64(time.Minute)}
	cases := []struct {
		name       string
		cfg        Config
		total, per int
		neverFinal bool
		requests   int
		events     int
	}{
		{"bounded rounds", Config{MaxContinuations: 3}, 60, 2, false, 4, 5}, // 2, then 1 new per round
		{"disabled", Config{MaxContinuations: -1}, 60, 2, false, 1, 2},
		{"range not over yet", Config{Now: func() time.Time { return time.Unix(0, r.End-1) }}, 60, 2, false, 1, 2},
		{"no progress stops", Config{}, 3, 10, true, 2, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, cl := truncatingServer(t, c.cfg, base, c.total, c.per, c.neverFinal)
			s, err := cl.Events(context.Background(), EventsQuery{Channel: testChannel, Range: r, Mode: ModeJSON})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, _, err := readAll(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.events || len(ts.requests()) != c.requests || s.RangeFinal() {
				t.Errorf("%d events in %d requests, RangeFinal %v; want %d in %d, false",
					len(got), len(ts.requests()), s.RangeFinal(), c.events, c.requests)
			}
		})
	}
}

func TestMidStreamErrorFrame(t *testing.T) {
	_, cl := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/cbor-framed")
		w.Write(binaryFrame(mustCBOR(t, map[string]any{"tss": []int64{1, 2}, "values": []float64{1, 2}, "scalar_type": "f64"})))
		w.Write(binaryFrame(mustCBOR(t, map[string]any{"error": "merger failed"})))
	})
	s, err := cl.Events(context.Background(), EventsQuery{Channel: testChannel, Range: pastRange()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, err := s.Next(); err != nil || b.Len() != 2 {
		t.Fatalf("%v %v", b, err)
	}
	_, err = s.Next()
	var ue *UpstreamError
	if !errors.Is(err, ErrUpstream) || !errors.As(err, &ue) || ue.Message != "merger failed" {
		t.Errorf("err %v", err)
	}
	if _, again := s.Next(); again != err {
		t.Errorf("error not sticky: %v", again)
	}
}

// The response's Content-Type decides the decoder: a server that answers plain JSON to a framed
// request is still read correctly.
func TestDecoderFollowsContentType(t *testing.T) {
	_, cl := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(readSample(t, "events_f64_pulsed_apidoc.json"))
	})
	s, err := cl.Events(context.Background(), EventsQuery{Channel: testChannel, Range: pastRange()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := s.Next()
	if err != nil || b.Ts[0] != 1727336613003080998 || b.Pulses[0] != 22238080998 {
		t.Errorf("%+v %v", b, err)
	}
}
