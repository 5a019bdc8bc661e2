package curve

import (
	"testing"

	"github.com/databoard/databoard/daqbuf"
)

// BenchmarkDoc1000Bins is what a live series keeps per poll: the ordered points of a 1 000-bin answer.
func BenchmarkDoc1000Bins(b *testing.B) {
	const n = 1000
	bins := &daqbuf.BinBatch{}
	for i := int64(0); i < n; i++ {
		t := 1_765_100_000_000_000_000 + i*600_000_000
		bins.Ts1 = append(bins.Ts1, t)
		bins.Ts2 = append(bins.Ts2, t+600_000_000)
		bins.Counts = append(bins.Counts, 6)
		bins.Avgs = append(bins.Avgs, float64(i)/3)
		bins.Mins = append(bins.Mins, float64(i)/4)
		bins.Maxs = append(bins.Maxs, float64(i)/2)
	}
	c := &Curve{name: "X", bins: []*daqbuf.BinBatch{bins}}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Doc()
	}
}
