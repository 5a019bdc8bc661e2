package curve

import (
	"math"
	"strconv"

	"github.com/databoard/databoard/daqbuf"
)

// Doc is a curve answer read as ordered points: the same content as Curve.AppendJSON, in a form
// whose points can be compared, cut and sent piecewise (the live stream's deltas). Its AppendJSON
// writes exactly the object inside Curve.AppendJSON's {"curve": ...}.
type Doc struct {
	Name string // the channel_name as sent: the maps are Name, Name_min, Name_max, Name_meta
	// Empty: no points at all; the answer is {Name: {}} without a meta map.
	Empty    bool
	Raw      bool
	Waveform bool
	// IntervalAvg and IntervalStddev are the meta's interval statistics (0 for raw answers).
	IntervalAvg, IntervalStddev float64
	Values                      []Point // the Name map
	Mins, Maxs                  []Point // Name_min and Name_max; nil for raw answers
	Meta                        []MetaPoint
}

// ValueKind says how a point's number is written.
type ValueKind uint8

// Value kinds.
const (
	KindFloat ValueKind = iota // written as encoding/json writes a float64
	KindInt                    // an exact int64
	KindUint                   // an exact uint64
)

// Value is one number of a map, with the exactness its channel type has: the bits of a float64, an
// int64 or a uint64, by Kind (16 bytes, not 32: a live series keeps thousands of them).
type Value struct {
	Kind ValueKind
	Bits uint64 // read with F, I or U; exported so that encoders of whole Docs see it
}

// Float, Int and Uint make Values.
func Float(f float64) Value { return Value{Kind: KindFloat, Bits: math.Float64bits(f)} }
func Int(i int64) Value     { return Value{Kind: KindInt, Bits: uint64(i)} }
func Uint(u uint64) Value   { return Value{Kind: KindUint, Bits: u} }

// F, I and U read v as the Kind it has.
func (v Value) F() float64 { return math.Float64frombits(v.Bits) }
func (v Value) I() int64   { return int64(v.Bits) }
func (v Value) U() uint64  { return v.Bits }

// AppendJSON writes v as the answer writes it.
func (v Value) AppendJSON(dst []byte) []byte {
	switch v.Kind {
	case KindInt:
		return strconv.AppendInt(dst, v.I(), 10)
	case KindUint:
		return strconv.AppendUint(dst, v.U(), 10)
	}
	return appendFloat(dst, v.F())
}

// Point is one entry of a value map. Its key is not stored but written from Time (and Elem): a curve of
// thousands of points is kept per live series, and a string per point would double its size.
type Point struct {
	Time int64 // ns: the key read as an integer, or for waveform keys "<ts>_<i>" the part before _
	Elem int32 // the waveform element index i of the key "<ts>_<i>"; -1 for a key of the time alone
	Val  Value
}

// AppendKey writes p's map key: "<ts>" or "<ts>_<i>" (digits and _ only, so no JSON escaping).
func (p Point) AppendKey(dst []byte) []byte {
	dst = strconv.AppendInt(dst, p.Time, 10)
	if p.Elem >= 0 {
		dst = append(dst, '_')
		dst = strconv.AppendInt(dst, int64(p.Elem), 10)
	}
	return dst
}

// Key is p's map key as a string.
func (p Point) Key() string { return string(p.AppendKey(nil)) }

// MetaPoint is one entry of the meta's pointMeta: {"count": n} for bins, {"pulseId": n|null} with an
// optional "desc" for events.
//
// The flags come last, together: 48 bytes instead of 64 (a live series keeps one per bin).
type MetaPoint struct {
	Time     int64  // ns; the key is its decimal digits
	Count    uint64 // bins
	Pulse    uint64 // events, when HasPulse
	Desc     string // events, when HasDesc
	Binned   bool
	HasPulse bool
	HasDesc  bool
}

// Len is the number of points of the Doc, counted as the live stream counts them: entries of every map.
func (d *Doc) Len() int {
	return len(d.Values) + len(d.Mins) + len(d.Maxs) + len(d.Meta)
}

// Doc reads c as ordered points. It applies the same rules as AppendJSON (removeEmptyBins, no NaN,
// string channels, waveform keys), so d.AppendJSON equals the answer's curve object.
func (c *Curve) Doc() *Doc {
	d := &Doc{Name: c.name}
	switch {
	case c.raw && c.eventCount() > 0:
		c.rawDoc(d)
	case !c.raw && c.binCount() > 0:
		c.binnedDoc(d)
	default:
		d.Empty = true
	}
	return d
}

func (c *Curve) binnedDoc(d *Doc) {
	d.IntervalAvg, d.IntervalStddev = intervalStats(c.bins)
	n := c.binCount()
	d.Values, d.Mins, d.Maxs = make([]Point, 0, n), make([]Point, 0, n), make([]Point, 0, n)
	d.Meta = make([]MetaPoint, 0, n)
	for _, b := range c.bins {
		for i := range b.Ts1 {
			if !c.keepBin(b, i) {
				continue
			}
			t := binMid(b, i)
			d.Values = append(d.Values, Point{Time: t, Elem: -1, Val: Float(b.Avgs[i])})
			d.Mins = append(d.Mins, Point{Time: t, Elem: -1, Val: Float(b.Mins[i])})
			d.Maxs = append(d.Maxs, Point{Time: t, Elem: -1, Val: Float(b.Maxs[i])})
			d.Meta = append(d.Meta, MetaPoint{Time: t, Binned: true, Count: b.Counts[i]})
		}
	}
}

func (c *Curve) rawDoc(d *Doc) {
	d.Raw, d.Waveform = true, c.isWaveform()
	for _, b := range c.events {
		for i, ts := range b.Ts {
			if d.Waveform {
				w := b.Values.Width
				for j := 0; j < w; j++ {
					if _, ok := scalarAt(&b.Values, i*w+j, false); ok {
						d.Values = append(d.Values, Point{Time: ts, Elem: int32(j),
							Val: scalarValue(&b.Values, i*w+j, false)})
					}
				}
			} else {
				if _, ok := c.eventValue(b, i); !ok {
					continue
				}
				d.Values = append(d.Values, Point{Time: ts, Elem: -1, Val: scalarValue(&b.Values, i, c.isString)})
			}
			m := MetaPoint{Time: ts}
			if b.Pulses != nil {
				m.Pulse, m.HasPulse = b.Pulses[i], true
			}
			if desc, ok := c.eventDesc(b, i); ok && !d.Waveform {
				m.Desc, m.HasDesc = desc, true
			}
			d.Meta = append(d.Meta, m)
		}
	}
}

// scalarValue is element i of v as appendScalar writes it.
func scalarValue(v *daqbuf.Values, i int, asString bool) Value {
	if !asString {
		switch v.Kind {
		case daqbuf.KindInt, daqbuf.KindEnum:
			return Int(v.Ints[i])
		case daqbuf.KindUint:
			return Uint(v.Uints[i])
		}
	}
	f, _ := scalarAt(v, i, asString)
	return Float(f)
}

// AppendJSON writes the curve object of d: {"<name>": {...}, "<name>_min": ..., "<name>_meta": {...}}.
func (d *Doc) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if d.Empty {
		dst = AppendJSONString(dst, d.Name)
		return append(dst, `:{}}`...)
	}
	dst = appendPointMap(dst, d.Name, d.Values)
	if !d.Raw {
		dst = append(dst, ',')
		dst = appendPointMap(dst, d.Name+"_min", d.Mins)
		dst = append(dst, ',')
		dst = appendPointMap(dst, d.Name+"_max", d.Maxs)
	}
	dst = append(dst, ',')
	dst = AppendJSONString(dst, d.Name+"_meta")
	dst = append(dst, `:{"raw":`...)
	dst = strconv.AppendBool(dst, d.Raw)
	dst = append(dst, `,"waveform":`...)
	dst = strconv.AppendBool(dst, d.Waveform)
	dst = append(dst, `,"interval_avg":`...)
	dst = appendFloat(dst, d.IntervalAvg)
	dst = append(dst, `,"interval_stddev":`...)
	dst = appendFloat(dst, d.IntervalStddev)
	dst = append(dst, `,"pointMeta":{`...)
	for i, m := range d.Meta {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, m.Time, 10)
		dst = append(dst, '"', ':')
		dst = m.AppendJSON(dst)
	}
	return append(dst, `}}}`...)
}

func appendPointMap(dst []byte, name string, pts []Point) []byte {
	dst = AppendJSONString(dst, name)
	dst = append(dst, `:{`...)
	for i, p := range pts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = p.AppendKey(dst)
		dst = append(dst, `":`...)
		dst = p.Val.AppendJSON(dst)
	}
	return append(dst, '}')
}

// AppendJSON writes m's object.
func (m MetaPoint) AppendJSON(dst []byte) []byte {
	if m.Binned {
		dst = append(dst, `{"count":`...)
		dst = strconv.AppendUint(dst, m.Count, 10)
		return append(dst, '}')
	}
	dst = append(dst, `{"pulseId":`...)
	if m.HasPulse {
		dst = strconv.AppendUint(dst, m.Pulse, 10)
	} else {
		dst = append(dst, "null"...)
	}
	if m.HasDesc {
		dst = append(dst, `,"desc":`...)
		dst = AppendJSONString(dst, m.Desc)
	}
	return append(dst, '}')
}
