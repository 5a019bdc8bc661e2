package curves

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/redistest"
	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/sim"
)

// TestCloseStopsDetachedFetches: a shared fetch outlives the request that started it; Close cancels
// it (data-api blocked for an hour), releases its cross-instance lock, waits for it, and leaves no
// goroutine behind. Without Close the fetch would go on for FetchTimeout.
func TestCloseStopsDetachedFetches(t *testing.T) {
	e := newSimEnv(t)
	mem := store.NewMemory(store.MemoryConfig{})
	c := e.curves(mem, Config{FetchTimeout: time.Hour}) // a fetch Close does not stop hangs the test
	q := daqbuf.BinnedQuery{Channel: e.channel(t, "SIM-F64:SINE", false),
		Range: daqbuf.Range{Beg: e.now() - int64(2*time.Hour), End: e.now() - int64(time.Hour)}, BinCount: 100}
	plan, _ := planBins(q, 128, e.now(), time.Minute, 0)
	keys := chunkKeys(binKeyBase(q.Channel, q.Mode, plan.Width), plan.Chunks)

	mustBins(t, c, daqbuf.BinnedQuery{Channel: q.Channel, Range: daqbuf.Range{Beg: q.Range.Beg - int64(48*time.Hour),
		End: q.Range.Beg - int64(47*time.Hour)}, BinCount: 100}) // a connection to data-api exists before counting
	before := runtime.NumGoroutine()
	e.sim.ResetRequests()

	e.sim.SetFault(sim.Fault{Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Bins(ctx, q)
		done <- err
	}()
	redistest.Eventually(t, time.Minute, "the fetch reached data-api", func() bool { n, _ := e.upstream(); return n > 0 })
	cancel() // the request leaves; its fetch goes on, detached
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the request: %v, want context.Canceled", err)
	}
	if n := c.Stats().FetchesInFlight; n == 0 {
		t.Fatal("no fetch in flight after the request left: nothing detached to stop")
	}

	c.Close()
	if n := c.Stats().FetchesInFlight; n != 0 {
		t.Errorf("Close returned with %d fetches in flight", n)
	}
	for _, k := range keys {
		if ok, err := mem.Lock(context.Background(), lockKeyPrefix+k, time.Minute); !ok || err != nil {
			t.Errorf("lock of %s still held after Close: %v %v", k, ok, err)
		}
	}
	redistest.Eventually(t, time.Minute, "goroutines back to where they were", func() bool {
		return runtime.NumGoroutine() <= before
	})
	e.sim.ClearFault()
	if _, _, err := c.Bins(context.Background(), q); !errors.Is(err, ErrClosed) {
		t.Errorf("Bins needing data-api after Close: %v, want ErrClosed", err)
	}
	c.Close() // a second Close is harmless
}
