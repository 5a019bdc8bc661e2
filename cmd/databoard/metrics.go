package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/databoard/databoard/cache"
	"github.com/databoard/databoard/daqbuf"
)

// newRegistry is the process's Prometheus registry (never the global one): Go runtime and process
// figures here; the server adds its HTTP collectors, cmd the cache's.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// cacheCollector exports the cache counters at scrape time. The store's size is left out: with Redis it
// takes SCANs (GET /maintenance/cache has it).
type cacheCollector struct{ admin *cache.Admin }

var (
	descCurveAnswers = prometheus.NewDesc("databoard_curve_answers_total",
		"Curve answers by where their data came from (X-Cache).", []string{"cache"}, nil)
	descChunks = prometheus.NewDesc("databoard_curve_chunks_total",
		"Curve chunks looked up, by result.", []string{"result"}, nil)
	descUpstream = prometheus.NewDesc("databoard_upstream_requests_total",
		"data-api requests made for curves (chunks and uncached requests).", nil, nil)
	descCoalesced = prometheus.NewDesc("databoard_coalesced_waiters_total",
		"Chunk loads answered by another caller's fetch (this process or another instance).", nil, nil)
	descUpstreamBytes = prometheus.NewDesc("databoard_upstream_bytes_total",
		"Approximate bytes of curve data fetched from data-api (encoded chunk size).", nil, nil)
	descSaved = prometheus.NewDesc("databoard_upstream_calls_saved_total",
		"data-api requests not made thanks to the caches.", nil, nil)
	descCacheErrors = prometheus.NewDesc("databoard_cache_store_errors_total",
		"Failed cache store calls (each treated as a miss).", []string{"user"}, nil)
	descChannels = prometheus.NewDesc("databoard_channels",
		"Channels in the channel list.", nil, nil)
	descChannelBytes = prometheus.NewDesc("databoard_channel_list_bytes",
		"Approximate bytes the channel list and its search index hold (the whole list is held: no budget).", nil, nil)
	descLiveSearches = prometheus.NewDesc("databoard_channel_searches_total",
		"Live channel searches, by whether data-api was asked or the search cache answered.", []string{"source"}, nil)
	descFragments = prometheus.NewDesc("databoard_curve_fragments_total",
		"Chunks of binned curve answers written from a kept pre-encoded fragment after reading the chunk (hit) or "+
			"without reading it, final and vouched for (trusted), or encoded (made).", []string{"result"}, nil)
	descInFlight = prometheus.NewDesc("databoard_upstream_fetches_in_flight",
		"Chunk fetches from data-api running now.", nil, nil)
)

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCurveAnswers, descChunks, descUpstream, descCoalesced, descUpstreamBytes,
		descSaved, descCacheErrors, descChannels, descChannelBytes, descLiveSearches, descInFlight, descFragments} {
		ch <- d
	}
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	curves, lists := c.admin.CurveStats(), c.admin.ChannelStats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descCurveAnswers, curves.Hits+c.admin.AnswerHits(), "hit")
	counter(descCurveAnswers, curves.PartialHits, "partial")
	counter(descCurveAnswers, curves.Misses, "miss")
	counter(descCurveAnswers, curves.Stale, "stale")
	counter(descChunks, curves.ChunkHits, "hit")
	counter(descChunks, curves.ChunkMisses, "miss")
	counter(descChunks, curves.StaleChunks, "stale")
	counter(descFragments, curves.FragmentHits, "hit")
	counter(descFragments, curves.FragmentsMade, "made")
	counter(descFragments, curves.TrustedChunks, "trusted")
	counter(descUpstream, curves.UpstreamFetches)
	counter(descCoalesced, curves.CoalescedWaiters)
	counter(descUpstreamBytes, curves.UpstreamBytes)
	counter(descSaved, curves.ChunkHits+curves.CoalescedWaiters+lists.SearchCacheHits)
	counter(descCacheErrors, curves.StoreErrors, "curves")
	counter(descCacheErrors, lists.StoreErrors, "channels")
	counter(descLiveSearches, lists.LiveSearches, "data-api")
	counter(descLiveSearches, lists.SearchCacheHits, "cache")
	ch <- prometheus.MustNewConstMetric(descChannels, prometheus.GaugeValue, float64(lists.Channels))
	ch <- prometheus.MustNewConstMetric(descChannelBytes, prometheus.GaugeValue, float64(lists.Bytes))
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(curves.FetchesInFlight))
}

// daqbufCollector exports every request the data-api client has sent, by endpoint: curves, live searches,
// the channel list and channel configs together, which databoard_upstream_requests_total (curves only)
// does not. It is the figure to compare with what data-api itself saw. The endpoint label is the path
// below DAQBUF_DEFAULT_URL and comes from the client's code (a handful of values).
type daqbufCollector struct{ client *daqbuf.Client }

var descDaqbufRequests = prometheus.NewDesc("databoard_daqbuf_requests_total",
	"Requests sent to data-api, by endpoint (every attempt, whatever its outcome).", []string{"endpoint"}, nil)

func (daqbufCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDaqbufRequests }

func (c daqbufCollector) Collect(ch chan<- prometheus.Metric) {
	for _, rc := range c.client.RequestCounts() {
		ch <- prometheus.MustNewConstMetric(descDaqbufRequests, prometheus.CounterValue, float64(rc.N), rc.Path)
	}
}
