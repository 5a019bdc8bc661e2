package dashboards

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// errMalformedBSON reports stored bytes that are not a well-formed BSON document.
var errMalformedBSON = errors.New("malformed BSON")

// bsonToJSON appends the JSON form of the BSON document doc to dst, members in stored order.
//
// Types come back as the old backend's json.dumps wrote them: int32/int64 as integers, doubles always with
// a fraction or exponent (2.0 stays "2.0"), so a dashboard written by Python and read here hashes the same in
// the browser. Types JSON cannot express (dates, binary, ...) are an error: dashboards never hold them.
func bsonToJSON(dst, doc []byte) ([]byte, error) {
	return appendDocument(dst, doc, false, 0)
}

// appendMembers appends the members of the BSON document doc as `"key":value` pairs, each preceded by a
// comma, skipping the key skip. It lets the caller splice stored members after its own ({"id": ..., <members>}).
func appendMembers(dst, doc []byte, skip string) ([]byte, error) {
	body, err := documentBody(doc)
	if err != nil {
		return dst, err
	}
	for len(body) > 0 {
		typ, key, val, rest, err := nextElement(body)
		if err != nil {
			return dst, err
		}
		body = rest
		if string(key) == skip {
			continue
		}
		dst = append(dst, ',')
		dst = appendJSONString(dst, key)
		dst = append(dst, ':')
		if dst, err = appendValue(dst, typ, val, 1); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func appendDocument(dst, doc []byte, isArray bool, depth int) ([]byte, error) {
	if depth > maxNesting+1 {
		return dst, fmt.Errorf("%w: nested too deeply", errMalformedBSON)
	}
	body, err := documentBody(doc)
	if err != nil {
		return dst, err
	}
	open, closer := byte('{'), byte('}')
	if isArray {
		open, closer = '[', ']'
	}
	dst = append(dst, open)
	for first := true; len(body) > 0; first = false {
		typ, key, val, rest, err := nextElement(body)
		if err != nil {
			return dst, err
		}
		body = rest
		if !first {
			dst = append(dst, ',')
		}
		if !isArray {
			dst = appendJSONString(dst, key)
			dst = append(dst, ':')
		}
		if dst, err = appendValue(dst, typ, val, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, closer), nil
}

// documentBody checks the framing of a BSON document and returns its element list (without the trailing NUL).
func documentBody(doc []byte) ([]byte, error) {
	if len(doc) < 5 {
		return nil, fmt.Errorf("%w: document shorter than 5 bytes", errMalformedBSON)
	}
	n := binary.LittleEndian.Uint32(doc)
	if uint64(n) != uint64(len(doc)) || doc[len(doc)-1] != 0 {
		return nil, fmt.Errorf("%w: document length %d does not match %d bytes", errMalformedBSON, n, len(doc))
	}
	return doc[4 : len(doc)-1], nil
}

// nextElement splits the first element off a document's element list.
func nextElement(body []byte) (typ byte, key, val, rest []byte, err error) {
	typ = body[0]
	end := 1
	for end < len(body) && body[end] != 0 {
		end++
	}
	if end >= len(body) {
		return 0, nil, nil, nil, fmt.Errorf("%w: unterminated key", errMalformedBSON)
	}
	key = body[1:end]
	body = body[end+1:]
	size, err := valueSize(typ, body)
	if err != nil {
		return 0, nil, nil, nil, err
	}
	return typ, key, body[:size], body[size:], nil
}

// valueSize returns how many bytes of b the value of the given type occupies.
func valueSize(typ byte, b []byte) (int, error) {
	size := 0
	switch typ {
	case bsonDouble, bsonInt64, bsonDateTime:
		size = 8
	case bsonInt32:
		size = 4
	case bsonBool:
		size = 1
	case bsonNull:
		size = 0
	case bsonString:
		if len(b) < 4 {
			return 0, fmt.Errorf("%w: truncated string", errMalformedBSON)
		}
		n := binary.LittleEndian.Uint32(b)
		if n < 1 || uint64(n)+4 > uint64(len(b)) || b[3+n] != 0 {
			return 0, fmt.Errorf("%w: bad string length", errMalformedBSON)
		}
		size = 4 + int(n)
	case bsonDocument, bsonArray:
		if len(b) < 4 {
			return 0, fmt.Errorf("%w: truncated document", errMalformedBSON)
		}
		n := binary.LittleEndian.Uint32(b)
		if n < 5 || uint64(n) > uint64(len(b)) {
			return 0, fmt.Errorf("%w: bad document length", errMalformedBSON)
		}
		size = int(n)
	default:
		return 0, fmt.Errorf("stored dashboard holds BSON type 0x%02x, which has no JSON form", typ)
	}
	if size > len(b) {
		return 0, fmt.Errorf("%w: truncated value of type 0x%02x", errMalformedBSON, typ)
	}
	return size, nil
}

func appendValue(dst []byte, typ byte, val []byte, depth int) ([]byte, error) {
	switch typ {
	case bsonDouble:
		return appendPythonFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(val))), nil
	case bsonInt32:
		return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(val))), 10), nil
	case bsonInt64:
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(val)), 10), nil
	case bsonString:
		return appendJSONString(dst, val[4:len(val)-1]), nil
	case bsonBool:
		if val[0] != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case bsonNull:
		return append(dst, "null"...), nil
	case bsonDocument:
		return appendDocument(dst, val, false, depth)
	case bsonArray:
		return appendDocument(dst, val, true, depth)
	default: // bsonDateTime: valueSize accepts it so records can be walked, but a dashboard never holds one
		return dst, fmt.Errorf("stored dashboard holds BSON type 0x%02x, which has no JSON form", typ)
	}
}

// appendPythonFloat writes f the way Python's repr (and so json.dumps) does: the shortest digits that
// read back to f, fixed notation for decimal exponents -4..15 with at least one fractional digit ("2.0"),
// otherwise exponent notation with a signed, at least two-digit exponent ("1e-05", "1.5e+16").
//
// NaN and infinities cannot come from JSON input; Python could have stored them from its lenient parser, and
// they are written as null so the answer stays valid JSON.
func appendPythonFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	var buf [32]byte
	sci := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±XX
	e := bytesLastIndexByte(sci, 'e')
	exp, _ := strconv.Atoi(string(sci[e+1:]))
	if f == 0 {
		exp = 0
	}
	if exp >= -4 && exp < 16 {
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
		for _, c := range dst[start:] {
			if c == '.' {
				return dst
			}
		}
		return append(dst, ".0"...)
	}
	dst = append(dst, sci[:e]...)
	dst = append(dst, 'e')
	if exp < 0 {
		dst = append(dst, '-')
		exp = -exp
	} else {
		dst = append(dst, '+')
	}
	if exp < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(exp), 10)
}

func bytesLastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Only what JSON requires is escaped; invalid UTF-8 (impossible
// from JSON input, conceivable in foreign data) becomes U+FFFD so the output stays valid.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size > 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
