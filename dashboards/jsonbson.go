package dashboards

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxNesting bounds how deeply objects and arrays may nest. MongoDB refuses documents nested deeper than
// 100 levels (the stored record adds one), and the bound also keeps the recursive parser's stack small.
const maxNesting = 99

// BSON element types the conversion produces or reads.
const (
	bsonDouble   byte = 0x01
	bsonString   byte = 0x02
	bsonDocument byte = 0x03
	bsonArray    byte = 0x04
	bsonBool     byte = 0x08
	bsonDateTime byte = 0x09
	bsonNull     byte = 0x0A
	bsonInt32    byte = 0x10
	bsonInt64    byte = 0x12
)

// jsonToBSON converts one JSON object into a BSON document, appended to dst.
//
// It keeps what the old Python backend kept when it stored a request body with pymongo: member order,
// nulls, and number types (an integer literal becomes int32 when it fits, else int64; any literal with a
// fraction or an exponent becomes a double). Input that Python could parse but MongoDB could not store
// (integers beyond 64 bits, NUL in keys, lone surrogates) is refused here instead of failing later. Duplicate
// keys are refused too: Python silently kept the last one, which no browser ever sends.
func jsonToBSON(dst, src []byte) ([]byte, error) {
	p := jsonParser{src: src, out: dst}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != '{' {
		return dst, p.errorf("the body must be a JSON object")
	}
	if err := p.container(false); err != nil {
		return dst, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return dst, p.errorf("unexpected data after the JSON object")
	}
	return p.out, nil
}

// jsonParser is a small recursive-descent JSON parser that writes BSON as it reads.
type jsonParser struct {
	src   []byte
	pos   int
	out   []byte
	depth int
	// scratch holds a decoded string until it is known whether it is a key or a value.
	scratch []byte
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// container parses an object or an array starting at p.pos and writes it as a BSON document.
func (p *jsonParser) container(isArray bool) error {
	p.depth++
	if p.depth > maxNesting {
		return p.errorf("nested more than %d levels deep", maxNesting)
	}
	defer func() { p.depth-- }()

	start := len(p.out)
	p.out = append(p.out, 0, 0, 0, 0) // length, patched below
	p.pos++                           // '{' or '['
	closer := byte('}')
	if isArray {
		closer = ']'
	}
	var keys keySet
	for n := 0; ; n++ {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return p.errorf("unexpected end of input")
		}
		if p.src[p.pos] == closer && n == 0 {
			p.pos++
			break
		}
		if n > 0 {
			if p.src[p.pos] == closer {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return p.errorf("expected ',' or '%c'", closer)
			}
			p.pos++
			p.skipSpace()
		}
		typePos := len(p.out)
		p.out = append(p.out, 0) // element type, patched by value
		if isArray {
			p.out = append(strconv.AppendInt(p.out, int64(n), 10), 0)
		} else {
			if p.pos >= len(p.src) || p.src[p.pos] != '"' {
				return p.errorf("expected a string key")
			}
			key, err := p.string()
			if err != nil {
				return err
			}
			if bytes.IndexByte(key, 0) >= 0 {
				return p.errorf("object keys must not contain NUL")
			}
			keyPos := len(p.out)
			p.out = append(append(p.out, key...), 0)
			if !keys.add(p.out, keyPos, len(p.out)-1) {
				return p.errorf("duplicate key %q", key)
			}
			p.skipSpace()
			if p.pos >= len(p.src) || p.src[p.pos] != ':' {
				return p.errorf("expected ':'")
			}
			p.pos++
			p.skipSpace()
		}
		if err := p.value(typePos); err != nil {
			return err
		}
	}
	p.out = append(p.out, 0)
	binary.LittleEndian.PutUint32(p.out[start:], uint32(len(p.out)-start))
	return nil
}

// value parses one JSON value and writes its BSON form, setting the element type at typePos.
func (p *jsonParser) value(typePos int) error {
	if p.pos >= len(p.src) {
		return p.errorf("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		p.out[typePos] = bsonDocument
		return p.container(false)
	case c == '[':
		p.out[typePos] = bsonArray
		return p.container(true)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return err
		}
		p.out[typePos] = bsonString
		p.out = binary.LittleEndian.AppendUint32(p.out, uint32(len(s)+1))
		p.out = append(append(p.out, s...), 0)
		return nil
	case c == 't':
		p.out[typePos] = bsonBool
		p.out = append(p.out, 1)
		return p.literal("true")
	case c == 'f':
		p.out[typePos] = bsonBool
		p.out = append(p.out, 0)
		return p.literal("false")
	case c == 'n':
		p.out[typePos] = bsonNull
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(typePos)
	default:
		return p.errorf("unexpected character %q", c)
	}
}

func (p *jsonParser) literal(word string) error {
	if len(p.src)-p.pos < len(word) || string(p.src[p.pos:p.pos+len(word)]) != word {
		return p.errorf("invalid literal, expected %s", word)
	}
	p.pos += len(word)
	return nil
}

// number scans a JSON number and stores it the way pymongo stores the Python value json.loads makes of it.
func (p *jsonParser) number(typePos int) error {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.src) && p.src[p.pos] == '0':
		p.pos++
	case p.pos < len(p.src) && p.src[p.pos] >= '1' && p.src[p.pos] <= '9':
		p.digits()
	default:
		return p.errorf("invalid number")
	}
	isFloat := false
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return p.errorf("invalid number: no digits after '.'")
		}
		isFloat = true
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return p.errorf("invalid number: no digits in exponent")
		}
		isFloat = true
	}
	text := string(p.src[start:p.pos])
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return p.errorf("number %s is out of range", text)
		}
		p.out[typePos] = bsonDouble
		p.out = binary.LittleEndian.AppendUint64(p.out, math.Float64bits(f))
		return nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return p.errorf("integer %s does not fit in 64 bits", text)
	}
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		p.out[typePos] = bsonInt32
		p.out = binary.LittleEndian.AppendUint32(p.out, uint32(int32(n)))
		return nil
	}
	p.out[typePos] = bsonInt64
	p.out = binary.LittleEndian.AppendUint64(p.out, uint64(n))
	return nil
}

func (p *jsonParser) digits() int {
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.pos - start
}

// string decodes a JSON string at p.pos into p.scratch and returns it (valid only until the next call).
func (p *jsonParser) string() ([]byte, error) {
	p.pos++ // opening quote
	p.scratch = p.scratch[:0]
	for {
		// Copy the run of plain ASCII in one go: most strings have no escapes.
		runStart := p.pos
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
			p.pos++
		}
		p.scratch = append(p.scratch, p.src[runStart:p.pos]...)
		if p.pos >= len(p.src) {
			return nil, p.errorf("unterminated string")
		}
		switch c := p.src[p.pos]; {
		case c == '"':
			p.pos++
			return p.scratch, nil
		case c < 0x20:
			return nil, p.errorf("control character in string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.src[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return nil, p.errorf("invalid UTF-8 in string")
			}
			p.scratch = append(p.scratch, p.src[p.pos:p.pos+size]...)
			p.pos += size
		default: // backslash
			if err := p.escape(); err != nil {
				return nil, err
			}
		}
	}
}

func (p *jsonParser) escape() error {
	p.pos++
	if p.pos >= len(p.src) {
		return p.errorf("unterminated escape")
	}
	c := p.src[p.pos]
	p.pos++
	switch c {
	case '"', '\\', '/':
		p.scratch = append(p.scratch, c)
	case 'b':
		p.scratch = append(p.scratch, '\b')
	case 'f':
		p.scratch = append(p.scratch, '\f')
	case 'n':
		p.scratch = append(p.scratch, '\n')
	case 'r':
		p.scratch = append(p.scratch, '\r')
	case 't':
		p.scratch = append(p.scratch, '\t')
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return err
		}
		if utf16.IsSurrogate(r) {
			// Only a high surrogate followed by an escaped low surrogate is a character.
			if r >= 0xDC00 || len(p.src)-p.pos < 6 || p.src[p.pos] != '\\' || p.src[p.pos+1] != 'u' {
				return p.errorf("lone UTF-16 surrogate in string")
			}
			p.pos += 2
			low, err := p.hex4()
			if err != nil {
				return err
			}
			r = utf16.DecodeRune(r, low)
			if r == utf8.RuneError {
				return p.errorf("lone UTF-16 surrogate in string")
			}
		}
		p.scratch = utf8.AppendRune(p.scratch, r)
	default:
		return p.errorf("invalid escape \\%c", c)
	}
	return nil
}

func (p *jsonParser) hex4() (rune, error) {
	if len(p.src)-p.pos < 4 {
		return 0, p.errorf("short \\u escape")
	}
	var r rune
	for _, c := range p.src[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, p.errorf("invalid \\u escape")
		}
	}
	p.pos += 4
	return r, nil
}

// keySet detects duplicate keys of one object. It remembers where each key sits in the output buffer (offsets,
// because appending may move the buffer). Dashboards' objects are small, so a linear scan serves most; a map
// takes over for wide objects.
type keySet struct {
	spans [][2]int
	set   map[string]struct{}
}

const keySetLinearMax = 32

// add records the key out[from:to] and reports whether it was new.
func (k *keySet) add(out []byte, from, to int) bool {
	key := out[from:to]
	if k.set != nil {
		if _, dup := k.set[string(key)]; dup {
			return false
		}
		k.set[string(key)] = struct{}{}
		return true
	}
	for _, sp := range k.spans {
		if string(out[sp[0]:sp[1]]) == string(key) {
			return false
		}
	}
	k.spans = append(k.spans, [2]int{from, to})
	if len(k.spans) > keySetLinearMax {
		k.set = make(map[string]struct{}, 2*len(k.spans))
		for _, sp := range k.spans {
			k.set[string(out[sp[0]:sp[1]])] = struct{}{}
		}
		k.spans = nil
	}
	return true
}
