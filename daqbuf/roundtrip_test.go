package daqbuf_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"math"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/sim"
)

// The client against the simulator over real HTTP: for every channel of the catalogue and every
// response mode, the decoded events must equal sim.Events and the decoded bins sim.Bins exactly.

var simNow = time.Date(2024, 9, 26, 12, 0, 0, 0, time.UTC)

func newSimClient(t *testing.T, cfg sim.Config) (*sim.Sim, *daqbuf.Client) {
	t.Helper()
	cfg.Now = func() time.Time { return simNow }
	s := sim.New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := daqbuf.New(daqbuf.Config{BaseURL: srv.URL + "/api/4", Now: cfg.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

var modes = []daqbuf.Mode{daqbuf.ModeCBOR, daqbuf.ModeJSONFramed, daqbuf.ModeJSON}

// eventsRange holds about 150 events of the channel and ends an hour before the sim's now.
func eventsRange(ch sim.Channel) daqbuf.Range {
	end := simNow.Add(-time.Hour).UnixNano() + 123_456_789
	return daqbuf.Range{Beg: end - 150*int64(ch.Period), End: end}
}

func readEvents(t *testing.T, s *daqbuf.EventStream) daqbuf.EventBatch {
	t.Helper()
	var all daqbuf.EventBatch
	for {
		b, err := s.Next()
		if err == io.EOF {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
		if all.ScalarType == "" {
			all.ScalarType, all.Values.Kind, all.Values.Width = b.ScalarType, b.Values.Kind, b.Values.Width
		}
		if b.Values.Kind != all.Values.Kind || b.Values.Width != all.Values.Width {
			t.Fatalf("batch kind %d width %d after kind %d width %d", b.Values.Kind, b.Values.Width, all.Values.Kind, all.Values.Width)
		}
		all.Ts = append(all.Ts, b.Ts...)
		all.Pulses = append(all.Pulses, b.Pulses...)
		v := &all.Values
		v.Floats = append(v.Floats, b.Values.Floats...)
		v.Ints = append(v.Ints, b.Values.Ints...)
		v.Uints = append(v.Uints, b.Values.Uints...)
		v.Bools = append(v.Bools, b.Values.Bools...)
		v.Strings = append(v.Strings, b.Values.Strings...)
		v.Labels = append(v.Labels, b.Values.Labels...)
	}
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// compareEvents checks got against the simulator's ground truth, value by value.
func compareEvents(t *testing.T, ch sim.Channel, got daqbuf.EventBatch, want []sim.Event) {
	t.Helper()
	if len(got.Ts) != len(want) {
		t.Fatalf("%d events, want %d", len(got.Ts), len(want))
	}
	if ch.Pulsed != (got.Pulses != nil) {
		t.Fatalf("pulses %v for a channel with Pulsed=%v", got.Pulses != nil, ch.Pulsed)
	}
	v := got.Values
	w := max(v.Width, 1)
	for i, e := range want {
		if got.Ts[i] != e.Ts {
			t.Fatalf("event %d: ts %d, want %d", i, got.Ts[i], e.Ts)
		}
		if ch.Pulsed && got.Pulses[i] != e.Pulse {
			t.Fatalf("event %d: pulse %d, want %d", i, got.Pulses[i], e.Pulse)
		}
		ok := true
		switch x := e.Value.(type) {
		case float64:
			ok = v.Kind == daqbuf.KindFloat && v.Width == 0 && sameFloat(v.Floats[i], x)
		case int64:
			ok = v.Kind == daqbuf.KindInt && v.Ints[i] == x
		case uint64:
			ok = v.Kind == daqbuf.KindUint && v.Uints[i] == x
		case bool:
			ok = v.Kind == daqbuf.KindBool && v.Bools[i] == x
		case string:
			ok = v.Kind == daqbuf.KindString && v.Strings[i] == x
		case sim.EnumValue:
			ok = v.Kind == daqbuf.KindEnum && v.Ints[i] == int64(x.Index) && len(v.Labels) == len(want) && v.Labels[i] == x.Label
		case []any:
			ok = v.Kind == daqbuf.KindFloat && v.Width == len(x)
			for j := 0; ok && j < len(x); j++ {
				f, isF := x[j].(float64)
				ok = isF && sameFloat(v.Floats[i*w+j], f)
			}
		default:
			t.Fatalf("event %d: unexpected ground-truth value %T", i, e.Value)
		}
		if !ok {
			t.Fatalf("event %d: value %v (%T) not decoded as such (kind %d width %d)", i, e.Value, e.Value, v.Kind, v.Width)
		}
	}
}

func TestRoundTripEvents(t *testing.T) {
	s, c := newSimClient(t, sim.Config{EventsPerFrame: 37})
	chans := s.Channels("sf-databuffer")
	if len(chans) < 14 {
		t.Fatalf("catalogue has %d channels", len(chans))
	}
	for _, ch := range chans {
		r := eventsRange(ch)
		want := s.Events(ch, r.Beg, r.End)
		if len(want) == 0 {
			t.Fatalf("%s: no ground truth events", ch.Name)
		}
		for _, mode := range modes {
			t.Run(ch.Name+"/"+mode.String(), func(t *testing.T) {
				// By name with a type hint, and by series id on another backend without one where the
				// wire carries the type (CBOR) or the numbers decide (everything but f32/float channels
				// with integral values, which need the hint).
				st, err := c.Events(context.Background(), daqbuf.EventsQuery{
					Channel: daqbuf.ChannelRef{Backend: ch.Backend, Name: ch.Name}, Range: r, Mode: mode, ValueType: ch.Type})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				compareEvents(t, ch, readEvents(t, st), want)
				if !st.RangeFinal() || st.Continuations() != 0 {
					t.Errorf("RangeFinal %v, %d continuations", st.RangeFinal(), st.Continuations())
				}
			})
		}
	}
	// By series id on another backend, CBOR without a type hint: the frame's scalar_type decides.
	for _, ch := range s.Channels("sls-archiver") {
		r := eventsRange(ch)
		st, err := c.Events(context.Background(), daqbuf.EventsQuery{
			Channel: daqbuf.ChannelRef{Backend: ch.Backend, SeriesID: ch.SeriesID}, Range: r})
		if err != nil {
			t.Fatal(err)
		}
		got := readEvents(t, st)
		st.Close()
		compareEvents(t, ch, got, s.Events(ch, r.Beg, r.End))
		if got.ScalarType != ch.Type {
			t.Errorf("%s: scalar type %q, want %q", ch.Name, got.ScalarType, ch.Type)
		}
	}
}

// A plain-JSON answer truncated at data-api's event limit (80 000) is completed by continuation.
func TestRoundTripPlainJSONContinuation(t *testing.T) {
	s, c := newSimClient(t, sim.Config{})
	ch, ok := s.Channel("sf-databuffer", "SIM-DENSE:100HZ")
	if !ok {
		t.Fatal("no SIM-DENSE:100HZ")
	}
	end := simNow.Add(-time.Hour).UnixNano()
	r := daqbuf.Range{Beg: end - int64(20*time.Minute), End: end} // 120 000 events
	st, err := c.Events(context.Background(), daqbuf.EventsQuery{Channel: daqbuf.ChannelRef{Backend: ch.Backend, Name: ch.Name},
		Range: r, Mode: daqbuf.ModeJSON, ValueType: ch.Type})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	compareEvents(t, ch, readEvents(t, st), s.Events(ch, r.Beg, r.End))
	if !st.RangeFinal() || st.Continuations() < 1 {
		t.Errorf("RangeFinal %v after %d continuations; want true after at least 1", st.RangeFinal(), st.Continuations())
	}
}

// A range reaching past the sim's now is delivered without rangeFinal and not continued.
func TestRoundTripOpenRange(t *testing.T) {
	s, c := newSimClient(t, sim.Config{})
	ch, _ := s.Channel("sf-databuffer", "SIM-F64:SINE")
	r := daqbuf.Range{Beg: simNow.Add(-time.Minute).UnixNano(), End: simNow.Add(time.Minute).UnixNano()}
	for _, mode := range modes {
		st, err := c.Events(context.Background(), daqbuf.EventsQuery{Channel: daqbuf.ChannelRef{Backend: ch.Backend, Name: ch.Name},
			Range: r, Mode: mode, ValueType: ch.Type})
		if err != nil {
			t.Fatal(err)
		}
		compareEvents(t, ch, readEvents(t, st), s.Events(ch, r.Beg, r.End))
		if st.RangeFinal() {
			t.Errorf("%v: RangeFinal for a range ending after now", mode)
		}
		st.Close()
	}
}

func TestRoundTripBins(t *testing.T) {
	s, c := newSimClient(t, sim.Config{})
	end := simNow.Add(-time.Hour).UnixNano() + 123_456_789
	for _, ch := range s.Channels("sf-databuffer") {
		// A long window (several frames of 128 bins) of at most 200 000 events, to keep binning cheap.
		long := min(3*24*time.Hour, 200_000*ch.Period)
		for _, q := range []struct {
			span  time.Duration
			count int
			width time.Duration
		}{
			{2 * time.Hour, 10, 0},
			{3 * time.Hour, 0, 90 * time.Second}, // snapped to 2m by the client and by the sim
			{long, 200, 0},
		} {
			r := daqbuf.Range{Beg: end - int64(q.span), End: end}
			want, err := s.Bins(ch, r.Beg, r.End, q.count, q.width)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("%s: no ground-truth bins", ch.Name)
			}
			checkGrid(t, ch.Name, r, q.count, q.width, want)
			for _, mode := range modes {
				if mode == daqbuf.ModeJSON && len(want) > 2500 {
					continue // plain JSON is capped at 2 500 bins (§6.3)
				}
				st, err := c.Binned(context.Background(), daqbuf.BinnedQuery{
					Channel: daqbuf.ChannelRef{Backend: ch.Backend, Name: ch.Name}, Range: r,
					BinCount: q.count, BinWidth: q.width, Mode: mode})
				if err != nil {
					t.Fatal(err)
				}
				compareBins(t, ch.Name+"/"+mode.String(), readBins(t, st), want)
				st.Close()
			}
		}
	}
}

// checkGrid cross-checks the client's grid maths with the simulator's bins (both from docs/daqbuf.md §7).
func checkGrid(t *testing.T, name string, r daqbuf.Range, count int, width time.Duration, bins []sim.Bin) {
	t.Helper()
	w := int64(daqbuf.SnapWidth(width))
	if width == 0 {
		w = daqbuf.WidthForCount(r, count)
	}
	g := daqbuf.GridRange(r, w)
	for _, b := range bins {
		if b.Ts2-b.Ts1 != w || b.Ts1 < g.Beg || b.Ts2 > g.End || (b.Ts1-g.Beg)%w != 0 {
			t.Fatalf("%s: sim bin [%d,%d) is not on the client's grid of %v over %v", name, b.Ts1, b.Ts2, time.Duration(w), g)
		}
	}
}

func readBins(t *testing.T, st *daqbuf.BinStream) daqbuf.BinBatch {
	t.Helper()
	var all daqbuf.BinBatch
	for {
		b, err := st.Next()
		if errors.Is(err, io.EOF) {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
		all.Ts1 = append(all.Ts1, b.Ts1...)
		all.Ts2 = append(all.Ts2, b.Ts2...)
		all.Counts = append(all.Counts, b.Counts...)
		all.Mins = append(all.Mins, b.Mins...)
		all.Maxs = append(all.Maxs, b.Maxs...)
		all.Avgs = append(all.Avgs, b.Avgs...)
	}
}

// compareBins: data-api's aggregates are f32, so the decoded float64 must be exactly the float32.
func compareBins(t *testing.T, name string, got daqbuf.BinBatch, want []sim.Bin) {
	t.Helper()
	if got.Len() != len(want) {
		t.Fatalf("%s: %d bins, want %d", name, got.Len(), len(want))
	}
	same32 := func(a float64, b float32) bool {
		return float32(a) == b || (math.IsNaN(a) && math.IsNaN(float64(b)))
	}
	for i, b := range want {
		if got.Ts1[i] != b.Ts1 || got.Ts2[i] != b.Ts2 || got.Counts[i] != b.Count ||
			!same32(got.Mins[i], b.Min) || !same32(got.Maxs[i], b.Max) || !same32(got.Avgs[i], b.Avg) {
			t.Fatalf("%s: bin %d = [%d,%d) n=%d %v/%v/%v, want %+v", name, i, got.Ts1[i], got.Ts2[i], got.Counts[i],
				got.Mins[i], got.Maxs[i], got.Avgs[i], b)
		}
	}
}

// Faults injected by the simulator surface as the client's typed errors.
func TestRoundTripFaults(t *testing.T) {
	s, c := newSimClient(t, sim.Config{})
	ch, _ := s.Channel("sf-databuffer", "SIM-F64:SINE")
	ref := daqbuf.ChannelRef{Backend: ch.Backend, Name: ch.Name}
	r := eventsRange(ch)
	cases := []struct {
		fault sim.Fault
		kind  error
	}{
		{sim.Fault{Status: 500, Message: "boom"}, daqbuf.ErrUpstream},
		{sim.Fault{Status: 504}, daqbuf.ErrTimeout},
		{sim.Fault{Status: 408}, daqbuf.ErrTimeout},
		{sim.Fault{CutConnection: true}, daqbuf.ErrConnectionClosed},
		{sim.Fault{MidStreamError: true, Message: "mid"}, daqbuf.ErrUpstream},
	}
	for _, cs := range cases {
		s.SetFault(cs.fault)
		st, err := c.Events(context.Background(), daqbuf.EventsQuery{Channel: ref, Range: r})
		if err == nil {
			for err == nil {
				_, err = st.Next()
			}
			st.Close()
		}
		if !errors.Is(err, cs.kind) {
			t.Errorf("fault %+v: %v, want %v", cs.fault, err, cs.kind)
		}
		s.ClearFault()
	}
	_, err := c.Events(context.Background(), daqbuf.EventsQuery{Channel: daqbuf.ChannelRef{Backend: "sf-databuffer", Name: "NOPE"}, Range: r})
	if !errors.Is(err, daqbuf.ErrChannelNotFound) {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestRoundTripMeta(t *testing.T) {
	s, c := newSimClient(t, sim.Config{})
	ctx := context.Background()
	backends, err := c.Backends(ctx)
	if err != nil || len(backends) != 3 || backends[0] != "sf-databuffer" {
		t.Errorf("backends %v, %v", backends, err)
	}
	found, err := c.Search(ctx, daqbuf.SearchQuery{Regex: "^sim-f64:sine$", Backend: "sf-databuffer", ICase: true})
	want, _ := s.Channel("sf-databuffer", "SIM-F64:SINE")
	if err != nil || len(found) != 1 || found[0].SeriesID != want.SeriesID || found[0].Unit != "mm" || found[0].Type != "f64" {
		t.Errorf("search: %+v, %v", found, err)
	}
	cfg, err := c.ChannelConfig(ctx, daqbuf.ChannelRef{Backend: "sf-databuffer", SeriesID: want.SeriesID})
	if err != nil || cfg.Name != want.Name || cfg.ScalarType != "f64" || cfg.SeriesID != want.SeriesID {
		t.Errorf("config: %+v, %v", cfg, err)
	}
}

// RequestCounts counts every request the client sends, by endpoint, failures and continuations
// included: what the simulator's request log saw, path for path.
func TestRequestCountsMatchTheSimulator(t *testing.T) {
	s, c := newSimClient(t, sim.Config{})
	ctx := context.Background()
	if got := c.RequestCounts(); len(got) != 0 {
		t.Fatalf("a new client counts %v, want nothing", got)
	}
	ref := daqbuf.ChannelRef{Backend: "sf-databuffer", Name: "SIM-F64:SINE"}
	dense := daqbuf.ChannelRef{Backend: "sf-databuffer", Name: "SIM-DENSE:100HZ"}
	end := simNow.Add(-time.Hour).UnixNano()
	drain := func(next func() error, close func() error) {
		for next() == nil {
		}
		close()
	}
	steps := []struct {
		name string
		do   func()
	}{
		{"backends", func() { c.Backends(ctx) }},
		{"search", func() { c.Search(ctx, daqbuf.SearchQuery{Regex: "^SIM-F64:SINE$", Backend: "sf-databuffer"}) }},
		{"search again", func() { c.Search(ctx, daqbuf.SearchQuery{Regex: "RAMP"}) }},
		{"binned", func() {
			st, err := c.Binned(ctx, daqbuf.BinnedQuery{Channel: ref, Range: daqbuf.Range{Beg: end - int64(time.Hour), End: end}, BinCount: 10})
			if err == nil {
				drain(func() error { _, err := st.Next(); return err }, st.Close)
			}
		}},
		{"events with continuations", func() { // 120 000 events in plain JSON: data-api's limit makes the client continue
			st, err := c.Events(ctx, daqbuf.EventsQuery{Channel: dense, Range: daqbuf.Range{Beg: end - int64(20*time.Minute), End: end}, Mode: daqbuf.ModeJSON})
			if err == nil {
				drain(func() error { _, err := st.Next(); return err }, st.Close)
			}
		}},
		{"a failing request", func() {
			s.SetFault(sim.Fault{Status: 500, Count: 1})
			c.Events(ctx, daqbuf.EventsQuery{Channel: ref, Range: daqbuf.Range{Beg: end - int64(time.Minute), End: end}})
		}},
	}
	for _, step := range steps {
		step.do()
		want := map[string]uint64{}
		for _, r := range s.Requests() {
			want[strings.TrimPrefix(r.Path, "/api/4")]++
		}
		got := map[string]uint64{}
		for _, rc := range c.RequestCounts() {
			got[rc.Path] = rc.N
		}
		if !maps.Equal(got, want) {
			t.Errorf("after %s: client counted %v, the simulator saw %v", step.name, got, want)
		}
	}
	if got := c.RequestCounts(); !slices.IsSortedFunc(got, func(a, b daqbuf.RequestCount) int { return strings.Compare(a.Path, b.Path) }) || len(got) != 4 {
		t.Errorf("RequestCounts %v: want the 4 endpoints used, sorted by path", got)
	}
}
