package curves

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/databoard/databoard/daqbuf"
)

// A chunk value is a fixed header followed by a msgpack stream of the batch columns:
//
//	byte 0     codecVersion
//	byte 1     kindBins or kindEvents
//	byte 2     flags (bit 0: final)
//	bytes 3-10 FreshUntil, ns, big-endian
//	bytes 11-18 Covered, ns, big-endian
//	msgpack    bins: n, Ts1[0], Ts2[0]-Ts1[0], then per further bin the gap to the previous bin's end
//	           and the change of width (both usually 0: one byte each), Counts, Mins, Maxs, Avgs
//	           events: number of batches, then per batch ScalarType, Ts (first, then deltas),
//	           Pulses (nil or first, then deltas), Kind, Width, the six value columns (nil or values)
//
// Float columns are written as float32 when every value survives the round trip (data-api's bins
// are float32), else as float64; NaN is kept. The header can be read without decoding the body.
const (
	codecVersion = 1
	kindBins     = 'b'
	kindEvents   = 'e'
	headerLen    = 19
	flagFinal    = 1
)

var errCorrupt = errors.New("cache: corrupt chunk value")

func appendHeader(dst []byte, kind byte, h chunkHeader) []byte {
	var flags byte
	if h.Final {
		flags |= flagFinal
	}
	dst = append(dst, codecVersion, kind, flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.FreshUntil))
	return binary.BigEndian.AppendUint64(dst, uint64(h.Covered))
}

// readHeader reads the header of a value of the given kind.
func readHeader(val []byte, kind byte) (chunkHeader, error) {
	if len(val) < headerLen || val[0] != codecVersion || val[1] != kind {
		return chunkHeader{}, errCorrupt
	}
	return chunkHeader{
		Final:      val[2]&flagFinal != 0,
		FreshUntil: int64(binary.BigEndian.Uint64(val[3:11])),
		Covered:    int64(binary.BigEndian.Uint64(val[11:19])),
	}, nil
}

// chunkWriter wraps a pooled msgpack encoder writing to a buffer; the first error sticks.
type chunkWriter struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
	err error
}

func newChunkWriter(kind byte, h chunkHeader, sizeHint int) *chunkWriter {
	w := &chunkWriter{enc: msgpack.GetEncoder()}
	w.buf.Grow(headerLen + sizeHint)
	w.buf.Write(appendHeader(make([]byte, 0, headerLen), kind, h))
	w.enc.Reset(&w.buf)
	return w
}

func (w *chunkWriter) finish() ([]byte, error) {
	msgpack.PutEncoder(w.enc)
	w.enc = nil
	if w.err != nil {
		return nil, fmt.Errorf("cache: encoding chunk: %w", w.err)
	}
	return w.buf.Bytes(), nil
}

func (w *chunkWriter) keep(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *chunkWriter) int(v int64)    { w.keep(w.enc.EncodeInt(v)) }
func (w *chunkWriter) uint(v uint64)  { w.keep(w.enc.EncodeUint(v)) }
func (w *chunkWriter) str(s string)   { w.keep(w.enc.EncodeString(s)) }
func (w *chunkWriter) arrayLen(n int) { w.keep(w.enc.EncodeArrayLen(n)) }
func (w *chunkWriter) isNil(nilv bool) bool {
	if nilv {
		w.keep(w.enc.EncodeNil())
	}
	return nilv
}

// floats writes a float column: nil, or [float32?, values...] with the flag deciding the width.
func (w *chunkWriter) floats(v []float64) {
	if w.isNil(v == nil) {
		return
	}
	narrow := true
	for _, f := range v {
		if float64(float32(f)) != f && f == f {
			narrow = false
			break
		}
	}
	w.arrayLen(len(v))
	w.keep(w.enc.EncodeBool(narrow))
	for _, f := range v {
		if narrow {
			w.keep(w.enc.EncodeFloat32(float32(f)))
		} else {
			w.keep(w.enc.EncodeFloat64(f))
		}
	}
}

func (w *chunkWriter) ints(v []int64) {
	if w.isNil(v == nil) {
		return
	}
	w.arrayLen(len(v))
	for _, x := range v {
		w.int(x)
	}
}

func (w *chunkWriter) uints(v []uint64) {
	if w.isNil(v == nil) {
		return
	}
	w.arrayLen(len(v))
	for _, x := range v {
		w.uint(x)
	}
}

// deltas writes an ascending-ish column as its first value and the differences (wrapping, so any
// values round-trip).
func (w *chunkWriter) deltas(v []int64) {
	if w.isNil(v == nil) {
		return
	}
	w.arrayLen(len(v))
	var prev int64
	for _, x := range v {
		w.int(x - prev)
		prev = x
	}
}

func (w *chunkWriter) udeltas(v []uint64) {
	if w.isNil(v == nil) {
		return
	}
	w.arrayLen(len(v))
	var prev uint64
	for _, x := range v {
		w.int(int64(x - prev))
		prev = x
	}
}

func (w *chunkWriter) bools(v []bool) {
	if w.isNil(v == nil) {
		return
	}
	w.arrayLen(len(v))
	for _, x := range v {
		w.keep(w.enc.EncodeBool(x))
	}
}

func (w *chunkWriter) strs(v []string) {
	if w.isNil(v == nil) {
		return
	}
	w.arrayLen(len(v))
	for _, x := range v {
		w.str(x)
	}
}

// encodeBins encodes one batch of bins (nil: no bins) with its header.
func encodeBins(h chunkHeader, b *daqbuf.BinBatch) ([]byte, error) {
	if b == nil || b.Len() == 0 {
		b = &daqbuf.BinBatch{Counts: []uint64{}, Mins: []float64{}, Maxs: []float64{}, Avgs: []float64{}}
	}
	n := b.Len()
	if len(b.Ts2) != n || len(b.Counts) != n || len(b.Mins) != n || len(b.Maxs) != n || len(b.Avgs) != n {
		return nil, fmt.Errorf("cache: encoding bins: columns of unequal length")
	}
	w := newChunkWriter(kindBins, h, n*20)
	w.int(int64(n))
	for i := range n {
		width := b.Ts2[i] - b.Ts1[i]
		if i == 0 {
			w.int(b.Ts1[0])
			w.int(width)
			continue
		}
		w.int(b.Ts1[i] - b.Ts2[i-1])
		w.int(width - (b.Ts2[i-1] - b.Ts1[i-1]))
	}
	w.uints(b.Counts)
	w.floats(b.Mins)
	w.floats(b.Maxs)
	w.floats(b.Avgs)
	return w.finish()
}

// encodeEvents encodes a chunk's event batches with its header.
func encodeEvents(h chunkHeader, batches []*daqbuf.EventBatch) ([]byte, error) {
	size := 0
	for _, b := range batches {
		size += b.Len() * 12
	}
	w := newChunkWriter(kindEvents, h, size)
	w.arrayLen(len(batches))
	for _, b := range batches {
		w.str(b.ScalarType)
		w.deltas(b.Ts)
		w.udeltas(b.Pulses)
		v := b.Values
		w.uint(uint64(v.Kind))
		w.int(int64(v.Width))
		w.floats(v.Floats)
		w.ints(v.Ints)
		w.uints(v.Uints)
		w.bools(v.Bools)
		w.strs(v.Strings)
		w.strs(v.Labels)
	}
	return w.finish()
}

// chunkReader wraps a pooled msgpack decoder over a value's body; the first error sticks.
type chunkReader struct {
	dec     *msgpack.Decoder
	rd      bytes.Reader
	size    int // body length: no column can hold more elements than bytes
	err     error
	scratch []byte
}

func newChunkReader(val []byte) *chunkReader {
	r := &chunkReader{dec: msgpack.GetDecoder(), size: len(val) - headerLen}
	r.rd.Reset(val[headerLen:])
	r.dec.Reset(&r.rd)
	return r
}

func (r *chunkReader) close() error {
	msgpack.PutDecoder(r.dec)
	r.dec = nil
	if r.err != nil {
		return fmt.Errorf("%w: %v", errCorrupt, r.err)
	}
	return nil
}

func (r *chunkReader) keep(err error) {
	if r.err == nil && err != nil {
		r.err = err
	}
}

func (r *chunkReader) int() int64 {
	v, err := r.dec.DecodeInt64()
	r.keep(err)
	return v
}

func (r *chunkReader) uint() uint64 {
	v, err := r.dec.DecodeUint64()
	r.keep(err)
	return v
}

func (r *chunkReader) bool() bool {
	v, err := r.dec.DecodeBool()
	r.keep(err)
	return v
}

func (r *chunkReader) str() string {
	v, err := r.dec.DecodeString()
	r.keep(err)
	return v
}

// arrayLen reads a column length: -1 for nil. Lengths beyond the body size are corrupt.
func (r *chunkReader) arrayLen() int {
	n, err := r.dec.DecodeArrayLen()
	r.keep(err)
	if r.err != nil {
		return -1
	}
	if n > r.size {
		r.keep(fmt.Errorf("length %d beyond value size %d", n, r.size))
		return -1
	}
	return n
}

// count reads a non-negative element count bounded by the body size.
func (r *chunkReader) count() int {
	n := r.int()
	if r.err == nil && (n < 0 || n > int64(r.size)) {
		r.keep(fmt.Errorf("count %d out of range", n))
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

// appendFloats appends a float column to dst; isNil reports a nil column.
func (r *chunkReader) appendFloats(dst []float64) (out []float64, isNil bool) {
	n := r.arrayLen()
	if n < 0 {
		return dst, true
	}
	narrow := r.bool()
	if r.err != nil {
		return dst, false
	}
	return r.appendFixedFloats(dst, n, narrow), false
}

// appendFixedFloats reads n msgpack floats of one width (float32: the code and 4 big-endian bytes;
// float64: the code and 8) in one read. This is the hot path of every cached curve: decoder calls
// per value cost several times as much.
func (r *chunkReader) appendFixedFloats(dst []float64, n int, narrow bool) []float64 {
	size, code := 9, byte(msgpcode.Double)
	if narrow {
		size, code = 5, msgpcode.Float
	}
	if size*n > r.size {
		r.keep(fmt.Errorf("float column of %d beyond value size %d", n, r.size))
		return dst
	}
	if cap(r.scratch) < size*n {
		r.scratch = make([]byte, size*n)
	}
	buf := r.scratch[:size*n]
	if err := r.dec.ReadFull(buf); err != nil {
		r.keep(err)
		return dst
	}
	for i := 0; i < len(buf); i += size {
		if buf[i] != code {
			r.keep(fmt.Errorf("float column: code %#x, want %#x", buf[i], code))
			return dst
		}
		if narrow {
			dst = append(dst, float64(math.Float32frombits(binary.BigEndian.Uint32(buf[i+1:i+5]))))
		} else {
			dst = append(dst, math.Float64frombits(binary.BigEndian.Uint64(buf[i+1:i+9])))
		}
	}
	return dst
}

func (r *chunkReader) floats() []float64 {
	v, isNil := r.appendFloats(nil)
	if isNil {
		return nil
	}
	if v == nil {
		v = []float64{}
	}
	return v
}

func (r *chunkReader) ints() []int64 {
	n := r.arrayLen()
	if n < 0 {
		return nil
	}
	v := make([]int64, n)
	for i := 0; i < n && r.err == nil; i++ {
		v[i] = r.int()
	}
	return v
}

func (r *chunkReader) uints() []uint64 {
	n := r.arrayLen()
	if n < 0 {
		return nil
	}
	v := make([]uint64, n)
	for i := 0; i < n && r.err == nil; i++ {
		v[i] = r.uint()
	}
	return v
}

func (r *chunkReader) deltas() []int64 {
	n := r.arrayLen()
	if n < 0 {
		return nil
	}
	v := make([]int64, n)
	var prev int64
	for i := 0; i < n && r.err == nil; i++ {
		prev += r.int()
		v[i] = prev
	}
	return v
}

func (r *chunkReader) udeltas() []uint64 {
	n := r.arrayLen()
	if n < 0 {
		return nil
	}
	v := make([]uint64, n)
	var prev uint64
	for i := 0; i < n && r.err == nil; i++ {
		prev += uint64(r.int())
		v[i] = prev
	}
	return v
}

func (r *chunkReader) bools() []bool {
	n := r.arrayLen()
	if n < 0 {
		return nil
	}
	v := make([]bool, n)
	for i := 0; i < n && r.err == nil; i++ {
		v[i] = r.bool()
	}
	return v
}

func (r *chunkReader) strs() []string {
	n := r.arrayLen()
	if n < 0 {
		return nil
	}
	v := make([]string, n)
	for i := 0; i < n && r.err == nil; i++ {
		v[i] = r.str()
	}
	return v
}

// decodeBinsAppend decodes a bins value and appends its bins to dst (whose columns must be of equal
// length). On error dst is left as it was.
func decodeBinsAppend(val []byte, dst *daqbuf.BinBatch) (chunkHeader, error) {
	h, err := readHeader(val, kindBins)
	if err != nil {
		return h, err
	}
	r := newChunkReader(val)
	base := dst.Len()
	n := r.count()
	dst.Ts1, dst.Ts2 = grow(dst.Ts1, n), grow(dst.Ts2, n)
	var ts2, width int64
	for i := 0; i < n && r.err == nil; i++ {
		if i == 0 {
			ts1 := r.int()
			width = r.int()
			ts2 = ts1 + width
			dst.Ts1, dst.Ts2 = append(dst.Ts1, ts1), append(dst.Ts2, ts2)
			continue
		}
		ts1 := ts2 + r.int()
		width += r.int()
		ts2 = ts1 + width
		dst.Ts1, dst.Ts2 = append(dst.Ts1, ts1), append(dst.Ts2, ts2)
	}
	if cn := r.arrayLen(); cn != n && r.err == nil {
		r.keep(fmt.Errorf("counts: %d values for %d bins", cn, n))
	}
	dst.Counts = grow(dst.Counts, n)
	for i := 0; i < n && r.err == nil; i++ {
		dst.Counts = append(dst.Counts, r.uint())
	}
	for _, col := range []*[]float64{&dst.Mins, &dst.Maxs, &dst.Avgs} {
		*col = grow(*col, n)
		before := len(*col)
		*col, _ = r.appendFloats(*col)
		if r.err == nil && len(*col)-before != n {
			r.keep(fmt.Errorf("float column: %d values for %d bins", len(*col)-before, n))
		}
	}
	if err := r.close(); err != nil {
		truncateBins(dst, base)
		return h, err
	}
	return h, nil
}

// decodeBins decodes a bins value into a new batch.
func decodeBins(val []byte) (chunkHeader, *daqbuf.BinBatch, error) {
	b := &daqbuf.BinBatch{}
	h, err := decodeBinsAppend(val, b)
	return h, b, err
}

func truncateBins(b *daqbuf.BinBatch, n int) {
	b.Ts1, b.Ts2, b.Counts = b.Ts1[:min(n, len(b.Ts1))], b.Ts2[:min(n, len(b.Ts2))], b.Counts[:min(n, len(b.Counts))]
	b.Mins, b.Maxs, b.Avgs = b.Mins[:min(n, len(b.Mins))], b.Maxs[:min(n, len(b.Maxs))], b.Avgs[:min(n, len(b.Avgs))]
}

// grow makes room for n more elements.
func grow[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	out := make([]T, len(s), len(s)+max(n, len(s)))
	copy(out, s)
	return out
}

// decodeEvents decodes an events value.
func decodeEvents(val []byte) (chunkHeader, []*daqbuf.EventBatch, error) {
	h, err := readHeader(val, kindEvents)
	if err != nil {
		return h, nil, err
	}
	r := newChunkReader(val)
	nb := r.arrayLen()
	var out []*daqbuf.EventBatch
	for i := 0; i < nb && r.err == nil; i++ {
		b := &daqbuf.EventBatch{ScalarType: r.str(), Ts: r.deltas(), Pulses: r.udeltas()}
		kind := r.uint()
		width := r.int()
		if r.err == nil && (kind > math.MaxUint8 || width < 0 || width > int64(r.size)) {
			r.keep(fmt.Errorf("value kind %d, width %d", kind, width))
		}
		b.Values = daqbuf.Values{Kind: daqbuf.ValueKind(kind), Width: int(width)}
		b.Values.Floats = r.floats()
		b.Values.Ints = r.ints()
		b.Values.Uints = r.uints()
		b.Values.Bools = r.bools()
		b.Values.Strings = r.strs()
		b.Values.Labels = r.strs()
		out = append(out, b)
	}
	if err := r.close(); err != nil {
		return h, nil, err
	}
	return h, out, nil
}
