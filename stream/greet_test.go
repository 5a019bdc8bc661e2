package stream

import (
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf/curve"
)

// A new subscriber is greeted with the series' latest snapshot and the appends since while it is at
// most greetCatchUp updates old, else with a snapshot of the current state; the history never starts
// with a snapshot, and keeps encodings only for the updates greetings still send.
func TestGreetingReusesRecentSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name        string
		appends     int   // after the series' first snapshot (offset 1)
		wantSnap    int64 // offset of the snapshot the newcomer gets
		wantAppends int   // appends that follow it
	}{
		{"nothing since the snapshot", 0, 1, 0},
		{"a few appends since", 5, 1, 5},
		{"greetCatchUp appends since", greetCatchUp, 1, greetCatchUp},
		{"one more: the current state", greetCatchUp + 1, greetCatchUp + 2, 0},
		{"many more: the current state", 3 * greetCatchUp, 3*greetCatchUp + 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Config{}, nil, nil)
			s := h.newSeries(Params{ChannelName: "C"})
			doc := &curve.Doc{Name: "C", Raw: true, Values: []curve.Point{{Time: 1, Elem: -1, Val: curve.Float(1)}},
				Meta: []curve.MetaPoint{{Time: 1}}}
			// An earlier subscriber that gets every update: each is encoded as it is sent.
			early := &conn{hub: h, writing: true, subs: map[string]*subscription{}}
			s.add(&subscription{id: "early", conn: early}, nil)
			now := time.Now()
			s.mu.Lock()
			s.commit(&update{epoch: s.epoch, offset: 1, snapshot: true, doc: doc, at: now}, doc)
			for i := range tc.appends {
				s.commit(&update{epoch: s.epoch, offset: int64(i + 2), delta: delta{add: doc}, at: now}, doc)
			}
			s.mu.Unlock()

			c := &conn{hub: h, writing: true, subs: map[string]*subscription{}}
			s.add(&subscription{id: "new", conn: c}, nil)
			if len(c.queue) != 1+tc.wantAppends {
				t.Fatalf("queued %d messages, want a snapshot and %d appends", len(c.queue), tc.wantAppends)
			}
			if it := c.queue[0]; it.typ != typeSnapshot || string(it.body.b) != string(s.snapshotAt(t, tc.wantSnap).body(formatJSON).b) {
				t.Errorf("first message %s %.80s, want the snapshot at offset %d", it.typ, it.body.b, tc.wantSnap)
			}
			for i, it := range c.queue[1:] {
				want := s.history[len(s.history)-tc.wantAppends+i]
				if it.typ != typeAppend || want.offset != tc.wantSnap+int64(i)+1 || string(it.body.b) != string(want.body(formatJSON).b) {
					t.Errorf("message %d: %s %.80s, want the append at offset %d", i+1, it.typ, it.body.b, tc.wantSnap+int64(i)+1)
				}
			}

			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.history) > 0 && s.history[0].snapshot {
				t.Errorf("history starts with a snapshot (offset %d)", s.history[0].offset)
			}
			for _, u := range s.history {
				if encoded := u.bodies[formatJSON].b != nil; encoded != (u.offset > s.offset-greetCatchUp-1) {
					t.Errorf("update %d of %d: encoded %v", u.offset, s.offset, encoded)
				}
			}
		})
	}
}

// snapshotAt is the snapshot the series holds at offset.
func (s *series) snapshotAt(t *testing.T, offset int64) *update {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap == nil || s.snap.offset != offset {
		t.Fatalf("the series' snapshot is %+v, want offset %d", s.snap, offset)
	}
	return s.snap
}
