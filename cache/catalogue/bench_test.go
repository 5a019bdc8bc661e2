package catalogue

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

// realisticCatalogue returns n channels named like a facility's (section, device, signal), spread
// over three backends and sorted as the list keeps them.
func realisticCatalogue(n int) []daqbuf.Channel {
	sections := []string{"SARFE", "SARUN", "SATCB", "SINEG", "S10BC", "SLGTV", "SARCL"}
	devices := []string{"PSSS", "DBPM", "RLLE", "CVME", "MCRX", "DSCR", "PBPG"}
	signals := []string{"SPECTRUM_Y", "X1", "Y1", "Q1", "GAIN", "ENERGY", "AMPLT-AVG", "PHASE-AVG", "SINE"}
	backends := []string{"sf-archiver", "sf-databuffer", "sls-archiver"}
	chs := make([]daqbuf.Channel, 0, n)
	for i := range n {
		name := fmt.Sprintf("%s%02d-%s%03d:%s", sections[i%len(sections)], i/len(sections)%40,
			devices[i/280%len(devices)], i/1960%1000, signals[i/7%len(signals)])
		chs = append(chs, daqbuf.Channel{Backend: backends[i%len(backends)], Name: name,
			SeriesID: uint64(i)*0x9e3779b97f4a7c15 | 1, Type: "f64", Shape: []uint32{}})
	}
	slices.SortStableFunc(chs, func(a, b daqbuf.Channel) int {
		if a.Backend != b.Backend {
			return cmpString(a.Backend, b.Backend)
		}
		return cmpString(a.Name, b.Name)
	})
	return chs
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// loadedList is a List holding chs, without data-api.
func loadedList(chs []daqbuf.Channel) *List {
	l := New(nil, Config{})
	l.mu.Lock()
	l.installLocked(&catalog{base: newChannelIndex(chs), fetchedAt: time.Now()})
	l.mu.Unlock()
	return l
}

// benchSearchPatterns are the frontend's kinds of search over realisticCatalogue(100_000).
var benchSearchPatterns = []struct{ name, pattern string }{
	{"exact", `^SARFE35-MCRX000:AMPLT-AVG$`}, // the `^name$` of every plot's channel
	{"substring", `DBPM007`},
	{"word-icase", `energy`}, // ~11 000 matches
	{"prefix-regex", `^sarfe1\d-psss`},
	{"alternation", `dscr|pbpg`},
	{"no-literal", `[a-z]+\d{2}`}, // falls back to the full scan
	{"match-all", `.*`},           // the whole list (the sidebar uses All instead)
}

// BenchmarkSearch100k: Search (not live) over 100 000 channels, per pattern kind, with p50/p99
// latency; "re2-scan" is the plain scan the prefilter replaces, for comparison.
func BenchmarkSearch100k(b *testing.B) {
	chs := realisticCatalogue(100_000)
	l := loadedList(chs)
	ctx := context.Background()
	for _, p := range benchSearchPatterns {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			lat := make([]time.Duration, 0, b.N)
			n := 0
			for b.Loop() {
				start := time.Now()
				res, err := l.Search(ctx, p.pattern, "", false)
				lat = append(lat, time.Since(start))
				if err != nil || res.Len() == 0 {
					b.Fatalf("search %q: %d, %v", p.pattern, res.Len(), err)
				}
				n = res.Len()
			}
			reportLatency(b, lat)
			b.ReportMetric(float64(n), "matches")
		})
	}
	for _, p := range benchSearchPatterns[:3] {
		b.Run("re2-scan/"+p.name, func(b *testing.B) {
			b.ReportAllocs()
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				re := regexp.MustCompile("(?i)" + p.pattern)
				var out []daqbuf.Channel
				for i := range chs {
					if re.MatchString(chs[i].Name) {
						out = append(out, chs[i])
					}
				}
				lat = append(lat, time.Since(start))
				if len(out) == 0 {
					b.Fatal("no match")
				}
			}
			reportLatency(b, lat)
		})
	}
}

// reportLatency adds p50 and p99 in milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// TestSearch100kLatency guards the search on 100 000 channels: the median search of each frontend
// pattern kind, the alternation's 28 560 matches and the full scan of a pattern without a literal
// included, stays under issue 13's 5 ms (the plain RE2 scan takes ~50 ms here; before matches were
// read in place and the scan ran a DFA, the alternation took 5-6 ms and the full scan 30 ms). The
// p99 is logged, not asserted: on a shared 2-core machine one preemption decides it;
// BenchmarkSearch100k reports it. Skipped under -race, which slows RE2 several times.
func TestSearch100kLatency(t *testing.T) {
	if raceEnabled {
		t.Skip("latency is measured without -race")
	}
	l := loadedList(realisticCatalogue(100_000))
	ctx := context.Background()
	for _, p := range benchSearchPatterns {
		// Up to three rounds of 200: a machine shared with other jobs may be busy for one of them, and
		// the goal is what a search costs, not what the neighbours do.
		const bound = 5 * time.Millisecond
		var p50 time.Duration
		for round := 0; round < 3; round++ {
			lat := make([]time.Duration, 0, 200)
			for range 200 {
				start := time.Now()
				if _, err := l.Search(ctx, p.pattern, "", false); err != nil {
					t.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			p50 = lat[len(lat)/2]
			t.Logf("%-13s round %d: p50 %v p99 %v", p.name, round, p50, lat[len(lat)*99/100])
			if p50 <= bound {
				break
			}
		}
		if p50 > bound {
			t.Errorf("%s: median search %v over 100 000 channels in three rounds, want < %v", p.name, p50, bound)
		}
	}
}
