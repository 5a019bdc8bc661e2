package sim_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf/sim"
)

// BenchmarkEventsCBORFramed100k serves 100 000 events of a 100 Hz f64 channel cbor-framed over
// loopback HTTP and reads the whole body.
func BenchmarkEventsCBORFramed100k(b *testing.B) {
	s := sim.New(sim.Config{Now: t0})
	srv := newBenchServer(b, s)
	q := rangeQuery("sf-databuffer", "SIM-DENSE:100HZ", t0().Add(-1000*time.Second), t0())
	req, err := http.NewRequest(http.MethodGet, srv+"/api/4/events?"+q.Encode(), nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/cbor-framed")
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, %v", resp.StatusCode, err)
		}
	}
	b.SetBytes(n)
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSearch100k searches 100 000 generated names (uncached: a new pattern per iteration).
func BenchmarkSearch100k(b *testing.B) {
	s := sim.New(sim.Config{CatalogueSize: 100_000, Now: t0})
	srv := newBenchServer(b, s)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		resp, err := http.Get(srv + "/api/4/search/channel?icase=true&nameRegex=sim-gen:ch0" + string(rune('0'+i%10)) + "12" + string(rune('0'+i/10%10)))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
