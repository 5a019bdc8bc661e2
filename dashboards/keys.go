package dashboards

import (
	"encoding/binary"
	"strings"
)

// FerretDB v1 (the embedded store) refuses document keys that contain '.' or start with '$', which real
// dashboards have: curveAttributes is keyed by channel name, and EPICS names such as "PV.VAL" carry a
// field after a dot. The embedded store therefore keeps such keys escaped: a key that needs it is stored
// as keyMarker followed by the key with '%', '.' and '$' written as %25, %2E and %24. Keys starting with
// the marker are escaped too, so every stored key decodes to exactly one original. Decoding only accepts a
// key in this canonical form, so a key stored before this scheme existed comes back as it was.
// Real MongoDB stores the keys as they are, and nothing is rewritten there.
const keyMarker = '%'

// keyNeedsEscape reports whether FerretDB v1 would refuse key, or key could be mistaken for an escaped one.
func keyNeedsEscape(key []byte) bool {
	if len(key) == 0 {
		return false
	}
	return key[0] == '$' || key[0] == keyMarker || strings.IndexByte(string(key), '.') >= 0
}

func escapeKey(dst, key []byte) []byte {
	dst = append(dst, keyMarker)
	for _, c := range key {
		switch c {
		case '%':
			dst = append(dst, "%25"...)
		case '.':
			dst = append(dst, "%2E"...)
		case '$':
			dst = append(dst, "%24"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// unescapeKey returns the original of an escaped key, or key itself when it is not in canonical escaped
// form.
func unescapeKey(dst, key []byte) []byte {
	if len(key) < 2 || key[0] != keyMarker {
		return append(dst, key...)
	}
	start := len(dst)
	for i := 1; i < len(key); i++ {
		c := key[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(key) {
			return append(dst[:start], key...)
		}
		switch string(key[i+1 : i+3]) {
		case "25":
			dst = append(dst, '%')
		case "2E":
			dst = append(dst, '.')
		case "24":
			dst = append(dst, '$')
		default:
			return append(dst[:start], key...)
		}
		i += 2
	}
	// Canonical only if escaping the result gives the stored key back.
	if orig := dst[start:]; !keyNeedsEscape(orig) || string(escapeKey(nil, orig)) != string(key) {
		return append(dst[:start], key...)
	}
	return dst
}

// escapeKeys returns doc with every key that needs it escaped, or doc itself when none does (the common
// case, which then costs one scan).
func escapeKeys(doc []byte) ([]byte, error) {
	return rewriteKeys(doc, keyNeedsEscape, escapeKey)
}

// unescapeKeys undoes escapeKeys.
func unescapeKeys(doc []byte) ([]byte, error) {
	return rewriteKeys(doc, func(k []byte) bool { return len(k) > 1 && k[0] == keyMarker }, unescapeKey)
}

// rewriteKeys rewrites the keys of doc and of every document and array inside it for which match holds.
func rewriteKeys(doc []byte, match func([]byte) bool, rewrite func(dst, key []byte) []byte) ([]byte, error) {
	found, err := anyKey(doc, match, 0)
	if err != nil || !found {
		return doc, err
	}
	return appendRewritten(make([]byte, 0, len(doc)+64), doc, match, rewrite)
}

// anyKey reports whether some key in doc (at any depth) matches.
func anyKey(doc []byte, match func([]byte) bool, depth int) (bool, error) {
	if depth > maxNesting+1 {
		return false, errMalformedBSON
	}
	body, err := documentBody(doc)
	if err != nil {
		return false, err
	}
	for len(body) > 0 {
		typ, key, val, rest, err := nextElement(body)
		if err != nil {
			return false, err
		}
		if match(key) {
			return true, nil
		}
		if typ == bsonDocument || typ == bsonArray {
			if found, err := anyKey(val, match, depth+1); err != nil || found {
				return found, err
			}
		}
		body = rest
	}
	return false, nil
}

func appendRewritten(dst, doc []byte, match func([]byte) bool, rewrite func(dst, key []byte) []byte) ([]byte, error) {
	body, err := documentBody(doc)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for len(body) > 0 {
		typ, key, val, rest, err := nextElement(body)
		if err != nil {
			return dst, err
		}
		dst = append(dst, typ)
		if match(key) {
			dst = rewrite(dst, key)
		} else {
			dst = append(dst, key...)
		}
		dst = append(dst, 0)
		if typ == bsonDocument || typ == bsonArray {
			if dst, err = appendRewritten(dst, val, match, rewrite); err != nil {
				return dst, err
			}
		} else {
			dst = append(dst, val...)
		}
		body = rest
	}
	dst = append(dst, 0)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst, nil
}
