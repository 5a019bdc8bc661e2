package curves

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// chunkJob is one chunk of a request: its key, extent and how to fetch it from data-api.
type chunkJob struct {
	backend string
	key     string
	kind    byte
	width   int64 // bins: the bin width; events: 0
	chunk   chunk
	// fetch asks data-api for adjacent chunks (ascending) in one request and returns one answer per
	// chunk.
	fetch func(ctx context.Context, chunks []chunk) ([]fetched, error)
}

// fetched is one successful upstream answer for a chunk, not yet encoded (the header depends on it).
type fetched struct {
	outcome fetchOutcome
	encode  func(h chunkHeader) ([]byte, error)
	// merge encodes a delta answer (a chunk fetched from its Fetch.Beg, mid-chunk) merged into base,
	// the stored copy it extends.
	merge func(base []byte, h chunkHeader) ([]byte, error)
}

func (c *Curves) jobs(backend string, base []byte, chunks []chunk, kind byte, width int64,
	fetch func(ctx context.Context, chunks []chunk) ([]fetched, error)) []chunkJob {
	keys := chunkKeys(base, chunks)
	jobs := make([]chunkJob, len(chunks))
	for i, ch := range chunks {
		jobs[i] = chunkJob{backend: backend, key: keys[i], kind: kind, width: width, chunk: ch, fetch: fetch}
	}
	return jobs
}

// maxRunChunks bounds the chunks fetched in one upstream request.
const maxRunChunks = 64

// load returns the encoded value of every job, in order: fresh ones from the store (one round
// trip), the others fetched in parallel, adjacent ones in one upstream request (fetchRuns). A failed
// fetch of chunks that all have a stale copy falls back to the copies (curve.StatusStale). On a live
// window whose newest chunks have no copy, their fetch failing or taking longer than StaleAfter
// leaves them out (nil values at the end; curve.StatusStale), after the stale copies before them.
// Otherwise the request fails. When the
// answer is complete only up to some time, that is noted in ctx's Completeness.
func (c *Curves) load(ctx context.Context, jobs []chunkJob, now int64) ([][]byte, curve.Status, error) {
	vals := make([][]byte, len(jobs))
	if len(jobs) == 0 {
		return vals, curve.StatusHit, nil
	}
	keys := make([]string, len(jobs))
	chunks := make([]chunk, len(jobs))
	for i, j := range jobs {
		keys[i], chunks[i] = j.key, j.chunk
	}
	cached, err := c.store.GetMany(ctx, keys)
	if err != nil {
		c.storeFailed("read chunks", err)
		cached = make([][]byte, len(jobs))
	}
	states := make([]chunkState, len(jobs))
	missing := 0
	for i, v := range cached {
		states[i] = classify(v, jobs[i].kind, now, jobs[i].chunk.Need)
		if states[i] == chunkFresh {
			vals[i] = v
			continue
		}
		missing++
	}
	c.stats.chunkHits.Add(uint64(len(jobs) - missing))
	c.stats.chunkMisses.Add(uint64(missing))
	if missing == 0 {
		return vals, curve.StatusHit, nil
	}

	var usedStale atomic.Bool
	covered := make([]int64, len(jobs)) // Covered of the stale copies served
	runs := fetchRuns(states, chunks, maxRunChunks)
	last := runs[len(runs)-1]
	droppable := tailDroppable(states, chunks, last)
	cut := len(jobs) // chunks from cut on are left out of the answer
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.FetchConcurrency)
	for _, r := range runs {
		g.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err() // the request already failed: start no more fetches for it
			}
			stale := staleUntil(states, r) // chunks r.lo…stale-1 have a stale copy to fall back on
			allStale := stale == r.hi
			drop := droppable && r == last
			var vs [][]byte
			var err error
			if from, ok := c.deltaOf(jobs[r.lo], cached[r.lo], now); allStale && r.hi-r.lo == 1 && ok {
				vs, err = c.loadDelta(gctx, jobs[r.lo], cached[r.lo], from)
			} else {
				vs, err = c.loadRun(gctx, jobs[r.lo:r.hi], allStale || drop)
			}
			if err == nil {
				copy(vals[r.lo:r.hi], vs)
				return nil
			}
			if ctx.Err() != nil || !(allStale || drop) {
				return err
			}
			for i := r.lo; i < stale; i++ {
				c.log.Warn("curve cache: data-api failed, serving a stale chunk", "key", jobs[i].key, "err", err)
				c.stats.staleChunks.Add(1)
				vals[i] = cached[i]
				if h, err := readHeader(cached[i], jobs[i].kind); err == nil {
					covered[i] = h.Covered
				}
			}
			if !allStale {
				c.log.Warn("curve cache: data-api failed, leaving out the newest part of a live window",
					"key", jobs[stale].key, "err", err)
				c.stats.droppedTails.Add(1)
				cut = stale // only this goroutine writes it; read after Wait
			}
			usedStale.Store(true)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		c.stats.errors.Add(1)
		return nil, "", err
	}
	clear(vals[cut:])
	if until, ok := completeUntil(chunks, covered, cut); ok {
		noteIncomplete(ctx, until)
	}
	switch {
	case usedStale.Load():
		return vals, curve.StatusStale, nil
	case missing == len(jobs):
		return vals, curve.StatusMiss, nil
	}
	return vals, curve.StatusPartial, nil
}

// errSlow: a chunk with a stale copy took longer than StaleAfter; the copy is served meanwhile.
var errSlow = errors.New("cache: data-api slower than StaleAfter")

// flightCall is one shared fetch of a run of chunks, and the requests waiting for it.
type flightCall struct {
	done chan struct{}
	vals [][]byte
	err  error

	// Under Curves.flightMu:
	waiters int                // requests waiting for the result
	keep    bool               // the upstream request of a final result is under way: not cancelled
	cancel  context.CancelFunc // cancels the fetch
}

// runKey names the shared fetch of jobs: the chunk's key, or the first and last keys of a run.
func runKey(jobs []chunkJob) string {
	if len(jobs) == 1 {
		return jobs[0].key
	}
	return jobs[0].key + "…" + jobs[len(jobs)-1].key
}

// loadRun fetches adjacent chunks through a shared fetch: concurrent loads of the same run in this
// process share one fetch, which runs detached from any one caller's context (under the Curves'
// lifetime), so a caller leaving does not fail the others, and Close stops it. The fetch counts
// its waiters: when the last one leaves it is cancelled, unless its upstream request for a final
// result is already under way (abandoned work stops). When the chunk has a stale copy, the caller
// waits at most StaleAfter (errSlow); the fetch goes on and stores its result for the next request.
func (c *Curves) loadRun(ctx context.Context, jobs []chunkJob, hasStale bool) ([][]byte, error) {
	var slow <-chan time.Time
	if hasStale {
		t := time.NewTimer(c.cfg.StaleAfter)
		defer t.Stop()
		slow = t.C
	}
	return c.share(ctx, runKey(jobs), jobs, slow, func(fctx context.Context, keep func()) ([][]byte, error) {
		return c.fetchShared(fctx, jobs, keep)
	})
}

// loadDelta brings the stored copy base of the chunk holding now up to now with a delta fetch from
// from on (deltaFrom), shared like loadRun; when it fails or takes longer than StaleAfter, the caller
// serves base as a stale copy.
func (c *Curves) loadDelta(ctx context.Context, j chunkJob, base []byte, from int64) ([][]byte, error) {
	t := time.NewTimer(c.cfg.StaleAfter)
	defer t.Stop()
	return c.share(ctx, j.key+"Δ", []chunkJob{j}, t.C, func(fctx context.Context, keep func()) ([][]byte, error) {
		v, err := c.fetchDelta(fctx, j, base, from)
		return [][]byte{v}, err
	})
}

// deltaOf is where a delta fetch of j's chunk may start given its stored copy val (deltaFrom).
func (c *Curves) deltaOf(j chunkJob, val []byte, now int64) (int64, bool) {
	if val == nil {
		return 0, false
	}
	h, err := readHeader(val, j.kind)
	if err != nil {
		return 0, false
	}
	return deltaFrom(h, j.chunk, now, j.width)
}

// fetchDelta fetches j's chunk from from on (a slot of the backend's semaphore first, like fetchRun)
// and merges it into base, the stored copy, which then covers up to now and is fresh for another
// TailTTL (the chunk is fetched whole again once it no longer holds now, and when it settles).
// Deltas take no cross-instance lock: they are small.
func (c *Curves) fetchDelta(ctx context.Context, j chunkJob, base []byte, from int64) ([]byte, error) {
	sem := c.semFor(j.backend)
	if err := sem.Acquire(ctx, 1); err != nil {
		return nil, ctxError(ctx)
	}
	defer sem.Release(1)
	ch := j.chunk
	ch.Fetch.Beg = from
	fctx, cancel := context.WithTimeout(ctx, c.cfg.FetchTimeout)
	defer cancel()
	c.stats.upstream.Add(1)
	c.stats.deltas.Add(1)
	c.stats.inFlight.Add(1)
	fs, err := j.fetch(fctx, []chunk{ch})
	c.stats.inFlight.Add(-1)
	if err != nil {
		return nil, err
	}
	if o := fs[0].outcome; !(o.Complete || o.OpenTail) {
		return nil, errIncompleteDelta
	}
	val, err := fs[0].merge(base, chunkHeader{FreshUntil: c.cfg.Now().UnixNano() + int64(c.cfg.TailTTL), Covered: ch.Fetch.End})
	if err != nil {
		return nil, err
	}
	c.stats.upstreamBytes.Add(uint64(len(val)))
	if len(val) <= c.cfg.MaxEntryBytes {
		if err := c.store.Set(ctx, j.key, val, max(c.cfg.StaleTTL, c.cfg.TailTTL)); err != nil {
			c.storeFailed("write chunk", err)
		}
	}
	return val, nil
}

// errIncompleteDelta: a delta answer that cannot be trusted to be complete (timed out, or no bins);
// the stored copy is served instead.
var errIncompleteDelta = errors.New("cache: incomplete delta answer")

// share runs fetch as the shared fetch under key (joining it if it runs), for jobs, and waits for it
// until it ends, slow fires (errSlow: the fetch goes on), or ctx ends (the caller leaves it). A
// fetch of one of jobs that failed less than FailureTTL ago is not tried again: its error is
// returned.
func (c *Curves) share(ctx context.Context, key string, jobs []chunkJob, slow <-chan time.Time,
	fetch func(fctx context.Context, keep func()) ([][]byte, error)) ([][]byte, error) {
	if err := c.recentFailure(jobs); err != nil {
		c.stats.failuresRecalled.Add(1)
		return nil, err
	}
	call, leader, err := c.joinFlight(key, func(fctx context.Context, keep func()) ([][]byte, error) {
		vals, err := fetch(fctx, keep)
		if err != nil && fctx.Err() == nil && !errors.Is(err, errIncompleteDelta) {
			c.rememberFailure(jobs, err)
		}
		return vals, err
	})
	if err != nil {
		return nil, err
	}
	select {
	case <-call.done:
		if !leader {
			c.stats.coalesced.Add(1)
		}
		return call.vals, call.err
	case <-slow:
		// Still counted as a waiter: the fetch finishes and stores its result for the next request.
		return nil, errSlow
	case <-ctx.Done():
		c.leaveFlight(key, call)
		return nil, ctxError(ctx)
	}
}

// failure is a remembered failed fetch of a chunk.
type failure struct {
	until time.Time
	err   error
}

// maxFailures bounds the remembered failures; beyond it the expired ones are dropped, and if none
// is, all of them.
const maxFailures = 4096

// rememberFailure remembers for FailureTTL that fetching jobs failed with err, so that requests
// meanwhile get the error (or their stale copies) without asking a failing data-api again.
func (c *Curves) rememberFailure(jobs []chunkJob, err error) {
	if c.cfg.FailureTTL <= 0 || errors.Is(err, ErrClosed) {
		return
	}
	now := c.cfg.Now()
	c.failMu.Lock()
	defer c.failMu.Unlock()
	if len(c.failures) >= maxFailures {
		maps.DeleteFunc(c.failures, func(_ string, f failure) bool { return !now.Before(f.until) })
		if len(c.failures) >= maxFailures {
			clear(c.failures)
		}
	}
	for _, j := range jobs {
		c.failures[j.key] = failure{until: now.Add(c.cfg.FailureTTL), err: err}
	}
}

// recentFailure is the remembered error of a fetch of one of jobs that failed less than FailureTTL
// ago, or nil.
func (c *Curves) recentFailure(jobs []chunkJob) error {
	now := c.cfg.Now()
	c.failMu.Lock()
	defer c.failMu.Unlock()
	for _, j := range jobs {
		if f, ok := c.failures[j.key]; ok {
			if now.Before(f.until) {
				return f.err
			}
			delete(c.failures, j.key)
		}
	}
	return nil
}

// joinFlight joins the running shared fetch under key, or starts fn as a new one (leader). fn runs
// detached under the Curves' lifetime; it calls keep once its result must not be cancelled any more.
func (c *Curves) joinFlight(key string, fn func(ctx context.Context, keep func()) ([][]byte, error)) (*flightCall, bool, error) {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	if call, ok := c.flights[key]; ok {
		call.waiters++
		return call, false, nil
	}
	if !c.detach() {
		return nil, false, ErrClosed
	}
	// The request's context carries no values the fetch needs (nothing in daqbuf or the store
	// reads any), so the fetch hangs off the lifetime context alone.
	fctx, cancel := context.WithCancel(c.life)
	call := &flightCall{done: make(chan struct{}), waiters: 1, cancel: cancel}
	c.flights[key] = call
	keep := func() {
		c.flightMu.Lock()
		call.keep = true
		c.flightMu.Unlock()
	}
	go func() {
		defer c.detachedDone()
		defer cancel()
		vals, err := fn(fctx, keep)
		c.flightMu.Lock()
		if c.flights[key] == call {
			delete(c.flights, key)
		}
		c.flightMu.Unlock()
		call.vals, call.err = vals, err
		close(call.done)
	}()
	return call, true, nil
}

// leaveFlight: a waiter of call gave up. The last one to leave cancels the fetch unless it was kept;
// a later request for the same run starts a new fetch.
func (c *Curves) leaveFlight(key string, call *flightCall) {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	call.waiters--
	if call.waiters > 0 || call.keep {
		return
	}
	if c.flights[key] == call {
		delete(c.flights, key)
	}
	c.stats.abandoned.Add(1)
	call.cancel()
}

// ctxError maps the caller's context error the way package daqbuf does: a passed deadline is a
// timeout, a cancellation stays one.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &daqbuf.UpstreamError{Kind: daqbuf.ErrTimeout, Message: "request deadline exceeded"}
	}
	return fmt.Errorf("cache: %w", ctx.Err())
}

// fetchShared coordinates with other instances through the store's locks, then fetches, stores and
// returns the values of jobs (adjacent chunks): those another instance stored meanwhile are read,
// the others fetched, each stretch of adjacent ones in one upstream request.
func (c *Curves) fetchShared(ctx context.Context, jobs []chunkJob, keep func()) ([][]byte, error) {
	vals := make([][]byte, len(jobs))
	todo, release, err := c.coordinate(ctx, jobs, vals)
	if err != nil {
		return nil, err
	}
	defer release()
	for i := 0; i < len(todo); {
		k := i + 1
		for k < len(todo) && todo[k] == todo[k-1]+1 {
			k++
		}
		lo, hi := todo[i], todo[k-1]+1
		vs, err := c.fetchRun(ctx, jobs[lo:hi], keep)
		if err != nil {
			return nil, err
		}
		copy(vals[lo:hi], vs)
		i = k
	}
	return vals, nil
}

// fetchRun fetches adjacent chunks in one upstream request once a slot of the backend's fetch
// semaphore is free, and stores them. Only the fetch itself is bounded by FetchTimeout: time queued
// for a slot does not count against it (a slow data-api is not a failing one). The wait ends when
// every request waiting for the fetch left (loadRun), or at Close; each slot is held at most
// FetchTimeout, so the queue moves.
func (c *Curves) fetchRun(ctx context.Context, jobs []chunkJob, keep func()) ([][]byte, error) {
	sem := c.semFor(jobs[0].backend)
	if err := sem.Acquire(ctx, 1); err != nil {
		return nil, ctxError(ctx)
	}
	defer sem.Release(1)
	chunks := make([]chunk, len(jobs))
	settled := true
	for i, j := range jobs {
		chunks[i] = j.chunk
		settled = settled && j.chunk.Settled
	}
	if settled {
		keep() // a final result is on its way: finish it even if every request leaves
	}
	fctx, cancel := context.WithTimeout(ctx, c.cfg.FetchTimeout)
	defer cancel()
	c.stats.upstream.Add(1)
	c.stats.inFlight.Add(1)
	fs, err := jobs[0].fetch(fctx, chunks)
	c.stats.inFlight.Add(-1)
	if err != nil {
		return nil, err
	}

	now := c.cfg.Now().UnixNano()
	ttls := storeTTLs{Final: c.cfg.FinalTTL, Tail: c.cfg.TailTTL, Stale: c.cfg.StaleTTL, Recheck: c.cfg.RecheckTTL}
	vals := make([][]byte, len(jobs))
	var entries []store.Entry
	for i, f := range fs {
		d := decideStore(f.outcome, chunks[i], now, ttls)
		val, err := f.encode(d.Header)
		if err != nil {
			return nil, err
		}
		vals[i] = val
		c.stats.upstreamBytes.Add(uint64(len(val)))
		if !d.Store || len(val) > c.cfg.MaxEntryBytes {
			c.stats.notStored.Add(1)
			continue
		}
		entries = append(entries, store.Entry{Key: jobs[i].key, Val: val, TTL: d.TTL})
	}
	if len(entries) > 0 {
		if err := c.store.SetMany(ctx, entries); err != nil {
			c.storeFailed("write chunks", err)
		}
	}
	return vals, nil
}

// coordinate takes the cross-instance locks of jobs in order along the run, stopping at the first
// one held elsewhere (so two instances never wait for each other in a cycle), and fills vals with the fresh values another instance (or an
// earlier holder) stored meanwhile. It returns the indices this instance must fetch: those whose lock
// it holds, and all that are left when the store is unavailable or a lock outlived FetchTimeout +
// LockTTL (fetched without the lock). release unlocks the held locks and stops their renewal.
func (c *Curves) coordinate(ctx context.Context, jobs []chunkJob, vals [][]byte) (todo []int, release func(), err error) {
	held := map[int]bool{}
	var renewMu sync.Mutex
	renewing := map[string]bool{}
	stopRenew := c.renewLocks(func() []string {
		renewMu.Lock()
		defer renewMu.Unlock()
		return slices.Collect(maps.Keys(renewing))
	})
	unlock := func(i int) {
		renewMu.Lock()
		delete(renewing, lockKeyPrefix+jobs[i].key)
		renewMu.Unlock()
		delete(held, i)
		if err := c.store.Unlock(context.WithoutCancel(ctx), lockKeyPrefix+jobs[i].key); err != nil {
			c.storeFailed("unlock", err)
		}
	}
	release = func() {
		stopRenew()
		for i := range held {
			unlock(i)
		}
	}
	pending := make([]int, len(jobs))
	for i := range pending {
		pending[i] = i
	}
	// A live holder renews its lock for as long as its fetch may take; a dead one's lock expires
	// after LockTTL and is then taken here. So waiting this long only bounds a store that misbehaves.
	deadline := time.Now().Add(2*c.cfg.FetchTimeout + c.cfg.LockTTL)
	slowRetries := 0
	for {
		lockFailed := false
		for _, i := range pending {
			if held[i] {
				continue
			}
			got, err := c.store.Lock(ctx, lockKeyPrefix+jobs[i].key, c.cfg.LockTTL)
			if err != nil {
				c.storeFailed("lock", err)
				if errors.Is(err, store.ErrSlow) && slowRetries < maxSlowRetries {
					slowRetries++ // slow, not absent: its deadline grew; try again
					lockFailed = true
					break
				}
				return pending, release, nil
			}
			if !got {
				break // held by another instance: take none after it until it is free
			}
			held[i] = true
			renewMu.Lock()
			renewing[lockKeyPrefix+jobs[i].key] = true
			renewMu.Unlock()
		}
		// Read after locking: the previous holder may have stored the value just before it
		// unlocked, or the current holder may be done.
		keys := make([]string, len(pending))
		for k, i := range pending {
			keys[k] = jobs[i].key
		}
		got, err := c.store.GetMany(ctx, keys)
		if err != nil {
			c.storeFailed("read chunk", err)
			if !errors.Is(err, store.ErrSlow) || slowRetries >= maxSlowRetries {
				return pending, release, nil
			}
			slowRetries++
			got = make([][]byte, len(keys))
		}
		now := c.cfg.Now().UnixNano()
		left, allHeld := pending[:0], true
		for k, i := range pending {
			if classify(got[k], jobs[i].kind, now, jobs[i].chunk.Need) == chunkFresh {
				vals[i] = got[k]
				c.stats.coalesced.Add(1)
				if held[i] {
					unlock(i)
				}
				continue
			}
			left = append(left, i)
			allHeld = allHeld && held[i]
		}
		pending = left
		if len(pending) == 0 || (allHeld && !lockFailed) || time.Now().After(deadline) {
			return pending, release, nil
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			release()
			return nil, func() {}, ctxError(ctx)
		}
	}
}

func (c *Curves) storeFailed(op string, err error) {
	c.stats.storeErrors.Add(1)
	c.log.Debug("curve cache: store unavailable, treated as a miss", "op", op, "err", err)
}

// fetchBins asks data-api for the bins of adjacent chunks in one request with the request's width
// and cuts them into the chunks' bins. The carried value from before the range makes these bins
// identical to the same bins of a longer request, so one request for a run equals one per chunk.
func (c *Curves) fetchBins(ctx context.Context, q daqbuf.BinnedQuery, w int64, chunks []chunk) ([]fetched, error) {
	st, err := c.client.Binned(ctx, daqbuf.BinnedQuery{
		Channel: q.Channel, Range: runRange(chunks), BinWidth: time.Duration(w), Mode: q.Mode,
	})
	if err != nil {
		return nil, err
	}
	batches, err := drain(st)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, b := range batches {
		n += b.Len()
	}
	acc := newBinBatch(n)
	for _, b := range batches {
		acc.Ts1, acc.Ts2 = append(acc.Ts1, b.Ts1...), append(acc.Ts2, b.Ts2...)
		acc.Counts = append(acc.Counts, b.Counts...)
		acc.Mins, acc.Maxs, acc.Avgs = append(acc.Mins, b.Mins...), append(acc.Maxs, b.Maxs...), append(acc.Avgs, b.Avgs...)
	}
	out := make([]fetched, len(chunks))
	for i, part := range splitBins(acc, chunks) {
		// Plain JSON answers 204 also when data-api ran out of time before finding anything
		// (docs/daqbuf.md §6.2): such an empty answer is not proof of an empty chunk.
		// An empty answer is never stored: a stream cut before its first frame looks exactly like a
		// range without data (docs/daqbuf.md §6.2), and asking again for nothing is cheap.
		complete := part.Len() > 0 && !st.TimedOut()
		// Only bins reaching the end of what was asked prove the stream was not cut short.
		reachesEnd := part.Len() > 0 && part.Ts2[part.Len()-1] >= chunks[i].Fetch.End
		from := chunks[i].Fetch.Beg
		out[i] = fetched{
			outcome: fetchOutcome{Complete: complete, Unverified: !reachesEnd},
			encode:  func(h chunkHeader) ([]byte, error) { return encodeBins(h, part) },
			merge: func(base []byte, h chunkHeader) ([]byte, error) {
				_, b, err := decodeBins(base)
				if err != nil {
					return nil, err
				}
				return encodeBins(h, mergeBinsDelta(b, part, from))
			},
		}
	}
	return out, nil
}

// fetchEvents asks data-api for the events of adjacent chunks in one request and cuts them into the
// chunks' events. Only rangeFinal makes them complete; the open tail (a chunk cut at now) is
// storable for a short while without it.
func (c *Curves) fetchEvents(ctx context.Context, q daqbuf.EventsQuery, chunks []chunk) ([]fetched, error) {
	st, err := c.client.Events(ctx, daqbuf.EventsQuery{
		Channel: q.Channel, Range: runRange(chunks), Mode: q.Mode, ValueType: q.ValueType,
	})
	if err != nil {
		return nil, err
	}
	batches, err := drain(st)
	if err != nil {
		return nil, err
	}
	out := make([]fetched, len(chunks))
	for i, part := range splitEvents(batches, chunks) {
		o := fetchOutcome{
			Complete: st.RangeFinal(),
			OpenTail: chunks[i].Fetch.End < chunks[i].Span.End && !st.TimedOut(),
		}
		from := chunks[i].Fetch.Beg
		out[i] = fetched{
			outcome: o,
			encode:  func(h chunkHeader) ([]byte, error) { return encodeEvents(h, part) },
			merge: func(base []byte, h chunkHeader) ([]byte, error) {
				_, b, err := decodeEvents(base)
				if err != nil {
					return nil, err
				}
				return encodeEvents(h, mergeEventsDelta(b, part, from))
			},
		}
	}
	return out, nil
}

// renewLocks keeps the held fetch locks named by keys alive while the fetch runs (it may take longer
// than LockTTL), so that other instances keep waiting for this fetch instead of starting their own
// against a slow data-api. A holder that dies stops renewing, and its locks expire after LockTTL.
// The returned function stops the renewal and waits for it; Close stops it too (through the
// lifetime context it renews under).
func (c *Curves) renewLocks(keys func() []string) (stop func()) {
	ctx, cancel := context.WithCancel(c.life)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.cfg.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, k := range keys() {
					if _, err := c.store.Extend(ctx, k, c.cfg.LockTTL); err != nil {
						c.storeFailed("extend lock", err)
					}
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
