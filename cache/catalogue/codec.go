package catalogue

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/databoard/databoard/daqbuf"
)

// channelCodecVersion is the first byte of every encoded channel set; a value written by another
// layout is treated as absent.
const channelCodecVersion = 1

// errChannelCodec: a stored channel set that cannot be decoded (other version, corruption).
var errChannelCodec = errors.New("cache: undecodable channel set")

// channelSet is what the store holds for the full list, the additions and a live search result.
type channelSet struct {
	// ID identifies the list version (the additions carry the id of the list they extend).
	ID string
	// FetchedAt and FetchTook describe the data-api fetch of a full list.
	FetchedAt time.Time
	FetchTook time.Duration
	Channels  []daqbuf.Channel
}

// Layout after the version byte, all msgpack:
//
//	id, fetchedAt (unix ns), fetchTook (ns), table length, table strings..., channel count,
//	then per channel: backend, name prefix length, name suffix, series id, source, type,
//	shape length, shape..., unit, description
//
// backend, source, type and unit are indices into the string table (a catalogue repeats a few
// values of each); names are front-coded against the previous name (a sorted catalogue shares long
// prefixes: "SIM-GEN:CH000001", "SIM-GEN:CH000002"). Both keep a 100 000-channel list small.

// encodeChannelSet encodes s.
func encodeChannelSet(s channelSet) []byte {
	table := map[string]uint64{}
	var strs []string
	intern := func(v string) {
		if _, ok := table[v]; !ok {
			table[v] = uint64(len(strs))
			strs = append(strs, v)
		}
	}
	nameBytes := 0
	for i := range s.Channels {
		ch := &s.Channels[i]
		intern(ch.Backend)
		intern(ch.Source)
		intern(ch.Type)
		intern(ch.Unit)
		nameBytes += len(ch.Name)
	}

	var buf bytes.Buffer
	buf.Grow(64 + nameBytes/2 + 16*len(s.Channels))
	buf.WriteByte(channelCodecVersion)
	enc := msgpack.NewEncoder(&buf)
	// Writes to a bytes.Buffer cannot fail.
	_ = enc.EncodeString(s.ID)
	var at int64
	if !s.FetchedAt.IsZero() {
		at = s.FetchedAt.UnixNano()
	}
	_ = enc.EncodeInt(at)
	_ = enc.EncodeInt(int64(s.FetchTook))
	_ = enc.EncodeArrayLen(len(strs))
	for _, v := range strs {
		_ = enc.EncodeString(v)
	}
	_ = enc.EncodeArrayLen(len(s.Channels))
	prev := ""
	for i := range s.Channels {
		ch := &s.Channels[i]
		_ = enc.EncodeUint(table[ch.Backend])
		n := commonPrefix(prev, ch.Name)
		_ = enc.EncodeUint(uint64(n))
		_ = enc.EncodeString(ch.Name[n:])
		prev = ch.Name
		_ = enc.EncodeUint(ch.SeriesID)
		_ = enc.EncodeUint(table[ch.Source])
		_ = enc.EncodeUint(table[ch.Type])
		if ch.Shape == nil {
			_ = enc.EncodeNil() // nil (unknown shape) and [] (scalar) answer differently
		} else {
			_ = enc.EncodeArrayLen(len(ch.Shape))
		}
		for _, d := range ch.Shape {
			_ = enc.EncodeUint(uint64(d))
		}
		_ = enc.EncodeUint(table[ch.Unit])
		_ = enc.EncodeString(ch.Description)
	}
	return buf.Bytes()
}

// commonPrefix is the length of the longest common byte prefix of a and b (the decoder joins
// bytes, so the cut need not fall on a rune boundary).
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// decodeChannelSet decodes what encodeChannelSet wrote.
func decodeChannelSet(p []byte) (channelSet, error) {
	var s channelSet
	if len(p) == 0 || p[0] != channelCodecVersion {
		return s, errChannelCodec
	}
	d := channelDecoder{dec: msgpack.NewDecoder(bytes.NewReader(p[1:])), limit: len(p)}
	s.ID = d.str()
	if at := d.int(); at != 0 {
		s.FetchedAt = time.Unix(0, at)
	}
	s.FetchTook = time.Duration(d.int())
	strs := make([]string, max(d.arrayLen(), 0))
	for i := range strs {
		strs[i] = d.str()
	}
	ref := func() string {
		i := d.uint()
		if i >= uint64(len(strs)) {
			d.fail(fmt.Errorf("string %d of %d", i, len(strs)))
			return ""
		}
		return strs[i]
	}
	n := d.arrayLen()
	if n < 0 {
		d.fail(errors.New("nil channel array"))
	}
	if d.err != nil {
		return channelSet{}, d.err
	}
	s.Channels = make([]daqbuf.Channel, n)
	prev := ""
	for i := range s.Channels {
		ch := &s.Channels[i]
		ch.Backend = ref()
		keep := d.uint()
		if keep > uint64(len(prev)) {
			d.fail(fmt.Errorf("name prefix %d longer than %d", keep, len(prev)))
			break
		}
		if suffix := d.str(); keep == 0 {
			ch.Name = suffix
		} else {
			ch.Name = prev[:keep] + suffix
		}
		prev = ch.Name
		ch.SeriesID = d.uint()
		ch.Source = ref()
		ch.Type = ref()
		if dims := d.arrayLen(); dims >= 0 {
			ch.Shape = make([]uint32, dims)
			for k := range ch.Shape {
				v := d.uint()
				if v > 1<<32-1 {
					d.fail(fmt.Errorf("shape %d", v))
				}
				ch.Shape[k] = uint32(v)
			}
		}
		ch.Unit = ref()
		ch.Description = d.str()
		if d.err != nil {
			break
		}
	}
	if d.err != nil {
		return channelSet{}, d.err
	}
	return s, nil
}

// channelDecoder reads msgpack values and keeps the first error, so that the layout reads as a
// sequence; array lengths are bounded by the input size (no huge allocations from garbage).
type channelDecoder struct {
	dec   *msgpack.Decoder
	limit int
	err   error
}

func (d *channelDecoder) fail(err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %v", errChannelCodec, err)
	}
}

func (d *channelDecoder) str() string {
	if d.err != nil {
		return ""
	}
	v, err := d.dec.DecodeString()
	if err != nil {
		d.fail(err)
	}
	return v
}

func (d *channelDecoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := d.dec.DecodeUint64()
	if err != nil {
		d.fail(err)
	}
	return v
}

func (d *channelDecoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, err := d.dec.DecodeInt64()
	if err != nil {
		d.fail(err)
	}
	return v
}

// arrayLen returns the length of the next array; -1 for a msgpack nil, 0 after an error.
func (d *channelDecoder) arrayLen() int {
	if d.err != nil {
		return 0
	}
	n, err := d.dec.DecodeArrayLen()
	switch {
	case err != nil:
		d.fail(err)
		return 0
	case n > d.limit:
		d.fail(fmt.Errorf("array of %d in %d bytes", n, d.limit))
		return 0
	}
	return n
}
