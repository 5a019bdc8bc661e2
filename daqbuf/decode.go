package daqbuf

import (
	"io"

	"github.com/fxamacker/cbor/v2"
)

// EventDecoder decodes a data-api events body (any response mode) incrementally: one frame is in
// memory at a time. It does no I/O of its own beyond reading r; the Client wraps it in an
// EventStream, and it is exported for callers that hold a body already (tests, recorded responses).
type EventDecoder struct{ d decoder }

// NewEventDecoder reads events from r in the given mode (ModeDefault means CBOR-framed). valueType is
// the channel's scalar type when known ("f64", "u64", "enum", ...; "" = infer); see EventsQuery.ValueType.
func NewEventDecoder(r io.Reader, mode Mode, valueType string) *EventDecoder {
	return &EventDecoder{d: newDecoder(r, mode, valueType)}
}

// Next returns the next non-empty batch of events, io.EOF at the end of the body, or an error (an
// in-band error frame wraps ErrUpstream; a body that ends inside a frame is an error, never an end).
// After an error every call returns the same error. The batch belongs to the caller.
func (e *EventDecoder) Next() (*EventBatch, error) {
	ev, _, err := e.d.next(false)
	return ev, err
}

// RangeFinal reports whether a rangeFinal marker has been read: data-api says the whole range was
// delivered. Meaningful once Next returned io.EOF.
func (e *EventDecoder) RangeFinal() bool { return e.d.rangeFinal }

// TimedOut reports whether data-api said it stopped collecting at its deadline (timedOut marker).
func (e *EventDecoder) TimedOut() bool { return e.d.timedOut }

// BinDecoder decodes a data-api binned body (any response mode) incrementally, like EventDecoder.
type BinDecoder struct{ d decoder }

// NewBinDecoder reads bins from r in the given mode (ModeDefault means JSON-framed, as for Binned).
func NewBinDecoder(r io.Reader, mode Mode) *BinDecoder {
	if mode == ModeDefault {
		mode = ModeJSONFramed
	}
	return &BinDecoder{d: newDecoder(r, mode, "")}
}

// Next returns the next non-empty batch of bins, io.EOF at the end, or an error (an {"ERROR":true}
// frame or an in-band error wraps ErrUpstream). The batch belongs to the caller.
func (b *BinDecoder) Next() (*BinBatch, error) {
	_, bins, err := b.d.next(true)
	return bins, err
}

// RangeFinal reports whether a rangeFinal marker was read (only legacy servers send one for bins).
func (b *BinDecoder) RangeFinal() bool { return b.d.rangeFinal }

// TimedOut reports whether a timedOut marker was read (legacy servers, plain JSON).
func (b *BinDecoder) TimedOut() bool { return b.d.timedOut }

// decoder is the mode-independent loop of docs/daqbuf.md §5.4: read a frame, act on control frames,
// decode data frames of the wanted kind, skip everything else.
type decoder struct {
	frames     frameReader
	isCBOR     bool
	dm         cbor.DecMode
	hint       valueHint
	jf         jsonFrame // reused between frames: its intermediate slices keep their capacity
	leaves     []leaf    // reused between frames
	rangeFinal bool
	timedOut   bool
	err        error // sticky
}

func newDecoder(r io.Reader, mode Mode, valueType string) decoder {
	d := decoder{frames: newFrameReader(r, mode), hint: parseHint(valueType)}
	if mode == ModeDefault || mode == ModeCBOR {
		d.isCBOR = true
		d.dm = newCBORDecMode()
	}
	return d
}

func (d *decoder) next(wantBins bool) (*EventBatch, *BinBatch, error) {
	for d.err == nil {
		payload, err := d.frames.next()
		if err != nil {
			d.err = err
			break
		}
		var ev *EventBatch
		var bins *BinBatch
		if d.isCBOR {
			ev, bins, err = d.cborFrame(payload, wantBins)
		} else {
			ev, bins, err = d.jsonFrame(payload, wantBins)
		}
		switch {
		case err != nil:
			d.err = err
		case ev != nil && ev.Len() > 0:
			return ev, nil, nil
		case bins != nil && bins.Len() > 0:
			return nil, bins, nil
		}
	}
	return nil, nil, d.err
}

// newCBORDecMode allows frames as large as MaxFrameSize allows (the library's default caps arrays at
// 131072 elements) and matches keys exactly ("error" and "ERROR" are different frames).
func newCBORDecMode() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxArrayElements:  1 << 27,
		MaxMapPairs:       1 << 16,
		MaxNestedLevels:   16,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		DupMapKey:         cbor.DupMapKeyQuiet,
	}.DecMode()
	if err != nil {
		panic("daqbuf: invalid CBOR options: " + err.Error()) // constant options; a bug if reached
	}
	return dm
}

// inBandError is a data-api error frame ({"error": ...}) as an error wrapping ErrUpstream.
func inBandError(msg string) error {
	return &UpstreamError{Kind: ErrUpstream, Message: msg}
}

// badFrame is a frame that decoded but whose content is inconsistent.
func badFrame(err error) error {
	return &UpstreamError{Kind: ErrUpstream, Message: "undecodable frame: " + err.Error()}
}
