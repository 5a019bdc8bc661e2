package curves

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// Config configures Curves. Zero values are defaults.
type Config struct {
	// BinsPerChunk is the number of bins per binned chunk; chunks are aligned to BinsPerChunk·w.
	// Default 128.
	BinsPerChunk int
	// Settle is the minimum time after its end before a chunk may be final; the settle time of a
	// binned chunk is max(2 bins, Settle). Default 60 s.
	Settle time.Duration
	// FinalTTL is how long final chunks are kept. Default 7 days.
	FinalTTL time.Duration
	// TailTTL is how long a non-final chunk (the open tail) is used as it is, or, with FreshTail,
	// extended by delta fetches; then it is fetched whole again. Default 5 s.
	TailTTL time.Duration
	// FreshTail, when > 0, is the oldest copy of the chunk holding now that Bins and Events serve as
	// it is: an older one (within TailTTL) is brought up to now by a delta fetch of what followed it,
	// so a window ending now holds what data-api had about FreshTail before the request. databoard
	// sets 1 s. Default 0: the copy is reused for TailTTL.
	FreshTail time.Duration
	// StaleTTL is how long a non-final chunk is kept after it was fetched, as a stale-if-error
	// fallback. Default 1 h.
	StaleTTL time.Duration
	// RecheckTTL is how long a settled binned chunk whose bins stop short of its end (a channel
	// that stopped, or a stream cut without a marker: indistinguishable) is used before it is
	// fetched again. Default 10 min.
	RecheckTTL time.Duration
	// StaleAfter: a chunk that has a stale copy is waited for at most this long; then the copy is
	// served (X-Cache: stale) and the fetch finishes in the background. Default 5 s.
	StaleAfter time.Duration
	// MaxEntryBytes: chunks whose encoded value is larger are served but not stored. Default 4 MiB.
	MaxEntryBytes int
	// FetchConcurrency bounds the concurrent upstream fetches per backend, across all requests
	// (databoard sets it from DAQBUF_MAX_CONNS). Default 4.
	FetchConcurrency int
	// FetchTimeout bounds one upstream fetch of a shared fetch, from the moment it has a slot of
	// FetchConcurrency: time queued for the slot does not count. A shared fetch outlives the request
	// that started it, but not the last request waiting for it. Default 30 s.
	FetchTimeout time.Duration
	// FailureTTL is how long a failed chunk fetch is remembered: requests meanwhile get its error
	// (or their stale copy, or the older part of a live window) without asking data-api again.
	// Default 1.5 s; negative: not remembered.
	FailureTTL time.Duration
	// LockTTL is the lifetime of the cross-instance fetch lock, and the longest another instance
	// waits for the holder's value before fetching itself. Default 10 s.
	LockTTL time.Duration
	// MaxChunks: binned requests needing more chunks than this (num_bins far above a screen's
	// width) bypass the cache. Default 256 (32 768 bins at 128 per chunk).
	MaxChunks int
	// EventChunks is the most chunks an events window is cut into (their length comes from the bin
	// grid). Default 64.
	EventChunks int
	// Fragments, when set, keeps the chunks of binned answers as pre-encoded pieces of the answer
	// (BinFragments, fragments.go), bounded by its bytes. Default nil: BinFragments is not offered.
	Fragments *store.Memory
	// FragmentTrust is how long an answer that found the store holding exactly the value a final
	// chunk's kept fragment was made from vouches for that chunk: answers whose every chunk is vouched
	// for are written from the kept fragments without reading the store (trust.go). Default 30 s;
	// negative: every answer reads its chunks from the store.
	FragmentTrust time.Duration
	// Now is the clock deciding what is in the past and what is fresh. Default time.Now.
	Now func() time.Time
	// Logger receives store failures and stale answers. Default: discard.
	Logger *slog.Logger
}

// pollInterval is how often an instance waiting for another instance's fetch looks for the value.
const pollInterval = 20 * time.Millisecond

// maxSlowRetries bounds the store calls of one coordination that may time out (store.ErrSlow: the
// store's deadline grows after each) before the fetch goes on without the store.
const maxSlowRetries = 8

// Curves is the curve source with the chunked cache: binned and raw requests are cut into fixed,
// epoch-aligned chunks on data-api's bin grid, read from a Store in one round trip, and only the
// missing or out-of-date chunks are fetched from data-api, in parallel, each fetch shared by every
// concurrent request for it in this process (singleflight) and across instances (Store.Lock).
// Answers are identical to the uncached request's. It is safe for concurrent use.
type Curves struct {
	client *daqbuf.Client
	direct Direct
	store  store.Store
	cfg    Config
	log    *slog.Logger

	flightMu sync.Mutex
	flights  map[string]*flightCall // shared fetches, by runKey

	failMu   sync.Mutex
	failures map[string]failure // recently failed fetches, by chunk key

	semMu sync.Mutex
	sems  map[string]*semaphore.Weighted // per backend

	stats curveCounters

	// fragmentBufs are scratch buffers (*[]byte) newFragment writes fragments in.
	fragmentBufs sync.Pool
	fragSeen     *store.Doorkeeper // chunks whose fragment was made before: a made fragment is kept (fragments.go)
	trust        trust             // final chunks whose kept fragment is used without reading the store (trust.go)

	// life is the parent of the work that outlives the request that started it (shared chunk
	// fetches and their lock renewals); Close cancels it and waits for that work (detached).
	life     context.Context
	stop     context.CancelFunc
	closeMu  sync.Mutex
	closed   bool
	detached sync.WaitGroup
	// running counts the detached work too, for Stats (a WaitGroup cannot be read).
	running atomic.Int64
}

// ErrClosed: the Curves was closed; requests needing a chunk from data-api fail with it.
var ErrClosed = errors.New("cache: curve cache closed")

// New returns a Curves reading through s; it does no I/O and starts no goroutine. Close stops the
// fetches it detaches from their requests.
func New(client *daqbuf.Client, s store.Store, cfg Config) *Curves {
	if cfg.BinsPerChunk <= 0 {
		cfg.BinsPerChunk = 128
	}
	if cfg.Settle <= 0 {
		cfg.Settle = time.Minute
	}
	if cfg.FinalTTL <= 0 {
		cfg.FinalTTL = 7 * 24 * time.Hour
	}
	if cfg.TailTTL <= 0 {
		cfg.TailTTL = 5 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 5 * time.Second
	}
	if cfg.MaxChunks <= 0 {
		cfg.MaxChunks = 256
	}
	if cfg.RecheckTTL <= 0 {
		cfg.RecheckTTL = 10 * time.Minute
	}
	if cfg.StaleTTL <= 0 {
		cfg.StaleTTL = time.Hour
	}
	if cfg.MaxEntryBytes <= 0 {
		cfg.MaxEntryBytes = 4 << 20
	}
	if cfg.FetchConcurrency <= 0 {
		cfg.FetchConcurrency = 4
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 30 * time.Second
	}
	if cfg.FailureTTL == 0 {
		cfg.FailureTTL = 1500 * time.Millisecond
	}
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = 10 * time.Second
	}
	if cfg.EventChunks <= 0 {
		cfg.EventChunks = 64
	}
	if cfg.FragmentTrust == 0 {
		cfg.FragmentTrust = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	life, stop := context.WithCancel(context.Background())
	c := &Curves{
		client: client, direct: Direct{Client: client}, store: s, cfg: cfg, log: cfg.Logger,
		sems: map[string]*semaphore.Weighted{}, flights: map[string]*flightCall{}, failures: map[string]failure{}, life: life, stop: stop,
	}
	if cfg.Fragments != nil {
		c.fragSeen = store.NewDoorkeeper(store.DefaultDoorkeeperSlots)
		c.trust.seed = maphash.MakeSeed()
	}
	return c
}

// Close cancels the chunk fetches that run detached from their requests (and the renewals of their
// cross-instance locks, which are released) and waits for them. Requests waiting on such a fetch
// fail; later requests are served from the store, and fail with ErrClosed where they need data-api.
// It is safe to call more than once.
func (c *Curves) Close() {
	c.closeMu.Lock()
	c.closed = true
	c.closeMu.Unlock()
	c.stop()
	c.detached.Wait()
}

// detach counts one piece of detached work in; false once Close was called (the work must not
// start). The caller calls c.detachedDone when the work is over.
func (c *Curves) detach() bool {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return false
	}
	c.detached.Add(1)
	c.running.Add(1)
	return true
}

func (c *Curves) detachedDone() {
	c.running.Add(-1)
	c.detached.Done()
}

// Settle is the settle time in use (Config.Settle with its default applied).
func (c *Curves) Settle() time.Duration { return c.cfg.Settle }

// TailTTL is the open-tail lifetime in use (Config.TailTTL with its default applied): the oldest
// copy of a chunk holding now that Bins and Events may serve.
func (c *Curves) TailTTL() time.Duration { return c.cfg.TailTTL }

// Bins returns the bins data-api returns for q, value for value: w is the width data-api picks,
// the grid range is read as chunks of BinsPerChunk bins, and the merged chunks are cut to the bins
// of q. Requests off the grid (w < 20 ms) or invalid ones go to data-api as they are (curve.StatusMiss).
// The batches belong to the caller.
func (c *Curves) Bins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, curve.Status, error) {
	return c.bins(ctx, q, 0)
}

// Within returns the same source as c, except that the chunk holding now is served only from a copy
// fetched at most maxTailAge ago (else fetched again), for a caller that must see new data within
// its period (a poller); other callers keep reusing the tail for TailTTL. A maxTailAge of TailTTL or
// more, or ≤ 0, changes nothing: c is returned.
func (c *Curves) Within(maxTailAge time.Duration) curve.Source {
	if maxTailAge <= 0 || maxTailAge >= c.cfg.TailTTL {
		return c
	}
	return freshTail{c: c, maxAge: maxTailAge}
}

// freshTail is c with a bound on the age of the tail chunk (Curves.Within).
type freshTail struct {
	c      *Curves
	maxAge time.Duration
}

func (f freshTail) Bins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, curve.Status, error) {
	return f.c.bins(ctx, q, f.maxAge)
}

func (f freshTail) Events(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, curve.Status, error) {
	return f.c.events(ctx, q, f.maxAge)
}

// tailAge is the bound on the age of the tail chunk's copy: a caller's (Within), or FreshTail if
// tighter; 0 for none.
func (c *Curves) tailAge(caller time.Duration) time.Duration {
	if f := c.cfg.FreshTail; f > 0 && f < c.cfg.TailTTL && (caller <= 0 || f < caller) {
		return f
	}
	return caller
}

// binChunks is what a binned request reads: its plan, its chunks' jobs and keys, when it was planned
// (ns), and, once loaded, the chunks' encoded values (in order; nil values at the end are chunks left
// out, see load) and where they came from.
type binChunks struct {
	plan   binPlan
	jobs   []chunkJob
	keys   []string
	now    int64
	vals   [][]byte
	status curve.Status
}

// planBinRead plans a binned request, with a bound on the age of the tail chunk's copy (none when
// maxTailAge is 0). ok is false when the request is not chunked: it is invalid, off the grid, or needs
// more than MaxChunks chunks (a huge bin count would cost one upstream request per BinsPerChunk bins
// when cold; one direct request is cheaper than that).
func (c *Curves) planBinRead(q daqbuf.BinnedQuery, maxTailAge time.Duration) (binChunks, bool) {
	now := c.cfg.Now().UnixNano()
	plan, ok := planBins(q, c.cfg.BinsPerChunk, now, c.cfg.Settle, c.tailAge(maxTailAge))
	if !ok || len(plan.Chunks) > c.cfg.MaxChunks {
		return binChunks{}, false
	}
	base := binKeyBase(q.Channel, q.Mode, plan.Width)
	jobs := c.jobs(q.Channel.Backend, base, plan.Chunks, kindBins, plan.Width, func(ctx context.Context, chunks []chunk) ([]fetched, error) {
		return c.fetchBins(ctx, q, plan.Width, chunks)
	})
	keys := make([]string, len(jobs))
	for i, j := range jobs {
		keys[i] = j.key
	}
	return binChunks{plan: plan, jobs: jobs, keys: keys, now: now}, true
}

// loadBins loads the chunks of a planned read (planBinRead).
func (c *Curves) loadBins(ctx context.Context, read binChunks) (binChunks, error) {
	var err error
	read.vals, read.status, err = c.load(ctx, read.jobs, read.now)
	return read, err
}

// readBins plans a binned request and loads its chunks (planBinRead, loadBins).
func (c *Curves) readBins(ctx context.Context, q daqbuf.BinnedQuery, maxTailAge time.Duration) (binChunks, bool, error) {
	read, ok := c.planBinRead(q, maxTailAge)
	if !ok {
		return binChunks{}, false, nil
	}
	read, err := c.loadBins(ctx, read)
	if err != nil {
		return binChunks{}, true, err
	}
	return read, true, nil
}

// bins is Bins with a bound on the age of the tail chunk's copy (none when maxTailAge is 0).
func (c *Curves) bins(ctx context.Context, q daqbuf.BinnedQuery, maxTailAge time.Duration) ([]*daqbuf.BinBatch, curve.Status, error) {
	read, ok, err := c.readBins(ctx, q, maxTailAge)
	switch {
	case !ok:
		return c.directBins(ctx, q)
	case err != nil:
		return nil, "", err
	}
	plan, vals, st := read.plan, read.vals, read.status
	acc := newBinBatch(len(plan.Chunks) * c.cfg.BinsPerChunk)
	for _, v := range vals {
		if v == nil {
			break // the newest part is left out (load)
		}
		if _, err := decodeBinsAppend(v, acc); err != nil {
			// Cannot happen with values this code wrote; answer correctly anyway.
			c.log.Error("curve cache: undecodable bins chunk; answering from data-api", "err", err)
			return c.directBins(ctx, q)
		}
	}
	c.stats.count(st)
	out := cutBins(acc, plan.Window)
	if out.Len() == 0 {
		return nil, st, nil
	}
	return []*daqbuf.BinBatch{out}, st, nil
}

// newBinBatch returns an empty batch with room for n bins.
func newBinBatch(n int) *daqbuf.BinBatch {
	return &daqbuf.BinBatch{
		Ts1: make([]int64, 0, n), Ts2: make([]int64, 0, n), Counts: make([]uint64, 0, n),
		Mins: make([]float64, 0, n), Maxs: make([]float64, 0, n), Avgs: make([]float64, 0, n),
	}
}

func (c *Curves) directBins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, curve.Status, error) {
	c.stats.bypass.Add(1)
	c.stats.upstream.Add(1)
	b, err := c.direct.bins(ctx, q)
	if err != nil {
		c.stats.errors.Add(1)
		return nil, "", err
	}
	c.stats.count(curve.StatusMiss)
	return b, curve.StatusMiss, nil
}

// Events returns the events data-api returns for q, in the same order: the window is read as
// epoch-aligned time chunks (at most about EventChunks of them) and cut. Requests with
// OneBeforeRange, or invalid ones, go to data-api as they are (curve.StatusMiss). The batches belong to
// the caller.
func (c *Curves) Events(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, curve.Status, error) {
	return c.events(ctx, q, 0)
}

// events is Events with a bound on the age of the tail chunk's copy (none when maxTailAge is 0).
func (c *Curves) events(ctx context.Context, q daqbuf.EventsQuery, maxTailAge time.Duration) ([]*daqbuf.EventBatch, curve.Status, error) {
	now := c.cfg.Now().UnixNano()
	maxTailAge = c.tailAge(maxTailAge)
	plan, ok := planEvents(q, c.cfg.EventChunks, now, c.cfg.Settle, maxTailAge)
	if !ok {
		return c.directEvents(ctx, q)
	}
	base := eventKeyBase(q.Channel, q.Mode, q.ValueType, plan.Span)
	jobs := c.jobs(q.Channel.Backend, base, plan.Chunks, kindEvents, 0, func(ctx context.Context, chunks []chunk) ([]fetched, error) {
		return c.fetchEvents(ctx, q, chunks)
	})
	vals, st, err := c.load(ctx, jobs, now)
	if err != nil {
		return nil, "", err
	}
	parts := make([][]*daqbuf.EventBatch, len(vals))
	for i, v := range vals {
		if v == nil {
			break // the newest part is left out (load)
		}
		if _, parts[i], err = decodeEvents(v); err != nil {
			c.log.Error("curve cache: undecodable events chunk; answering from data-api", "err", err)
			return c.directEvents(ctx, q)
		}
	}
	c.stats.count(st)
	return mergeEvents(parts, plan.Window, plan.BegExcl), st, nil
}

func (c *Curves) directEvents(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, curve.Status, error) {
	c.stats.bypass.Add(1)
	c.stats.upstream.Add(1)
	ev, err := c.direct.events(ctx, q)
	if err != nil {
		c.stats.errors.Add(1)
		return nil, "", err
	}
	c.stats.count(curve.StatusMiss)
	return ev, curve.StatusMiss, nil
}

// FlushChannel deletes the cached chunks of one channel, under its series id and under its name
// (a channel may have been requested both ways), and returns how many were deleted.
func (c *Curves) FlushChannel(ctx context.Context, backend, name string, seriesID uint64) (int, error) {
	total := 0
	if seriesID != 0 {
		n, err := c.deletePrefix(ctx, channelKeyPrefix(daqbuf.ChannelRef{Backend: backend, SeriesID: seriesID}))
		total += n
		if err != nil {
			return total, fmt.Errorf("cache: flush channel: %w", err)
		}
	}
	if name != "" {
		n, err := c.deletePrefix(ctx, channelKeyPrefix(daqbuf.ChannelRef{Backend: backend, Name: name}))
		total += n
		if err != nil {
			return total, fmt.Errorf("cache: flush channel: %w", err)
		}
	}
	return total, nil
}

// deletePrefix deletes chunks from the store, and their fragments (kept under the same keys), and
// returns how many chunks were deleted. Every vouch for a kept fragment is dropped before and after:
// an answer reading the store meanwhile may still see a value being deleted, and must not vouch for it.
func (c *Curves) deletePrefix(ctx context.Context, prefix string) (int, error) {
	c.trust.drop()
	defer c.trust.drop()
	if c.cfg.Fragments != nil {
		_, _ = c.cfg.Fragments.DeletePrefix(ctx, prefix)
	}
	return c.store.DeletePrefix(ctx, prefix)
}

// FlushAll deletes every cached curve chunk (other values in the store stay) and returns how many.
func (c *Curves) FlushAll(ctx context.Context) (int, error) {
	n, err := c.deletePrefix(ctx, curveKeyPrefix)
	if err != nil {
		return n, fmt.Errorf("cache: flush curves: %w", err)
	}
	return n, nil
}

// Stats are Curves' counters since it was created.
type Stats struct {
	Hits, PartialHits, Misses, Stale uint64 // answers by curve.Status
	Bypassed                         uint64 // requests not chunked (off-grid, oneBeforeRange, invalid)
	ChunkHits                        uint64 // chunks used from the store as they were (TrustedChunks included)
	ChunkMisses                      uint64 // chunks missing or out of date in the store
	StaleChunks                      uint64 // stale copies served because their fetch failed
	UpstreamFetches                  uint64 // data-api requests made (chunks and bypassed requests)
	CoalescedWaiters                 uint64 // chunk loads answered by another caller's fetch, here or on another instance
	UpstreamBytes                    uint64 // approximate: encoded size of the fetched chunks
	NotStored                        uint64 // fetched chunks not stored: too large or incomplete
	StoreErrors                      uint64 // failed store calls (treated as misses)
	Errors                           uint64 // requests answered with an error
	AbandonedFetches                 uint64 // shared fetches cancelled because every request waiting for them left
	DroppedTails                     uint64 // live windows answered without their newest part (data-api failed or slow)
	FailuresRecalled                 uint64 // fetches not tried because the same chunk failed less than FailureTTL ago
	DeltaFetches                     uint64 // tail chunks brought up to now by fetching only what followed their copy
	FragmentHits                     uint64 // chunks of binned answers written from a kept fragment, the store read
	TrustedChunks                    uint64 // chunks of binned answers written from a kept fragment, the store not read (trust.go)
	FragmentsMade                    uint64 // chunks of binned answers encoded (no fragment kept for their value)
	FetchesInFlight                  int64  // chunk fetches running now (a gauge)
	SharedFetches                    int64  // shared fetches running or waiting for a slot or a lock (a gauge)
}

type curveCounters struct {
	hits, partial, misses, stale, bypass          atomic.Uint64
	chunkHits, chunkMisses, staleChunks           atomic.Uint64
	upstream, coalesced, upstreamBytes, notStored atomic.Uint64
	storeErrors, errors, abandoned                atomic.Uint64
	droppedTails, failuresRecalled, deltas        atomic.Uint64
	fragmentHits, fragmentsMade, trustedChunks    atomic.Uint64
	inFlight                                      atomic.Int64
}

func (s *curveCounters) count(st curve.Status) {
	switch st {
	case curve.StatusHit:
		s.hits.Add(1)
	case curve.StatusPartial:
		s.partial.Add(1)
	case curve.StatusMiss:
		s.misses.Add(1)
	case curve.StatusStale:
		s.stale.Add(1)
	}
}

// Stats returns a snapshot of the counters.
func (c *Curves) Stats() Stats {
	s := &c.stats
	return Stats{
		Hits: s.hits.Load(), PartialHits: s.partial.Load(), Misses: s.misses.Load(), Stale: s.stale.Load(),
		Bypassed: s.bypass.Load(), ChunkHits: s.chunkHits.Load(), ChunkMisses: s.chunkMisses.Load(),
		StaleChunks: s.staleChunks.Load(), UpstreamFetches: s.upstream.Load(), CoalescedWaiters: s.coalesced.Load(),
		UpstreamBytes: s.upstreamBytes.Load(), NotStored: s.notStored.Load(), StoreErrors: s.storeErrors.Load(),
		Errors: s.errors.Load(), AbandonedFetches: s.abandoned.Load(),
		DroppedTails: s.droppedTails.Load(), FailuresRecalled: s.failuresRecalled.Load(), DeltaFetches: s.deltas.Load(), FetchesInFlight: s.inFlight.Load(),
		FragmentHits: s.fragmentHits.Load(), FragmentsMade: s.fragmentsMade.Load(), TrustedChunks: s.trustedChunks.Load(),
		SharedFetches: c.running.Load(),
	}
}

// maxBackendSems bounds the per-backend semaphores: the backend name comes from the request, and a
// deployment has a handful. Names beyond the bound share one semaphore.
const maxBackendSems = 64

// overflowSem is the map key of the shared semaphore; no backend name is empty.
const overflowSem = ""

// semFor returns the fetch semaphore of a backend.
func (c *Curves) semFor(backend string) *semaphore.Weighted {
	c.semMu.Lock()
	defer c.semMu.Unlock()
	s, ok := c.sems[backend]
	if !ok {
		if len(c.sems) >= maxBackendSems {
			backend = overflowSem
			if s, ok = c.sems[backend]; ok {
				return s
			}
		}
		s = semaphore.NewWeighted(int64(c.cfg.FetchConcurrency))
		c.sems[backend] = s
	}
	return s
}
