package stream

import (
	"cmp"
	"slices"
	"time"
)

// UpdateTime says when an update of a series stream was made: when the poll's result was ready (an
// update made by another instance carries that instance's time, to the millisecond).
type UpdateTime struct {
	Epoch  string
	Offset int64
	At     time.Time
}

// UpdateTimes lists the update times the series keep in their histories (STREAM_HISTORY), by epoch
// and offset. A load client that notes when it decoded each (epoch, offset) joins the two and gets
// "poll result ready → decoded" per message, which no field of the protocol carries; the debug
// listener serves this list for that (BENCHMARKS.md, "Live stream").
func (h *Hub) UpdateTimes() []UpdateTime {
	h.mu.Lock()
	all := make([]*series, 0, len(h.series))
	for _, s := range h.series {
		all = append(all, s)
	}
	h.mu.Unlock() // not held while walking the histories: new subscribers need it

	var out []UpdateTime
	for _, s := range all {
		s.mu.Lock()
		for _, u := range s.history {
			out = append(out, UpdateTime{Epoch: u.epoch, Offset: u.offset, At: u.at})
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b UpdateTime) int {
		return cmp.Or(cmp.Compare(a.Epoch, b.Epoch), cmp.Compare(a.Offset, b.Offset))
	})
	return out
}
