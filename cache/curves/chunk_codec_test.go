package curves

import (
	"math"
	"testing"

	"github.com/databoard/databoard/daqbuf"
)

func TestBinsCodecRoundTrip(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		h    chunkHeader
		b    *daqbuf.BinBatch
	}{
		{name: "nil batch", h: chunkHeader{Final: true, Covered: 5}, b: nil},
		{name: "empty", h: chunkHeader{FreshUntil: 1 << 62}, b: &daqbuf.BinBatch{}},
		{name: "regular float32 bins with nulls", h: chunkHeader{Final: true, Covered: 1_700_000_000_000_000_000}, b: &daqbuf.BinBatch{
			Ts1:    []int64{1_700_000_000_000_000_000, 1_700_000_020_000_000_000, 1_700_000_040_000_000_000},
			Ts2:    []int64{1_700_000_020_000_000_000, 1_700_000_040_000_000_000, 1_700_000_060_000_000_000},
			Counts: []uint64{20, 0, math.MaxUint64},
			Mins:   []float64{float64(float32(0.1)), nan, -3},
			Maxs:   []float64{float64(float32(12.7)), nan, math.Inf(1)},
			Avgs:   []float64{float64(float32(3.3)), nan, math.Inf(-1)},
		}},
		{name: "gaps, varying widths, negative times, float64 values", h: chunkHeader{FreshUntil: -7, Covered: -1}, b: &daqbuf.BinBatch{
			Ts1:    []int64{-5_000, 0, 1_000_000_000, math.MaxInt64 - 10},
			Ts2:    []int64{0, 20, 3_000_000_000, math.MaxInt64},
			Counts: []uint64{1, 2, 3, 4},
			Mins:   []float64{0.1, 1e300, -0, math.SmallestNonzeroFloat64},
			Maxs:   []float64{0.2, 1e301, 0, 1},
			Avgs:   []float64{0.15, 5e300, 0, 0.5},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			val, err := encodeBins(tt.h, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			h, got, err := decodeBins(val)
			if err != nil {
				t.Fatal(err)
			}
			if h != tt.h {
				t.Errorf("header %+v, want %+v", h, tt.h)
			}
			want := tt.b
			if want == nil {
				want = &daqbuf.BinBatch{}
			}
			if d := diffBins([]*daqbuf.BinBatch{got}, []*daqbuf.BinBatch{want}); d != "" {
				t.Error(d)
			}
			for i := range got.Mins { // -0 must stay -0 (sign bit), not only compare equal
				if math.Signbit(got.Mins[i]) != math.Signbit(want.Mins[i]) {
					t.Errorf("min %d: sign lost", i)
				}
			}
		})
	}
}

func TestBinsCodecIsCompact(t *testing.T) {
	const n = 128
	b := &daqbuf.BinBatch{}
	for i := range n {
		ts := int64(1_700_000_000_000_000_000) + int64(i)*20_000_000_000
		b.Ts1, b.Ts2 = append(b.Ts1, ts), append(b.Ts2, ts+20_000_000_000)
		b.Counts = append(b.Counts, 20)
		v := float64(float32(math.Sin(float64(i))))
		b.Mins, b.Maxs, b.Avgs = append(b.Mins, float64(float32(v-1))), append(b.Maxs, float64(float32(v+1))), append(b.Avgs, v)
	}
	val, err := encodeBins(chunkHeader{}, b)
	if err != nil {
		t.Fatal(err)
	}
	// 5 columns of 128 bins as plain float64/int64 would be 5 KiB; want under 20 bytes a bin.
	if len(val) > 20*n {
		t.Errorf("%d bytes for %d bins", len(val), n)
	}
	t.Logf("%d bins: %d bytes (%.1f per bin)", n, len(val), float64(len(val))/n)
}

func TestBinsDecodeAppends(t *testing.T) {
	a := &daqbuf.BinBatch{Ts1: []int64{0}, Ts2: []int64{10}, Counts: []uint64{1}, Mins: []float64{1}, Maxs: []float64{2}, Avgs: []float64{1.5}}
	b := &daqbuf.BinBatch{Ts1: []int64{10, 20}, Ts2: []int64{20, 30}, Counts: []uint64{2, 3}, Mins: []float64{3, 4}, Maxs: []float64{5, 6}, Avgs: []float64{4, 5}}
	acc := &daqbuf.BinBatch{}
	for _, part := range []*daqbuf.BinBatch{a, b} {
		val, err := encodeBins(chunkHeader{}, part)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeBinsAppend(val, acc); err != nil {
			t.Fatal(err)
		}
	}
	want := flatBins([]*daqbuf.BinBatch{a, b})
	if d := diffBins([]*daqbuf.BinBatch{acc}, []*daqbuf.BinBatch{&want}); d != "" {
		t.Error(d)
	}
	// A corrupt value leaves the accumulator as it was.
	val, _ := encodeBins(chunkHeader{}, b)
	if _, err := decodeBinsAppend(val[:len(val)-3], acc); err == nil {
		t.Error("truncated value decoded")
	}
	if acc.Len() != 3 || len(acc.Avgs) != 3 || len(acc.Counts) != 3 {
		t.Errorf("accumulator changed by a failed decode: %d bins", acc.Len())
	}
}

// eventSamples has a batch of every value kind.
func eventSamples() map[string][]*daqbuf.EventBatch {
	nan := math.NaN()
	return map[string][]*daqbuf.EventBatch{
		"none":  nil,
		"empty": {{ScalarType: "f64", Ts: []int64{}, Values: daqbuf.Values{Kind: daqbuf.KindFloat, Floats: []float64{}}}},
		"f64 with NaN, pulses": {{ScalarType: "f64", Ts: []int64{1, 1_000_000_001, 2_000_000_001},
			Pulses: []uint64{22_000_000_000, 22_000_000_001, 22_000_000_002},
			Values: daqbuf.Values{Kind: daqbuf.KindFloat, Floats: []float64{0.1, nan, -1e-300}}}},
		"f32": {{ScalarType: "f32", Ts: []int64{5, 6}, Values: daqbuf.Values{Kind: daqbuf.KindFloat, Floats: []float64{float64(float32(0.1)), 3}}}},
		"i64 extremes": {{ScalarType: "i64", Ts: []int64{-10, 10},
			Values: daqbuf.Values{Kind: daqbuf.KindInt, Ints: []int64{math.MinInt64, math.MaxInt64}}}},
		"u64 above 2^63, wrapping pulses": {{ScalarType: "u64", Ts: []int64{1, 2, 3},
			Pulses: []uint64{math.MaxUint64, 0, 1 << 63},
			Values: daqbuf.Values{Kind: daqbuf.KindUint, Uints: []uint64{1<<63 + 1, math.MaxUint64, 0}}}},
		"bool": {{ScalarType: "bool", Ts: []int64{1, 2}, Values: daqbuf.Values{Kind: daqbuf.KindBool, Bools: []bool{true, false}}}},
		"string": {{ScalarType: "string", Ts: []int64{1, 2, 3},
			Values: daqbuf.Values{Kind: daqbuf.KindString, Strings: []string{"IDLE", "", "FAULT: ü"}}}},
		"enum with labels": {{ScalarType: "enum", Ts: []int64{10, 20},
			Values: daqbuf.Values{Kind: daqbuf.KindEnum, Ints: []int64{2, 0}, Labels: []string{"STANDBY", "OFF"}}}},
		"waveform": {{ScalarType: "f64", Ts: []int64{100, 200},
			Values: daqbuf.Values{Kind: daqbuf.KindFloat, Width: 3, Floats: []float64{1, 2, 3.25, nan, 0.1, -0}}}},
		"two batches": {
			{ScalarType: "i32", Ts: []int64{1}, Values: daqbuf.Values{Kind: daqbuf.KindInt, Ints: []int64{-5}}},
			{ScalarType: "i32", Ts: []int64{2, 3}, Values: daqbuf.Values{Kind: daqbuf.KindInt, Ints: []int64{6, 7}}},
		},
	}
}

func TestEventsCodecRoundTrip(t *testing.T) {
	for name, batches := range eventSamples() {
		t.Run(name, func(t *testing.T) {
			h := chunkHeader{FreshUntil: 123, Covered: 456}
			val, err := encodeEvents(h, batches)
			if err != nil {
				t.Fatal(err)
			}
			gotH, got, err := decodeEvents(val)
			if err != nil {
				t.Fatal(err)
			}
			if gotH != h {
				t.Errorf("header %+v, want %+v", gotH, h)
			}
			if len(got) != len(batches) {
				t.Fatalf("%d batches, want %d", len(got), len(batches))
			}
			if d := diffEvents(got, batches); d != "" {
				t.Error(d)
			}
			for i := range got { // nil-ness of optional columns is part of the data
				if (got[i].Pulses == nil) != (batches[i].Pulses == nil) || (got[i].Values.Labels == nil) != (batches[i].Values.Labels == nil) {
					t.Errorf("batch %d: nil pulses/labels not kept", i)
				}
				if got[i].Values.Width != batches[i].Values.Width || len(got[i].Values.Floats) != len(batches[i].Values.Floats) {
					t.Errorf("batch %d: waveform shape not kept", i)
				}
			}
		})
	}
}

func TestCodecRejectsCorruptValues(t *testing.T) {
	bins, _ := encodeBins(chunkHeader{Final: true}, &daqbuf.BinBatch{Ts1: []int64{0, 10}, Ts2: []int64{10, 20},
		Counts: []uint64{1, 2}, Mins: []float64{1, 2}, Maxs: []float64{1, 2}, Avgs: []float64{1, 2}})
	events, _ := encodeEvents(chunkHeader{}, eventSamples()["two batches"])
	for i := range len(bins) {
		if _, _, err := decodeBins(bins[:i]); err == nil {
			t.Errorf("bins truncated to %d bytes decoded", i)
		}
	}
	for i := range len(events) {
		if _, _, err := decodeEvents(events[:i]); err == nil {
			t.Errorf("events truncated to %d bytes decoded", i)
		}
	}
	wrongVersion := append([]byte{codecVersion + 1}, bins[1:]...)
	if _, _, err := decodeBins(wrongVersion); err == nil {
		t.Error("another version decoded")
	}
	if _, _, err := decodeEvents(bins); err == nil {
		t.Error("a bins value decoded as events")
	}
	if st := classify(wrongVersion, kindBins, 0, 0); st != chunkMissing {
		t.Errorf("another version classified %v, want missing", st)
	}
}

// FuzzDecodeChunk: no input makes the decoders panic or allocate without bound; what decodes
// re-encodes to a value that decodes the same.
func FuzzDecodeChunk(f *testing.F) {
	bins, _ := encodeBins(chunkHeader{Final: true}, &daqbuf.BinBatch{Ts1: []int64{0, 10}, Ts2: []int64{10, 20},
		Counts: []uint64{1, 2}, Mins: []float64{1, 2}, Maxs: []float64{1, 2}, Avgs: []float64{1, math.NaN()}})
	f.Add(bins)
	for _, b := range eventSamples() {
		v, _ := encodeEvents(chunkHeader{}, b)
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, b, err := decodeBins(data); err == nil {
			again, err := encodeBins(h, b)
			if err != nil {
				t.Fatalf("decoded bins do not re-encode: %v", err)
			}
			_, b2, err := decodeBins(again)
			if err != nil || diffBins([]*daqbuf.BinBatch{b2}, []*daqbuf.BinBatch{b}) != "" {
				t.Fatalf("bins re-decode: %v", err)
			}
		}
		if h, ev, err := decodeEvents(data); err == nil {
			again, err := encodeEvents(h, ev)
			if err != nil {
				t.Fatalf("decoded events do not re-encode: %v", err)
			}
			if _, _, err := decodeEvents(again); err != nil {
				t.Fatalf("events re-decode: %v", err)
			}
		}
	})
}
