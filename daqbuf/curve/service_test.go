package curve

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

// countingSource serves fixed bins and events and counts the events requests.
type countingSource struct {
	bins         []*daqbuf.BinBatch
	events       []*daqbuf.EventBatch
	eventsCalled atomic.Int32
}

func (s *countingSource) Bins(context.Context, daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, Status, error) {
	return s.bins, StatusMiss, nil
}

func (s *countingSource) Events(context.Context, daqbuf.EventsQuery) ([]*daqbuf.EventBatch, Status, error) {
	s.eventsCalled.Add(1)
	return s.events, StatusMiss, nil
}

// oneChannel is a channel list of one channel.
type oneChannel struct{ ch daqbuf.Channel }

func (d oneChannel) Lookup(_ context.Context, backend, name string) (daqbuf.Channel, bool, error) {
	return d.ch, name == d.ch.Name, nil
}
func (d oneChannel) LookupSeries(string, uint64) (daqbuf.Channel, bool) {
	return daqbuf.Channel{}, false
}

// binsOver cuts [beg, end) ms into n bins, each counting perBin events.
func binsOver(begMs, endMs int64, n int, perBin uint64) []*daqbuf.BinBatch {
	b := &daqbuf.BinBatch{}
	w := (endMs - begMs) * int64(time.Millisecond) / int64(n)
	for i := range n {
		t1 := begMs*int64(time.Millisecond) + int64(i)*w
		b.Ts1, b.Ts2 = append(b.Ts1, t1), append(b.Ts2, t1+w)
		b.Counts = append(b.Counts, perBin)
		b.Mins, b.Maxs, b.Avgs = append(b.Mins, 0), append(b.Maxs, 1), append(b.Avgs, 0.5)
	}
	return []*daqbuf.BinBatch{b}
}

// eventsOf is n scalar events (width 0) or waveforms of width w.
func eventsOf(begMs int64, n, w int) []*daqbuf.EventBatch {
	b := &daqbuf.EventBatch{ScalarType: "f64", Values: daqbuf.Values{Kind: daqbuf.KindFloat, Width: w}}
	for i := range n {
		b.Ts = append(b.Ts, begMs*int64(time.Millisecond)+int64(i))
		for range max(w, 1) {
			b.Values.Floats = append(b.Values.Floats, float64(i))
		}
	}
	return []*daqbuf.EventBatch{b}
}

// The raw-value bound is decided from bin counts before any event is fetched: a request over it is
// 400 without an events request, so it never holds more than the bound (plus the edge bins).
func TestRawBoundDecidedBeforeFetching(t *testing.T) {
	const beg, end, bound = 1_700_000_000_000, 1_700_000_100_000, 1000
	scalar := daqbuf.Channel{Backend: "b", Name: "S", Type: "f64"}
	wave := daqbuf.Channel{Backend: "b", Name: "W", Type: "f64", Shape: []uint32{100}}
	// Bins that reach past the window at both ends: only the inner ones are certain.
	edgy := binsOver(beg-10_000, end+10_000, 12, 100)
	for _, tc := range []struct {
		name       string
		ch         daqbuf.Channel
		numBins    int64
		sparse     bool
		bins       []*daqbuf.BinBatch
		events     []*daqbuf.EventBatch
		wantErr    string // prefix of the 400 detail; "" = answered
		wantEvents bool   // an events request was made
		wantRaw    bool
	}{
		{"scalar over the bound", scalar, 0, false, binsOver(beg, end, 10, 500), nil,
			"too many raw values (5000 or more, at most 1000)", false, true},
		{"scalar under the bound", scalar, 0, false, binsOver(beg, end, 10, 50), eventsOf(beg, 500, 0), "", true, true},
		{"waveform: count times width over the bound", wave, 0, false, binsOver(beg, end, 10, 2), nil,
			"too many raw values (2000 or more", false, true},
		{"edge bins uncertain: fetched, then the exact check", scalar, 0, false, edgy, eventsOf(beg, 1001, 0),
			"too many raw values (1001, at most 1000)", true, true},
		{"sparse waveforms beyond the bound stay binned", wave, 50, true, binsOver(beg, end, 10, 2), nil,
			"", false, false},
		{"sparse scalars go raw", scalar, 20, true, binsOver(beg, end, 10, 1), eventsOf(beg, 10, 0), "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &countingSource{bins: tc.bins, events: tc.events}
			svc := New(src, oneChannel{tc.ch}, Config{MaxRawValues: bound, Now: func() time.Time { return time.UnixMilli(end + 1) }})
			q, err := svc.Resolve(context.Background(), Request{Name: tc.ch.Name, Backend: "b", BeginMs: beg, EndMs: end,
				NumBins: tc.numBins, RawIfSparse: tc.sparse})
			if err != nil {
				t.Fatal(err)
			}
			cv, _, err := svc.Fetch(context.Background(), q)
			var ie *InvalidError
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Fetch: %v", err)
			case tc.wantErr != "" && (!errors.As(err, &ie) || !strings.HasPrefix(ie.Detail, tc.wantErr)):
				t.Fatalf("Fetch error %v, want 400 %q...", err, tc.wantErr)
			}
			if got := src.eventsCalled.Load() > 0; got != tc.wantEvents {
				t.Errorf("events requested: %v, want %v", got, tc.wantEvents)
			}
			if err == nil && cv.raw != tc.wantRaw {
				t.Errorf("raw answer %v, want %v", cv.raw, tc.wantRaw)
			}
		})
	}
}
