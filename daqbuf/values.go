package daqbuf

import (
	"fmt"
	"math"
	"strings"
)

// leafKind is the wire type of one scalar inside a values array, before the column type is chosen.
type leafKind uint8

const (
	leafUint   leafKind = iota // non-negative integer; bits holds the value
	leafNegInt                 // negative integer; bits holds the int64 value
	leafFloat                  // floating-point number; bits holds math.Float64bits
	leafNull                   // JSON null / CBOR null or undefined (a NaN or Inf float on the server)
	leafTrue
	leafFalse
	leafString // str holds the text
)

// leaf is one scalar of a values array. Waveforms are flattened into consecutive leaves.
type leaf struct {
	kind leafKind
	bits uint64
	str  string
}

// valueHint is what the caller or the wire (CBOR scalar_type) says about a channel's type. It picks
// between representations the numbers alone cannot decide: a float channel whose values happen to be
// integral stays float, f32 text is rounded to float32, an enum without labels stays an enum.
type valueHint struct {
	kind ValueKind // KindNone: infer from the data
	f32  bool      // JSON floats are float32 values: parse them with 32-bit rounding
	name string    // normalised scalar type name, "" if unknown
}

// parseHint maps a scalar type as data-api spells it (current "f64", "u8", "enum"; legacy "Float32",
// "int32", "Int16", ...) to a hint. Unknown names give no hint.
func parseHint(scalarType string) valueHint {
	t := strings.ToLower(strings.TrimSpace(scalarType))
	switch t {
	case "f32", "float32", "float":
		return valueHint{kind: KindFloat, f32: true, name: "f32"}
	case "f64", "float64", "double":
		return valueHint{kind: KindFloat, name: "f64"}
	case "i8", "i16", "i32", "i64", "int8", "int16", "int32", "int64":
		return valueHint{kind: KindInt, name: "i" + strings.TrimLeft(t, "int")}
	case "u8", "u16", "u32", "u64", "uint8", "uint16", "uint32", "uint64":
		return valueHint{kind: KindUint, name: "u" + strings.TrimLeft(t, "uint")}
	case "bool", "boolean":
		return valueHint{kind: KindBool, name: "bool"}
	case "string":
		return valueHint{kind: KindString, name: "string"}
	case "enum":
		return valueHint{kind: KindEnum, name: "enum"}
	}
	return valueHint{}
}

// kindName is the scalar type reported for a column whose type was inferred, not given.
func kindName(k ValueKind) string {
	switch k {
	case KindFloat:
		return "f64"
	case KindInt:
		return "i64"
	case KindUint:
		return "u64"
	case KindBool:
		return "bool"
	case KindString:
		return "string"
	case KindEnum:
		return "enum"
	}
	return ""
}

// leafStats summarises a values array so the column type can be chosen in one pass.
type leafStats struct {
	floats, nulls, negs, bigs, bools, strings, uints int // bigs: integers above MaxInt64
}

func statsOf(leaves []leaf) leafStats {
	var s leafStats
	for i := range leaves {
		switch l := &leaves[i]; l.kind {
		case leafUint:
			s.uints++
			if l.bits > math.MaxInt64 {
				s.bigs++
			}
		case leafNegInt:
			s.negs++
		case leafFloat:
			s.floats++
		case leafNull:
			s.nulls++
		case leafTrue, leafFalse:
			s.bools++
		case leafString:
			s.strings++
		}
	}
	return s
}

// fit reports whether n leaves with these stats can be stored as kind k without loss.
func (s leafStats) fit(k ValueKind, n int) bool {
	switch k {
	case KindFloat:
		return s.floats+s.nulls+s.negs+s.uints == n
	case KindInt, KindEnum:
		return s.uints+s.negs == n && s.bigs == 0
	case KindUint:
		return s.uints == n
	case KindBool:
		return s.bools == n
	case KindString:
		return s.strings == n
	}
	return false
}

// chooseKind picks the column type: the hint when the data fit it, else what the data say.
// Data that fit no column (strings mixed with numbers, ...) are an error.
func chooseKind(s leafStats, n int, hint ValueKind) (ValueKind, error) {
	numbers := s.floats + s.nulls + s.negs + s.uints
	if hint != KindNone && s.fit(hint, n) {
		return hint, nil
	}
	switch {
	case n == 0:
		return hint, nil
	case s.strings == n:
		return KindString, nil
	case s.bools == n:
		return KindBool, nil
	case numbers != n:
		return KindNone, fmt.Errorf("values mix types (%d strings, %d bools, %d numbers)", s.strings, s.bools, numbers)
	case s.floats+s.nulls > 0 || (s.bigs > 0 && s.negs > 0):
		return KindFloat, nil
	case s.bigs > 0:
		return KindUint, nil
	default:
		return KindInt, nil
	}
}

// buildValues turns the leaves of nEvents events (width leaves each; 0 = scalar) into a column.
// labels are enum labels ("valuestrings"): when there is one per event the column is an enum.
func buildValues(leaves []leaf, nEvents, width int, hint valueHint, labels []string) (Values, error) {
	per := max(width, 1)
	if len(leaves) != nEvents*per {
		return Values{}, fmt.Errorf("%d values for %d events of width %d", len(leaves), nEvents, width)
	}
	hk := hint.kind
	isEnum := len(labels) == nEvents && nEvents > 0 && width == 0
	if isEnum {
		hk = KindEnum
	}
	kind, err := chooseKind(statsOf(leaves), len(leaves), hk)
	if err != nil {
		return Values{}, err
	}
	v := Values{Kind: kind, Width: width}
	switch kind {
	case KindFloat:
		v.Floats = make([]float64, len(leaves))
		for i := range leaves {
			v.Floats[i] = leafFloat64(&leaves[i])
		}
	case KindInt, KindEnum:
		v.Ints = make([]int64, len(leaves))
		for i := range leaves {
			v.Ints[i] = int64(leaves[i].bits) // leafUint ≤ MaxInt64 or leafNegInt, checked by chooseKind
		}
		if kind == KindEnum && isEnum {
			v.Labels = labels
		}
	case KindUint:
		v.Uints = make([]uint64, len(leaves))
		for i := range leaves {
			v.Uints[i] = leaves[i].bits
		}
	case KindBool:
		v.Bools = make([]bool, len(leaves))
		for i := range leaves {
			v.Bools[i] = leaves[i].kind == leafTrue
		}
	case KindString:
		v.Strings = make([]string, len(leaves))
		for i := range leaves {
			v.Strings[i] = leaves[i].str
		}
	}
	return v, nil
}

// leafFloat64 converts a numeric leaf; null is NaN (data-api writes NaN and ±Inf as null).
func leafFloat64(l *leaf) float64 {
	switch l.kind {
	case leafUint:
		return float64(l.bits)
	case leafNegInt:
		return float64(int64(l.bits))
	case leafFloat:
		return math.Float64frombits(l.bits)
	}
	return math.NaN()
}

// floatsOf converts a bins column (mins, maxs, avgs): numbers and nulls only, null → NaN.
func floatsOf(leaves []leaf, what string) ([]float64, error) {
	out := make([]float64, len(leaves))
	for i := range leaves {
		switch leaves[i].kind {
		case leafUint, leafNegInt, leafFloat, leafNull:
			out[i] = leafFloat64(&leaves[i])
		default:
			return nil, fmt.Errorf("%s[%d] is not a number", what, i)
		}
	}
	return out, nil
}
