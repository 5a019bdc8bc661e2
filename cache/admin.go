package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/databoard/databoard/cache/catalogue"
	"github.com/databoard/databoard/cache/curves"
	"github.com/databoard/databoard/cache/store"
)

// Admin is the operators' view of the caches, behind the maintenance routes: statistics, and flushes
// that empty exactly what they say (the next request refills it).
type Admin struct {
	curves   *curves.Curves
	channels *catalogue.List
	store    store.Store
	answers  store.Store // may be nil

	tiers []*store.Tiered // in-process copies of the shared store, dropped with the answers

	answerHits atomic.Uint64
	seenEpoch  string // the flush epoch this instance's answers belong to (watch goroutine only)
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// flushEpochKey names the shared value every flush changes, so that each instance drops the answers
// it keeps in process when another instance flushed.
const flushEpochKey = "answers:epoch"

// flushWatchInterval is how often an instance looks at the flush epoch: kept answers survive a flush
// made on another instance at most this long.
const flushWatchInterval = 2 * time.Second

// NewAdmin combines the caches of one instance. answers, when not nil, holds whole encoded answers
// derived from the curve cache; every flush empties it.
func NewAdmin(curves *curves.Curves, channels *catalogue.List, st, answers store.Store) *Admin {
	return &Admin{curves: curves, channels: channels, store: st, answers: answers}
}

// DropOnFlush makes every flush, here or on another instance (the flush epoch), also empty t's
// in-process copy, which otherwise could serve flushed values while Redis is unavailable. Call it
// before Start.
func (a *Admin) DropOnFlush(t *store.Tiered) { a.tiers = append(a.tiers, t) }

// dropAnswers empties this instance's answer store (its entries are derived from whatever a flush
// removes) and tells the other instances to empty theirs.
func (a *Admin) dropAnswers(ctx context.Context) error {
	if a.answers == nil && len(a.tiers) == 0 {
		return nil
	}
	var err error
	if a.answers != nil {
		_, err = a.answers.DeletePrefix(ctx, "")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return errors.Join(err, a.store.Set(ctx, flushEpochKey, []byte(hex.EncodeToString(b)), 30*24*time.Hour))
}

// Start watches the shared flush epoch in the background, dropping this instance's kept answers, its
// in-process copy of the store and its vouches for kept fragments (curves.Curves.DropTrusted) when
// another instance flushed. Without an answer store it does nothing.
func (a *Admin) Start(ctx context.Context) {
	if a.answers == nil && len(a.tiers) == 0 {
		return
	}
	ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(flushWatchInterval)
		defer t.Stop()
		for {
			a.checkFlushEpoch(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Close stops the watch and waits for it.
func (a *Admin) Close() {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
}

// checkFlushEpoch drops the kept answers when the shared flush epoch changed since the last look.
func (a *Admin) checkFlushEpoch(ctx context.Context) {
	vals, err := a.store.GetMany(ctx, []string{flushEpochKey})
	if err != nil || len(vals) == 0 {
		return // store unavailable: keep what we have; answers of settled windows do not go stale
	}
	epoch := string(vals[0])
	if epoch != a.seenEpoch {
		if a.seenEpoch != "" || epoch != "" {
			if a.answers != nil {
				_, _ = a.answers.DeletePrefix(ctx, "")
			}
			for _, t := range a.tiers {
				t.DropLocal(ctx)
			}
			a.curves.DropTrusted() // the kept fragments this instance used without reading the store
		}
		a.seenEpoch = epoch
	}
}

// NoteAnswerHit counts an answer served from the answer store (the server calls it).
func (a *Admin) NoteAnswerHit() { a.answerHits.Add(1) }

// AnswerHits counts answers served from the answer store.
func (a *Admin) AnswerHits() uint64 { return a.answerHits.Load() }

// AdminStats is what GET /maintenance/cache answers.
type AdminStats struct {
	Curves   curves.Stats
	Channels catalogue.Stats
	// Store is the whole store's size; with Redis it is counted by SCAN (approximate, and not free:
	// the maintenance route only).
	Store      store.Stats
	StoreError string `json:",omitempty"`
	// AnswerHits counts curve answers served whole from the answer store (not in Curves.Hits).
	AnswerHits uint64
	// UpstreamCallsSaved counts data-api requests this instance did not make: chunks served from the
	// cache, chunk loads answered by another caller's fetch, and live searches answered from the
	// search cache.
	UpstreamCallsSaved uint64
}

// Stats gathers the counters of this instance and the store's size.
func (a *Admin) Stats(ctx context.Context) AdminStats {
	st := AdminStats{Curves: a.curves.Stats(), Channels: a.channels.Stats(), AnswerHits: a.AnswerHits()}
	var err error
	if st.Store, err = a.store.Stats(ctx); err != nil {
		st.StoreError = err.Error()
	}
	st.UpstreamCallsSaved = st.Curves.ChunkHits + st.Curves.CoalescedWaiters + st.Channels.SearchCacheHits
	return st
}

// CurveStats are the curve cache's counters (cheap: no store call).
func (a *Admin) CurveStats() curves.Stats { return a.curves.Stats() }

// ChannelStats are the channel list's counters (cheap: no store call).
func (a *Admin) ChannelStats() catalogue.Stats { return a.channels.Stats() }

// FlushAll empties the curve cache, the search cache and the channel list (which is then reloaded).
// It returns how many curve entries it deleted.
func (a *Admin) FlushAll(ctx context.Context) (int, error) {
	n, err := a.curves.FlushAll(ctx)
	return n, errors.Join(err, a.dropAnswers(ctx), a.channels.FlushList(ctx))
}

// FlushChannelList drops the channel list and the search cache, and reloads the list from data-api.
func (a *Admin) FlushChannelList(ctx context.Context) error {
	return errors.Join(a.dropAnswers(ctx), a.channels.FlushList(ctx))
}

// FlushCurves deletes one channel's cached curves, addressed by name and/or series id.
func (a *Admin) FlushCurves(ctx context.Context, backend, name string, seriesID uint64) (int, error) {
	n, err := a.curves.FlushChannel(ctx, backend, name, seriesID)
	return n, errors.Join(err, a.dropAnswers(ctx))
}
