package daqbuf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// jsonFrame holds every key a JSON frame or plain-JSON body may carry: events (docs/daqbuf.md §3.1),
// bins (§3.4, including the 2021 edges format) and control objects (§3.5). Integers are typed so
// that no timestamp or id ever passes through float64.
type jsonFrame struct {
	TsAnchor     *uint64         `json:"tsAnchor"`
	TsMs         uints           `json:"tsMs"`
	TsNs         uints           `json:"tsNs"`
	PulseAnchor  *uint64         `json:"pulseAnchor"`
	PulseOff     uints           `json:"pulseOff"`
	Values       json.RawMessage `json:"values"`
	ValueStrings []string        `json:"valuestrings"`
	Ts1Ms        uints           `json:"ts1Ms"`
	Ts1Ns        uints           `json:"ts1Ns"`
	Ts2Ms        uints           `json:"ts2Ms"`
	Ts2Ns        uints           `json:"ts2Ns"`
	Counts       uints           `json:"counts"`
	Mins         json.RawMessage `json:"mins"`
	Maxs         json.RawMessage `json:"maxs"`
	Avgs         json.RawMessage `json:"avgs"`
	RangeFinal   bool            `json:"rangeFinal"`
	TimedOut     bool            `json:"timedOut"`
	Type         string          `json:"type"`
	Error        json.RawMessage `json:"error"`
	ErrorFlag    bool            `json:"ERROR"` // exact-case match wins in encoding/json
}

// reset prepares f for the next frame, keeping the capacity of the intermediate slices. Slices that
// are handed to a batch (ValueStrings, Counts) are dropped instead.
func (f *jsonFrame) reset() {
	*f = jsonFrame{
		TsMs: f.TsMs[:0], TsNs: f.TsNs[:0], PulseOff: f.PulseOff[:0], Values: f.Values[:0],
		Ts1Ms: f.Ts1Ms[:0], Ts1Ns: f.Ts1Ns[:0], Ts2Ms: f.Ts2Ms[:0], Ts2Ns: f.Ts2Ns[:0],
		Mins: f.Mins[:0], Maxs: f.Maxs[:0], Avgs: f.Avgs[:0], Error: f.Error[:0],
	}
}

func present(raw []byte) bool { return len(raw) > 0 && !bytes.Equal(raw, []byte("null")) }

func (d *decoder) jsonFrame(payload []byte, wantBins bool) (*EventBatch, *BinBatch, error) {
	f := &d.jf
	f.reset()
	if err := json.Unmarshal(payload, f); err != nil {
		return nil, nil, badFrame(fmt.Errorf("json: %w", err))
	}
	if present(f.Error) {
		var msg string
		if json.Unmarshal(f.Error, &msg) != nil {
			msg = string(f.Error)
		}
		return nil, nil, inBandError(msg)
	}
	if f.ErrorFlag {
		return nil, nil, inBandError("data-api could not build a batch of bins (ERROR frame)")
	}
	d.rangeFinal = d.rangeFinal || f.RangeFinal
	d.timedOut = d.timedOut || f.TimedOut
	isBins := len(f.Ts1Ms) > 0 || (len(f.TsMs) > 0 && !present(f.Values) &&
		(len(f.Counts) > 0 || present(f.Avgs) || present(f.Mins)))
	switch {
	case wantBins && isBins:
		b, err := d.jsonBins(f)
		if err != nil {
			return nil, nil, badFrame(err)
		}
		return nil, b, nil
	case !wantBins && !isBins && (len(f.TsMs) > 0 || present(f.Values)):
		ev, err := d.jsonEvents(f)
		if err != nil {
			return nil, nil, badFrame(err)
		}
		return ev, nil, nil
	}
	return nil, nil, nil // keepalive, rangeFinal, timedOut, other objects
}

func (d *decoder) jsonEvents(f *jsonFrame) (*EventBatch, error) {
	n := len(f.TsMs)
	if f.TsAnchor == nil && n > 0 {
		return nil, errors.New("events without tsAnchor")
	}
	var anchor uint64
	if f.TsAnchor != nil {
		anchor = *f.TsAnchor
	}
	b := &EventBatch{Ts: make([]int64, n)}
	if err := joinTimestamps(b.Ts, anchor, f.TsMs, f.TsNs, "tsMs"); err != nil {
		return nil, err
	}
	if f.PulseAnchor != nil && len(f.PulseOff) > 0 {
		p, err := joinPulses(*f.PulseAnchor, f.PulseOff, n)
		if err != nil {
			return nil, err
		}
		b.Pulses = p
	}
	leaves, shape, err := jsonValues(f.Values, d.hint.f32, d.leaves[:0])
	d.leaves = leaves
	if err != nil {
		return nil, err
	}
	if shape.events != n {
		return nil, fmt.Errorf("%d values for %d timestamps", shape.events, n)
	}
	b.Values, err = buildValues(leaves, n, shape.width, d.hint, f.ValueStrings)
	if err != nil {
		return nil, err
	}
	f.ValueStrings = nil // now owned by the batch
	b.ScalarType = scalarTypeName(d.hint, b.Values.Kind)
	return b, nil
}

// scalarTypeName is the hint's name when the column has the hinted kind, else the inferred name.
func scalarTypeName(h valueHint, k ValueKind) string {
	if h.kind == k && h.name != "" {
		return h.name
	}
	return kindName(k)
}

// joinPulses adds the pulse anchor to its offsets. Legacy servers sent pulseAnchor 0 with zero
// offsets for series without pulse ids: that is reported as no pulses (nil).
func joinPulses(anchor uint64, off []uint64, n int) ([]uint64, error) {
	if len(off) != n {
		return nil, fmt.Errorf("%d pulse offsets for %d timestamps", len(off), n)
	}
	p := make([]uint64, n)
	seen := anchor != 0
	for i, o := range off {
		if o > math.MaxUint64-anchor {
			return nil, fmt.Errorf("pulse %d + %d overflows", anchor, o)
		}
		p[i] = anchor + o
		seen = seen || o != 0
	}
	if !seen {
		return nil, nil
	}
	return p, nil
}

func (d *decoder) jsonBins(f *jsonFrame) (*BinBatch, error) {
	if f.TsAnchor == nil {
		return nil, errors.New("bins without tsAnchor")
	}
	anchor := *f.TsAnchor
	var n int
	b := &BinBatch{}
	if len(f.Ts1Ms) > 0 {
		n = len(f.Ts1Ms)
		if len(f.Ts2Ms) != n {
			return nil, fmt.Errorf("%d ts1Ms but %d ts2Ms", n, len(f.Ts2Ms))
		}
		b.Ts1, b.Ts2 = make([]int64, n), make([]int64, n)
		if err := joinTimestamps(b.Ts1, anchor, f.Ts1Ms, f.Ts1Ns, "ts1Ms"); err != nil {
			return nil, err
		}
		if err := joinTimestamps(b.Ts2, anchor, f.Ts2Ms, f.Ts2Ns, "ts2Ms"); err != nil {
			return nil, err
		}
	} else {
		// 2021 format: tsMs/tsNs are the n+1 bin edges.
		n = len(f.TsMs) - 1
		edges := make([]int64, n+1)
		if err := joinTimestamps(edges, anchor, f.TsMs, f.TsNs, "tsMs"); err != nil {
			return nil, err
		}
		b.Ts1, b.Ts2 = edges[:n:n], edges[1:]
	}
	var err error
	if b.Counts, err = countsColumn(f.Counts, n); err != nil {
		return nil, err
	}
	f.Counts = nil // now owned by the batch
	if b.Mins, err = d.jsonBinColumn(f.Mins, n, "mins"); err != nil {
		return nil, err
	}
	if b.Maxs, err = d.jsonBinColumn(f.Maxs, n, "maxs"); err != nil {
		return nil, err
	}
	if b.Avgs, err = d.jsonBinColumn(f.Avgs, n, "avgs"); err != nil {
		return nil, err
	}
	return b, nil
}

func (d *decoder) jsonBinColumn(raw []byte, n int, what string) ([]float64, error) {
	leaves, shape, err := jsonValues(raw, false, d.leaves[:0])
	d.leaves = leaves
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return binColumn(leaves, shape, n, what)
}

// countsColumn checks the counts against the bin count; missing counts are zeros.
func countsColumn(c []uint64, n int) ([]uint64, error) {
	switch len(c) {
	case n:
		return c, nil
	case 0:
		return make([]uint64, n), nil
	}
	return nil, fmt.Errorf("%d counts for %d bins", len(c), n)
}

// binColumn converts one of mins/maxs/avgs; a missing column is all NaN.
func binColumn(leaves []leaf, shape eventShape, n int, what string) ([]float64, error) {
	if shape.events == 0 && n > 0 {
		out := make([]float64, n)
		for i := range out {
			out[i] = math.NaN()
		}
		return out, nil
	}
	if shape.wave || shape.events != n {
		return nil, fmt.Errorf("%s: %d scalars expected", what, n)
	}
	return floatsOf(leaves, what)
}

// uints is a JSON array of unsigned integers (timestamps offsets, pulse offsets, counts) decoded
// exactly and without reflection per element, reusing its storage between frames. encoding/json
// has validated the JSON before UnmarshalJSON sees it.
type uints []uint64

func (u *uints) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*u = (*u)[:0]
		return nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return errors.New("not an array of unsigned integers")
	}
	out := (*u)[:0]
	defer func() { *u = out }()
	i, end := 1, len(b)-1
	for {
		for i < end && isJSONSpace(b[i]) {
			i++
		}
		if i == end {
			if len(out) > 0 {
				return errors.New("trailing comma in integer array") // not reachable for valid JSON
			}
			return nil
		}
		var v uint64
		start := i
		for ; i < end && b[i] >= '0' && b[i] <= '9'; i++ {
			d := uint64(b[i] - '0')
			if v > (math.MaxUint64-d)/10 {
				return fmt.Errorf("integer %s overflows uint64", b[start:i+1])
			}
			v = v*10 + d
		}
		if i == start {
			return fmt.Errorf("not an unsigned integer at %q", b[start:min(start+16, end)])
		}
		out = append(out, v)
		for i < end && isJSONSpace(b[i]) {
			i++
		}
		if i == end {
			return nil
		}
		if b[i] != ',' {
			return fmt.Errorf("not an unsigned integer at %q", b[start:min(i+16, end)])
		}
		i++
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
