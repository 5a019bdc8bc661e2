package sim

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Events and bins are encoded by hand for JSON (data-api's anchored layout, exact integers, f32
// printed at float32 precision, NaN as null) and through typed slices for CBOR.

// appendEventsJSON appends the JSON object of events [k0, k1) of d (docs/daqbuf.md §3.1): timestamps
// relative to their own anchors, pulse ids for pulsed channels, valuestrings for enums.
func appendEventsJSON(b []byte, d *chanDef, k0, k1 int64, rangeFinal bool, scratch []float64) []byte {
	b = append(b, '{')
	if k1 > k0 {
		anchor := d.ts(k0) / 1e9
		b = append(b, `"tsAnchor":`...)
		b = strconv.AppendInt(b, anchor, 10)
		b = append(b, `,"tsMs":[`...)
		for k := k0; k < k1; k++ {
			b = appendSep(b, k, k0)
			b = strconv.AppendInt(b, (d.ts(k)-anchor*1e9)/1e6, 10)
		}
		b = append(b, `],"tsNs":[`...)
		for k := k0; k < k1; k++ {
			b = appendSep(b, k, k0)
			b = strconv.AppendInt(b, (d.ts(k)-anchor*1e9)%1e6, 10)
		}
		b = append(b, ']')
		if d.pulsed {
			pa := d.pulse(k0) / 10000 * 10000
			b = append(b, `,"pulseAnchor":`...)
			b = strconv.AppendUint(b, pa, 10)
			b = append(b, `,"pulseOff":[`...)
			for k := k0; k < k1; k++ {
				b = appendSep(b, k, k0)
				b = strconv.AppendUint(b, d.pulse(k)-pa, 10)
			}
			b = append(b, ']')
		}
		b = append(b, `,"values":[`...)
		for k := k0; k < k1; k++ {
			b = appendSep(b, k, k0)
			b = appendValueJSON(b, d, k, scratch)
		}
		b = append(b, ']')
		if d.kind == kindEnum {
			b = append(b, `,"valuestrings":[`...)
			for k := k0; k < k1; k++ {
				b = appendSep(b, k, k0)
				b = appendJSONString(b, d.labels[d.enumv(k)])
			}
			b = append(b, ']')
		}
	} else {
		b = append(b, `"tsAnchor":0,"tsMs":[],"tsNs":[],"values":[]`...)
	}
	if rangeFinal {
		b = append(b, `,"rangeFinal":true`...)
	}
	return append(b, '}')
}

func appendSep(b []byte, k, k0 int64) []byte {
	if k > k0 {
		return append(b, ',')
	}
	return b
}

func appendValueJSON(b []byte, d *chanDef, k int64, scratch []float64) []byte {
	switch d.kind {
	case kindFloat:
		bits := 64
		if d.stype == "f32" {
			bits = 32
		}
		return appendJSONFloat(b, d.float(k), bits)
	case kindInt:
		return strconv.AppendInt(b, d.intv(k), 10)
	case kindUint:
		return strconv.AppendUint(b, d.uintv(k), 10)
	case kindBool:
		return strconv.AppendBool(b, d.boolv(k))
	case kindString:
		return appendJSONString(b, d.strv(k))
	case kindEnum:
		return strconv.AppendInt(b, int64(d.enumv(k)), 10)
	case kindWave:
		w := scratch[:d.waveLen]
		d.wave(k, w)
		b = append(b, '[')
		for i, v := range w {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONFloat(b, v, 64)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

// appendJSONFloat formats like encoding/json (shortest repr, exponent only for very small or large
// magnitudes) at the given precision; NaN and ±Inf become null as in data-api.
func appendJSONFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString writes s as a JSON string, escaping quotes, backslashes and control characters
// and passing other UTF-8 through.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	return append(b, '"')
}

// cborEvents is an events data frame (§3.2). Field order is the wire's key order.
type cborEvents struct {
	Pulses       []uint64 `cbor:"pulses,omitempty"`
	ScalarType   string   `cbor:"scalar_type"`
	Tss          []uint64 `cbor:"tss"`
	Values       any      `cbor:"values"`
	Valuestrings []string `cbor:"valuestrings,omitempty"`
}

// eventColumns holds reusable typed buffers for CBOR frames.
type eventColumns struct {
	tss    []uint64
	pulses []uint64
	f64    []float64
	f32    []float32
	i64    []int64
	u64    []uint64
	bools  []bool
	strs   []string
	enums  []int16
	wave   [][]float64
	flat   []float64
}

// eventsCBOR encodes events [k0, k1) of d as one CBOR map.
func (s *Sim) eventsCBOR(d *chanDef, k0, k1 int64, c *eventColumns) ([]byte, error) {
	n := int(k1 - k0)
	f := cborEvents{ScalarType: d.stype}
	c.tss = c.tss[:0]
	for k := k0; k < k1; k++ {
		c.tss = append(c.tss, uint64(d.ts(k)))
	}
	f.Tss = c.tss
	if d.pulsed {
		c.pulses = c.pulses[:0]
		for k := k0; k < k1; k++ {
			c.pulses = append(c.pulses, d.pulse(k))
		}
		f.Pulses = c.pulses
	}
	switch d.kind {
	case kindFloat:
		if d.stype == "f32" {
			c.f32 = c.f32[:0]
			for k := k0; k < k1; k++ {
				c.f32 = append(c.f32, float32(d.float(k)))
			}
			f.Values = c.f32
		} else {
			c.f64 = c.f64[:0]
			for k := k0; k < k1; k++ {
				c.f64 = append(c.f64, d.float(k))
			}
			f.Values = c.f64
		}
	case kindInt:
		c.i64 = c.i64[:0]
		for k := k0; k < k1; k++ {
			c.i64 = append(c.i64, d.intv(k))
		}
		f.Values = c.i64
	case kindUint:
		c.u64 = c.u64[:0]
		for k := k0; k < k1; k++ {
			c.u64 = append(c.u64, d.uintv(k))
		}
		f.Values = c.u64
	case kindBool:
		c.bools = c.bools[:0]
		for k := k0; k < k1; k++ {
			c.bools = append(c.bools, d.boolv(k))
		}
		f.Values = c.bools
	case kindString:
		c.strs = c.strs[:0]
		for k := k0; k < k1; k++ {
			c.strs = append(c.strs, d.strv(k))
		}
		f.Values = c.strs
	case kindEnum:
		c.enums, c.strs = c.enums[:0], c.strs[:0]
		for k := k0; k < k1; k++ {
			ix := d.enumv(k)
			c.enums = append(c.enums, ix)
			c.strs = append(c.strs, d.labels[ix])
		}
		f.Values, f.Valuestrings = c.enums, c.strs
	case kindWave:
		if cap(c.flat) < n*d.waveLen {
			c.flat = make([]float64, n*d.waveLen)
		}
		c.wave = c.wave[:0]
		for i := range n {
			row := c.flat[i*d.waveLen : (i+1)*d.waveLen]
			d.wave(k0+int64(i), row)
			c.wave = append(c.wave, row)
		}
		f.Values = c.wave
	}
	return s.cbor.Marshal(&f)
}

// appendBinsJSON appends the JSON object of bins (§3.4), anchored at the first bin's start.
func appendBinsJSON(b []byte, bins []Bin) []byte {
	anchor := int64(0)
	if len(bins) > 0 {
		anchor = bins[0].Ts1 / 1e9
	}
	base := anchor * 1e9
	col := func(name string, f func(Bin) []byte) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, `":[`...)
		for i, bin := range bins {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, f(bin)...)
		}
		b = append(b, ']')
	}
	num := make([]byte, 0, 32)
	ms := func(t int64) []byte { return strconv.AppendInt(num[:0], (t-base)/1e6, 10) }
	ns := func(t int64) []byte { return strconv.AppendInt(num[:0], (t-base)%1e6, 10) }
	b = append(b, `{"tsAnchor":`...)
	b = strconv.AppendInt(b, anchor, 10)
	col("ts1Ms", func(x Bin) []byte { return ms(x.Ts1) })
	col("ts1Ns", func(x Bin) []byte { return ns(x.Ts1) })
	col("ts2Ms", func(x Bin) []byte { return ms(x.Ts2) })
	col("ts2Ns", func(x Bin) []byte { return ns(x.Ts2) })
	col("counts", func(x Bin) []byte { return strconv.AppendUint(num[:0], x.Count, 10) })
	col("mins", func(x Bin) []byte { return appendJSONFloat(num[:0], float64(x.Min), 32) })
	col("maxs", func(x Bin) []byte { return appendJSONFloat(num[:0], float64(x.Max), 32) })
	col("avgs", func(x Bin) []byte { return appendJSONFloat(num[:0], float64(x.Avg), 32) })
	return append(b, '}')
}

// cborBins is a binned data frame (§3.4): absolute ns edges and f32 aggregates.
type cborBins struct {
	Ts1s   []uint64  `cbor:"ts1s"`
	Ts2s   []uint64  `cbor:"ts2s"`
	Counts []uint64  `cbor:"counts"`
	Mins   []float32 `cbor:"mins"`
	Maxs   []float32 `cbor:"maxs"`
	Avgs   []float32 `cbor:"avgs"`
}

func (s *Sim) binsCBOR(bins []Bin) ([]byte, error) {
	f := cborBins{
		Ts1s: make([]uint64, len(bins)), Ts2s: make([]uint64, len(bins)), Counts: make([]uint64, len(bins)),
		Mins: make([]float32, len(bins)), Maxs: make([]float32, len(bins)), Avgs: make([]float32, len(bins)),
	}
	for i, x := range bins {
		f.Ts1s[i], f.Ts2s[i], f.Counts[i] = uint64(x.Ts1), uint64(x.Ts2), x.Count
		f.Mins[i], f.Maxs[i], f.Avgs[i] = x.Min, x.Max, x.Avg
	}
	return s.cbor.Marshal(&f)
}
