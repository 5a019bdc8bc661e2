package daqbuf

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Every file of daqbuf-samples is decoded here to the values written in it. The
// plain-JSON samples are also wrapped into json-framed frames (same keys, docs/daqbuf.md §3.3) to check
// that both readers agree.

func utc(y int, mo time.Month, d, h, mi, s int) int64 {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC).UnixNano()
}

// eventsBothModes decodes a plain-JSON events sample as ModeJSON and as one json-framed frame.
func eventsBothModes(t *testing.T, file, hint string) decoded {
	t.Helper()
	body := readSample(t, file)
	plain := decodeEvents(body, ModeJSON, hint)
	if plain.err != nil {
		t.Fatalf("%s as plain JSON: %v", file, plain.err)
	}
	framed := decodeEvents(textFrame(body), ModeJSONFramed, hint)
	if framed.err != nil {
		t.Fatalf("%s as json-framed: %v", file, framed.err)
	}
	if !reflect.DeepEqual(plain.events, framed.events) || plain.rangeFinal != framed.rangeFinal {
		t.Fatalf("%s: plain %+v and framed %+v differ", file, plain.events, framed.events)
	}
	return plain
}

func TestSampleEventsF64PulsedAPIDoc(t *testing.T) {
	got := eventsBothModes(t, "events_f64_pulsed_apidoc.json", "")
	want := EventBatch{
		ScalarType: "f64",
		Ts:         []int64{1727336613003080998, 1727336613013080999, 1727336613023081000, 1727336613033081001},
		Pulses:     []uint64{22238080998, 22238080999, 22238081000, 22238081001},
		Values: Values{Kind: KindFloat, Floats: []float64{
			-0.005684227774617943, -0.0056660833356960184, -0.005697272133280464, -0.005831689871131955}},
	}
	if !reflect.DeepEqual(got.events, want) {
		t.Errorf("got %+v\nwant %+v", got.events, want)
	}
	if got.rangeFinal {
		t.Error("rangeFinal set, the sample has none")
	}
}

func TestSampleEventsF64LegacyAPI4HTML(t *testing.T) {
	got := eventsBothModes(t, "events_f64_legacy_api4html.json", "f64")
	want := EventBatch{
		ScalarType: "f64",
		Ts:         []int64{1623763172005299319, 1623763172015299320, 1623763172025299321, 1623763172035299322},
		Values: Values{Kind: KindFloat, Floats: []float64{
			0.6080216765403748, 0.6080366969108582, 0.6080275177955627, 0.6080636382102966}},
	}
	if !reflect.DeepEqual(got.events, want) {
		t.Errorf("got %+v\nwant %+v", got.events, want)
	}
	if !got.rangeFinal {
		t.Error("rangeFinal not reported")
	}
}

func TestSampleBinned5mAPIDoc(t *testing.T) {
	body := readSample(t, "binned_5m_apidoc.json")
	for _, c := range []struct {
		name string
		body []byte
		mode Mode
	}{{"plain", body, ModeJSON}, {"framed", textFrame(body), ModeJSONFramed}} {
		got := decodeBins(c.body, c.mode)
		if got.err != nil {
			t.Fatalf("%s: %v", c.name, got.err)
		}
		beg := utc(2024, 9, 15, 10, 5, 0) // tsAnchor 1726394700
		var ts1, ts2 []int64
		for k := range int64(4) {
			ts1 = append(ts1, beg+k*int64(5*time.Minute))
			ts2 = append(ts2, beg+(k+1)*int64(5*time.Minute))
		}
		want := BinBatch{
			Ts1: ts1, Ts2: ts2, Counts: []uint64{3000, 2999, 3000, 3000},
			Mins: []float64{0.005227561108767986, 0.0040797283872962, 0.004329073242843151, 0.004934651777148247},
			Maxs: []float64{0.017492100596427917, 0.016716860234737396, 0.01769270747900009, 0.01670699194073677},
			Avgs: []float64{0.010802877135574818, 0.010565019212663174, 0.01061472948640585, 0.010656529106199741},
		}
		if !reflect.DeepEqual(got.bins, want) {
			t.Errorf("%s: got %+v\nwant %+v", c.name, got.bins, want)
		}
		if got.rangeFinal {
			t.Errorf("%s: rangeFinal set, the sample has none", c.name)
		}
	}
}

func TestSampleBinnedAPI4HTML(t *testing.T) {
	got := decodeBins(readSample(t, "binned_api4html.json"), ModeJSON)
	if got.err != nil {
		t.Fatal(got.err)
	}
	const anchor = int64(1623769850) * 1e9
	want := BinBatch{
		Ts1:    []int64{anchor, anchor + 10e9, anchor + 20e9},
		Ts2:    []int64{anchor + 10e9, anchor + 20e9, anchor + 30e9},
		Counts: []uint64{1000, 999, 1000},
		Mins:   []float64{0, 0, 0},
		Maxs:   []float64{48096, 48100, 48094},
		Avgs:   []float64{16204.087890625, 16204.3798828125, 16203.9296875},
	}
	if !reflect.DeepEqual(got.bins, want) {
		t.Errorf("got %+v\nwant %+v", got.bins, want)
	}
	if !got.rangeFinal {
		t.Error("rangeFinal not reported")
	}
}

// The 2021 edges samples, with the query ranges of the tests they come from
// (dominikwerder/daqbuffer crates/daqbufp2/src/test/binnedjson.rs and binnedjson/channelarchiver.rs,
// all binCount=10). The bin width and edges must be those of WidthForCount and GridRange.
func TestSampleLegacyBinnedEdges(t *testing.T) {
	cases := []struct {
		file       string
		query      Range
		width      time.Duration
		bins       int
		rangeFinal bool
		counts     []uint64
		firstAvg   float64
		lastMax    float64
	}{
		{"legacy_binned_edges_binnedjson_1.json", Range{utc(2021, 11, 10, 1, 0, 0), utc(2021, 11, 10, 1, 1, 0)},
			5 * time.Second, 12, true, make([]uint64, 12), 24.37225341796875, 24.37225341796875},
		{"legacy_binned_edges_binnedjson_2.json", Range{utc(2021, 11, 9, 0, 0, 0), utc(2021, 11, 11, 0, 10, 0)},
			4 * time.Hour, 13, false, []uint64{2772, 2731, 2811, 2689, 2803, 2203, 2355, 1232, 0, 0, 0, 2, 0},
			401.1354675292969, 0.0},
		{"legacy_binned_edges_binnedjson_3.json", Range{utc(2021, 11, 9, 10, 0, 0), utc(2021, 11, 10, 6, 0, 0)},
			2 * time.Hour, 10, false, []uint64{209, 214, 210, 219, 209, 192, 171, 307, 285, 232},
			2.0403556177939208e-8, 0.002342566382139921},
		{"legacy_binned_edges_channelarchiver_1.json", Range{utc(2021, 11, 10, 0, 0, 0), utc(2021, 11, 10, 0, 10, 0)},
			time.Minute, 10, true, []uint64{19, 6, 6, 19, 6, 6, 6, 19, 6, 6}, 401.1745910644531, 401.1271664125047},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got := decodeBins(readSample(t, c.file), ModeJSON)
			if got.err != nil {
				t.Fatal(got.err)
			}
			b := got.bins
			if b.Len() != c.bins || !slices.Equal(b.Counts, c.counts) {
				t.Fatalf("%d bins, counts %v; want %d, %v", b.Len(), b.Counts, c.bins, c.counts)
			}
			if b.Avgs[0] != c.firstAvg || b.Maxs[b.Len()-1] != c.lastMax {
				t.Errorf("avgs[0]=%v maxs[last]=%v, want %v %v", b.Avgs[0], b.Maxs[b.Len()-1], c.firstAvg, c.lastMax)
			}
			if got.rangeFinal != c.rangeFinal {
				t.Errorf("rangeFinal %v, want %v", got.rangeFinal, c.rangeFinal)
			}
			w := WidthForCount(c.query, 10)
			if w != int64(c.width) {
				t.Errorf("WidthForCount = %v, the sample's bins are %v", time.Duration(w), c.width)
			}
			grid := GridRange(c.query, w)
			if b.Ts1[0] != grid.Beg || b.Ts2[b.Len()-1] != grid.End || GridBins(c.query, w) != int64(c.bins) {
				t.Errorf("sample spans [%d,%d) in %d bins, grid [%d,%d) in %d", b.Ts1[0], b.Ts2[b.Len()-1],
					b.Len(), grid.Beg, grid.End, GridBins(c.query, w))
			}
			for i := range b.Len() {
				if b.Ts2[i]-b.Ts1[i] != w || (i > 0 && b.Ts1[i] != b.Ts2[i-1]) {
					t.Fatalf("bin %d is [%d,%d), not contiguous bins of %d ns", i, b.Ts1[i], b.Ts2[i], w)
				}
			}
		})
	}
}

func TestSampleSearchSfArchiverAPIDoc(t *testing.T) {
	got, err := decodeSearch(readSample(t, "search_sf_archiver_apidoc.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Channel{{Backend: "sf-archiver", Name: "S10CB08-KBOC-HPPI1:PI-OUT", SeriesID: 6173407188734815544,
		Type: "f64", Shape: []uint32{}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestSampleSearchSfDatabufferLegacyAPI4HTML(t *testing.T) {
	got, err := decodeSearch(readSample(t, "search_sf_databuffer_legacy_api4html.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Channel{
		{Backend: "sf-databuffer", Name: "S10MA01-DBPM120:Y2", Source: "tcp://S20-CVME-DBPM2371:9000", Type: "Float32", Shape: []uint32{}},
		{Backend: "sf-databuffer", Name: "S20SY02-DBPM120:Y2", Source: "tcp://S20-CVME-DBPM2371:9000", Type: "Float32", Shape: []uint32{}},
		{Backend: "twlha-databuffer", Name: "EXAMPLE-CHANNEL-FROM-API-0-BACKEND", Source: "tcp://.....", Type: "int32", Shape: []uint32{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if h := parseHint(got[0].Type); h.kind != KindFloat || !h.f32 {
		t.Errorf("legacy type Float32 gives hint %+v", h)
	}
	if h := parseHint(got[2].Type); h.kind != KindInt || h.name != "i32" {
		t.Errorf("legacy type int32 gives hint %+v", h)
	}
}

func TestSampleBackendLists(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"backend_list_apidoc.json", []string{"sf-archiver", "sls-archiver", "sf-databuffer"}},
		{"backends_legacy_api4html.json", []string{"sf-databuffer", "hipa-archive", "gls-archive", "proscan-archive", "sls-archive"}},
	} {
		got, err := decodeBackends(readSample(t, c.file))
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.file, got, err, c.want)
		}
	}
}

func TestSampleVersionLegacyAPI4HTML(t *testing.T) {
	got, err := decodeVersion(readSample(t, "version_legacy_api4html.json"))
	if err != nil || got != (Version{Major: 4, Minor: 0}) {
		t.Errorf("got %+v, %v; want 4.0", got, err)
	}
}

// cbor_data_object_doc_illustration.json is the docs' JSON rendering of a CBOR data frame: it is
// re-encoded as CBOR (integers stay integers) and read through the CBOR-framed reader.
func TestSampleCBORDataObjectDocIllustration(t *testing.T) {
	dec := json.NewDecoder(bytes.NewReader(readSample(t, "cbor_data_object_doc_illustration.json")))
	dec.UseNumber()
	var obj map[string][]json.Number
	if err := dec.Decode(&obj); err != nil {
		t.Fatal(err)
	}
	frame := map[string][]uint64{}
	for k, nums := range obj {
		for _, n := range nums {
			u, err := parseUintStrict(string(n))
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			frame[k] = append(frame[k], u)
		}
	}
	got := decodeEvents(binaryFrame(mustCBOR(t, frame)), ModeCBOR, "")
	if got.err != nil {
		t.Fatal(got.err)
	}
	want := EventBatch{ScalarType: "i64", Ts: []int64{1, 2, 3, 4}, Values: Values{Kind: KindInt, Ints: []int64{42, 60, 55, 20}}}
	if !reflect.DeepEqual(got.events, want) {
		t.Errorf("got %+v, want %+v", got.events, want)
	}
}

func parseUintStrict(s string) (uint64, error) {
	var u uint64
	err := json.Unmarshal([]byte(s), &u)
	return u, err
}
