package daqbuf

import (
	"bytes"
	"io"
	"math"
	"strconv"
	"testing"
	"time"
)

// Realistic bodies: 100k f64 events (1 kHz with ns jitter, pulse ids) in frames of 1000 events, as
// data-api's merger batches them; 100k bins in frames of 1000.
const (
	benchEvents   = 100_000
	benchPerFrame = 1000
	benchBase     = int64(1_727_336_613_003_080_998)
)

func benchTs(i int) int64 { return benchBase + int64(i)*int64(time.Millisecond) + int64(i%997) }

func benchValue(i int) float64 { return 100 + 10*math.Sin(float64(i)/600) }

func cborEventsBodyForBench(b testing.TB) []byte {
	var body bytes.Buffer
	for f := 0; f < benchEvents/benchPerFrame; f++ {
		tss := make([]int64, benchPerFrame)
		pulses := make([]uint64, benchPerFrame)
		vals := make([]float64, benchPerFrame)
		for k := range tss {
			i := f*benchPerFrame + k
			tss[k], pulses[k], vals[k] = benchTs(i), 22238080998+uint64(i), benchValue(i)
		}
		body.Write(binaryFrame(mustCBOR(b, map[string]any{"tss": tss, "pulses": pulses, "scalar_type": "f64", "values": vals})))
	}
	body.Write(binaryFrame(mustCBOR(b, map[string]bool{"rangeFinal": true})))
	return body.Bytes()
}

func jsonEventsBodyForBench() []byte {
	var body bytes.Buffer
	var p []byte
	for f := 0; f < benchEvents/benchPerFrame; f++ {
		first := f * benchPerFrame
		anchor := benchTs(first) / 1e9
		pulseAnchor := (22238080998 + uint64(first)) / 10000 * 10000
		p = append(p[:0], `{"tsAnchor":`...)
		p = strconv.AppendInt(p, anchor, 10)
		list := func(key string, n func(i int) []byte) {
			p = append(p, `,"`+key+`":[`...)
			for k := range benchPerFrame {
				if k > 0 {
					p = append(p, ',')
				}
				p = append(p, n(first+k)...)
			}
			p = append(p, ']')
		}
		list("tsMs", func(i int) []byte { return strconv.AppendInt(nil, (benchTs(i)-anchor*1e9)/1e6, 10) })
		list("tsNs", func(i int) []byte { return strconv.AppendInt(nil, (benchTs(i)-anchor*1e9)%1e6, 10) })
		p = append(p, `,"pulseAnchor":`...)
		p = strconv.AppendUint(p, pulseAnchor, 10)
		list("pulseOff", func(i int) []byte { return strconv.AppendUint(nil, 22238080998+uint64(i)-pulseAnchor, 10) })
		list("values", func(i int) []byte { return strconv.AppendFloat(nil, benchValue(i), 'g', -1, 64) })
		p = append(p, '}')
		body.Write(textFrame(p))
	}
	body.Write(textFrame([]byte(`{"rangeFinal":true}`)))
	return body.Bytes()
}

func jsonBinsBodyForBench() []byte {
	var body bytes.Buffer
	var p []byte
	w := int64(time.Second)
	for f := 0; f < benchEvents/benchPerFrame; f++ {
		first := f * benchPerFrame
		beg := int64(1_727_336_000)*1e9 + int64(first)*w
		anchor := beg / 1e9
		p = append(p[:0], `{"tsAnchor":`...)
		p = strconv.AppendInt(p, anchor, 10)
		list := func(key string, n func(k int) []byte) {
			p = append(p, `,"`+key+`":[`...)
			for k := range benchPerFrame {
				if k > 0 {
					p = append(p, ',')
				}
				p = append(p, n(k)...)
			}
			p = append(p, ']')
		}
		f32 := func(v float64) []byte { return strconv.AppendFloat(nil, float64(float32(v)), 'g', -1, 32) }
		list("ts1Ms", func(k int) []byte { return strconv.AppendInt(nil, int64(k)*w/1e6, 10) })
		list("ts1Ns", func(int) []byte { return []byte("0") })
		list("ts2Ms", func(k int) []byte { return strconv.AppendInt(nil, int64(k+1)*w/1e6, 10) })
		list("ts2Ns", func(int) []byte { return []byte("0") })
		list("counts", func(int) []byte { return []byte("1000") })
		list("mins", func(k int) []byte { return f32(benchValue(first+k) - 1) })
		list("maxs", func(k int) []byte { return f32(benchValue(first+k) + 1) })
		list("avgs", func(k int) []byte { return f32(benchValue(first + k)) })
		p = append(p, '}')
		body.Write(textFrame(p))
	}
	return body.Bytes()
}

func benchDecode(b *testing.B, body []byte, next func(r io.Reader) func() (int, error), unit string) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	total := 0
	for b.Loop() {
		nextBatch := next(bytes.NewReader(body))
		n := 0
		for {
			k, err := nextBatch()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += k
		}
		if n != benchEvents {
			b.Fatalf("decoded %d, want %d", n, benchEvents)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), unit)
}

func eventsNext(mode Mode) func(r io.Reader) func() (int, error) {
	return func(r io.Reader) func() (int, error) {
		d := NewEventDecoder(r, mode, "f64")
		return func() (int, error) {
			ev, err := d.Next()
			if err != nil {
				return 0, err
			}
			return ev.Len(), nil
		}
	}
}

func BenchmarkDecodeCBORFramedEvents(b *testing.B) {
	benchDecode(b, cborEventsBodyForBench(b), eventsNext(ModeCBOR), "events/s")
}

func BenchmarkDecodeJSONFramedEvents(b *testing.B) {
	benchDecode(b, jsonEventsBodyForBench(), eventsNext(ModeJSONFramed), "events/s")
}

func BenchmarkDecodeJSONFramedBins(b *testing.B) {
	benchDecode(b, jsonBinsBodyForBench(), func(r io.Reader) func() (int, error) {
		d := NewBinDecoder(r, ModeJSONFramed)
		return func() (int, error) {
			bins, err := d.Next()
			if err != nil {
				return 0, err
			}
			return bins.Len(), nil
		}
	}, "bins/s")
}

// The bench bodies must decode to what they were built from, or the figures measure nothing useful.
func TestBenchBodiesDecode(t *testing.T) {
	cb := decodeEvents(cborEventsBodyForBench(t), ModeCBOR, "")
	jb := decodeEvents(jsonEventsBodyForBench(), ModeJSONFramed, "f64")
	for name, d := range map[string]decoded{"cbor": cb, "json": jb} {
		if d.err != nil || d.events.Len() != benchEvents || !d.rangeFinal {
			t.Fatalf("%s: %d events, %v", name, d.events.Len(), d.err)
		}
		for _, i := range []int{0, 1, 999, 1000, 54321, benchEvents - 1} {
			if d.events.Ts[i] != benchTs(i) || d.events.Values.Floats[i] != benchValue(i) || d.events.Pulses[i] != 22238080998+uint64(i) {
				t.Fatalf("%s event %d: %d %v %d", name, i, d.events.Ts[i], d.events.Values.Floats[i], d.events.Pulses[i])
			}
		}
	}
	bins := decodeBins(jsonBinsBodyForBench(), ModeJSONFramed)
	if bins.err != nil || bins.bins.Len() != benchEvents || bins.bins.Ts2[benchEvents-1] != int64(1_727_336_000+benchEvents)*1e9 {
		t.Fatalf("bins: %d, %v", bins.bins.Len(), bins.err)
	}
}
