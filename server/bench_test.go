package server

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
	"github.com/databoard/databoard/daqbuf/sim"
)

// replayUpstream asks the simulator once per distinct request and then answers from memory, so a
// benchmark through it measures databoard's own work: what remains of the upstream wait is a loopback
// write of bytes already in memory, measured separately as the "upstream" figure.
type replayUpstream struct {
	next http.Handler
	mu   sync.Mutex
	m    map[string]*httptest.ResponseRecorder
}

func (u *replayUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Accept") + " " + r.URL.RequestURI()
	u.mu.Lock()
	rec, ok := u.m[key]
	if !ok {
		rec = httptest.NewRecorder()
		u.next.ServeHTTP(rec, r)
		u.m[key] = rec
	}
	u.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// latencies collects request durations and reports percentiles as benchmark metrics.
type latencies []time.Duration

func (l latencies) report(b *testing.B, prefix string) {
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	at := func(q float64) float64 { return float64(l[int(q*float64(len(l)-1))]) / 1e6 }
	b.ReportMetric(at(0.50), prefix+"p50-ms")
	b.ReportMetric(at(0.99), prefix+"p99-ms")
}

func getAll(b *testing.B, client *http.Client, url string, accept string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("%s: status %d", url, res.StatusCode)
	}
	return int(n)
}

// BenchmarkCurveBinned2000 is issue 3's "time spent in databoard itself" figure: a 2 000-bin curve
// (data-api returns up to ~3× as many bins on its grid) of one day in the past, its upstream answer
// replayed from memory. "upstream-p50-ms" is the replay alone (the same json-framed request straight to
// the replay server); databoard's own time is the difference of the two p50s.
func BenchmarkCurveBinned2000(b *testing.B) {
	up := &replayUpstream{next: sim.New(sim.Config{}), m: map[string]*httptest.ResponseRecorder{}}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	client, err := daqbuf.New(daqbuf.Config{BaseURL: upSrv.URL + "/api/4"})
	if err != nil {
		b.Fatal(err)
	}
	channels := catalogue.New(client, catalogue.Config{})
	if err := channels.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	srv := New(Config{}, Deps{Channels: channels, Curves: curve.New(curves.Direct{Client: client}, channels, curve.Config{})})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	end := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	beg := end.Add(-24 * time.Hour)
	url := hs.URL + "/channels/curve?channel_name=SIM-F64:SINE&backend=sf-databuffer&num_bins=2000" +
		"&begin_time=" + strconv.FormatInt(beg.UnixMilli(), 10) + "&end_time=" + strconv.FormatInt(end.UnixMilli(), 10)
	hc := &http.Client{}
	size := getAll(b, hc, url, "") // records the upstream answer

	// The exact upstream request databoard made, replayed alone.
	var upURL string
	for k := range up.m {
		if len(k) > 0 && k[0:len("application/json-framed")] == "application/json-framed" {
			upURL = upSrv.URL + k[len("application/json-framed "):]
		}
	}
	if upURL == "" {
		b.Fatalf("no binned upstream request recorded: %v", up.m)
	}
	upLat := make(latencies, 0, 200)
	for range 200 {
		t0 := time.Now()
		getAll(b, hc, upURL, "application/json-framed")
		upLat = append(upLat, time.Since(t0))
	}

	lat := make(latencies, 0, b.N)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		getAll(b, hc, url, "")
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	lat.report(b, "")
	upLat.report(b, "upstream-")
}

// BenchmarkCurveChunkHit2000 is the chunk-hit path of the curve cache without the answer cache: each
// iteration asks for a different 2 000-bin window of 1-min bins (shifted by a pseudo-random number of
// seconds, so 2 000 or 2 001 bins) whose chunks are all in the store (in process, or Redis behind the
// in-process copy), so the time is reading the chunks and writing 258 KB of JSON: from kept fragments,
// or (decode) decoding the chunks and formatting every number. The client asks for no compression,
// like databoard-load.
func BenchmarkCurveChunkHit2000(b *testing.B) {
	inProcess := func(testing.TB) store.Store { return store.NewMemory(store.MemoryConfig{}) }
	redis := func(b testing.TB) store.Store { // as cmd/databoard wires REDIS_URL
		rs := store.NewRedis(redistest.Client(b), store.RedisConfig{Prefix: redistest.Prefix(b)})
		return store.NewTiered(rs, store.TieredConfig{})
	}
	for _, bc := range []struct {
		name      string
		store     func(testing.TB) store.Store
		fragments bool
	}{
		{"fragments", inProcess, true},
		{"decode", inProcess, false},
		{"redis/fragments", redis, true},
		{"redis/decode", redis, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var fragments *store.Memory
			if bc.fragments {
				fragments = store.NewMemory(store.MemoryConfig{MaxBytes: 64 << 20})
			}
			benchChunkHit(b, bc.store(b), fragments)
		})
	}
}

func benchChunkHit(b *testing.B, chunks store.Store, fragments *store.Memory) {
	s := sim.New(sim.Config{})
	upSrv := httptest.NewServer(s)
	defer upSrv.Close()
	client, err := daqbuf.New(daqbuf.Config{BaseURL: upSrv.URL + "/api/4"})
	if err != nil {
		b.Fatal(err)
	}
	channels := catalogue.New(client, catalogue.Config{})
	if err := channels.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	curveCache := curves.New(client, chunks, curves.Config{Fragments: fragments})
	srv := New(Config{}, Deps{Channels: channels, Curves: curve.New(curveCache, channels, curve.Config{})})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	end := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	window := 2000 * time.Minute // 1-min bins: 2 000, or 2 001 when not on a minute
	url := func(shift time.Duration) string {
		e := end.Add(-shift)
		return hs.URL + "/channels/curve?channel_name=SIM-F64:SINE&backend=sf-databuffer&num_bins=2000" +
			"&begin_time=" + strconv.FormatInt(e.Add(-window).UnixMilli(), 10) + "&end_time=" + strconv.FormatInt(e.UnixMilli(), 10)
	}
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for shift := time.Duration(0); shift <= 1000*time.Minute; shift += 100 * time.Minute { // warm every chunk
		getAll(b, hc, url(shift), "")
	}
	lat := make(latencies, 0, b.N)
	rnd := rand.New(rand.NewPCG(13, 4))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		shift := time.Duration(rnd.Int64N(int64(1000 * time.Minute))).Truncate(time.Second)
		t0 := time.Now()
		getAll(b, hc, url(shift), "")
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	lat.report(b, "")
	if st := curveCache.Stats(); st.Misses+st.PartialHits > 11 {
		b.Errorf("not a chunk-hit benchmark: %+v", st)
	}
}
