package daqbuf

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// maxValueDepth bounds nested arrays inside values: event → waveform → 2-D row (plus slack).
const maxValueDepth = 8

// eventShape checks that all events of a values array have the same shape and records it: scalars
// (width 0) or arrays of width leaves each (waveforms and flattened 2-D images).
type eventShape struct {
	events int
	width  int
	wave   bool
}

func (s *eventShape) add(isArray bool, leaves int) error {
	if !isArray {
		leaves = 0 // a scalar: one leaf, width 0
	}
	if s.events == 0 {
		s.wave, s.width = isArray, leaves
	} else if isArray != s.wave || leaves != s.width {
		return fmt.Errorf("event %d has %d values, earlier events %d (ragged waveform)", s.events, leaves, s.width)
	}
	s.events++
	return nil
}

func (s *eventShape) check() error {
	if s.wave && s.width == 0 && s.events > 0 {
		return fmt.Errorf("waveforms without elements")
	}
	return nil
}

// ---- JSON ----

// jsonValues scans a JSON values array (already validated by encoding/json) into leaves appended to
// dst. f32 rounds float text to float32, as data-api prints f32 values with float32's shortest form.
func jsonValues(raw []byte, f32 bool, dst []leaf) ([]leaf, eventShape, error) {
	var shape eventShape
	p := jsonScanner{b: raw, f32: f32, out: dst}
	p.skipSpace()
	if p.i == len(p.b) || p.literal("null") {
		return p.out, shape, nil
	}
	if !p.eat('[') {
		return p.out, shape, fmt.Errorf("values: not an array")
	}
	for first := true; ; first = false {
		p.skipSpace()
		if p.eat(']') {
			return p.out, shape, shape.check()
		}
		if !first && !p.eat(',') {
			return p.out, shape, p.errorf("expected ',' or ']'")
		}
		p.skipSpace()
		before := len(p.out)
		isArray := p.i < len(p.b) && p.b[p.i] == '['
		if err := p.value(0); err != nil {
			return p.out, shape, err
		}
		if err := shape.add(isArray, len(p.out)-before); err != nil {
			return p.out, shape, err
		}
	}
}

type jsonScanner struct {
	b   []byte
	i   int
	f32 bool
	out []leaf
}

func (p *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("values at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonScanner) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonScanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonScanner) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// value appends the leaves of one JSON value (a scalar, or an array flattened depth-first).
func (p *jsonScanner) value(depth int) error {
	if p.i >= len(p.b) {
		return p.errorf("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '[':
		if depth >= maxValueDepth {
			return p.errorf("arrays nested deeper than %d", maxValueDepth)
		}
		p.i++
		for first := true; ; first = false {
			p.skipSpace()
			if p.eat(']') {
				return nil
			}
			if !first && !p.eat(',') {
				return p.errorf("expected ',' or ']'")
			}
			p.skipSpace()
			if err := p.value(depth + 1); err != nil {
				return err
			}
		}
	case c == '"':
		return p.str()
	case c == 'n' && p.literal("null"):
		p.out = append(p.out, leaf{kind: leafNull})
	case c == 't' && p.literal("true"):
		p.out = append(p.out, leaf{kind: leafTrue})
	case c == 'f' && p.literal("false"):
		p.out = append(p.out, leaf{kind: leafFalse})
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return p.errorf("unsupported value %q", c)
	}
	return nil
}

func (p *jsonScanner) str() error {
	start := p.i
	escaped := false
	for p.i++; p.i < len(p.b); p.i++ {
		switch p.b[p.i] {
		case '\\':
			escaped = true
			p.i++
		case '"':
			p.i++
			if !escaped {
				p.out = append(p.out, leaf{kind: leafString, str: string(p.b[start+1 : p.i-1])})
				return nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return p.errorf("bad string: %v", err)
			}
			p.out = append(p.out, leaf{kind: leafString, str: s})
			return nil
		}
	}
	return p.errorf("unterminated string")
}

// number keeps integers exact (int64 / uint64 up to 2^64-1) and parses the rest as floats.
func (p *jsonScanner) number() error {
	start, isFloat := p.i, false
	for ; p.i < len(p.b); p.i++ {
		c := p.b[p.i]
		if c == '.' || c == 'e' || c == 'E' {
			isFloat = true
		} else if !(c >= '0' && c <= '9' || c == '-' || c == '+') {
			break
		}
	}
	// text does not escape (strconv copies it into any error it returns), so the compiler converts
	// literals of up to 32 bytes on the stack: no allocation for any number data-api prints (the
	// shortest float64 form is at most 24 bytes), and no need for an unsafe view of p.b.
	lit := p.b[start:p.i]
	text := string(lit)
	if !isFloat {
		if text[0] == '-' {
			if v, err := strconv.ParseInt(text, 10, 64); err == nil {
				if v >= 0 { // "-0"
					p.out = append(p.out, leaf{kind: leafUint, bits: uint64(v)})
				} else {
					p.out = append(p.out, leaf{kind: leafNegInt, bits: uint64(v)})
				}
				return nil
			}
		} else if v, err := strconv.ParseUint(text, 10, 64); err == nil {
			p.out = append(p.out, leaf{kind: leafUint, bits: v})
			return nil
		}
		// Beyond 64 bits: only a float can hold it.
	}
	bitSize := 64
	if p.f32 {
		bitSize = 32
	}
	f, err := strconv.ParseFloat(text, bitSize)
	if err != nil && !isRangeErr(err) {
		return p.errorf("bad number %q", string(lit))
	}
	p.out = append(p.out, leaf{kind: leafFloat, bits: math.Float64bits(f)})
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// ---- CBOR ----

// cborValues scans a CBOR values array (RFC 8949; already checked well-formed by the envelope
// decode, but bounds are checked again here) into leaves appended to dst.
func cborValues(raw []byte, dst []leaf) ([]leaf, eventShape, error) {
	var shape eventShape
	p := cborScanner{b: raw, out: dst}
	if len(raw) == 0 || (len(raw) == 1 && (raw[0] == 0xf6 || raw[0] == 0xf7)) {
		return p.out, shape, nil // absent, null or undefined
	}
	major, arg, indef, err := p.head()
	if err != nil {
		return p.out, shape, err
	}
	if major != 4 {
		return p.out, shape, fmt.Errorf("values: CBOR major type %d, not an array", major)
	}
	if !indef && arg > uint64(len(p.b)-p.i) {
		return p.out, shape, p.errorf("array of %d elements exceeds the frame", arg)
	}
	for k := uint64(0); indef || k < arg; k++ {
		if indef && p.brk() {
			break
		}
		before := len(p.out)
		isArray, err := p.value(0)
		if err != nil {
			return p.out, shape, err
		}
		if err := shape.add(isArray, len(p.out)-before); err != nil {
			return p.out, shape, err
		}
	}
	return p.out, shape, shape.check()
}

type cborScanner struct {
	b   []byte
	i   int
	out []leaf
}

func (p *cborScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("values at CBOR byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

// brk consumes a "break" byte (end of an indefinite-length item) if it is next.
func (p *cborScanner) brk() bool {
	if p.i < len(p.b) && p.b[p.i] == 0xff {
		p.i++
		return true
	}
	return false
}

// head reads an initial byte and its argument. For major type 7, arg is the raw float bits or the
// simple value.
func (p *cborScanner) head() (major byte, arg uint64, indef bool, err error) {
	if p.i >= len(p.b) {
		return 0, 0, false, p.errorf("unexpected end")
	}
	ib := p.b[p.i]
	p.i++
	major, info := ib>>5, ib&0x1f
	var n int
	switch {
	case info < 24:
		return major, uint64(info), false, nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	case info == 31 && major >= 2 && major <= 5:
		return major, 0, true, nil
	default:
		return 0, 0, false, p.errorf("reserved additional information %d", info)
	}
	if len(p.b)-p.i < n {
		return 0, 0, false, p.errorf("unexpected end in argument")
	}
	var buf [8]byte
	copy(buf[8-n:], p.b[p.i:p.i+n])
	p.i += n
	return major, binary.BigEndian.Uint64(buf[:]), false, nil
}

// value appends the leaves of one CBOR item and says whether it was an array.
func (p *cborScanner) value(depth int) (bool, error) {
	if depth > maxValueDepth {
		return false, p.errorf("items nested deeper than %d", maxValueDepth)
	}
	start := p.i
	major, arg, indef, err := p.head()
	if err != nil {
		return false, err
	}
	switch major {
	case 0:
		p.out = append(p.out, leaf{kind: leafUint, bits: arg})
	case 1:
		if arg > math.MaxInt64 { // below MinInt64: only a float can hold it
			p.out = append(p.out, leaf{kind: leafFloat, bits: math.Float64bits(-1 - float64(arg))})
		} else {
			p.out = append(p.out, leaf{kind: leafNegInt, bits: uint64(-1 - int64(arg))})
		}
	case 3:
		s, err := p.text(arg, indef)
		if err != nil {
			return false, err
		}
		p.out = append(p.out, leaf{kind: leafString, str: s})
	case 4:
		if !indef && arg > uint64(len(p.b)-p.i) {
			return false, p.errorf("array of %d elements exceeds the frame", arg)
		}
		for k := uint64(0); indef || k < arg; k++ {
			if indef && p.brk() {
				break
			}
			if _, err := p.value(depth + 1); err != nil {
				return false, err
			}
		}
		return true, nil
	case 6: // a tag: decode the tagged item itself (bignums end up as byte strings: rejected)
		return p.value(depth + 1)
	case 7:
		return false, p.simple(start, arg)
	default:
		return false, p.errorf("unsupported CBOR major type %d in values", major)
	}
	return false, nil
}

func (p *cborScanner) simple(start int, arg uint64) error {
	switch info := p.b[start] & 0x1f; info {
	case 20:
		p.out = append(p.out, leaf{kind: leafFalse})
	case 21:
		p.out = append(p.out, leaf{kind: leafTrue})
	case 22, 23:
		p.out = append(p.out, leaf{kind: leafNull})
	case 25:
		p.out = append(p.out, leaf{kind: leafFloat, bits: math.Float64bits(halfToFloat64(uint16(arg)))})
	case 26:
		p.out = append(p.out, leaf{kind: leafFloat, bits: math.Float64bits(float64(math.Float32frombits(uint32(arg))))})
	case 27:
		p.out = append(p.out, leaf{kind: leafFloat, bits: arg})
	default:
		return p.errorf("unsupported CBOR simple value (additional information %d)", info)
	}
	return nil
}

// text reads a definite or indefinite-length (chunked) text string.
func (p *cborScanner) text(n uint64, indef bool) (string, error) {
	if !indef {
		if n > uint64(len(p.b)-p.i) {
			return "", p.errorf("text of %d bytes exceeds the frame", n)
		}
		s := string(p.b[p.i : p.i+int(n)])
		p.i += int(n)
		return s, nil
	}
	var buf []byte
	for !p.brk() {
		major, n, indef, err := p.head()
		if err != nil {
			return "", err
		}
		if major != 3 || indef || n > uint64(len(p.b)-p.i) {
			return "", p.errorf("bad chunk in indefinite-length text")
		}
		buf = append(buf, p.b[p.i:p.i+int(n)]...)
		p.i += int(n)
	}
	return string(buf), nil
}

// halfToFloat64 widens an IEEE 754 half-precision float (CBOR's shortest float encoding) exactly.
func halfToFloat64(h uint16) float64 {
	exp, frac := int(h>>10)&0x1f, float64(h&0x3ff)
	var f float64
	switch exp {
	case 0:
		f = math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			f = math.Inf(1)
		} else {
			f = math.NaN()
		}
	default:
		f = math.Ldexp(frac+1024, exp-25)
	}
	if h&0x8000 != 0 {
		f = -f
	}
	return f
}
