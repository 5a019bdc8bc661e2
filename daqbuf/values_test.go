package daqbuf

import (
	"math"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

var nan = math.NaN()

// jsonEventsBody is one plain-JSON events object with n events at 1 s spacing and the given values.
func jsonEventsBody(values string, n int, extra string) []byte {
	ms, ns := "[", "["
	for i := range n {
		if i > 0 {
			ms, ns = ms+",", ns+","
		}
		ms += string(rune('0' + i))
		ns += "0"
	}
	return []byte(`{"tsAnchor":1700000000,"tsMs":` + ms + `],"tsNs":` + ns + `],"values":` + values + extra + `}`)
}

func sameValues(a, b Values) bool {
	fa, fb := a.Floats, b.Floats
	a.Floats, b.Floats = nil, nil
	return reflect.DeepEqual(a, b) && sameFloats(fa, fb)
}

func TestJSONValuesAllTypes(t *testing.T) {
	cases := []struct {
		name   string
		values string
		n      int
		hint   string
		extra  string
		want   Values
		stype  string
	}{
		{"f64", `[1.5,-2.25,1e300]`, 3, "", "", Values{Kind: KindFloat, Floats: []float64{1.5, -2.25, 1e300}}, "f64"},
		{"f64 nulls are NaN", `[1.5,null,3]`, 3, "", "", Values{Kind: KindFloat, Floats: []float64{1.5, nan, 3}}, "f64"},
		{"integral floats stay floats with a hint", `[1,2,3]`, 3, "f64", "", Values{Kind: KindFloat, Floats: []float64{1, 2, 3}}, "f64"},
		{"integers without hint", `[17,-3,42]`, 3, "", "", Values{Kind: KindInt, Ints: []int64{17, -3, 42}}, "i64"},
		{"i64 extremes", `[-9223372036854775808,9223372036854775807]`, 2, "i64", "",
			Values{Kind: KindInt, Ints: []int64{math.MinInt64, math.MaxInt64}}, "i64"},
		{"u64 above 2^63 stays uint", `[9223372036854775808,18446744073709551615]`, 2, "", "",
			Values{Kind: KindUint, Uints: []uint64{1 << 63, math.MaxUint64}}, "u64"},
		{"u64 hint keeps small values uint", `[0,1]`, 2, "u64", "", Values{Kind: KindUint, Uints: []uint64{0, 1}}, "u64"},
		{"u64 precision above 2^53", `[9007199254740993]`, 1, "u64", "", Values{Kind: KindUint, Uints: []uint64{9007199254740993}}, "u64"},
		{"f32 hint rounds to float32", `[0.1,3.4028235e38]`, 2, "f32", "",
			Values{Kind: KindFloat, Floats: []float64{float64(float32(0.1)), float64(float32(math.MaxFloat32))}}, "f32"},
		{"legacy Float32 hint", `[0.1]`, 1, "Float32", "", Values{Kind: KindFloat, Floats: []float64{float64(float32(0.1))}}, "f32"},
		{"bool", `[true,false]`, 2, "", "", Values{Kind: KindBool, Bools: []bool{true, false}}, "bool"},
		{"string with escapes and unicode", `["IDLE","","FAULT: \u00fc \"q\"","ü"]`, 4, "", "",
			Values{Kind: KindString, Strings: []string{"IDLE", "", `FAULT: ü "q"`, "ü"}}, "string"},
		{"enum with labels", `[1,0]`, 2, "", `,"valuestrings":["OK","NOT OK"]`,
			Values{Kind: KindEnum, Ints: []int64{1, 0}, Labels: []string{"OK", "NOT OK"}}, "enum"},
		{"enum hint without labels", `[2]`, 1, "enum", "", Values{Kind: KindEnum, Ints: []int64{2}}, "enum"},
		{"waveform", `[[0.5,0.25,0.0,1.5],[0.75,0.5,0.125,null]]`, 2, "", "",
			Values{Kind: KindFloat, Width: 4, Floats: []float64{0.5, 0.25, 0, 1.5, 0.75, 0.5, 0.125, nan}}, "f64"},
		{"2-D waveform flattened", `[[[1,2],[3,4]],[[5,6],[7,8]]]`, 2, "u8", "",
			Values{Kind: KindUint, Width: 4, Uints: []uint64{1, 2, 3, 4, 5, 6, 7, 8}}, "u8"},
		{"wrong hint falls back to the data", `[1.5]`, 1, "i32", "", Values{Kind: KindFloat, Floats: []float64{1.5}}, "f64"},
		{"integer beyond 64 bits becomes float", `[123456789012345678901234]`, 1, "", "",
			Values{Kind: KindFloat, Floats: []float64{1.2345678901234568e23}}, "f64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeEvents(jsonEventsBody(c.values, c.n, c.extra), ModeJSON, c.hint)
			if got.err != nil {
				t.Fatal(got.err)
			}
			if !sameValues(got.events.Values, c.want) || got.events.ScalarType != c.stype {
				t.Errorf("got %+v (%s), want %+v (%s)", got.events.Values, got.events.ScalarType, c.want, c.stype)
			}
		})
	}
}

func TestJSONValuesErrors(t *testing.T) {
	for _, c := range []struct{ name, body string }{
		{"ragged waveform", string(jsonEventsBody(`[[1,2],[3]]`, 2, ""))},
		{"scalar and waveform mixed", string(jsonEventsBody(`[1,[2]]`, 2, ""))},
		{"strings mixed with numbers", string(jsonEventsBody(`["a",1]`, 2, ""))},
		{"more values than timestamps", string(jsonEventsBody(`[1,2,3]`, 2, ""))},
		{"objects as values", string(jsonEventsBody(`[{"ixs":1}]`, 1, ""))},
		{"tsNs length mismatch", `{"tsAnchor":1,"tsMs":[1,2],"tsNs":[1],"values":[1,2]}`},
		{"pulses length mismatch", `{"tsAnchor":1,"tsMs":[1,2],"pulseAnchor":5,"pulseOff":[1],"values":[1,2]}`},
		{"no anchor", `{"tsMs":[1],"values":[1]}`},
		{"timestamp overflow", `{"tsAnchor":18446744073709551615,"tsMs":[1],"values":[1]}`},
		{"float timestamp", `{"tsAnchor":1.5,"tsMs":[1],"values":[1]}`},
	} {
		if got := decodeEvents([]byte(c.body), ModeJSON, ""); got.err == nil {
			t.Errorf("%s: no error, got %+v", c.name, got.events)
		}
	}
}

func TestJSONEventsMissingTsNsAndLegacyPulses(t *testing.T) {
	got := decodeEvents([]byte(`{"tsAnchor":10,"tsMs":[0,1500],"pulseAnchor":0,"pulseOff":[0,0],"values":[1,2]}`), ModeJSON, "")
	if got.err != nil {
		t.Fatal(got.err)
	}
	if !reflect.DeepEqual(got.events.Ts, []int64{10_000_000_000, 11_500_000_000}) || got.events.Pulses != nil {
		t.Errorf("ts %v pulses %v; want zeros for missing tsNs and no pulses for a zero anchor", got.events.Ts, got.events.Pulses)
	}
}

// cborEventsBody is one CBOR-framed data frame.
func cborEventsBody(t *testing.T, frame map[string]any) []byte {
	t.Helper()
	return binaryFrame(mustCBOR(t, frame))
}

func TestCBORValuesAllTypes(t *testing.T) {
	f16, err := cbor.EncOptions{ShortestFloat: cbor.ShortestFloat16}.EncMode()
	if err != nil {
		t.Fatal(err)
	}
	tss := []int64{1727336613003080998, 1727336613013080999}
	cases := []struct {
		name   string
		stype  string
		values any
		labels []string
		enc    cbor.EncMode
		want   Values
	}{
		{"f64", "f64", []float64{-0.005684227774617943, math.NaN()}, nil, nil, Values{Kind: KindFloat, Floats: []float64{-0.005684227774617943, nan}}},
		{"f64 shortest floats (f16/f32 on the wire)", "f64", []float64{0.5, 1e-7}, nil, f16, Values{Kind: KindFloat, Floats: []float64{0.5, 1e-7}}},
		{"f64 nulls", "f64", []any{1.5, nil}, nil, nil, Values{Kind: KindFloat, Floats: []float64{1.5, nan}}},
		{"f32", "f32", []float32{0.1, -3.5}, nil, nil, Values{Kind: KindFloat, Floats: []float64{float64(float32(0.1)), -3.5}}},
		{"f64 integral values stay float", "f64", []uint64{1, 2}, nil, nil, Values{Kind: KindFloat, Floats: []float64{1, 2}}},
		{"i64", "i64", []int64{math.MinInt64, math.MaxInt64}, nil, nil, Values{Kind: KindInt, Ints: []int64{math.MinInt64, math.MaxInt64}}},
		{"u64", "u64", []uint64{math.MaxUint64, 1<<63 + 5}, nil, nil, Values{Kind: KindUint, Uints: []uint64{math.MaxUint64, 1<<63 + 5}}},
		{"bool", "bool", []bool{true, false}, nil, nil, Values{Kind: KindBool, Bools: []bool{true, false}}},
		{"string", "string", []string{"FAULT: ü", ""}, nil, nil, Values{Kind: KindString, Strings: []string{"FAULT: ü", ""}}},
		{"enum", "enum", []int16{2, 0}, []string{"STANDBY", "OFF"}, nil,
			Values{Kind: KindEnum, Ints: []int64{2, 0}, Labels: []string{"STANDBY", "OFF"}}},
		{"waveform", "f64", [][]float64{{1, 2, 3}, {4, 5, math.Inf(1)}}, nil, nil,
			Values{Kind: KindFloat, Width: 3, Floats: []float64{1, 2, 3, 4, 5, math.Inf(1)}}},
		{"2-D", "i16", [][][]int16{{{1, -2}, {3, 4}}, {{5, 6}, {7, -8}}}, nil, nil,
			Values{Kind: KindInt, Width: 4, Ints: []int64{1, -2, 3, 4, 5, 6, 7, -8}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frame := map[string]any{"tss": tss, "pulses": []uint64{22238080998, 22238080999},
				"scalar_type": c.stype, "values": c.values}
			if c.labels != nil {
				frame["valuestrings"] = c.labels
			}
			var payload []byte
			if c.enc != nil {
				payload, err = c.enc.Marshal(frame)
			} else {
				payload, err = cbor.Marshal(frame)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := decodeEvents(binaryFrame(payload), ModeCBOR, "")
			if got.err != nil {
				t.Fatal(got.err)
			}
			if !sameValues(got.events.Values, c.want) || got.events.ScalarType != c.stype ||
				!reflect.DeepEqual(got.events.Ts, tss) || !reflect.DeepEqual(got.events.Pulses, []uint64{22238080998, 22238080999}) {
				t.Errorf("got %+v", got.events)
			}
		})
	}
}

func TestCBORIndefiniteLengthItems(t *testing.T) {
	// {"tss":[5], "values": [_ "ab" "c"] as indefinite array of an indefinite text, "scalar_type":"string"}
	values := []byte{0x9f, 0x7f, 0x62, 'a', 'b', 0x61, 'c', 0xff, 0xff}
	payload := mustCBOR(t, map[string]any{"tss": []int64{5}, "scalar_type": "string", "values": cbor.RawMessage(values)})
	got := decodeEvents(binaryFrame(payload), ModeCBOR, "")
	if got.err != nil || !reflect.DeepEqual(got.events.Values.Strings, []string{"abc"}) {
		t.Errorf("%+v", got)
	}
}

func TestHalfToFloat64(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float64
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.960464477539063e-8},
		{0x3555, 0.333251953125}, {0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)},
	} {
		if got := halfToFloat64(c.h); got != c.want {
			t.Errorf("half %#04x = %v, want %v", c.h, got, c.want)
		}
	}
	if got := halfToFloat64(0x7e00); !math.IsNaN(got) {
		t.Errorf("half NaN = %v", got)
	}
}

func TestCBORBins(t *testing.T) {
	frame := map[string]any{
		"ts1s": []int64{1_000_000_000, 2_000_000_000}, "ts2s": []int64{2_000_000_000, 3_000_000_000},
		"counts": []uint64{10, 0}, "mins": []float32{-1, 2}, "maxs": []float32{3, 2}, "avgs": []any{float32(0.5), nil},
	}
	got := decodeBins(binaryFrame(mustCBOR(t, frame)), ModeCBOR)
	want := BinBatch{Ts1: []int64{1e9, 2e9}, Ts2: []int64{2e9, 3e9}, Counts: []uint64{10, 0},
		Mins: []float64{-1, 2}, Maxs: []float64{3, 2}, Avgs: []float64{0.5, nan}}
	if got.err != nil || !reflect.DeepEqual(got.bins.Ts1, want.Ts1) || !reflect.DeepEqual(got.bins.Counts, want.Counts) ||
		!sameFloats(got.bins.Avgs, want.Avgs) || !sameFloats(got.bins.Mins, want.Mins) || !sameFloats(got.bins.Maxs, want.Maxs) {
		t.Errorf("got %+v, %v", got.bins, got.err)
	}
}

func TestJSONBinsNullAvgAndMissingNs(t *testing.T) {
	body := `{"tsAnchor":100,"ts1Ms":[0,20],"ts2Ms":[20,40],"counts":[1,0],"mins":[1,2],"maxs":[1,2],"avgs":[1.0,null]}`
	got := decodeBins([]byte(body), ModeJSON)
	if got.err != nil || !reflect.DeepEqual(got.bins.Ts1, []int64{100e9, 100e9 + 20e6}) ||
		!reflect.DeepEqual(got.bins.Ts2, []int64{100e9 + 20e6, 100e9 + 40e6}) || !sameFloats(got.bins.Avgs, []float64{1, nan}) {
		t.Errorf("got %+v, %v", got.bins, got.err)
	}
	for _, bad := range []string{
		`{"tsAnchor":1,"ts1Ms":[0,20],"ts2Ms":[20],"counts":[1,0]}`,
		`{"tsAnchor":1,"ts1Ms":[0],"ts2Ms":[20],"counts":[1,0]}`,
		`{"tsAnchor":1,"ts1Ms":[0],"ts2Ms":[20],"avgs":["x"]}`,
		`{"ts1Ms":[0],"ts2Ms":[20]}`,
	} {
		if got := decodeBins([]byte(bad), ModeJSON); got.err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestParseHint(t *testing.T) {
	for _, c := range []struct {
		in   string
		kind ValueKind
		name string
	}{
		{"f64", KindFloat, "f64"}, {"f32", KindFloat, "f32"}, {"Float64", KindFloat, "f64"},
		{"i8", KindInt, "i8"}, {"Int16", KindInt, "i16"}, {"int32", KindInt, "i32"},
		{"u16", KindUint, "u16"}, {"uint64", KindUint, "u64"}, {"bool", KindBool, "bool"},
		{"string", KindString, "string"}, {"enum", KindEnum, "enum"}, {"", KindNone, ""}, {"int", KindNone, ""},
	} {
		if h := parseHint(c.in); h.kind != c.kind || h.name != c.name {
			t.Errorf("parseHint(%q) = %+v, want %v %q", c.in, h, c.kind, c.name)
		}
	}
}

func TestUintsUnmarshal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []uint64
		ok   bool
	}{
		{`[]`, []uint64{}, true},
		{`null`, []uint64{}, true},
		{`[ 0 , 18446744073709551615 ]`, []uint64{0, math.MaxUint64}, true},
		{`[18446744073709551616]`, nil, false},
		{`[-1]`, nil, false},
		{`[1.5]`, nil, false},
		{`[1e3]`, nil, false},
		{`["1"]`, nil, false},
		{`{"a":1}`, nil, false},
	} {
		u := uints{7, 7, 7}
		err := u.UnmarshalJSON([]byte(c.in))
		if (err == nil) != c.ok || (c.ok && !reflect.DeepEqual([]uint64(u), c.want)) {
			t.Errorf("%s: %v, %v", c.in, u, err)
		}
	}
}
