package stream

import (
	"reflect"
	"testing"

	"github.com/databoard/databoard/daqbuf/curve"
)

func pts(times ...int64) []curve.Point {
	out := make([]curve.Point, len(times))
	for i, t := range times {
		out[i] = curve.Point{Time: t, Elem: -1, Val: curve.Float(float64(t))}
	}
	return out
}

func binned(values, mins []curve.Point) *curve.Doc {
	d := &curve.Doc{Name: "X", Values: values, Mins: mins, Maxs: mins}
	for _, p := range values {
		d.Meta = append(d.Meta, curve.MetaPoint{Time: p.Time, Binned: true, Count: 1})
	}
	return d
}

func TestDiff(t *testing.T) {
	changed := func(p []curve.Point, i int, v float64) []curve.Point {
		out := append([]curve.Point(nil), p...)
		out[i].Val = curve.Float(v)
		return out
	}
	tests := []struct {
		name        string
		old, cur    *curve.Doc
		wantTrim    int64
		wantReplace int64 // 0: none
		wantAdded   int   // points in the value map
		wantChanged bool
	}{
		{"nothing new", binned(pts(1, 2, 3), pts(1, 2, 3)), binned(pts(1, 2, 3), pts(1, 2, 3)), 1, 0, 0, false},
		{"rolling: one out, one in", binned(pts(1, 2, 3), pts(1, 2, 3)), binned(pts(2, 3, 4), pts(2, 3, 4)), 2, 0, 1, true},
		{"open bin changed", binned(pts(1, 2, 3), pts(1, 2, 3)), binned(pts(1, 2, 3, 4), changed(pts(1, 2, 3, 4), 2, 9)), 1, 3, 2, true},
		{"a point vanished", binned(pts(1, 2, 3), pts(1, 2, 3)), binned(pts(1, 3), pts(1, 3)), 1, 2, 1, true},
	}
	for _, tt := range tests {
		d, ch := diff(tt.old, tt.cur)
		if ch != tt.wantChanged || d.trimBefore != tt.wantTrim || d.hasReplace != (tt.wantReplace != 0) ||
			(d.hasReplace && d.replaceFrom != tt.wantReplace) || len(d.add.Values) != tt.wantAdded {
			t.Errorf("%s: changed %v trim %d replace %v@%d added %d", tt.name, ch, d.trimBefore, d.hasReplace,
				d.replaceFrom, len(d.add.Values))
		}
		// The append owns its points: one kept in the history must not keep the whole curve alive.
		if n := len(d.add.Values); n > 0 && &d.add.Values[n-1] == &tt.cur.Values[len(tt.cur.Values)-1] {
			t.Errorf("%s: the append shares the curve's memory", tt.name)
		}
		// Applying the append to old gives cur, whatever it is.
		if got := apply(tt.old, d); !reflect.DeepEqual(got.Values, tt.cur.Values) || !reflect.DeepEqual(got.Mins, tt.cur.Mins) ||
			!reflect.DeepEqual(got.Meta, tt.cur.Meta) {
			t.Errorf("%s: apply gives %v / %v, want %v / %v", tt.name, got.Values, got.Mins, tt.cur.Values, tt.cur.Mins)
		}
	}
}
