package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/configs"
	"github.com/databoard/databoard/dashboards"
)

// cacheBudget is one in-process cache: its configured bound and how many bytes it holds now.
type cacheBudget struct {
	name string
	max  int64
	size func() int64
}

// budgetCollector exports every in-process cache's size and bound (databoard_cache_bytes,
// databoard_cache_max_bytes, by cache).
type budgetCollector []cacheBudget

var (
	descCacheBytes = prometheus.NewDesc("databoard_cache_bytes",
		"Bytes held by an in-process cache (keys, values and per-entry overhead).", []string{"cache"}, nil)
	descCacheMaxBytes = prometheus.NewDesc("databoard_cache_max_bytes",
		"Configured bound of an in-process cache.", []string{"cache"}, nil)
)

// cacheBudgets lists the in-process caches this configuration runs: the curve cache's store when there is
// no Redis (CACHE_MAX_BYTES) or its copy in front of Redis (CACHE_NEAR_MAX_BYTES), the settled-answer cache
// (ANSWER_CACHE_MAX_BYTES, nil when the curve cache is off), the curve cache's answer fragments
// (FRAGMENT_CACHE_MAX_BYTES, nil when the curve cache is off) and the embedded store's dashboard answers
// (DASHBOARD_CACHE_MAX_BYTES).
func cacheBudgets(cfg configs.Config, cacheStore store.Store, answers, fragments *store.Memory, dash *dashboards.Store) budgetCollector {
	var out budgetCollector
	memSize := func(m *store.Memory) func() int64 {
		return func() int64 {
			st, _ := m.Stats(context.Background())
			return st.Bytes
		}
	}
	switch st := cacheStore.(type) {
	case *store.Memory:
		out = append(out, cacheBudget{"curves", cfg.CacheMaxBytes, memSize(st)})
	case *store.Tiered:
		out = append(out, cacheBudget{"curves_near", cfg.CacheNearMaxBytes, func() int64 { return st.LocalStats().Bytes }})
	}
	if answers != nil {
		out = append(out, cacheBudget{"answers", cfg.AnswerCacheMaxBytes, memSize(answers)})
	}
	if fragments != nil {
		out = append(out, cacheBudget{"curve_fragments", cfg.FragmentCacheMaxBytes, memSize(fragments)})
	}
	if dash != nil && cfg.MongoURIOrEmbedded() == "" {
		out = append(out, cacheBudget{"dashboards", cfg.DashboardCacheMaxBytes, dash.CacheBytes})
	}
	return out
}

func (b budgetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCacheBytes
	ch <- descCacheMaxBytes
}

func (b budgetCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range b {
		ch <- prometheus.MustNewConstMetric(descCacheBytes, prometheus.GaugeValue, float64(c.size()), c.name)
		ch <- prometheus.MustNewConstMetric(descCacheMaxBytes, prometheus.GaugeValue, float64(c.max), c.name)
	}
}

// total is the sum of the bounds.
func (b budgetCollector) total() int64 {
	var n int64
	for _, c := range b {
		n += c.max
	}
	return n
}

// memoryHeadroom is what the process needs besides its caches (channel list and its encoded answer,
// buffers of requests in flight and fasthttp's pool of answer buffers, the 512 KiB tables of recently
// asked keys of the answer and fragment caches, the curve cache's vouches for kept fragments (at most
// ~3 MiB), the stream hub), added to the cache budgets for the soft memory limit.
const memoryHeadroom = 48 << 20

// setMemoryLimit sets the Go runtime's soft memory limit to the cache budgets plus memoryHeadroom when
// the operator has not set GOMEMLIMIT: the garbage collector then runs more often as the heap nears the
// budgets instead of letting garbage double it (GOGC=100 alone let a 256 MiB cache reach 1.2 GB RSS).
// It is soft: a process that really needs more goes on working, collecting more often.
func setMemoryLimit(b budgetCollector, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit from GOMEMLIMIT", slog.Int64("bytes", debug.SetMemoryLimit(-1)))
		return
	}
	limit := b.total() + memoryHeadroom
	debug.SetMemoryLimit(limit)
	log.Info("memory limit: cache budgets + headroom (set GOMEMLIMIT to override)", slog.Int64("bytes", limit))
}
