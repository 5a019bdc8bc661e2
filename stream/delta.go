package stream

import (
	"math"
	"slices"
	"sort"

	"github.com/databoard/databoard/daqbuf/curve"
)

// delta is an append's change: after dropping every point before trimBefore, and (when hasReplace)
// every point at or after replaceFrom, adding add's points yields the new curve (docs/streaming.md,
// "append"). add also carries the meta's scalars.
type delta struct {
	trimBefore  int64
	replaceFrom int64
	hasReplace  bool
	add         *curve.Doc
}

// sameShape says whether an append can bring a client from old to cur: the answer keeps its maps
// (raw or binned, waveform or not, empty or not). Otherwise a snapshot is sent.
func sameShape(old, cur *curve.Doc) bool {
	return old.Empty == cur.Empty && old.Raw == cur.Raw && old.Waveform == cur.Waveform && old.Name == cur.Name
}

// diff computes the smallest append that turns old into cur, and whether anything changed at all. The
// caller has checked sameShape and that cur is not empty.
//
// Every map is sorted by time. trimBefore is cur's first point time; in each map the points of old
// from there on are compared with cur's in order: the first differing point of old starts the replaced
// part (replaceFrom, the earliest over all maps), and each map sends its points from its first
// difference, and all of them at or after replaceFrom.
func diff(old, cur *curve.Doc) (d delta, changed bool) {
	trim := firstTime(cur)
	d.trimBefore = trim
	rep := int64(math.MaxInt64)
	type cut struct{ oldFrom, same int }
	var cuts [4]cut
	pointMaps := [3][2][]curve.Point{{old.Values, cur.Values}, {old.Mins, cur.Mins}, {old.Maxs, cur.Maxs}}
	for m, pm := range pointMaps {
		from := sort.Search(len(pm[0]), func(i int) bool { return pm[0][i].Time >= trim })
		same := samePrefix(len(pm[0])-from, len(pm[1]), func(i int) bool { return pm[0][from+i] == pm[1][i] })
		cuts[m] = cut{from, same}
		if from+same < len(pm[0]) {
			rep = min(rep, pm[0][from+same].Time)
		}
	}
	{
		from := sort.Search(len(old.Meta), func(i int) bool { return old.Meta[i].Time >= trim })
		same := samePrefix(len(old.Meta)-from, len(cur.Meta), func(i int) bool { return old.Meta[from+i] == cur.Meta[i] })
		cuts[3] = cut{from, same}
		if from+same < len(old.Meta) {
			rep = min(rep, old.Meta[from+same].Time)
		}
	}
	d.hasReplace = rep != math.MaxInt64
	if d.hasReplace {
		d.replaceFrom = rep
	}
	add := &curve.Doc{Name: cur.Name, Raw: cur.Raw, Waveform: cur.Waveform,
		IntervalAvg: cur.IntervalAvg, IntervalStddev: cur.IntervalStddev}
	sendFrom := func(times func(i int) int64, n, same int) int {
		if !d.hasReplace {
			return same
		}
		return min(same, sort.Search(n, func(i int) bool { return times(i) >= rep }))
	}
	for m, pm := range pointMaps {
		cur := pm[1]
		i := sendFrom(func(i int) int64 { return cur[i].Time }, len(cur), cuts[m].same)
		// Copies, not sub-slices: an append lives in the history for minutes, and a sub-slice would
		// keep the whole curve it was cut from alive with it.
		if len(cur) > i {
			switch m {
			case 0:
				add.Values = slices.Clone(cur[i:])
			case 1:
				add.Mins = slices.Clone(cur[i:])
			case 2:
				add.Maxs = slices.Clone(cur[i:])
			}
		}
	}
	i := sendFrom(func(i int) int64 { return cur.Meta[i].Time }, len(cur.Meta), cuts[3].same)
	if len(cur.Meta) > i {
		add.Meta = slices.Clone(cur.Meta[i:])
	}
	d.add = add
	trimmed := cuts[0].oldFrom > 0 || cuts[1].oldFrom > 0 || cuts[2].oldFrom > 0 || cuts[3].oldFrom > 0
	metaChanged := old.IntervalAvg != cur.IntervalAvg || old.IntervalStddev != cur.IntervalStddev
	changed = trimmed || d.hasReplace || add.Len() > 0 || metaChanged
	return d, changed
}

// samePrefix is the length of the common prefix of two sequences of lengths na and nb.
func samePrefix(na, nb int, equal func(i int) bool) int {
	n := min(na, nb)
	for i := 0; i < n; i++ {
		if !equal(i) {
			return i
		}
	}
	return n
}

// firstTime is the time of the earliest point of d (MaxInt64 when it has none).
func firstTime(d *curve.Doc) int64 {
	t := int64(math.MaxInt64)
	if len(d.Values) > 0 {
		t = min(t, d.Values[0].Time)
	}
	if len(d.Mins) > 0 {
		t = min(t, d.Mins[0].Time)
	}
	if len(d.Maxs) > 0 {
		t = min(t, d.Maxs[0].Time)
	}
	if len(d.Meta) > 0 {
		t = min(t, d.Meta[0].Time)
	}
	return t
}

// apply is what a client does with an append (docs/streaming.md): trim, replace, add. It returns a new
// Doc; doc is not changed. Instances that follow another's poller through Redis keep their state
// with it, and the tests play the client with it.
func apply(doc *curve.Doc, d delta) *curve.Doc {
	keep := func(t int64) bool { return t >= d.trimBefore && (!d.hasReplace || t < d.replaceFrom) }
	out := &curve.Doc{Name: d.add.Name, Raw: d.add.Raw, Waveform: d.add.Waveform,
		IntervalAvg: d.add.IntervalAvg, IntervalStddev: d.add.IntervalStddev}
	out.Values = applyPoints(doc.Values, d.add.Values, keep)
	out.Mins = applyPoints(doc.Mins, d.add.Mins, keep)
	out.Maxs = applyPoints(doc.Maxs, d.add.Maxs, keep)
	for _, m := range doc.Meta {
		if keep(m.Time) {
			out.Meta = append(out.Meta, m)
		}
	}
	out.Meta = append(out.Meta, d.add.Meta...)
	out.Empty = out.Len() == 0 && doc.Empty
	return out
}

func applyPoints(old, add []curve.Point, keep func(int64) bool) []curve.Point {
	var out []curve.Point
	for _, p := range old {
		if keep(p.Time) {
			out = append(out, p)
		}
	}
	return append(out, add...)
}
