package daqbuf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// samplesDir holds the data-api sample payloads (origin of each in its README.md). go test runs in
// the package directory, so the path is relative to daqbuf/.
const samplesDir = "testdata/daqbuf-samples"

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	return b
}

// binaryFrame frames a payload as application/cbor-framed does (docs/daqbuf.md §5.3).
func binaryFrame(payload []byte) []byte {
	var b bytes.Buffer
	var hdr [16]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(len(payload)))
	b.Write(hdr[:])
	b.Write(payload)
	b.Write(make([]byte, (8-len(payload)%8)%8))
	return b.Bytes()
}

// textFrame frames a payload as application/json-framed does (docs/daqbuf.md §5.2).
func textFrame(payload []byte) []byte {
	return fmt.Appendf(nil, "%15d\n%s\n", len(payload), payload)
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// decoded is everything a decoder produced from one body, batches concatenated.
type decoded struct {
	events     EventBatch
	bins       BinBatch
	batches    int
	rangeFinal bool
	timedOut   bool
	err        error // the error that ended the body (nil for a clean io.EOF)
}

func decodeEvents(body []byte, mode Mode, hint string) decoded {
	d := NewEventDecoder(bytes.NewReader(body), mode, hint)
	var out decoded
	for {
		b, err := d.Next()
		if err != nil {
			if err != io.EOF {
				out.err = err
			}
			break
		}
		out.batches++
		appendEvents(&out.events, b)
	}
	out.rangeFinal, out.timedOut = d.RangeFinal(), d.TimedOut()
	return out
}

func decodeBins(body []byte, mode Mode) decoded {
	d := NewBinDecoder(bytes.NewReader(body), mode)
	var out decoded
	for {
		b, err := d.Next()
		if err != nil {
			if err != io.EOF {
				out.err = err
			}
			break
		}
		out.batches++
		appendBins(&out.bins, b)
	}
	out.rangeFinal, out.timedOut = d.RangeFinal(), d.TimedOut()
	return out
}

func appendEvents(dst, b *EventBatch) {
	dst.ScalarType = b.ScalarType
	dst.Ts = append(dst.Ts, b.Ts...)
	dst.Pulses = append(dst.Pulses, b.Pulses...)
	v := &dst.Values
	v.Kind, v.Width = b.Values.Kind, b.Values.Width
	v.Floats = append(v.Floats, b.Values.Floats...)
	v.Ints = append(v.Ints, b.Values.Ints...)
	v.Uints = append(v.Uints, b.Values.Uints...)
	v.Bools = append(v.Bools, b.Values.Bools...)
	v.Strings = append(v.Strings, b.Values.Strings...)
	v.Labels = append(v.Labels, b.Values.Labels...)
}

func appendBins(dst, b *BinBatch) {
	dst.Ts1 = append(dst.Ts1, b.Ts1...)
	dst.Ts2 = append(dst.Ts2, b.Ts2...)
	dst.Counts = append(dst.Counts, b.Counts...)
	dst.Mins = append(dst.Mins, b.Mins...)
	dst.Maxs = append(dst.Maxs, b.Maxs...)
	dst.Avgs = append(dst.Avgs, b.Avgs...)
}

// sameFloats compares exactly, NaN equal to NaN.
func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

// jsonMarshal encodes like data-api: no HTML escaping.
func jsonMarshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
