package daqbuf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The two hex examples of docs/daqbuf.md §5.3, byte for byte.
const (
	hexRangeFinal = "0d 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 a1 6a 72 61 6e 67 65 46 69 6e 61 6c f5 00 00 00"
	hexKeepalive  = "10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 a1 64 74 79 70 65 69 6b 65 65 70 61 6c 69 76 65"
)

func TestCBORFramedSpecExamples(t *testing.T) {
	rf, ka := unhex(t, hexRangeFinal), unhex(t, hexKeepalive)
	// The test helper must frame exactly like the spec, or the other tests prove nothing.
	if got := binaryFrame(mustCBOR(t, map[string]bool{"rangeFinal": true})); !bytes.Equal(got, rf) {
		t.Fatalf("binaryFrame helper: % x, spec % x", got, rf)
	}
	if got := binaryFrame(mustCBOR(t, map[string]string{"type": "keepalive"})); !bytes.Equal(got, ka) {
		t.Fatalf("binaryFrame helper: % x, spec % x", got, ka)
	}

	fr := newFrameReader(bytes.NewReader(concat(ka, rf)), ModeCBOR)
	for i, want := range [][]byte{ka[16:], rf[16:29]} {
		got, err := fr.next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: % x, %v; want % x", i, got, err, want)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}

	got := decodeEvents(concat(ka, ka, rf), ModeCBOR, "")
	if got.err != nil || got.batches != 0 || !got.rangeFinal || got.timedOut {
		t.Errorf("keepalive, keepalive, rangeFinal: %+v", got)
	}
}

func TestJSONFramedSpecExample(t *testing.T) {
	body := []byte("             19\n{\"rangeFinal\":true}\n")
	if !bytes.Equal(textFrame([]byte(`{"rangeFinal":true}`)), body) {
		t.Fatal("textFrame helper differs from the spec example")
	}
	got := decodeEvents(body, ModeJSONFramed, "")
	if got.err != nil || got.batches != 0 || !got.rangeFinal {
		t.Errorf("%+v", got)
	}
}

// bareFrame is the pre-2024-05 CBOR framing: a 4-byte length, no reserved bytes, no padding.
func bareFrame(payload []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// framing builds a body from JSON-ish frame objects in one wire format.
type framing struct {
	name  string
	mode  Mode
	frame func(t *testing.T, obj any) []byte
}

func framings() []framing {
	jsonOf := func(t *testing.T, obj any) []byte {
		t.Helper()
		b, err := jsonMarshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []framing{
		{"cbor-framed", ModeCBOR, func(t *testing.T, obj any) []byte { return binaryFrame(mustCBOR(t, obj)) }},
		{"cbor-framed-bare", ModeCBOR, func(t *testing.T, obj any) []byte { return bareFrame(mustCBOR(t, obj)) }},
		{"json-framed", ModeJSONFramed, func(t *testing.T, obj any) []byte { return textFrame(jsonOf(t, obj)) }},
		{"json-framed-binary-header", ModeJSONFramed, func(t *testing.T, obj any) []byte { return binaryFrame(jsonOf(t, obj)) }},
	}
}

// eventsFrame is a data frame with events at base+i ns, values v in the framing's encoding.
func eventsFrame(f framing, base int64, vals []float64) any {
	if f.mode == ModeCBOR {
		tss := make([]int64, len(vals))
		for i := range tss {
			tss[i] = base + int64(i)
		}
		return map[string]any{"tss": tss, "values": vals, "scalar_type": "f64"}
	}
	ms, ns := make([]uint64, len(vals)), make([]uint64, len(vals))
	for i := range vals {
		ts := base + int64(i)
		ms[i], ns[i] = uint64(ts%1e9/1e6), uint64(ts%1e6)
	}
	return map[string]any{"tsAnchor": base / 1e9, "tsMs": ms, "tsNs": ns, "values": vals}
}

func TestFramesControlObjects(t *testing.T) {
	const base = int64(1_700_000_000_123_456_789)
	for _, f := range framings() {
		t.Run(f.name, func(t *testing.T) {
			data1 := f.frame(t, eventsFrame(f, base, []float64{1.5, 2.5}))
			data2 := f.frame(t, eventsFrame(f, base+10, []float64{3.5}))
			keep := f.frame(t, map[string]any{"type": "keepalive"})
			final := f.frame(t, map[string]any{"rangeFinal": true})
			timed := f.frame(t, map[string]any{"timedOut": true})
			other := f.frame(t, map[string]any{"log": map[string]any{"level": "info", "msg": "hello"}})
			errF := f.frame(t, map[string]any{"error": "scylla read failed"})
			bins := f.frame(t, map[string]any{"ERROR": true})

			got := decodeEvents(concat(keep, data1, other, keep, data2, final), f.mode, "")
			wantTs := []int64{base, base + 1, base + 10}
			if got.err != nil || got.batches != 2 || !got.rangeFinal || got.timedOut ||
				!reflect.DeepEqual(got.events.Ts, wantTs) || !reflect.DeepEqual(got.events.Values.Floats, []float64{1.5, 2.5, 3.5}) {
				t.Errorf("data with control frames: %+v", got)
			}

			got = decodeEvents(concat(data1, timed), f.mode, "")
			if got.err != nil || got.rangeFinal || !got.timedOut || got.batches != 1 {
				t.Errorf("timedOut: %+v", got)
			}

			got = decodeEvents(concat(data1, errF, data2), f.mode, "")
			var ue *UpstreamError
			if !errors.Is(got.err, ErrUpstream) || !errors.As(got.err, &ue) || ue.Message != "scylla read failed" {
				t.Errorf("error frame: %v", got.err)
			}
			if got.batches != 1 {
				t.Errorf("data before the error frame: %d batches, want 1", got.batches)
			}

			if got := decodeBins(concat(bins), f.mode); !errors.Is(got.err, ErrUpstream) {
				t.Errorf("ERROR frame in a binned stream: %v", got.err)
			}
			// A binned stream ignores event frames, an events stream ignores bin frames.
			if got := decodeBins(concat(data1, final), f.mode); got.err != nil || got.batches != 0 || !got.rangeFinal {
				t.Errorf("events frame in a binned stream: %+v", got)
			}
		})
	}
}

// Cutting a body anywhere but at a frame boundary must be an error, never a clean end.
func TestFramesTruncated(t *testing.T) {
	for _, f := range framings() {
		t.Run(f.name, func(t *testing.T) {
			frames := [][]byte{
				f.frame(t, eventsFrame(f, 1_700_000_000_000_000_000, []float64{1, 2, 3})),
				f.frame(t, map[string]any{"type": "keepalive"}),
				f.frame(t, map[string]any{"rangeFinal": true}),
			}
			body := concat(frames...)
			boundary := map[int]bool{0: true}
			n := 0
			for _, fr := range frames {
				n += len(fr)
				boundary[n] = true
			}
			for cut := 0; cut <= len(body); cut++ {
				got := decodeEvents(body[:cut], f.mode, "")
				if boundary[cut] {
					if got.err != nil {
						t.Errorf("cut at frame boundary %d: %v", cut, got.err)
					}
					continue
				}
				if !errors.Is(got.err, ErrUpstream) {
					t.Errorf("cut at %d of %d: err %v, want a truncation error", cut, len(body), got.err)
				}
			}
		})
	}
}

func TestTextFramesLengthLine(t *testing.T) {
	payload := `{"tsAnchor":1,"tsMs":[2],"tsNs":[3],"values":[4.5]}`
	n := strconv.Itoa(len(payload))
	short := strconv.Itoa(len(payload) - 1)
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"15 wide", string(textFrame([]byte(payload))), true},
		{"no padding", n + "\n" + payload + "\n", true},
		{"wider than 15", strings.Repeat(" ", 30) + n + "\n" + payload + "\n", true},
		{"CRLF length line", n + "\r\n" + payload + "\n", true},
		{"empty frame skipped", "0\n\n" + n + "\n" + payload + "\n", true},
		{"empty frame without newline", "0\n" + n + "\n" + payload + "\n", true},
		{"trailing whitespace at end", n + "\n" + payload + "\n\n", true},
		{"not a number", "5x\n" + payload + "\n", false},
		{"negative", "-" + n + "\n" + payload + "\n", false},
		{"missing newline after payload", n + "\n" + payload + "X", false},
		{"length too short", short + "\n" + payload + "\n", false},
		{"length line too long", strings.Repeat(" ", 100) + n + "\n" + payload + "\n", false},
		{"over the cap", "83886081\n" + payload, false},
	}
	for _, c := range cases {
		got := decodeEvents([]byte(c.body), ModeJSONFramed, "")
		if c.ok && (got.err != nil || !reflect.DeepEqual(got.events.Ts, []int64{1_002_000_003})) {
			t.Errorf("%s: %+v", c.name, got)
		}
		if !c.ok && got.err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestBinaryFramesEdgeCases(t *testing.T) {
	data := binaryFrame(mustCBOR(t, map[string]any{"tss": []int64{7}, "values": []float64{0.5}}))
	empty := make([]byte, 16)
	huge := binary.LittleEndian.AppendUint32(nil, MaxFrameSize+1)
	huge = append(huge, make([]byte, 12)...)
	if got := decodeEvents(concat(empty, data, empty), ModeCBOR, ""); got.err != nil || got.events.Len() != 1 {
		t.Errorf("zero-length frames: %+v", got)
	}
	if got := decodeEvents(concat(data, huge), ModeCBOR, ""); !errors.Is(got.err, ErrUpstream) || got.batches != 1 {
		t.Errorf("frame above the 80 MiB cap: %+v", got)
	}
	if got := decodeEvents(concat(data, binaryFrame([]byte{0xa1, 0x61})), ModeCBOR, ""); !errors.Is(got.err, ErrUpstream) {
		t.Errorf("malformed CBOR: %+v", got)
	}
}

// The frame reader keeps one payload buffer: reading many frames of the same size allocates nothing.
func TestFrameReaderReusesBuffer(t *testing.T) {
	frame := binaryFrame(bytes.Repeat([]byte{0xf6}, 4000))
	body := bytes.Repeat(frame, 200)
	br := bufio.NewReaderSize(bytes.NewReader(body), 64<<10)
	fr := newBinaryFrames(br)
	if _, err := fr.next(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := fr.next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}
