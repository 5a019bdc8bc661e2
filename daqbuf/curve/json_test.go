package curve

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/databoard/databoard/daqbuf"
)

// orderedKeys returns the keys of the JSON object at path (a list of keys from the top), in the order
// they appear in the document; the contract makes order significant for the frontend.
func orderedKeys(t *testing.T, doc []byte, path ...string) []string {
	t.Helper()
	var raw json.RawMessage = doc
	for _, p := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("decode %v: %v in %s", path, err, doc)
		}
		var ok bool
		if raw, ok = m[p]; !ok {
			t.Fatalf("no key %q on path %v in %s", p, path, doc)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("path %v is not an object: %s", path, raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func binsAround(mids []int64, half int64, avgs, mins, maxs []float64, counts []uint64) *daqbuf.BinBatch {
	b := &daqbuf.BinBatch{Avgs: avgs, Mins: mins, Maxs: maxs, Counts: counts}
	for _, m := range mids {
		b.Ts1 = append(b.Ts1, m-half)
		b.Ts2 = append(b.Ts2, m+half)
	}
	return b
}

// The old backend's own binned test (docs/api.md, "Worked example"), with exact integer midpoints.
func TestCurveJSONBinnedWorkedExample(t *testing.T) {
	mids := []int64{1747406011275000064, 1747406011324999936, 1747406011375000064}
	b := binsAround(mids, 25_000_000,
		[]float64{200.44788, 200.65315, 200.6333},
		[]float64{200.06227, 200.27147, 200.43915},
		[]float64{200.69548, 201.03015, 200.7426},
		[]uint64{5, 5, 5})
	out := (&Curve{name: "test-channel-1", bins: []*daqbuf.BinBatch{b}}).AppendJSON(nil)

	var got map[string]map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out)
	}
	keys := []string{"1747406011275000064", "1747406011324999936", "1747406011375000064"}
	want := map[string]any{
		"test-channel-1":     map[string]any{keys[0]: 200.44788, keys[1]: 200.65315, keys[2]: 200.6333},
		"test-channel-1_min": map[string]any{keys[0]: 200.06227, keys[1]: 200.27147, keys[2]: 200.43915},
		"test-channel-1_max": map[string]any{keys[0]: 200.69548, keys[1]: 201.03015, keys[2]: 200.7426},
		"test-channel-1_meta": map[string]any{
			"raw": false, "waveform": false, "interval_avg": 50000000.0, "interval_stddev": 128.0,
			"pointMeta": map[string]any{
				keys[0]: map[string]any{"count": 5.0},
				keys[1]: map[string]any{"count": 5.0},
				keys[2]: map[string]any{"count": 5.0},
			},
		},
	}
	if !reflect.DeepEqual(got["curve"], want) {
		t.Errorf("curve:\n got %v\nwant %v", got["curve"], want)
	}
	if k := orderedKeys(t, out, "curve"); !reflect.DeepEqual(k, []string{"test-channel-1", "test-channel-1_min", "test-channel-1_max", "test-channel-1_meta"}) {
		t.Errorf("curve key order %v", k)
	}
	for _, m := range []string{"test-channel-1", "test-channel-1_min", "test-channel-1_max"} {
		if k := orderedKeys(t, out, "curve", m); !reflect.DeepEqual(k, keys) {
			t.Errorf("%s key order %v, want %v", m, k, keys)
		}
	}
}

// The old backend's raw test: values with pulse ids, raw true, intervals 0.
func TestCurveJSONRawWorkedExample(t *testing.T) {
	ts := []int64{1747406011306952345, 1747406011316952346, 1747406011326952347}
	b := &daqbuf.EventBatch{Ts: ts, Pulses: []uint64{24244952345, 24244952346, 24244952347},
		Values: daqbuf.Values{Kind: daqbuf.KindFloat, Floats: []float64{200.88821411132812, 200.27146911621094, 201.0301513671875}}}
	out := (&Curve{name: "test-channel-1", raw: true, events: []*daqbuf.EventBatch{b}}).AppendJSON(nil)
	want := `{"curve":{"test-channel-1":{"1747406011306952345":200.88821411132812,"1747406011316952346":200.27146911621094,"1747406011326952347":201.0301513671875},` +
		`"test-channel-1_meta":{"raw":true,"waveform":false,"interval_avg":0,"interval_stddev":0,"pointMeta":{` +
		`"1747406011306952345":{"pulseId":24244952345},"1747406011316952346":{"pulseId":24244952346},"1747406011326952347":{"pulseId":24244952347}}}}}`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// curveJSONCase is one encoder case: a curve and its exact answer.
type curveJSONCase struct {
	name string
	c    Curve
	want string
}

func curveJSONCases() []curveJSONCase {
	nan := math.NaN()
	return []curveJSONCase{
		{
			name: "no data",
			c:    Curve{name: "X"},
			want: `{"curve":{"X":{}}}`,
		},
		{
			name: "remove empty bins drops them from every map",
			c: Curve{name: "X", removeEmpty: true, bins: []*daqbuf.BinBatch{binsAround([]int64{100, 200, 300}, 50,
				[]float64{1, 2, 3}, []float64{0, 2, 3}, []float64{1, 2, 4}, []uint64{1, 0, 2})}},
			want: `{"curve":{"X":{"100":1,"300":3},"X_min":{"100":0,"300":3},"X_max":{"100":1,"300":4},` +
				`"X_meta":{"raw":false,"waveform":false,"interval_avg":100,"interval_stddev":0,"pointMeta":{"100":{"count":1},"300":{"count":2}}}}}`,
		},
		{
			name: "NaN average is left out everywhere",
			c: Curve{name: "X", bins: []*daqbuf.BinBatch{binsAround([]int64{100, 200}, 50,
				[]float64{nan, 2}, []float64{nan, 2}, []float64{nan, 2}, []uint64{0, 3})}},
			want: `{"curve":{"X":{"200":2},"X_min":{"200":2},"X_max":{"200":2},` +
				`"X_meta":{"raw":false,"waveform":false,"interval_avg":100,"interval_stddev":0,"pointMeta":{"200":{"count":3}}}}}`,
		},
		{
			name: "enum index and label",
			c: Curve{name: "E", raw: true, events: []*daqbuf.EventBatch{{Ts: []int64{5, 6},
				Values: daqbuf.Values{Kind: daqbuf.KindEnum, Ints: []int64{1, 0}, Labels: []string{"ON", "OFF"}}}}},
			want: `{"curve":{"E":{"5":1,"6":0},"E_meta":{"raw":true,"waveform":false,"interval_avg":0,"interval_stddev":0,` +
				`"pointMeta":{"5":{"pulseId":null,"desc":"ON"},"6":{"pulseId":null,"desc":"OFF"}}}}}`,
		},
		{
			name: "strings: 1 when non-empty, desc escaped",
			c: Curve{name: "S", raw: true, events: []*daqbuf.EventBatch{{Ts: []int64{5, 6},
				Values: daqbuf.Values{Kind: daqbuf.KindString, Strings: []string{`a"<b>`, ""}}}}},
			want: `{"curve":{"S":{"5":1,"6":0},"S_meta":{"raw":true,"waveform":false,"interval_avg":0,"interval_stddev":0,` +
				`"pointMeta":{"5":{"pulseId":null,"desc":"a\"\u003cb\u003e"},"6":{"pulseId":null,"desc":""}}}}}`,
		},
		{
			name: "isString on a numeric channel",
			c: Curve{name: "N", raw: true, isString: true, events: []*daqbuf.EventBatch{{Ts: []int64{5},
				Values: daqbuf.Values{Kind: daqbuf.KindFloat, Floats: []float64{2.5}}}}},
			want: `{"curve":{"N":{"5":1},"N_meta":{"raw":true,"waveform":false,"interval_avg":0,"interval_stddev":0,` +
				`"pointMeta":{"5":{"pulseId":null,"desc":"2.5"}}}}}`,
		},
		{
			name: "waveform keys ts_index, value map first, NaN element left out",
			c: Curve{name: "W", raw: true, events: []*daqbuf.EventBatch{{Ts: []int64{7, 9}, Pulses: []uint64{70, 90},
				Values: daqbuf.Values{Kind: daqbuf.KindFloat, Width: 2, Floats: []float64{1, nan, 3, 4}}}}},
			want: `{"curve":{"W":{"7_0":1,"9_0":3,"9_1":4},"W_meta":{"raw":true,"waveform":true,"interval_avg":0,"interval_stddev":0,` +
				`"pointMeta":{"7":{"pulseId":70},"9":{"pulseId":90}}}}}`,
		},
		{
			name: "integers keep all their digits",
			c: Curve{name: "I", raw: true, events: []*daqbuf.EventBatch{
				{Ts: []int64{1}, Values: daqbuf.Values{Kind: daqbuf.KindUint, Uints: []uint64{1<<63 + 1}}},
				{Ts: []int64{2}, Values: daqbuf.Values{Kind: daqbuf.KindInt, Ints: []int64{-(1<<53 + 1)}}},
			}},
			want: `{"curve":{"I":{"1":9223372036854775809,"2":-9007199254740993},` +
				`"I_meta":{"raw":true,"waveform":false,"interval_avg":0,"interval_stddev":0,` +
				`"pointMeta":{"1":{"pulseId":null},"2":{"pulseId":null}}}}}`,
		},
		{
			name: "integer waveform elements keep all their digits",
			c: Curve{name: "W", raw: true, events: []*daqbuf.EventBatch{
				{Ts: []int64{3}, Values: daqbuf.Values{Kind: daqbuf.KindUint, Width: 2, Uints: []uint64{1<<64 - 1, 0}}},
			}},
			want: `{"curve":{"W":{"3_0":18446744073709551615,"3_1":0},` +
				`"W_meta":{"raw":true,"waveform":true,"interval_avg":0,"interval_stddev":0,"pointMeta":{"3":{"pulseId":null}}}}}`,
		},
		{
			name: "raw NaN and Inf events left out; bools as 1/0",
			c: Curve{name: "R", raw: true, events: []*daqbuf.EventBatch{
				{Ts: []int64{1, 2, 3}, Values: daqbuf.Values{Kind: daqbuf.KindFloat, Floats: []float64{nan, math.Inf(1), 1e-7}}},
				{Ts: []int64{4}, Values: daqbuf.Values{Kind: daqbuf.KindBool, Bools: []bool{true}}},
			}},
			want: `{"curve":{"R":{"3":1e-7,"4":1},"R_meta":{"raw":true,"waveform":false,"interval_avg":0,"interval_stddev":0,` +
				`"pointMeta":{"3":{"pulseId":null},"4":{"pulseId":null}}}}}`,
		},
	}
}

func TestCurveJSONCases(t *testing.T) {
	for _, tt := range curveJSONCases() {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.c.AppendJSON(nil)
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 200.44788, 1e-7, 1.5e-6, 1e20, 1e21, 123456789.125, -3.4028234663852886e38, 5e-324} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "ctl\x01\n\t", "<tag>&", "ü€", "bad\xffutf8", "line\u2028sep"} {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestIntervalStatsExact(t *testing.T) {
	// Day-long bins: means near 1e11 ns, where E[d²]−E[d]² would lose thousands of ns.
	const w = int64(86_400_000_000_000)
	tests := []struct {
		name         string
		mids         []int64
		mean, stddev float64
	}{
		{"none", nil, 0, 0},
		{"one", []int64{5}, 0, 0},
		{"equal steps", []int64{1.7e18, 1.7e18 + w, 1.7e18 + 2*w, 1.7e18 + 3*w}, float64(w), 0},
		{"worked example", []int64{1747406011275000064, 1747406011324999936, 1747406011375000064}, 50_000_000, 128},
		{"uneven", []int64{0, 2, 6}, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := binsAround(tt.mids, 1, make([]float64, len(tt.mids)), make([]float64, len(tt.mids)),
				make([]float64, len(tt.mids)), make([]uint64, len(tt.mids)))
			// Split over two batches, as data-api frames arrive.
			h := len(tt.mids) / 2
			b1 := &daqbuf.BinBatch{Ts1: b.Ts1[:h], Ts2: b.Ts2[:h]}
			b2 := &daqbuf.BinBatch{Ts1: b.Ts1[h:], Ts2: b.Ts2[h:]}
			mean, sd := intervalStats([]*daqbuf.BinBatch{b1, b2})
			if mean != tt.mean || sd != tt.stddev {
				t.Errorf("intervalStats = %v, %v; want %v, %v", mean, sd, tt.mean, tt.stddev)
			}
		})
	}
}

// Doc writes exactly what AppendJSON writes, for every case of the encoder's table.
func TestDocMatchesAnswer(t *testing.T) {
	for _, tt := range curveJSONCases() {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.c.AppendJSON(nil)
			got := append(append([]byte(`{"curve":`), tt.c.Doc().AppendJSON(nil)...), '}')
			if !bytes.Equal(got, want) {
				t.Errorf("Doc:\n got %s\nwant %s", got, want)
			}
		})
	}
}
