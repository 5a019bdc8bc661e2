package daqbuf

import (
	"bytes"
	"encoding/hex"
	"io"
	"math"
	"math/big"
	"strings"
	"testing"
)

// checkEventBatch asserts the invariants every decoded batch must hold, whatever the input.
func checkEventBatch(t *testing.T, b *EventBatch) {
	t.Helper()
	n := b.Len()
	if n == 0 {
		t.Fatal("empty batch returned")
	}
	if b.Pulses != nil && len(b.Pulses) != n {
		t.Fatalf("%d pulses for %d events", len(b.Pulses), n)
	}
	v := b.Values
	want := n * max(v.Width, 1)
	lens := map[ValueKind]int{KindFloat: len(v.Floats), KindInt: len(v.Ints), KindEnum: len(v.Ints),
		KindUint: len(v.Uints), KindBool: len(v.Bools), KindString: len(v.Strings)}
	if got, ok := lens[v.Kind]; !ok || got != want {
		t.Fatalf("kind %d column has %d values, want %d (width %d)", v.Kind, got, want, v.Width)
	}
	if v.Labels != nil && len(v.Labels) != n {
		t.Fatalf("%d labels for %d events", len(v.Labels), n)
	}
}

func checkBinBatch(t *testing.T, b *BinBatch) {
	t.Helper()
	n := b.Len()
	if n == 0 || len(b.Ts2) != n || len(b.Counts) != n || len(b.Mins) != n || len(b.Maxs) != n || len(b.Avgs) != n {
		t.Fatalf("inconsistent bin batch %+v", b)
	}
}

// drain runs both decoders over body and checks every batch; it must never panic.
func drain(t *testing.T, body []byte, mode Mode) {
	ed := NewEventDecoder(bytes.NewReader(body), mode, "")
	for {
		b, err := ed.Next()
		if err != nil {
			if again, _ := ed.Next(); again != nil || err == nil {
				t.Fatal("error not sticky")
			}
			break
		}
		checkEventBatch(t, b)
	}
	bd := NewBinDecoder(bytes.NewReader(body), mode)
	for {
		b, err := bd.Next()
		if err != nil {
			break
		}
		checkBinBatch(t, b)
	}
}

// reframe checks the frame reader itself: the payloads it reads, framed again, read back the same.
func reframe(t *testing.T, body []byte, mode Mode, frame func([]byte) []byte) {
	var payloads [][]byte
	fr := newFrameReader(bytes.NewReader(body), mode)
	for {
		p, err := fr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return // an error is a fine answer to garbage; only clean reads are compared
		}
		payloads = append(payloads, bytes.Clone(p))
	}
	var again bytes.Buffer
	for _, p := range payloads {
		again.Write(frame(p))
	}
	fr = newFrameReader(bytes.NewReader(again.Bytes()), mode)
	for i, want := range payloads {
		got, err := fr.next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("re-framed payload %d: %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("re-framed body has more: %v", err)
	}
}

func FuzzJSONFramedReader(f *testing.F) {
	f.Add([]byte("             19\n{\"rangeFinal\":true}\n"))
	f.Add(textFrame([]byte(`{"tsAnchor":1727336613,"tsMs":[3,13],"tsNs":[80998,80999],"pulseAnchor":22238080000,"pulseOff":[998,999],"values":[-0.5,null]}`)))
	f.Add(textFrame([]byte(`{"tsAnchor":1,"tsMs":[0,1],"values":[[1,2],[3,4]],"valuestrings":["a","b"]}`)))
	f.Add(textFrame([]byte(`{"tsAnchor":1726394700,"ts1Ms":[0],"ts2Ms":[300000],"counts":[3],"mins":[1],"maxs":[2],"avgs":[null]}`)))
	f.Add(textFrame([]byte(`{"tsAnchor":1,"tsMs":[0,5000,10000],"counts":[1,2],"avgs":[1,2],"mins":[1,2],"maxs":[1,2]}`)))
	f.Add(binaryFrame([]byte(`{"type":"keepalive"}`)))
	f.Add([]byte("0\n\n" + string(textFrame([]byte(`{"error":"boom"}`)))))
	f.Fuzz(func(t *testing.T, body []byte) {
		drain(t, body, ModeJSONFramed)
		drain(t, body, ModeJSON)
		if len(body) > 0 && (body[0] == ' ' || body[0] >= '0' && body[0] <= '9') {
			reframe(t, body, ModeJSONFramed, textFrame)
		}
	})
}

func FuzzCBORFramedReader(f *testing.F) {
	for _, h := range []string{hexRangeFinal, hexKeepalive} {
		b, _ := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		f.Add(b)
	}
	f.Add(binaryFrame(mustCBOR(f, map[string]any{"tss": []int64{1727336613003080998}, "pulses": []uint64{22238080998},
		"scalar_type": "f64", "values": []float64{-0.0056842277}})))
	f.Add(binaryFrame(mustCBOR(f, map[string]any{"tss": []int64{1, 2}, "scalar_type": "enum", "values": []int{1, 2},
		"valuestrings": []string{"ON", "OFF"}})))
	f.Add(binaryFrame(mustCBOR(f, map[string]any{"tss": []int64{1}, "values": [][]any{{uint64(math.MaxUint64), nil, "x"}}})))
	f.Add(binaryFrame(mustCBOR(f, map[string]any{"ts1s": []int64{0}, "ts2s": []int64{1}, "counts": []int{1},
		"mins": []float32{1}, "maxs": []float32{1}, "avgs": []any{nil}})))
	f.Add(bareFrame(mustCBOR(f, map[string]any{"tss": []int64{5}, "values": []bool{true}})))
	f.Fuzz(func(t *testing.T, body []byte) {
		drain(t, body, ModeCBOR)
		reframe(t, body, ModeCBOR, binaryFrame)
	})
}

// FuzzJoinTimestamp checks the integer reassembly against math/big.
func FuzzJoinTimestamp(f *testing.F) {
	f.Add(uint64(1727336613), uint64(3), uint64(80998))
	f.Add(uint64(9223372036), uint64(854), uint64(775807)) // exactly MaxInt64
	f.Add(uint64(9223372036), uint64(854), uint64(775808)) // one above
	f.Add(uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64))
	f.Add(uint64(0), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, anchor, ms, ns uint64) {
		want := new(big.Int).Mul(new(big.Int).SetUint64(anchor), big.NewInt(1e9))
		want.Add(want, new(big.Int).Mul(new(big.Int).SetUint64(ms), big.NewInt(1e6)))
		want.Add(want, new(big.Int).SetUint64(ns))
		fits := want.IsInt64()
		got, ok := JoinTimestamp(anchor, ms, ns)
		if ok != fits || (ok && got != want.Int64()) {
			t.Fatalf("JoinTimestamp(%d, %d, %d) = %d, %v; big says %s", anchor, ms, ns, got, ok, want)
		}
	})
}
