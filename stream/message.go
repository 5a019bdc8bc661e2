package stream

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/databoard/databoard/daqbuf/curve"
)

// format is a connection's encoding: JSON text frames, or MessagePack binary frames
// (subprotocol databoard.v1.msgpack) with maps in the same key order.
type format uint8

const (
	formatJSON format = iota
	formatMsgpack
)

// Subprotocols a client may offer.
const (
	subprotocolJSON    = "databoard.v1.json"
	subprotocolMsgpack = "databoard.v1.msgpack"
)

// body is the encoded part of a server message after its "type" and "id": the same bytes for every
// subscription it goes to, so a message is encoded once per format however many receive it.
type body struct {
	b      []byte
	fields int // msgpack: the number of key/value pairs in b
}

// fieldWriter writes one message's fields in one format. Every message is described once (see the
// constructors below) and written by either implementation.
type fieldWriter interface {
	str(key, v string)
	int(key string, v int64)
	bool(key string, v bool)
	doc(key string, d *curve.Doc)
	body() body
}

func newFieldWriter(f format) fieldWriter {
	if f == formatMsgpack {
		w := &msgpackFields{}
		w.enc = msgpack.NewEncoder(&w.buf)
		w.enc.UseCompactInts(true)
		return w
	}
	return &jsonFields{}
}

// jsonFields writes `,"key":value` for every field.
type jsonFields struct{ b []byte }

func (w *jsonFields) key(k string) {
	w.b = append(w.b, ',')
	w.b = curve.AppendJSONString(w.b, k)
	w.b = append(w.b, ':')
}
func (w *jsonFields) str(k, v string)            { w.key(k); w.b = curve.AppendJSONString(w.b, v) }
func (w *jsonFields) int(k string, v int64)      { w.key(k); w.b = strconv.AppendInt(w.b, v, 10) }
func (w *jsonFields) bool(k string, v bool)      { w.key(k); w.b = strconv.AppendBool(w.b, v) }
func (w *jsonFields) doc(k string, d *curve.Doc) { w.key(k); w.b = d.AppendJSON(w.b) }
func (w *jsonFields) body() body                 { return body{b: w.b} }

// msgpackFields writes key/value pairs and counts them for the map header.
type msgpackFields struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
	n   int
}

func (w *msgpackFields) key(k string)          { w.n++; _ = w.enc.EncodeString(k) }
func (w *msgpackFields) str(k, v string)       { w.key(k); _ = w.enc.EncodeString(v) }
func (w *msgpackFields) int(k string, v int64) { w.key(k); _ = w.enc.EncodeInt(v) }
func (w *msgpackFields) bool(k string, v bool) { w.key(k); _ = w.enc.EncodeBool(v) }
func (w *msgpackFields) doc(k string, d *curve.Doc) {
	w.key(k)
	encodeDocMsgpack(w.enc, d)
}
func (w *msgpackFields) body() body { return body{b: w.buf.Bytes(), fields: w.n} }

// encodeDocMsgpack writes d as Doc.AppendJSON does, as MessagePack maps in the same order.
func encodeDocMsgpack(enc *msgpack.Encoder, d *curve.Doc) {
	if d.Empty {
		_ = enc.EncodeMapLen(1)
		_ = enc.EncodeString(d.Name)
		_ = enc.EncodeMapLen(0)
		return
	}
	maps := 2
	if !d.Raw {
		maps = 4
	}
	_ = enc.EncodeMapLen(maps)
	points := func(name string, pts []curve.Point) {
		_ = enc.EncodeString(name)
		_ = enc.EncodeMapLen(len(pts))
		for _, p := range pts {
			_ = enc.EncodeString(p.Key())
			switch p.Val.Kind {
			case curve.KindInt:
				_ = enc.EncodeInt(p.Val.I())
			case curve.KindUint:
				_ = enc.EncodeUint(p.Val.U())
			default:
				_ = enc.EncodeFloat64(p.Val.F())
			}
		}
	}
	points(d.Name, d.Values)
	if !d.Raw {
		points(d.Name+"_min", d.Mins)
		points(d.Name+"_max", d.Maxs)
	}
	_ = enc.EncodeString(d.Name + "_meta")
	_ = enc.EncodeMapLen(5)
	_ = enc.EncodeString("raw")
	_ = enc.EncodeBool(d.Raw)
	_ = enc.EncodeString("waveform")
	_ = enc.EncodeBool(d.Waveform)
	_ = enc.EncodeString("interval_avg")
	_ = enc.EncodeFloat64(d.IntervalAvg)
	_ = enc.EncodeString("interval_stddev")
	_ = enc.EncodeFloat64(d.IntervalStddev)
	_ = enc.EncodeString("pointMeta")
	_ = enc.EncodeMapLen(len(d.Meta))
	for _, m := range d.Meta {
		_ = enc.EncodeString(strconv.FormatInt(m.Time, 10))
		switch {
		case m.Binned:
			_ = enc.EncodeMapLen(1)
			_ = enc.EncodeString("count")
			_ = enc.EncodeUint(m.Count)
		default:
			n := 1
			if m.HasDesc {
				n = 2
			}
			_ = enc.EncodeMapLen(n)
			_ = enc.EncodeString("pulseId")
			if m.HasPulse {
				_ = enc.EncodeUint(m.Pulse)
			} else {
				_ = enc.EncodeNil()
			}
			if m.HasDesc {
				_ = enc.EncodeString("desc")
				_ = enc.EncodeString(m.Desc)
			}
		}
	}
}

// Server message types.
const (
	typeSnapshot     = "snapshot"
	typeResumed      = "resumed"
	typeAppend       = "append"
	typeError        = "error"
	typeComplete     = "complete"
	typeUnsubscribed = "unsubscribed"
	typeHeartbeat    = "heartbeat"
	typePong         = "pong"
)

// frameHead writes the start of one server message: {"type": typ, "id": id (when hasID), for JSON; the
// map header with type and id for MessagePack. The body's bytes follow it, and for JSON a closing brace.
func frameHead(dst []byte, f format, typ, id string, hasID bool, b body) []byte {
	if f == formatMsgpack {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		n := 1 + b.fields
		if hasID {
			n++
		}
		_ = enc.EncodeMapLen(n)
		_ = enc.EncodeString("type")
		_ = enc.EncodeString(typ)
		if hasID {
			_ = enc.EncodeString("id")
			_ = enc.EncodeString(id)
		}
		return append(dst, buf.Bytes()...)
	}
	dst = append(dst, `{"type":`...)
	dst = curve.AppendJSONString(dst, typ)
	if hasID {
		dst = append(dst, `,"id":`...)
		dst = curve.AppendJSONString(dst, id)
	}
	return dst
}

// Bodies of the messages that are not series updates.

func errorBody(f format, status int, detail string, final bool) body {
	w := newFieldWriter(f)
	w.int("status", int64(status))
	w.str("detail", detail)
	w.bool("final", final)
	return w.body()
}

func resumedBody(f format, epoch string, offset int64) body {
	w := newFieldWriter(f)
	w.str("epoch", epoch)
	w.str("offset", strconv.FormatInt(offset, 10))
	w.bool("recovered", true)
	return w.body()
}

func heartbeatBody(f format, ms int64) body {
	w := newFieldWriter(f)
	w.int("time", ms)
	return w.body()
}

// pongBody echoes a ping's data: the JSON text as it came, or the MessagePack value re-encoded.
func pongBody(f format, data json.RawMessage, hasData bool) body {
	if !hasData {
		return body{}
	}
	if f == formatMsgpack {
		var v any
		_ = json.Unmarshal(data, &v)
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		_ = enc.EncodeString("data")
		_ = enc.Encode(v)
		return body{b: buf.Bytes(), fields: 1}
	}
	b := append([]byte(`,"data":`), data...)
	return body{b: b}
}

// snapshotBody and appendBody describe a series update for one format.
func snapshotBody(f format, epoch string, offset, beginMs, endMs int64, d *curve.Doc) body {
	w := newFieldWriter(f)
	w.str("epoch", epoch)
	w.str("offset", strconv.FormatInt(offset, 10))
	w.bool("recovered", false)
	w.int("begin_time", beginMs)
	w.int("end_time", endMs)
	w.doc("curve", d)
	return w.body()
}

func appendBody(f format, epoch string, offset, beginMs, endMs int64, d delta) body {
	w := newFieldWriter(f)
	w.str("epoch", epoch)
	w.str("offset", strconv.FormatInt(offset, 10))
	w.int("begin_time", beginMs)
	w.int("end_time", endMs)
	w.str("trim_before", strconv.FormatInt(d.trimBefore, 10))
	if d.hasReplace {
		w.str("replace_from", strconv.FormatInt(d.replaceFrom, 10))
	}
	w.doc("curve", d.add)
	return w.body()
}
