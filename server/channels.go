package server

import (
	"context"
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
	// is set, from data-api (merging newly seen channels into the list). backend "" means all.
	Search(ctx context.Context, pattern, backend string, live bool) ([]daqbuf.Channel, error)
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

// appendChannelsJSON writes {"channels": [...]}.
func appendChannelsJSON(dst []byte, chs []daqbuf.Channel) []byte {
	dst = append(dst, `{"channels":[`...)
	for i := range chs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendChannelJSON(dst, &chs[i])
	}
	return append(dst, "]}"...)
}
