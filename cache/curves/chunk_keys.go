package curves

import (
	"strconv"

	"github.com/databoard/databoard/daqbuf"
)

// Key layout of curve chunks (relative to the store's own prefix, which carries the version):
//
//	curve:<len>:<backend><ident>:b<mode>:<width ns>:<chunk start ns>
//	curve:<len>:<backend><ident>:e<mode>:<len>:<value type><span ns>:<chunk start ns>
//	lock:<chunk key>
//
// ident is the series id in decimal, or "n:<len>:<name>" when the channel is addressed by name.
// Strings are length-prefixed so that no backend or channel name (which may contain ':') can make
// one channel's keys a prefix of another's: FlushChannel deletes by prefix.
const (
	curveKeyPrefix = "curve:"
	lockKeyPrefix  = "lock:"
)

// appendLP appends s length-prefixed ("<len>:<s>").
func appendLP(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// channelKeyPrefix is the prefix of every chunk key of one channel as addressed by ch.
func channelKeyPrefix(ch daqbuf.ChannelRef) string {
	b := make([]byte, 0, 48+len(ch.Backend)+len(ch.Name))
	return string(appendChannelKey(b, ch))
}

func appendChannelKey(dst []byte, ch daqbuf.ChannelRef) []byte {
	dst = append(dst, curveKeyPrefix...)
	dst = appendLP(dst, ch.Backend)
	if ch.SeriesID != 0 {
		dst = strconv.AppendUint(dst, ch.SeriesID, 10)
	} else {
		dst = append(dst, "n:"...)
		dst = appendLP(dst, ch.Name)
	}
	return append(dst, ':')
}

// binModeOf and eventModeOf resolve ModeDefault, so that both spellings share chunks.
func binModeOf(m daqbuf.Mode) daqbuf.Mode {
	if m == daqbuf.ModeDefault {
		return daqbuf.ModeJSONFramed
	}
	return m
}

func eventModeOf(m daqbuf.Mode) daqbuf.Mode {
	if m == daqbuf.ModeDefault {
		return daqbuf.ModeCBOR
	}
	return m
}

// binKeyBase is the part of a bin chunk key before the chunk start. The mode is part of the key
// because decoded values can differ between modes (float text in JSON, float32 in CBOR).
func binKeyBase(ch daqbuf.ChannelRef, m daqbuf.Mode, w int64) []byte {
	b := appendChannelKey(make([]byte, 0, 96), ch)
	b = append(b, 'b')
	b = strconv.AppendInt(b, int64(binModeOf(m)), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, w, 10)
	return append(b, ':')
}

// eventKeyBase is the part of an events chunk key before the chunk start. The value-type hint
// steers JSON decoding, so it is part of the key.
func eventKeyBase(ch daqbuf.ChannelRef, m daqbuf.Mode, valueType string, span int64) []byte {
	b := appendChannelKey(make([]byte, 0, 96), ch)
	b = append(b, 'e')
	b = strconv.AppendInt(b, int64(eventModeOf(m)), 10)
	b = append(b, ':')
	b = appendLP(b, valueType)
	b = strconv.AppendInt(b, span, 10)
	return append(b, ':')
}

// chunkKeys returns base + chunk start for every chunk.
func chunkKeys(base []byte, chunks []chunk) []string {
	keys := make([]string, len(chunks))
	for i, c := range chunks {
		keys[i] = string(strconv.AppendInt(base, c.Span.Beg, 10))
	}
	return keys
}
