package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"time"
)

// rssAllowance is what issue 13 allows the process's resident memory above the sum of its cache
// budgets (RSS ≤ budgets + 50 MB), in bytes.
const rssAllowance = 50_000_000

// memoryReserve is kept below that bound for what the last measurement of the memory outside the
// runtime did not see yet, and for the runtime's overshoot of its soft limit while a collection is
// under way.
const memoryReserve = 4 << 20

// minHeadroom is the least room the limit leaves above the budgets however much memory lies outside
// the runtime: the process holds more than its caches (the channel list, ~17 MB with 100 000 channels,
// its encoded answer, buffers of requests in flight, the curve cache's vouches for kept fragments, at
// most ~3 MiB), and a limit under what it holds would only keep the collector running without end.
const minHeadroom = 8 << 20

// memoryRecheck is how often the memory outside the runtime is measured again. It grows after startup:
// pages of the binary first run under load (~5 MB in the first minute), memory the embedded dashboard
// store's SQLite allocates outside Go.
const memoryRecheck = 5 * time.Second

// memoryLimit is the soft memory limit of the Go runtime for cache budgets of budgets bytes when outside
// bytes of the process's resident memory are not the runtime's: the budgets plus rssAllowance, less
// outside and memoryReserve, so that RSS (the runtime's memory + outside) stays within the budgets plus
// rssAllowance; and at least the budgets plus minHeadroom.
func memoryLimit(budgets, outside int64) int64 {
	return max(budgets+rssAllowance-max(outside, 0)-memoryReserve, budgets+minHeadroom)
}

// memoryGovernor holds the Go runtime's soft memory limit at memoryLimit(budgets, outside), outside
// being the most memory outside the runtime measured so far. The garbage collector then runs more often
// as the process nears its bound instead of letting garbage double the heap (GOGC=100 alone let a
// 256 MiB cache reach 1.2 GB RSS). The runtime counts only its own memory; RSS also holds the binary's
// code and data read from the file (~30 MB for this binary) and anything allocated outside Go, which
// the limit must leave room for. It is soft: a process that really needs more goes on working,
// collecting more often.
type memoryGovernor struct {
	budgets int64
	log     *slog.Logger
	// measure returns the resident memory outside the runtime (outsideRuntime).
	measure func() (int64, error)
	// setLimit sets the runtime's soft memory limit (debug.SetMemoryLimit).
	setLimit func(int64) int64

	outside, limit int64 // only update touches them once Start has returned

	cancel context.CancelFunc
	done   chan struct{}
}

func newMemoryGovernor(b budgetCollector, log *slog.Logger) *memoryGovernor {
	return &memoryGovernor{budgets: b.total(), log: log, measure: outsideRuntime, setLimit: debug.SetMemoryLimit}
}

// Start sets the limit, then measures again every memoryRecheck until Close or ctx ends.
func (g *memoryGovernor) Start(ctx context.Context) {
	g.update()
	ctx, g.cancel = context.WithCancel(ctx)
	g.done = make(chan struct{})
	go func() {
		defer close(g.done)
		t := time.NewTicker(memoryRecheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				g.update()
			}
		}
	}()
}

// Close stops the measurements and waits for them; the limit stays as it is.
func (g *memoryGovernor) Close() {
	if g.cancel != nil {
		g.cancel()
		<-g.done
	}
}

// update measures the memory outside the runtime and lowers the limit when it grew. The limit never
// rises again: pages of the binary, once read, mostly stay resident, and a measurement taken while
// the runtime was returning memory may read high.
func (g *memoryGovernor) update() {
	outside, err := g.measure()
	switch {
	case err == nil:
		g.outside = max(g.outside, outside)
	case g.limit == 0: // logged once, at the first measurement (other systems than Linux fail every time)
		g.log.Warn("memory limit: resident memory outside the Go runtime not measured, taken as 0",
			slog.String("error", err.Error()))
	}
	limit := memoryLimit(g.budgets, g.outside)
	if limit == g.limit {
		return
	}
	g.setLimit(limit)
	level := slog.LevelDebug
	if g.limit == 0 {
		level = slog.LevelInfo
	}
	g.limit = limit
	g.log.Log(context.Background(), level,
		"memory limit: cache budgets + 50 MB − resident memory outside the Go runtime (set GOMEMLIMIT to override)",
		slog.Int64("bytes", limit), slog.Int64("budgets", g.budgets), slog.Int64("outside", g.outside))
}

// startMemoryLimit starts a memoryGovernor unless the operator set GOMEMLIMIT (nil then).
func startMemoryLimit(ctx context.Context, b budgetCollector, log *slog.Logger) *memoryGovernor {
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit from GOMEMLIMIT", slog.Int64("bytes", debug.SetMemoryLimit(-1)))
		return nil
	}
	g := newMemoryGovernor(b, log)
	g.Start(ctx)
	return g
}

// outsideRuntime is the process's resident memory that the Go runtime does not count against its
// memory limit: pages mapped from files (the binary, shared libraries) and shared memory, and
// anonymous memory beyond what the runtime has mapped and not released (allocations outside Go). From
// /proc/self/status: Linux only.
func outsideRuntime() (int64, error) {
	before := runtimeMemory()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	// The larger of the two readings: the runtime maps memory as it grows and returns some concurrently,
	// and a reading lower than the one status saw would count the runtime's own memory as outside.
	counted := max(before, runtimeMemory())
	rss, err := parseRSS(status)
	if err != nil {
		return 0, err
	}
	return rss.file + rss.shmem + max(rss.anon-counted, 0), nil
}

// residentSet is a process's resident memory by kind, in bytes.
type residentSet struct{ anon, file, shmem int64 }

// parseRSS reads the RssAnon, RssFile and RssShmem lines (in kB) of the text of /proc/PID/status.
func parseRSS(status []byte) (residentSet, error) {
	var rs residentSet
	fields := map[string]*int64{"RssAnon:": &rs.anon, "RssFile:": &rs.file, "RssShmem:": &rs.shmem}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		dst, ok := fields[string(firstField(f))]
		if !ok {
			continue
		}
		if len(f) != 3 || string(f[2]) != "kB" {
			return residentSet{}, fmt.Errorf("status: %q is not a size in kB", sc.Bytes())
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return residentSet{}, fmt.Errorf("status: %s %w", f[0], err)
		}
		*dst = kb << 10
		found++
	}
	if found != len(fields) {
		return residentSet{}, fmt.Errorf("status: RssAnon, RssFile or RssShmem missing")
	}
	return rs, nil
}

func firstField(f [][]byte) []byte {
	if len(f) == 0 {
		return nil
	}
	return f[0]
}

// runtimeMemory is the memory the Go runtime counts against its memory limit: all it mapped less the
// heap memory it returned to the operating system.
func runtimeMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
}
