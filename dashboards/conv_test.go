package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// pyBSON marshals a document the way pymongo would store the equivalent Python dict.
func pyBSON(t testing.TB, d bson.D) []byte {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatalf("bson.Marshal: %v", err)
	}
	return b
}

func TestJSONToBSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bson.D
	}{
		{"empty", `{}`, bson.D{}},
		{"order kept", `{"b":1,"a":2,"c":3}`, bson.D{{Key: "b", Value: int32(1)}, {Key: "a", Value: int32(2)}, {Key: "c", Value: int32(3)}}},
		{"int32 bounds", `{"a":2147483647,"b":-2147483648}`, bson.D{{Key: "a", Value: int32(math.MaxInt32)}, {Key: "b", Value: int32(math.MinInt32)}}},
		{"int64 beyond int32", `{"a":2147483648,"b":-9223372036854775808}`, bson.D{{Key: "a", Value: int64(2147483648)}, {Key: "b", Value: int64(math.MinInt64)}}},
		{"floats", `{"h":19.25,"w":2.0,"e":1e3,"n":-0.5,"z":-0.0}`, bson.D{{Key: "h", Value: 19.25}, {Key: "w", Value: 2.0}, {Key: "e", Value: 1000.0}, {Key: "n", Value: -0.5}, {Key: "z", Value: math.Copysign(0, -1)}}},
		{"minus zero int", `{"a":-0}`, bson.D{{Key: "a", Value: int32(0)}}},
		{"literals", `{"t":true,"f":false,"n":null}`, bson.D{{Key: "t", Value: true}, {Key: "f", Value: false}, {Key: "n", Value: nil}}},
		{"nested arrays", `{"a":[[1,2.5],[],[null,"x",{"k":[true]}]]}`, bson.D{{Key: "a", Value: bson.A{bson.A{int32(1), 2.5}, bson.A{}, bson.A{nil, "x", bson.D{{Key: "k", Value: bson.A{true}}}}}}}},
		{"escapes", `{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00é"}`, bson.D{{Key: "s", Value: "a\"b\\c/d\b\f\n\r\té😀é"}}},
		{"whitespace", " \t\n{ \"a\" : [ 1 , 2 ] }\r\n", bson.D{{Key: "a", Value: bson.A{int32(1), int32(2)}}}},
		{"empty key and NUL in value", `{"":"\u0000"}`, bson.D{{Key: "", Value: "\x00"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonToBSON(nil, []byte(tt.in))
			if err != nil {
				t.Fatalf("jsonToBSON(%s): %v", tt.in, err)
			}
			if want := pyBSON(t, tt.want); !bytes.Equal(got, want) {
				t.Errorf("jsonToBSON(%s)\n got  %v\n want %v", tt.in, bson.Raw(got), bson.Raw(want))
			}
		})
	}
}

func TestJSONToBSONRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not an object", `[1]`},
		{"scalar", `1`},
		{"empty input", ``},
		{"trailing data", `{} {}`},
		{"trailing comma", `{"a":1,}`},
		{"missing colon", `{"a" 1}`},
		{"unquoted key", `{a:1}`},
		{"single quotes", `{'a':1}`},
		{"NaN", `{"a":NaN}`},
		{"Infinity", `{"a":Infinity}`},
		{"leading zero", `{"a":01}`},
		{"leading plus", `{"a":+1}`},
		{"bare dot", `{"a":1.}`},
		{"bare exponent", `{"a":1e}`},
		{"huge integer", `{"a":9223372036854775808}`},
		{"float overflow", `{"a":1e400}`},
		{"duplicate key", `{"a":1,"a":2}`},
		{"NUL in key", `{"a\u0000b":1}`},
		{"lone high surrogate", `{"a":"\ud83d"}`},
		{"lone low surrogate", `{"a":"\ude00x"}`},
		{"bad escape", `{"a":"\x"}`},
		{"control character", "{\"a\":\"x\ny\"}"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}"},
		{"unterminated", `{"a":"x`},
		{"truncated", `{"a":[1,2`},
		{"bad literal", `{"a":tru}`},
		{"too deep", `{"a":` + repeat("[", 100) + repeat("]", 100) + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := jsonToBSON(nil, []byte(tt.in)); err == nil {
				t.Errorf("jsonToBSON(%q) = %v, want an error", tt.in, bson.Raw(got))
			}
		})
	}
}

func repeat(s string, n int) string { return string(bytes.Repeat([]byte(s), n)) }

func TestBSONToJSON(t *testing.T) {
	tests := []struct {
		name string
		in   bson.D
		want string
	}{
		{"python doubles keep a fraction", bson.D{{Key: "w", Value: 2.0}, {Key: "h", Value: 19.25}, {Key: "z", Value: 0.0}, {Key: "nz", Value: math.Copysign(0, -1)}},
			`{"w":2.0,"h":19.25,"z":0.0,"nz":-0.0}`},
		{"python float repr thresholds", bson.D{{Key: "a", Value: 1e16}, {Key: "b", Value: 1e15}, {Key: "c", Value: 0.0001}, {Key: "d", Value: 0.00001}, {Key: "e", Value: 1.5e-7}, {Key: "f", Value: 1.2345678901234568e+17}, {Key: "g", Value: 1e100}, {Key: "h", Value: 0.1}},
			`{"a":1e+16,"b":1000000000000000.0,"c":0.0001,"d":1e-05,"e":1.5e-07,"f":1.2345678901234568e+17,"g":1e+100,"h":0.1}`},
		{"ints", bson.D{{Key: "i", Value: int32(-5)}, {Key: "l", Value: int64(1) << 40}, {Key: "m", Value: int64(math.MinInt64)}},
			`{"i":-5,"l":1099511627776,"m":-9223372036854775808}`},
		{"nulls and bools", bson.D{{Key: "n", Value: nil}, {Key: "t", Value: true}, {Key: "f", Value: false}},
			`{"n":null,"t":true,"f":false}`},
		{"nested arrays", bson.D{{Key: "a", Value: bson.A{bson.A{int32(1), 2.0}, bson.A{}, bson.D{}, bson.A{nil}}}},
			`{"a":[[1,2.0],[],{},[null]]}`},
		{"strings escaped", bson.D{{Key: "k\"\\", Value: "x\ny\u0001é😀</>"}},
			`{"k\"\\":"x\ny\u0001é😀</>"}`},
		{"NaN and Inf written as null", bson.D{{Key: "a", Value: math.NaN()}, {Key: "b", Value: math.Inf(-1)}},
			`{"a":null,"b":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bsonToJSON(nil, pyBSON(t, tt.in))
			if err != nil {
				t.Fatalf("bsonToJSON: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("bsonToJSON\n got  %s\n want %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("bsonToJSON produced invalid JSON: %s", got)
			}
		})
	}
}

func TestBSONToJSONRejects(t *testing.T) {
	valid := pyBSON(t, bson.D{{Key: "a", Value: "xyz"}})
	tests := []struct {
		name string
		in   []byte
	}{
		{"short", []byte{1, 0, 0}},
		{"length mismatch", append(append([]byte{}, valid...), 0)},
		{"truncated string", valid[:len(valid)-3]},
		{"datetime has no JSON form", pyBSON(t, bson.D{{Key: "d", Value: bson.DateTime(0)}})},
		{"object id has no JSON form", pyBSON(t, bson.D{{Key: "o", Value: bson.NewObjectID()}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := bsonToJSON(nil, tt.in); err == nil {
				t.Errorf("bsonToJSON(%x) = %s, want an error", tt.in, got)
			}
		})
	}
}

// TestRoundTripSpelling: numbers come back spelled as they were sent when the spelling is the canonical one
// (Python's), which every browser-made dashboard uses.
func TestRoundTripSpelling(t *testing.T) {
	for _, in := range []string{
		`{"dashboard":{"widgets":[{"layout":{"w":12,"h":30.3875,"x":0,"y":-3,"i":"a"},"min":null,"max":1.5e-07,"big":12345678901,"z":2.0,"arr":[[],[0.1,1e+16]]}]}}`,
		`{}`,
		`{"a":{"b":{"c":[true,false,null,"",""]}}}`,
	} {
		doc, err := jsonToBSON(nil, []byte(in))
		if err != nil {
			t.Fatalf("jsonToBSON(%s): %v", in, err)
		}
		out, err := bsonToJSON(nil, doc)
		if err != nil {
			t.Fatalf("bsonToJSON: %v", err)
		}
		if string(out) != in {
			t.Errorf("round trip\n got  %s\n want %s", out, in)
		}
	}
}

func TestAnswerSplicesID(t *testing.T) {
	doc, err := jsonToBSON(nil, []byte(`{"dashboard":{"widgets":[]},"id":"forged","extra":1}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := answer("real-id", doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"real-id","dashboard":{"widgets":[]},"extra":1}`; string(d.JSON) != want {
		t.Errorf("answer = %s, want %s", d.JSON, want)
	}
}

func TestTranslate(t *testing.T) {
	if err := translate("op", nil); err != nil {
		t.Errorf("translate(nil) = %v", err)
	}
	if err := translate("op", errors.New("x")); errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Errorf("plain error translated to a sentinel: %v", err)
	}
}
