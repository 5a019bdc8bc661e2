package server

import (
	"bytes"
	"context"
	"iter"
	"math"
	"slices"
	"strconv"

	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// ChannelDirectory is the channel list the routes search and resolve names through (the catalogue,
// in process or shared through Redis); its lookups also serve the curve computation.
type ChannelDirectory interface {
	curve.Directory
	// All returns the whole list and a generation number that changes whenever the list does, so the
	// encoded answer can be reused until then.
	All() (generation uint64, channels []daqbuf.Channel)
	// Search matches the case-insensitive RE2 pattern against channel names, from the list or, when live
	// is set, from data-api (merging newly seen channels into the list). backend "" means all. The
	// matches are read in place, not copied: a search can match tens of thousands of channels.
	Search(ctx context.Context, pattern, backend string, live bool) (catalogue.Matches, error)
	// Requested records that a curve of ch was asked for; Recent returns up to 10 such channels, most
	// recent first (before any request: the last 10 of the list).
	Requested(ch daqbuf.Channel)
	Recent() []daqbuf.Channel
}

var _ ChannelDirectory = (*catalogue.List)(nil)

// appendChannelJSON writes a channel with exactly the contract's eight keys, seriesId as a string.
// The frontend stores these objects inside dashboards whose schema forbids extra keys.
func appendChannelJSON(dst []byte, ch *daqbuf.Channel) []byte {
	dst = append(dst, `{"backend":`...)
	dst = curve.AppendJSONString(dst, ch.Backend)
	dst = append(dst, `,"name":`...)
	dst = curve.AppendJSONString(dst, ch.Name)
	dst = append(dst, `,"seriesId":"`...)
	dst = strconv.AppendUint(dst, ch.SeriesID, 10)
	dst = append(dst, `","source":`...)
	dst = curve.AppendJSONString(dst, ch.Source)
	dst = append(dst, `,"type":`...)
	dst = curve.AppendJSONString(dst, ch.Type)
	dst = append(dst, `,"shape":`...)
	if ch.Shape == nil {
		dst = append(dst, `""`...)
	} else {
		dst = append(dst, '[')
		for i, n := range ch.Shape {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(n), 10)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"unit":`...)
	dst = curve.AppendJSONString(dst, ch.Unit)
	dst = append(dst, `,"description":`...)
	dst = curve.AppendJSONString(dst, ch.Description)
	return append(dst, '}')
}

// appendChannelsJSON writes {"channels": [...]}. When starts is not nil, the offset in dst of every
// channel's object is appended to it, and last the offset of the closing ']' plus one (see
// encodedList.starts).
func appendChannelsJSON(dst []byte, chs iter.Seq[*daqbuf.Channel], starts *[]uint32) []byte {
	dst = append(dst, `{"channels":[`...)
	first := true
	for ch := range chs {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if starts != nil {
			*starts = append(*starts, uint32(len(dst)))
		}
		dst = appendChannelJSON(dst, ch)
	}
	if starts != nil {
		*starts = append(*starts, uint32(len(dst)+1))
	}
	return append(dst, "]}"...)
}

// encodedList is the whole-list answer of one generation of the directory.
type encodedList struct {
	gen  uint64
	body []byte
	gz   *gzipOnce // its gzip form, made on the first request that accepts gzip
	// starts[k] is where the object of channel k of the list begins in body; it ends one byte
	// before starts[k+1] (before the comma that follows it, or the closing ']'). Nil when body is
	// too large for 32-bit offsets.
	starts []uint32
}

func encodeChannelList(gen uint64, chs []daqbuf.Channel) *encodedList {
	l := &encodedList{gen: gen, starts: make([]uint32, 0, len(chs)+1)}
	l.body = appendChannelsJSON(make([]byte, 0, 256*len(chs)+16), eachChannel(chs), &l.starts)
	if len(l.body) >= math.MaxUint32 {
		l.starts = nil
	}
	// The guess of 256 bytes a channel is ~1.7 times what the simulator's channels take: the answer
	// is kept for the list's life, so it keeps only its length (10 MB less for 100 000 channels).
	if cap(l.body)-len(l.body) > len(l.body)/8 {
		l.body = bytes.Clone(l.body)
	}
	l.gz = newGzipOnce(l.body)
	return l
}

// appendSubset writes {"channels": [...]} of found, read from this generation of the list, by
// copying their objects out of body: the bytes appendChannelsJSON writes for them.
func (l *encodedList) appendSubset(dst []byte, found *catalogue.Matches) []byte {
	if l.starts == nil {
		return appendChannelsJSON(dst, found.All(), nil)
	}
	size := len(`{"channels":[]}`)
	for pos := range found.Positions() {
		size += int(l.starts[pos+1] - l.starts[pos]) // the object and a comma
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, `{"channels":[`...)
	first := true
	for pos := range found.Positions() {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, l.body[l.starts[pos]:l.starts[pos+1]-1]...)
	}
	return append(dst, "]}"...)
}

// eachChannel yields the channels of a slice.
func eachChannel(chs []daqbuf.Channel) iter.Seq[*daqbuf.Channel] {
	return func(yield func(*daqbuf.Channel) bool) {
		for i := range chs {
			if !yield(&chs[i]) {
				return
			}
		}
	}
}
