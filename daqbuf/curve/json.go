package curve

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/databoard/databoard/daqbuf"
)

// Curve is everything needed to write one `/channels/curve` answer (docs/api.md, "Curve"). It holds
// the decoded batches as data-api sent them; the encoder walks them once per output map, so no merged
// copy of the data is ever made. Build it with Service.Fetch.
type Curve struct {
	name        string // the channel_name exactly as the client sent it
	raw         bool
	bins        []*daqbuf.BinBatch
	events      []*daqbuf.EventBatch
	removeEmpty bool // removeEmptyBins: drop count-0 bins from every map
	isString    bool // treat values as strings (1 when non-empty, 0 else; desc = the text)
}

// AppendJSON appends `{"curve": {...}}` for c to dst.
//
// Keys are ns timestamps written in ascending order (the frontend reads insertion order); NaN and ±Inf
// never reach the output: such points are left out of every map, so value, min and max keep the same
// key set in the same order, as the frontend's min/max polygon needs.
func (c *Curve) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"curve":{`...)
	switch {
	case c.raw && c.eventCount() > 0:
		dst = appendRawCurve(dst, c)
	case !c.raw && c.binCount() > 0:
		dst = appendBinnedCurve(dst, c)
	default:
		dst = AppendJSONString(dst, c.name)
		dst = append(dst, `:{}`...)
	}
	return append(dst, `}}`...)
}

func (c *Curve) eventCount() int {
	n := 0
	for _, b := range c.events {
		n += b.Len()
	}
	return n
}

func (c *Curve) binCount() int {
	n := 0
	for _, b := range c.bins {
		n += b.Len()
	}
	return n
}

// SizeHint estimates the encoded answer's size, so its buffer is allocated once instead of growing
// through a dozen copies: a bin appears in four maps (~30 bytes each), an event in two (~45 bytes), a
// waveform element once.
func (c *Curve) SizeHint() int {
	n := 256
	for _, b := range c.bins {
		n += b.Len() * 4 * 30
	}
	for _, b := range c.events {
		n += b.Len()*90 + len(b.Values.Floats)*30*min(b.Values.Width, 1)
	}
	return n
}

// keepBin says whether bin i of b appears in the answer.
func (c *Curve) keepBin(b *daqbuf.BinBatch, i int) bool {
	if c.removeEmpty && b.Counts[i] == 0 {
		return false
	}
	return binFinite(b, i)
}

func binMid(b *daqbuf.BinBatch, i int) int64 {
	// Exact integer midpoint without overflow (ts1 ≤ ts2, both positive).
	return b.Ts1[i] + (b.Ts2[i]-b.Ts1[i])/2
}

func appendBinnedCurve(dst []byte, c *Curve) []byte {
	avg, stddev := intervalStats(c.bins)
	rows := c.keptBins()
	for m, suffix := range []string{"", "_min", "_max"} {
		if m > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, c.name+suffix)
		dst = append(dst, `:{`...)
		for k, r := range rows {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, r.key...)
			b := c.bins[r.batch]
			dst = appendFloat(dst, [3][]float64{b.Avgs, b.Mins, b.Maxs}[m][r.index])
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ',')
	dst = AppendJSONString(dst, c.name+"_meta")
	dst = append(dst, `:{"raw":false,"waveform":false,"interval_avg":`...)
	dst = appendFloat(dst, avg)
	dst = append(dst, `,"interval_stddev":`...)
	dst = appendFloat(dst, stddev)
	dst = append(dst, `,"pointMeta":{`...)
	for k, r := range rows {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, r.key...)
		dst = append(dst, `{"count":`...)
		dst = strconv.AppendUint(dst, c.bins[r.batch].Counts[r.index], 10)
		dst = append(dst, '}')
	}
	return append(dst, `}}`...)
}

// binRow is one bin of the answer: where it is, and its map key `"<midpoint>":` already encoded, since
// the same key is written into four maps.
type binRow struct {
	batch, index int
	key          []byte
}

// keptBins lists the bins that appear in the answer, in order, with their encoded keys (all keys
// share one buffer).
func (c *Curve) keptBins() []binRow {
	n := c.binCount()
	rows := make([]binRow, 0, n)
	keys := make([]byte, 0, n*23)
	for bi, b := range c.bins {
		for i := range b.Ts1 {
			if !c.keepBin(b, i) {
				continue
			}
			start := len(keys)
			keys = appendBinKey(keys, b, i)
			rows = append(rows, binRow{batch: bi, index: i, key: keys[start:len(keys):len(keys)]})
		}
	}
	return rows
}

// intervalStats is the mean and population standard deviation of the differences between consecutive
// bin midpoints, over all bins data-api returned (before any are removed), in ns (midStats).
func intervalStats(bins []*daqbuf.BinBatch) (mean, stddev float64) {
	return midStats(func(yield func(int64)) {
		for _, b := range bins {
			for i := range b.Ts1 {
				yield(binMid(b, i))
			}
		}
	})
}

// isWaveform says whether the events carry arrays rather than scalars.
func (c *Curve) isWaveform() bool {
	for _, b := range c.events {
		if b.Len() > 0 {
			return b.Values.Width > 0
		}
	}
	return false
}

func appendRawCurve(dst []byte, c *Curve) []byte {
	waveform := c.isWaveform()
	dst = AppendJSONString(dst, c.name)
	dst = append(dst, `:{`...)
	first := true
	for _, b := range c.events {
		for i, ts := range b.Ts {
			if waveform {
				dst = appendWaveform(dst, &first, b, i, ts)
				continue
			}
			if _, ok := c.eventValue(b, i); !ok {
				continue
			}
			dst = appendKey(dst, &first, ts)
			dst = appendScalar(dst, &b.Values, i, c.isString)
		}
	}
	dst = append(dst, `},`...)
	dst = AppendJSONString(dst, c.name+"_meta")
	dst = append(dst, `:{"raw":true,"waveform":`...)
	dst = strconv.AppendBool(dst, waveform)
	dst = append(dst, `,"interval_avg":0,"interval_stddev":0,"pointMeta":{`...)
	first = true
	for _, b := range c.events {
		for i, ts := range b.Ts {
			if !waveform {
				if _, ok := c.eventValue(b, i); !ok {
					continue
				}
			}
			dst = appendKey(dst, &first, ts)
			dst = append(dst, `{"pulseId":`...)
			if b.Pulses != nil {
				dst = strconv.AppendUint(dst, b.Pulses[i], 10)
			} else {
				dst = append(dst, "null"...)
			}
			if desc, ok := c.eventDesc(b, i); ok && !waveform {
				dst = append(dst, `,"desc":`...)
				dst = AppendJSONString(dst, desc)
			}
			dst = append(dst, '}')
		}
	}
	return append(dst, `}}`...)
}

// appendWaveform writes the "<ts>_<index>" entries of event i; non-finite elements are left out.
func appendWaveform(dst []byte, first *bool, b *daqbuf.EventBatch, i int, ts int64) []byte {
	w := b.Values.Width
	for j := 0; j < w; j++ {
		if _, ok := scalarAt(&b.Values, i*w+j, false); !ok {
			continue
		}
		if !*first {
			dst = append(dst, ',')
		}
		*first = false
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, '_')
		dst = strconv.AppendInt(dst, int64(j), 10)
		dst = append(dst, `":`...)
		dst = appendScalar(dst, &b.Values, i*w+j, false)
	}
	return dst
}

// eventValue is the plotted number of scalar event i: the number itself, the enum index, or for strings
// 1 when non-empty and 0 otherwise. ok is false for NaN/Inf.
func (c *Curve) eventValue(b *daqbuf.EventBatch, i int) (float64, bool) {
	return scalarAt(&b.Values, i, c.isString)
}

func scalarAt(v *daqbuf.Values, i int, asString bool) (float64, bool) {
	var f float64
	switch v.Kind {
	case daqbuf.KindFloat:
		f = v.Floats[i]
	case daqbuf.KindInt, daqbuf.KindEnum:
		f = float64(v.Ints[i])
	case daqbuf.KindUint:
		f = float64(v.Uints[i])
	case daqbuf.KindBool:
		if v.Bools[i] {
			f = 1
		}
	case daqbuf.KindString:
		if v.Strings[i] != "" {
			f = 1
		}
	default:
		return 0, false
	}
	if asString && v.Kind != daqbuf.KindString {
		// isString=true on a numeric channel: the number's text is non-empty, so 1.
		f = 1
	}
	return f, finite(f)
}

// appendScalar writes element i of v as scalarAt's number, integers with all their digits: a u64 above
// 2^53 keeps its exact value for clients that read JSON numbers exactly (JavaScript rounds it as it
// would any float). The caller has checked that the value is finite.
func appendScalar(dst []byte, v *daqbuf.Values, i int, asString bool) []byte {
	if !asString {
		switch v.Kind {
		case daqbuf.KindInt, daqbuf.KindEnum:
			return strconv.AppendInt(dst, v.Ints[i], 10)
		case daqbuf.KindUint:
			return strconv.AppendUint(dst, v.Uints[i], 10)
		}
	}
	f, _ := scalarAt(v, i, asString)
	return appendFloat(dst, f)
}

// eventDesc is the text shown for event i: the enum label, or the string itself.
func (c *Curve) eventDesc(b *daqbuf.EventBatch, i int) (string, bool) {
	v := &b.Values
	switch {
	case v.Kind == daqbuf.KindEnum && i < len(v.Labels):
		return v.Labels[i], true
	case v.Kind == daqbuf.KindString:
		return v.Strings[i], true
	case c.isString:
		return scalarText(v, i), true
	}
	return "", false
}

func scalarText(v *daqbuf.Values, i int) string {
	switch v.Kind {
	case daqbuf.KindFloat:
		return strconv.FormatFloat(v.Floats[i], 'g', -1, 64)
	case daqbuf.KindInt, daqbuf.KindEnum:
		return strconv.FormatInt(v.Ints[i], 10)
	case daqbuf.KindUint:
		return strconv.FormatUint(v.Uints[i], 10)
	case daqbuf.KindBool:
		return strconv.FormatBool(v.Bools[i])
	}
	return ""
}

func appendKey(dst []byte, first *bool, ts int64) []byte {
	if !*first {
		dst = append(dst, ',')
	}
	*first = false
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, ts, 10)
	return append(dst, `":`...)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// appendFloat writes f the way encoding/json does (shortest representation, exponent only for very
// large or small magnitudes). Callers never pass NaN or Inf.
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// AppendJSONString writes s as a JSON string, escaping what JSON requires (and <, >, & as encoding/json
// does, so a channel name can never break out of an HTML context either).
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
