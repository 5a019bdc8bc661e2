package curve

import (
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

func TestKeyDistinguishesEverything(t *testing.T) {
	base := Query{
		Request: Request{Name: "X", Backend: "b", BeginMs: 1, EndMs: 2, NumBins: 3},
		Channel: daqbuf.Channel{Backend: "b", Name: "X", SeriesID: 7},
	}
	variants := []Query{base}
	for _, f := range []func(*Query){
		func(q *Query) { q.Name = "7" },
		func(q *Query) { q.BeginMs = 0 },
		func(q *Query) { q.EndMs = 3 },
		func(q *Query) { q.NumBins = 0 },
		func(q *Query) { q.RawIfSparse = true },
		func(q *Query) { q.RemoveEmpty = true },
		func(q *Query) { q.IsString = true },
		func(q *Query) { q.Channel.SeriesID = 8 },
		func(q *Query) { q.Channel.Name = "Y" },
		func(q *Query) { q.Backend = "c" },
		// A name that would forge the separators of a naive key.
		func(q *Query) { q.Name, q.Channel.Name = "X:1", "" },
	} {
		v := base
		f(&v)
		variants = append(variants, v)
	}
	seen := map[string]int{}
	for i, v := range variants {
		k := v.Key()
		if j, ok := seen[k]; ok {
			t.Errorf("variants %d and %d share the key %q", j, i, k)
		}
		seen[k] = i
	}
}

func TestSettled(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	const settle, tailAge = time.Minute, 10 * time.Second
	tests := []struct {
		name       string
		beg, end   time.Duration
		bins       int64
		wantSettle bool
	}{
		{"raw, ended 2 min ago", -time.Hour, -2 * time.Minute, 0, true},
		{"raw, ended 65 s ago (inside settle + tail age)", -time.Hour, -65 * time.Second, 0, false},
		{"binned 1 min bins, ended 3 min ago", -100 * time.Minute, -3 * time.Minute, 100, true},
		{"binned 1 h bins, ended 2.5 h ago: last bin may end 2 h ago, settle is 2 h + tail age", -(100*time.Hour + 150*time.Minute), -150 * time.Minute, 100, false},
		{"binned 1 h bins, ended 4 h ago", -104 * time.Hour, -4 * time.Hour, 100, true},
	}
	for _, tt := range tests {
		q := Query{Request: Request{BeginMs: ms(tt.beg), EndMs: ms(tt.end), NumBins: tt.bins}}
		if got := q.Settled(now, settle, tailAge); got != tt.wantSettle {
			t.Errorf("%s: settled %v, want %v", tt.name, got, tt.wantSettle)
		}
	}
}
