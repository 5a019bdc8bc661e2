package curves

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// chunkJob is one chunk of a request: its key, extent and how to fetch it from data-api.
type chunkJob struct {
	backend string
	key     string
	kind    byte
	chunk   chunk
	fetch   func(ctx context.Context, ch chunk) (fetched, error)
}

// fetched is one successful upstream answer for a chunk, not yet encoded (the header depends on it).
type fetched struct {
	outcome fetchOutcome
	encode  func(h chunkHeader) ([]byte, error)
}

func (c *Curves) jobs(backend string, base []byte, chunks []chunk, kind byte,
	fetch func(ctx context.Context, ch chunk) (fetched, error)) []chunkJob {
	keys := chunkKeys(base, chunks)
	jobs := make([]chunkJob, len(chunks))
	for i, ch := range chunks {
		jobs[i] = chunkJob{backend: backend, key: keys[i], kind: kind, chunk: ch, fetch: fetch}
	}
	return jobs
}

// load returns the encoded value of every job, in order: fresh ones from the store (one round
// trip), the others fetched in parallel. A failed fetch falls back to the chunk's stale copy when
// there is one (curve.StatusStale); otherwise the request fails.
func (c *Curves) load(ctx context.Context, jobs []chunkJob, now int64) ([][]byte, curve.Status, error) {
	vals := make([][]byte, len(jobs))
	if len(jobs) == 0 {
		return vals, curve.StatusHit, nil
	}
	keys := make([]string, len(jobs))
	for i, j := range jobs {
		keys[i] = j.key
	}
	cached, err := c.store.GetMany(ctx, keys)
	if err != nil {
		c.storeFailed("read chunks", err)
		cached = make([][]byte, len(jobs))
	}
	stale := make([][]byte, len(jobs))
	var missing []int
	for i, v := range cached {
		switch classify(v, jobs[i].kind, now, jobs[i].chunk.Need) {
		case chunkFresh:
			vals[i] = v
			continue
		case chunkStale:
			stale[i] = v
		}
		missing = append(missing, i)
	}
	c.stats.chunkHits.Add(uint64(len(jobs) - len(missing)))
	c.stats.chunkMisses.Add(uint64(len(missing)))
	if len(missing) == 0 {
		return vals, curve.StatusHit, nil
	}

	var usedStale atomic.Bool
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.FetchConcurrency)
	for _, i := range missing {
		g.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err() // the request already failed: start no more fetches for it
			}
			v, err := c.loadChunk(gctx, jobs[i], stale[i] != nil)
			if err == nil {
				vals[i] = v
				return nil
			}
			if stale[i] != nil && ctx.Err() == nil {
				c.log.Warn("curve cache: data-api failed, serving a stale chunk", "key", jobs[i].key, "err", err)
				c.stats.staleChunks.Add(1)
				vals[i] = stale[i]
				usedStale.Store(true)
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		c.stats.errors.Add(1)
		return nil, "", err
	}
	switch {
	case usedStale.Load():
		return vals, curve.StatusStale, nil
	case len(missing) == len(jobs):
		return vals, curve.StatusMiss, nil
	}
	return vals, curve.StatusPartial, nil
}

// errSlow: a chunk with a stale copy took longer than StaleAfter; the copy is served meanwhile.
var errSlow = errors.New("cache: data-api slower than StaleAfter")

// loadChunk fetches one chunk through singleflight: concurrent loads of the same key in this process
// share one fetch, which runs detached from any one caller's context (under the Curves' lifetime,
// with FetchTimeout), so a caller leaving does not fail the others, and Close stops it. When the chunk has a stale copy, the caller waits at most
// StaleAfter (errSlow); the fetch goes on and stores its result for the next request.
func (c *Curves) loadChunk(ctx context.Context, j chunkJob, hasStale bool) ([]byte, error) {
	var slow <-chan time.Time
	if hasStale {
		t := time.NewTimer(c.cfg.StaleAfter)
		defer t.Stop()
		slow = t.C
	}
	ran := false
	res := c.flight.DoChan(j.key, func() (any, error) {
		ran = true
		if !c.detach() {
			return nil, ErrClosed
		}
		defer c.detachedDone()
		// The request's context carries no values the fetch needs (nothing in daqbuf or the store
		// reads any), so the fetch hangs off the lifetime context alone.
		fctx, cancel := context.WithTimeout(c.life, c.cfg.FetchTimeout)
		defer cancel()
		return c.fetchShared(fctx, j)
	})
	select {
	case r := <-res:
		if !ran {
			c.stats.coalesced.Add(1)
		}
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]byte), nil
	case <-slow:
		return nil, errSlow
	case <-ctx.Done():
		return nil, ctxError(ctx)
	}
}

// ctxError maps the caller's context error the way package daqbuf does: a passed deadline is a
// timeout, a cancellation stays one.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &daqbuf.UpstreamError{Kind: daqbuf.ErrTimeout, Message: "request deadline exceeded"}
	}
	return fmt.Errorf("cache: %w", ctx.Err())
}

// fetchShared coordinates with other instances through the store's lock, then fetches, stores and
// returns the chunk's value.
func (c *Curves) fetchShared(ctx context.Context, j chunkJob) ([]byte, error) {
	owned, v, err := c.coordinate(ctx, j)
	if err != nil {
		return nil, err
	}
	if v != nil {
		c.stats.coalesced.Add(1)
		return v, nil
	}
	if owned {
		stop := c.renewLock(lockKeyPrefix + j.key)
		defer func() {
			stop()
			if err := c.store.Unlock(context.WithoutCancel(ctx), lockKeyPrefix+j.key); err != nil {
				c.storeFailed("unlock", err)
			}
		}()
	}

	sem := c.semFor(j.backend)
	if err := sem.Acquire(ctx, 1); err != nil {
		return nil, ctxError(ctx)
	}
	c.stats.upstream.Add(1)
	c.stats.inFlight.Add(1)
	f, err := j.fetch(ctx, j.chunk)
	c.stats.inFlight.Add(-1)
	sem.Release(1)
	if err != nil {
		return nil, err
	}

	d := decideStore(f.outcome, j.chunk, c.cfg.Now().UnixNano(),
		storeTTLs{Final: c.cfg.FinalTTL, Tail: c.cfg.TailTTL, Stale: c.cfg.StaleTTL, Recheck: c.cfg.RecheckTTL})
	val, err := f.encode(d.Header)
	if err != nil {
		return nil, err
	}
	c.stats.upstreamBytes.Add(uint64(len(val)))
	switch {
	case !d.Store || len(val) > c.cfg.MaxEntryBytes:
		c.stats.notStored.Add(1)
	default:
		if err := c.store.Set(ctx, j.key, val, d.TTL); err != nil {
			c.storeFailed("write chunk", err)
		}
	}
	return val, nil
}

// coordinate takes the chunk's cross-instance lock. It returns owned when this instance holds it
// and must fetch; a fresh value when another instance (or an earlier holder) stored one meanwhile;
// neither when the store is unavailable or the lock outlived FetchTimeout + LockTTL, in which case this
// instance fetches without the lock.
func (c *Curves) coordinate(ctx context.Context, j chunkJob) (owned bool, val []byte, err error) {
	lock := lockKeyPrefix + j.key
	// A live holder renews its lock for as long as its fetch may take; a dead one's lock expires
	// after LockTTL and is then taken here. So waiting this long only bounds a store that misbehaves.
	deadline := time.Now().Add(c.cfg.FetchTimeout + c.cfg.LockTTL)
	for {
		got, err := c.store.Lock(ctx, lock, c.cfg.LockTTL)
		if err != nil {
			c.storeFailed("lock", err)
			return false, nil, nil
		}
		// Read after locking: the previous holder may have stored the value just before it
		// unlocked, or the current holder may be done.
		vals, err := c.store.GetMany(ctx, []string{j.key})
		if err != nil {
			c.storeFailed("read chunk", err)
			return got, nil, nil
		}
		if classify(vals[0], j.kind, c.cfg.Now().UnixNano(), j.chunk.Need) == chunkFresh {
			if got {
				if err := c.store.Unlock(ctx, lock); err != nil {
					c.storeFailed("unlock", err)
				}
			}
			return false, vals[0], nil
		}
		if got {
			return true, nil, nil
		}
		if time.Now().After(deadline) {
			return false, nil, nil
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, nil, ctxError(ctx)
		}
	}
}

func (c *Curves) storeFailed(op string, err error) {
	c.stats.storeErrors.Add(1)
	c.log.Debug("curve cache: store unavailable, treated as a miss", "op", op, "err", err)
}

// fetchBins asks data-api for the bins of one chunk with the request's width. The carried value
// from before the chunk makes these bins identical to the same bins of a longer request.
func (c *Curves) fetchBins(ctx context.Context, q daqbuf.BinnedQuery, w int64, ch chunk) (fetched, error) {
	st, err := c.client.Binned(ctx, daqbuf.BinnedQuery{
		Channel: q.Channel, Range: ch.Fetch, BinWidth: time.Duration(w), Mode: q.Mode,
	})
	if err != nil {
		return fetched{}, err
	}
	batches, err := drain(st)
	if err != nil {
		return fetched{}, err
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
	// Plain JSON answers 204 also when data-api ran out of time before finding anything
	// (docs/daqbuf.md §6.2): such an empty answer is not proof of an empty chunk.
	// An empty answer is never stored: a stream cut before its first frame looks exactly like a
	// range without data (docs/daqbuf.md §6.2), and asking again for nothing is cheap.
	complete := acc.Len() > 0 && !st.TimedOut()
	// Only bins reaching the end of what was asked prove the stream was not cut short.
	reachesEnd := acc.Len() > 0 && acc.Ts2[acc.Len()-1] >= ch.Fetch.End
	return fetched{
		outcome: fetchOutcome{Complete: complete, Unverified: !reachesEnd},
		encode:  func(h chunkHeader) ([]byte, error) { return encodeBins(h, acc) },
	}, nil
}

// fetchEvents asks data-api for the events of one chunk. Only rangeFinal makes it complete; the
// open tail (a chunk cut at now) is storable for a short while without it.
func (c *Curves) fetchEvents(ctx context.Context, q daqbuf.EventsQuery, ch chunk) (fetched, error) {
	st, err := c.client.Events(ctx, daqbuf.EventsQuery{
		Channel: q.Channel, Range: ch.Fetch, Mode: q.Mode, ValueType: q.ValueType,
	})
	if err != nil {
		return fetched{}, err
	}
	batches, err := drain(st)
	if err != nil {
		return fetched{}, err
	}
	o := fetchOutcome{
		Complete: st.RangeFinal(),
		OpenTail: ch.Fetch.End < ch.Span.End && !st.TimedOut(),
	}
	return fetched{
		outcome: o,
		encode:  func(h chunkHeader) ([]byte, error) { return encodeEvents(h, batches) },
	}, nil
}

// renewLock keeps a held fetch lock alive while the fetch runs (it may take up to FetchTimeout, longer
// than LockTTL), so that other instances keep waiting for this fetch instead of starting their own
// against a slow data-api. A holder that dies stops renewing, and the lock expires after LockTTL.
// The returned function stops the renewal and waits for it; Close stops it too (through the fetch that
// holds the lock, and the lifetime context it renews under).
func (c *Curves) renewLock(key string) (stop func()) {
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
				if held, err := c.store.Extend(ctx, key, c.cfg.LockTTL); err != nil || !held {
					return
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
