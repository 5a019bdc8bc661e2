package daqbuf

import "time"

// Channel is one row of a channel search (docs/daqbuf.md §2.2), with the series id kept exact.
type Channel struct {
	Backend     string
	Name        string
	SeriesID    uint64 // 0 for channel-archiver and API-0 results
	Source      string
	Type        string   // scalar type as data-api spells it: "f64", "enum", ... (legacy: "Float32", "")
	Shape       []uint32 // nil or empty: scalar; [N]: waveform; [N,M]: 2-D
	Unit        string
	Description string
}

// ChannelRef addresses one channel: by series id when it is non-zero, else by name (docs/daqbuf.md §1.6).
type ChannelRef struct {
	Backend  string
	Name     string
	SeriesID uint64
}

// Range is a half-open time range [Beg, End) in nanoseconds since the Unix epoch.
type Range struct {
	Beg, End int64
}

// Duration is the length of the range.
func (r Range) Duration() time.Duration { return time.Duration(r.End - r.Beg) }

// ValueKind says which slice of Values holds the data.
type ValueKind uint8

// Value kinds. Enums keep their index in Ints and their labels in Values.Labels.
const (
	KindNone ValueKind = iota
	KindFloat
	KindInt
	KindUint
	KindBool
	KindString
	KindEnum
)

// Values is a column of event values of one type. Waveforms are flattened: event i owns
// elements [i*Width, (i+1)*Width). Width is 0 for scalars. Float nulls (NaN/Inf on the wire) are NaN.
type Values struct {
	Kind    ValueKind
	Width   int
	Floats  []float64
	Ints    []int64
	Uints   []uint64
	Bools   []bool
	Strings []string
	Labels  []string // enum labels ("valuestrings"), one per event
}

// EventBatch is one decoded batch of raw events: timestamps in ns and optional pulse ids, one per event.
type EventBatch struct {
	ScalarType string   // "f64", "u64", "enum", ... when the wire says so (CBOR); else inferred
	Ts         []int64  // ns since epoch, ascending
	Pulses     []uint64 // nil when the series carries no pulse ids
	Values     Values
}

// Len is the number of events in the batch.
func (b *EventBatch) Len() int { return len(b.Ts) }

// BinBatch is one decoded batch of time bins [Ts1[i], Ts2[i]). Avgs holds NaN where data-api sent null.
type BinBatch struct {
	Ts1, Ts2 []int64
	Counts   []uint64
	Mins     []float64
	Maxs     []float64
	Avgs     []float64
}

// Len is the number of bins in the batch.
func (b *BinBatch) Len() int { return len(b.Ts1) }
