package dashboards

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzJSONBSONRoundTrip: whatever JSON is accepted converts to BSON whose JSON form is valid, equal in value
// to the input, and stable: JSON→BSON→JSON→BSON gives the same BSON bytes and the same JSON text.
func FuzzJSONBSONRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"dashboard":{"widgets":[{"h":19.25,"w":2.0,"n":null,"s":"\u00e9\n"}]}}`,
		`{"a":[[1,2],[],[{}]],"b":-0.0,"c":1e-7,"d":9223372036854775807,"e":-2147483649}`,
		`{"k":"\ud83d\ude00","":true}`, `{"a":1E+2,"b":0.1,"c":123456789012345678901234567890.5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := jsonToBSON(nil, in)
		if err != nil {
			return
		}
		out, err := bsonToJSON(nil, doc)
		if err != nil {
			t.Fatalf("bsonToJSON of accepted input %q: %v", in, err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, in)
		}
		doc2, err := jsonToBSON(nil, out)
		if err != nil {
			t.Fatalf("own output %q refused: %v", out, err)
		}
		if !bytes.Equal(doc, doc2) {
			t.Fatalf("BSON changed on the second pass\n in   %q\n out  %q", in, out)
		}
		out2, err := bsonToJSON(nil, doc2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("JSON changed on the second pass: %q then %q (%v)", out, out2, err)
		}
		var a, b any
		if json.Unmarshal(in, &a) == nil && json.Unmarshal(out, &b) == nil && !jsonEqual(a, b) {
			t.Fatalf("value changed: %q became %q", in, out)
		}
	})
}

// jsonEqual compares decoded JSON values (numbers as float64, which is what the browser sees).
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}
