package daqbuf

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// cborFrame holds every key a CBOR frame may carry: events (docs/daqbuf.md §3.2), bins (§3.4) and
// control objects (§3.5). Timestamps are absolute ns; values stay raw for the typed scanner.
type cborFrame struct {
	Tss          []int64         `cbor:"tss"`
	Pulses       []uint64        `cbor:"pulses"`
	Values       cbor.RawMessage `cbor:"values"`
	ValueStrings []string        `cbor:"valuestrings"`
	ScalarType   string          `cbor:"scalar_type"`
	Ts1s         []int64         `cbor:"ts1s"`
	Ts2s         []int64         `cbor:"ts2s"`
	Counts       []uint64        `cbor:"counts"`
	Mins         cbor.RawMessage `cbor:"mins"`
	Maxs         cbor.RawMessage `cbor:"maxs"`
	Avgs         cbor.RawMessage `cbor:"avgs"`
	RangeFinal   bool            `cbor:"rangeFinal"`
	TimedOut     bool            `cbor:"timedOut"`
	Type         string          `cbor:"type"`
	Error        cbor.RawMessage `cbor:"error"`
	ErrorFlag    bool            `cbor:"ERROR"`
}

func cborPresent(raw []byte) bool {
	return len(raw) > 0 && !(len(raw) == 1 && (raw[0] == 0xf6 || raw[0] == 0xf7))
}

func (d *decoder) cborFrame(payload []byte, wantBins bool) (*EventBatch, *BinBatch, error) {
	var f cborFrame
	if err := d.dm.Unmarshal(payload, &f); err != nil {
		return nil, nil, badFrame(fmt.Errorf("cbor: %w", err))
	}
	if cborPresent(f.Error) {
		var v any
		msg := fmt.Sprintf("error frame %x", []byte(f.Error))
		if d.dm.Unmarshal(f.Error, &v) == nil {
			if s, ok := v.(string); ok {
				msg = s
			} else {
				msg = fmt.Sprint(v)
			}
		}
		return nil, nil, inBandError(msg)
	}
	if f.ErrorFlag {
		return nil, nil, inBandError("data-api could not build a batch of bins (ERROR frame)")
	}
	d.rangeFinal = d.rangeFinal || f.RangeFinal
	d.timedOut = d.timedOut || f.TimedOut
	isBins := len(f.Ts1s) > 0
	switch {
	case wantBins && isBins:
		b, err := d.cborBins(&f)
		if err != nil {
			return nil, nil, badFrame(err)
		}
		return nil, b, nil
	case !wantBins && !isBins && (len(f.Tss) > 0 || cborPresent(f.Values)):
		ev, err := d.cborEvents(&f)
		if err != nil {
			return nil, nil, badFrame(err)
		}
		return ev, nil, nil
	}
	return nil, nil, nil
}

func (d *decoder) cborEvents(f *cborFrame) (*EventBatch, error) {
	n := len(f.Tss)
	b := &EventBatch{Ts: f.Tss}
	if len(f.Pulses) > 0 {
		if len(f.Pulses) != n {
			return nil, fmt.Errorf("%d pulses for %d timestamps", len(f.Pulses), n)
		}
		b.Pulses = f.Pulses
	}
	hint := d.hint
	if f.ScalarType != "" {
		hint = parseHint(f.ScalarType) // the wire knows better than the caller
	}
	leaves, shape, err := cborValues(f.Values, d.leaves[:0])
	d.leaves = leaves
	if err != nil {
		return nil, err
	}
	if shape.events != n {
		return nil, fmt.Errorf("%d values for %d timestamps", shape.events, n)
	}
	if b.Values, err = buildValues(leaves, n, shape.width, hint, f.ValueStrings); err != nil {
		return nil, err
	}
	b.ScalarType = f.ScalarType
	if b.ScalarType == "" {
		b.ScalarType = scalarTypeName(hint, b.Values.Kind)
	}
	return b, nil
}

func (d *decoder) cborBins(f *cborFrame) (*BinBatch, error) {
	n := len(f.Ts1s)
	if len(f.Ts2s) != n {
		return nil, fmt.Errorf("%d ts1s but %d ts2s", n, len(f.Ts2s))
	}
	b := &BinBatch{Ts1: f.Ts1s, Ts2: f.Ts2s}
	var err error
	if b.Counts, err = countsColumn(f.Counts, n); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		raw  []byte
		dst  *[]float64
		name string
	}{{f.Mins, &b.Mins, "mins"}, {f.Maxs, &b.Maxs, "maxs"}, {f.Avgs, &b.Avgs, "avgs"}} {
		leaves, shape, err := cborValues(c.raw, d.leaves[:0])
		d.leaves = leaves
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		if *c.dst, err = binColumn(leaves, shape, n, c.name); err != nil {
			return nil, err
		}
	}
	return b, nil
}
