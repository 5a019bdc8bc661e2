package cache

import (
	"context"
	"errors"
)

// Admin is the operators' view of the caches, behind the maintenance routes: statistics, and flushes
// that empty exactly what they say (the next request refills it).
type Admin struct {
	curves   *Curves
	channels *ChannelList
	store    Store
	answers  Store // may be nil
}

// NewAdmin combines the caches of one instance. answers, when not nil, holds whole encoded answers
// derived from the curve cache; every flush empties it.
func NewAdmin(curves *Curves, channels *ChannelList, store, answers Store) *Admin {
	return &Admin{curves: curves, channels: channels, store: store, answers: answers}
}

// dropAnswers empties the answer store: its entries are derived from whatever a flush removes.
func (a *Admin) dropAnswers(ctx context.Context) error {
	if a.answers == nil {
		return nil
	}
	_, err := a.answers.DeletePrefix(ctx, "")
	return err
}

// AdminStats is what GET /maintenance/cache answers.
type AdminStats struct {
	Curves   CurveStats
	Channels ChannelListStats
	// Store is the whole store's size; with Redis it is counted by SCAN (approximate, and not free:
	// the maintenance route only).
	Store      StoreStats
	StoreError string `json:",omitempty"`
	// UpstreamCallsSaved counts data-api requests this instance did not make: chunks served from the
	// cache, chunk loads answered by another caller's fetch, and live searches answered from the
	// search cache.
	UpstreamCallsSaved uint64
}

// Stats gathers the counters of this instance and the store's size.
func (a *Admin) Stats(ctx context.Context) AdminStats {
	st := AdminStats{Curves: a.curves.Stats(), Channels: a.channels.Stats()}
	var err error
	if st.Store, err = a.store.Stats(ctx); err != nil {
		st.StoreError = err.Error()
	}
	st.UpstreamCallsSaved = st.Curves.ChunkHits + st.Curves.CoalescedWaiters + st.Channels.SearchCacheHits
	return st
}

// CurveStats are the curve cache's counters (cheap: no store call).
func (a *Admin) CurveStats() CurveStats { return a.curves.Stats() }

// ChannelStats are the channel list's counters (cheap: no store call).
func (a *Admin) ChannelStats() ChannelListStats { return a.channels.Stats() }

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
