package sim

import (
	"math"
	"time"
)

// DataStart is the time (ns since the Unix epoch, 2000-01-01T00:00:00Z) of the first event of every
// channel: no channel has data before it.
const DataStart int64 = 946684800 * int64(time.Second)

// pulseOffset is added to a pulsed channel's event index to form its pulse id.
const pulseOffset = 22_000_000_000

// valueKind says which value function of a chanDef is used.
type valueKind uint8

const (
	kindFloat valueKind = iota // f64 and f32 (f32 values are rounded to float32)
	kindInt
	kindUint
	kindBool
	kindString
	kindEnum
	kindWave // f64 waveform of waveLen elements
)

// chanDef is the signal behind a channel: its type and a pure function from event index k to value.
// Event k is at ts = k·period + jitter(k) with jitter in [0, 1000) ns, so timestamps are strictly
// increasing and ns precision matters.
type chanDef struct {
	name    string
	stype   string
	shape   []uint32
	period  int64 // ns
	pulsed  bool
	kind    valueKind
	waveLen int
	seed    uint64
	labels  []string // enum labels

	float func(k int64) float64
	wave  func(k int64, dst []float64)
	intv  func(k int64) int64
	uintv func(k int64) uint64
	boolv func(k int64) bool
	strv  func(k int64) string
	enumv func(k int64) int16
}

// EnumValue is the value of an enum channel: its index and label.
type EnumValue struct {
	Index int16
	Label string
}

// Event is one raw event as data-api returns it. Value is float64 (NaN allowed for nulls), int64,
// uint64, bool, string, EnumValue, or []any of float64 for waveforms. Pulse is 0 for channels
// without pulse ids.
type Event struct {
	Ts    int64
	Pulse uint64
	Value any
}

func (d *chanDef) kStart() int64 { return DataStart / d.period }

func (d *chanDef) pulse(k int64) uint64 { return uint64(k) + pulseOffset }

func (d *chanDef) jitter(k int64) int64 {
	if d.pulsed {
		// As at SwissFEL, the low digits of the ns timestamp echo the pulse id.
		return int64(d.pulse(k) % 1000)
	}
	return int64(mix64(d.seed^uint64(k)) % 1000)
}

func (d *chanDef) ts(k int64) int64 { return k*d.period + d.jitter(k) }

// firstAtOrAfter is the index of the first event with ts ≥ t. Because jitter < period, it is
// floor(t/period) or the next one: no scan is needed.
func (d *chanDef) firstAtOrAfter(t int64) int64 {
	if t <= DataStart {
		return d.kStart()
	}
	k := t / d.period
	if d.ts(k) < t {
		k++
	}
	return k
}

// firstAfter is the index of the first event with ts > t.
func (d *chanDef) firstAfter(t int64) int64 {
	if t == math.MaxInt64 {
		return d.firstAtOrAfter(t) + 1
	}
	return d.firstAtOrAfter(t + 1)
}

// event builds the ground-truth Event k.
func (d *chanDef) event(k int64) Event {
	ev := Event{Ts: d.ts(k)}
	if d.pulsed {
		ev.Pulse = d.pulse(k)
	}
	switch d.kind {
	case kindFloat:
		ev.Value = d.float(k)
	case kindInt:
		ev.Value = d.intv(k)
	case kindUint:
		ev.Value = d.uintv(k)
	case kindBool:
		ev.Value = d.boolv(k)
	case kindString:
		ev.Value = d.strv(k)
	case kindEnum:
		ix := d.enumv(k)
		ev.Value = EnumValue{Index: ix, Label: d.labels[ix]}
	case kindWave:
		buf := make([]float64, d.waveLen)
		d.wave(k, buf)
		vals := make([]any, len(buf))
		for i, v := range buf {
			vals[i] = v
		}
		ev.Value = vals
	}
	return ev
}

// binValue is event k's value as the binner sees it: converted to float32, bool as 0/1, enum as
// its index, string as its byte length, waveform as the sum of its elements.
func (d *chanDef) binValue(k int64, scratch []float64) float32 {
	switch d.kind {
	case kindFloat:
		return float32(d.float(k))
	case kindInt:
		return float32(d.intv(k))
	case kindUint:
		return float32(d.uintv(k))
	case kindBool:
		if d.boolv(k) {
			return 1
		}
		return 0
	case kindString:
		return float32(len(d.strv(k)))
	case kindEnum:
		return float32(d.enumv(k))
	case kindWave:
		d.wave(k, scratch[:d.waveLen])
		var sum float64
		for _, v := range scratch[:d.waveLen] {
			sum += v
		}
		return float32(sum)
	}
	return float32(math.NaN())
}

// phase is the position of event k's nominal time within a cycle of length cycle, in [0, 1),
// computed in integers so that precision does not decay with the epoch.
func phase(k, period, shift, cycle int64) float64 {
	return float64((k*period+shift)%cycle) / float64(cycle)
}

func sine(k, period, shift, cycle int64, amp, off float64) float64 {
	return off + amp*math.Sin(2*math.Pi*phase(k, period, shift, cycle))
}

// unit01 is a deterministic pseudo-random number in [0, 1) for event k of a channel.
func unit01(seed uint64, k int64) float64 {
	return float64(mix64(seed^mix64(uint64(k)))>>11) / (1 << 53)
}

const (
	sec  = int64(time.Second)
	minu = int64(time.Minute)
	hour = int64(time.Hour)
)

// fixedChannels is the catalogue of DAQBUF test channels (same set on every backend).
func fixedChannels() []chanDef {
	scalar := []uint32{}
	mk := func(name, stype string, period int64, kind valueKind) chanDef {
		return chanDef{name: name, stype: stype, shape: scalar, period: period, kind: kind, seed: fnv1a(name)}
	}
	sineF := func(k int64) float64 { return sine(k, sec, 0, 10*minu, 10, 100) }

	defs := make([]chanDef, 0, 14)

	d := mk("SIM-F64:SINE", "f64", sec, kindFloat)
	d.float = sineF
	defs = append(defs, d)

	d = mk("SIM-F64:RAMP", "f64", sec, kindFloat)
	d.float = func(k int64) float64 { return 1000 * phase(k, sec, 0, hour) }
	defs = append(defs, d)

	d = mk("SIM-F64:NOISE", "f64", sec, kindFloat)
	seed := d.seed
	d.float = func(k int64) float64 { return 100 * unit01(seed, k) }
	defs = append(defs, d)

	d = mk("SIM-F64:NULLS", "f64", sec, kindFloat)
	d.float = func(k int64) float64 {
		if k%7 == 0 {
			return math.NaN()
		}
		return sineF(k)
	}
	defs = append(defs, d)

	d = mk("SIM-F32:SINE", "f32", sec, kindFloat)
	d.float = func(k int64) float64 { return float64(float32(sineF(k))) }
	defs = append(defs, d)

	d = mk("SIM-I32:COUNTER", "i32", sec, kindInt)
	d.intv = func(k int64) int64 {
		v := k % 1_000_000
		if (k*sec/hour)%2 == 1 {
			v = -v
		}
		return v
	}
	defs = append(defs, d)

	d = mk("SIM-U64:BIG", "u64", sec, kindUint)
	d.uintv = func(k int64) uint64 { return 1<<63 + uint64(k) }
	defs = append(defs, d)

	d = mk("SIM-BOOL:TOGGLE", "bool", 5*sec, kindBool)
	d.boolv = func(k int64) bool { return (k*5*sec/(30*sec))%2 == 1 }
	defs = append(defs, d)

	states := []string{"IDLE", "RUNNING", "", "FAULT: ü"}
	d = mk("SIM-STRING:STATE", "string", 10*sec, kindString)
	d.strv = func(k int64) string { return states[k%int64(len(states))] }
	defs = append(defs, d)

	d = mk("SIM-ENUM:MODE", "enum", 10*sec, kindEnum)
	d.labels = []string{"OFF", "ON", "STANDBY"}
	d.enumv = func(k int64) int16 { return int16(k % 3) }
	defs = append(defs, d)

	d = mk("SIM-WAVE:SPECTRUM", "f64", sec, kindWave)
	d.shape, d.waveLen = []uint32{16}, 16
	d.wave = func(k int64, dst []float64) {
		centre := 7.5 + 4*math.Sin(2*math.Pi*phase(k, sec, 0, 10*minu))
		for i := range dst {
			x := float64(i) - centre
			dst[i] = 10*math.Exp(-x*x/8) + 0.5*float64(i)
		}
	}
	defs = append(defs, d)

	d = mk("SIM-PULSED:BPM", "f64", 10*int64(time.Millisecond), kindFloat)
	d.pulsed = true
	seed = d.seed
	d.float = func(k int64) float64 {
		return 0.01*math.Sin(2*math.Pi*phase(k, 10*int64(time.Millisecond), 0, 7*sec)) + 0.001*(unit01(seed, k)-0.5)
	}
	defs = append(defs, d)

	d = mk("SIM-SPARSE:TEMP", "f64", 5*minu, kindFloat)
	d.float = func(k int64) float64 { return sine(k, 5*minu, 0, 24*hour, 2, 20) }
	defs = append(defs, d)

	d = mk("SIM-DENSE:100HZ", "f64", 10*int64(time.Millisecond), kindFloat)
	d.float = func(k int64) float64 { return sine(k, 10*int64(time.Millisecond), 0, minu, 1, 0) }
	defs = append(defs, d)

	return defs
}

// generatedDef is the f64 sine behind generated channel i, each with its own phase.
func generatedDef(name string, i int) *chanDef {
	shift := int64(i%600) * sec
	return &chanDef{
		name: name, stype: "f64", shape: []uint32{}, period: sec, kind: kindFloat, seed: fnv1a(name),
		float: func(k int64) float64 { return sine(k, sec, shift, 10*minu, 10, 100) },
	}
}
