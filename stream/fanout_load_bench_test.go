package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
)

// stampSource is the curve source of BenchmarkStreamFanOut: it records when each of a channel's
// Bins and Events calls returned, which is when a poll has its result (the curve computation, the
// delta and the encoding that follow count as fan-out).
type stampSource struct {
	src curve.Source

	mu     sync.Mutex
	stamps map[string][]time.Time // channel name -> return times, ascending
	names  map[uint64]string      // series id -> channel name
}

func (s *stampSource) stamp(ref daqbuf.ChannelRef) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	name := ref.Name
	if name == "" {
		name = s.names[ref.SeriesID]
	}
	s.stamps[name] = append(s.stamps[name], now)
}

func (s *stampSource) Bins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, curve.Status, error) {
	b, st, err := s.src.Bins(ctx, q)
	s.stamp(q.Channel)
	return b, st, err
}

func (s *stampSource) Events(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, curve.Status, error) {
	e, st, err := s.src.Events(ctx, q)
	s.stamp(q.Channel)
	return e, st, err
}

// ready is when the poll that started at startMs (a message's end_time) had its result: the first
// return at or after startMs. ok is false when there is none before decoded (the poll asked nothing).
func (s *stampSource) ready(name string, startMs int64, decoded time.Time) (time.Time, bool) {
	start := time.UnixMilli(startMs)
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.stamps[name]
	i, _ := slices.BinarySearchFunc(ts, start, func(a, b time.Time) int { return a.Compare(b) })
	if i == len(ts) || ts[i].After(decoded) {
		return time.Time{}, false
	}
	return ts[i], true
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkStreamFanOut measures "poll result ready → message decoded by the client" on one hub with
// the production wiring (curve cache read through Within(PollMin), default Config: a 10-minute
// 1000-bin window polls every second) over the simulator on loopback. One run of a fixed length, so
// run it with -benchtime=1x; the size comes from the environment:
//
//	FANOUT_CONNS (1000), FANOUT_SUBS (10 per connection), FANOUT_SERIES (100), FANOUT_SECONDS (30)
//
//	go test ./stream -run '^$' -bench StreamFanOut -benchtime=1x -timeout 10m
//
// The clients run in the same process (they share its CPUs), decode every message in full, and
// record the time from the poll's result (stampSource) to their decode, for appends only.
func BenchmarkStreamFanOut(b *testing.B) {
	conns, subs := envInt("FANOUT_CONNS", 1000), envInt("FANOUT_SUBS", 10)
	nSeries, secs := envInt("FANOUT_SERIES", 100), envInt("FANOUT_SECONDS", 30)
	if subs > nSeries {
		b.Fatalf("FANOUT_SUBS %d above FANOUT_SERIES %d", subs, nSeries)
	}
	simulator := sim.New(sim.Config{CatalogueSize: nSeries})
	simSrv := httptest.NewServer(simulator)
	defer simSrv.Close()
	client, err := daqbuf.New(daqbuf.Config{BaseURL: simSrv.URL + "/api/4"})
	if err != nil {
		b.Fatal(err)
	}
	channels := catalogue.New(client, catalogue.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second+5*time.Minute)
	defer cancel()
	if err := channels.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	channel := func(k int) string { return fmt.Sprintf("SIM-GEN:CH%06d", k) }
	src := &stampSource{stamps: map[string][]time.Time{}, names: map[uint64]string{}}
	for k := range nSeries {
		ch, ok, err := channels.Lookup(ctx, "sf-databuffer", channel(k))
		if err != nil || !ok {
			b.Fatalf("channel %s: %v %v", channel(k), ok, err)
		}
		src.names[ch.SeriesID] = ch.Name
	}
	cache := curves.New(client, store.NewMemory(store.MemoryConfig{}), curves.Config{})
	defer cache.Close()
	cfg := Config{}.withDefaults()
	src.src = cache.Within(cfg.PollMin)
	hub := New(Config{}, curve.New(src, channels, curve.Config{}), nil)
	srv := httptest.NewServer(hub)
	defer srv.Close()
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		_ = hub.Close(cctx)
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	type sample struct {
		fanout time.Duration
		bytes  int
	}
	var (
		mu        sync.Mutex
		samples   []sample
		noFetch   int
		measuring = make(chan struct{})
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		greeted   sync.WaitGroup
	)
	greeted.Add(conns)
	for i := range conns {
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		ws.SetReadLimit(64 << 20)
		for j := range subs {
			k := (i*subs + j) % nSeries
			msg := fmt.Sprintf(`{"type":"subscribe","id":"s%d","channel_name":%q,"backend":"sf-databuffer","window_ms":600000,"num_bins":1000,"useEventsIfBinCountTooLarge":true}`, k, channel(k))
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				b.Fatal(err)
			}
		}
		wg.Go(func() {
			defer ws.CloseNow()
			first := map[string]bool{}
			greet := sync.OnceFunc(greeted.Done)
			defer greet()
			var mine []sample
			var skipped int
			defer func() {
				mu.Lock()
				samples = append(samples, mine...)
				noFetch += skipped
				mu.Unlock()
			}()
			for {
				_, data, err := ws.Read(ctx)
				if err != nil {
					return
				}
				var m struct {
					Type    string                    `json:"type"`
					ID      string                    `json:"id"`
					EndTime int64                     `json:"end_time"`
					Curve   map[string]map[string]any `json:"curve"`
				}
				if err := json.Unmarshal(data, &m); err != nil {
					b.Errorf("undecodable message: %.200s", data)
					return
				}
				decoded := time.Now()
				if os.Getenv("FANOUT_DEBUG") != "" {
					fmt.Fprintf(os.Stderr, "%d %s %.120s\n", i, m.Type, data)
				}
				first[m.ID] = true
				if len(first) == subs {
					greet()
				}
				select {
				case <-stop:
					return
				case <-measuring:
				default:
					continue
				}
				if m.Type != typeAppend {
					continue
				}
				k, _ := strconv.Atoi(strings.TrimPrefix(m.ID, "s"))
				at, ok := src.ready(channel(k), m.EndTime, decoded)
				if !ok {
					skipped++
					continue
				}
				mine = append(mine, sample{fanout: decoded.Sub(at), bytes: len(data)})
			}
		})
	}
	greeted.Wait()
	time.Sleep(3 * time.Second) // warm-up: let the first appends after the snapshots pass
	b.ResetTimer()
	close(measuring)
	time.Sleep(time.Duration(secs) * time.Second)
	close(stop)
	b.StopTimer()
	cancel() // ends every reader
	wg.Wait()

	if len(samples) == 0 {
		b.Fatalf("no append timed while measuring (%d without an upstream read)", noFetch)
	}
	lat := make([]time.Duration, len(samples))
	sizes := make([]int, len(samples))
	for i, s := range samples {
		lat[i], sizes[i] = s.fanout, s.bytes
	}
	slices.Sort(lat)
	slices.Sort(sizes)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "fanout-p50-ms")
	b.ReportMetric(pct(0.99), "fanout-p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "fanout-max-ms")
	b.ReportMetric(float64(len(lat))/float64(secs), "appends/s")
	b.ReportMetric(float64(sizes[len(sizes)/2]), "append-p50-bytes")
	b.ReportMetric(float64(sizes[len(sizes)-1]), "append-max-bytes")
	b.Logf("%d connections × %d subscriptions over %d series, %d s: %d appends timed, %d without an upstream read in their poll (not timed)",
		conns, subs, nSeries, secs, len(lat), noFetch)
}
