package server

import (
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databoard/databoard/daqbuf/curve"
)

// zeros is an endless body that allocates nothing, so the client side adds nothing to the heap the
// test measures.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// heapSampler records the largest heap (bytes in objects, live or not yet swept) seen while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	<-h.done
	return h.peak.Load()
}

// The worst requests of issue 11, fired at once, keep the heap under a fixed bound: 39 MB bodies on
// routes that take none (never read), oversized and slow-growing bodies on the dashboard routes (at
// most BodyLimit each, BodyBudget together), and raw curves over the raw-value bound (refused from bin
// counts before any event is fetched). Before, the bodies alone took 20 × 39 MB.
func TestEdgeHeapBounded(t *testing.T) {
	const (
		bodyLimit = 2 << 20
		bigBody   = 39 << 20
		// heapBound is the stated bound: the suite's own baseline (simulator, server, clients) plus the
		// body budget, with room for garbage not collected yet; far below 20 × 39 MB.
		heapBound = 192 << 20
	)
	e := newTestEnv(t,
		withServer(func(c *Config) { c.BodyLimit, c.BodyBudget = bodyLimit, 2*bodyLimit }),
		withCurveConfig(func(c *curve.Config) { c.MaxRawValues = 100_000 }))
	end := baseMs
	type shot struct {
		name, method, path string
		body               io.Reader
		length             int64 // -1: chunked, length unknown
		want               []int // acceptable statuses; 0 = the server may cut the connection instead
	}
	var shots []shot
	for range 20 {
		shots = append(shots, shot{"GET /health with a 39 MB body", http.MethodGet, "/health",
			io.LimitReader(zeros{}, bigBody), bigBody, []int{http.StatusOK, 0}})
	}
	for range 6 {
		shots = append(shots, shot{"POST /dashboard/ declaring 39 MB", http.MethodPost, "/dashboard/",
			io.LimitReader(zeros{}, bigBody), bigBody, []int{http.StatusRequestEntityTooLarge, 0}})
		shots = append(shots, shot{"POST /dashboard/ chunked 39 MB", http.MethodPost, "/dashboard/",
			io.LimitReader(zeros{}, bigBody), -1, []int{http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable, 0}})
		shots = append(shots, shot{"PATCH /dashboard/x just under the limit", http.MethodPatch, "/dashboard/x",
			io.LimitReader(zeros{}, bodyLimit-1), bodyLimit - 1, []int{http.StatusUnprocessableEntity, http.StatusBadRequest, http.StatusServiceUnavailable}})
	}
	for range 4 {
		// 30 minutes of a 100 Hz channel: 180 000 events over a bound of 100 000.
		shots = append(shots, shot{"raw curve over the bound", http.MethodGet,
			curvePath("SIM-DENSE:100HZ", "sf-databuffer", end-30*60_000, end), nil, 0, []int{http.StatusBadRequest}})
	}

	runtime.GC()
	heap := sampleHeap()
	var wg sync.WaitGroup
	for _, s := range shots {
		wg.Go(func() {
			req, err := http.NewRequest(s.method, e.url+s.path, s.body)
			if err != nil {
				t.Error(err)
				return
			}
			req.ContentLength = s.length
			res, err := http.DefaultClient.Do(req)
			status := 0
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				status = res.StatusCode
			}
			for _, w := range s.want {
				if status == w {
					return
				}
			}
			t.Errorf("%s: status %d (error %v), want one of %v", s.name, status, err, s.want)
		})
	}
	wg.Wait()
	if peak := heap.Stop(); peak > heapBound {
		t.Errorf("heap peaked at %s MiB, want under %s MiB", strconv.FormatUint(peak>>20, 10), strconv.Itoa(heapBound>>20))
	} else {
		t.Logf("heap peak %d MiB (bound %d MiB)", peak>>20, heapBound>>20)
	}
}
