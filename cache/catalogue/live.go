package catalogue

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

// liveSearchTimeout bounds one shared data-api search, which runs detached from the callers that
// wait for it (one caller leaving must not fail the others).
const liveSearchTimeout = time.Minute

// searchKey names the cached answer of a live search. Searches are always case-insensitive; the
// flag is in the key so that a case-sensitive kind can be added without clashing. The backend is
// length-prefixed so that no backend/pattern pair can spell another.
func searchKey(backend, pattern string) string {
	return searchKeyPrefix + strconv.Itoa(len(backend)) + ":" + backend + ":i:" + pattern
}

// liveSearch asks data-api for pattern (case-insensitive) in backend, unless the answer is cached
// (in this process, then in the shared store). Concurrent identical searches of this instance make
// one data-api call. Found channels the list lacks are added to it (and to the shared additions).
// The result must not be modified.
func (l *List) liveSearch(ctx context.Context, pattern, backend string) ([]daqbuf.Channel, error) {
	key := searchKey(backend, pattern)
	if chs, ok := l.cachedSearch(ctx, key); ok {
		return chs, nil
	}
	res := l.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), liveSearchTimeout)
		defer cancel()
		// A search that finished just before this one started has stored its answer.
		if chs, ok := l.cachedSearch(fctx, key); ok {
			return chs, nil
		}
		l.stats.liveSearches.Add(1)
		chs, err := l.client.Search(fctx, daqbuf.SearchQuery{Regex: pattern, Backend: backend, ICase: true})
		if err != nil {
			return nil, err
		}
		l.storeSearch(fctx, key, chs)
		l.add(fctx, chs)
		return chs, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-res:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]daqbuf.Channel), nil
	}
}

// cachedSearch returns a cached live-search answer.
func (l *List) cachedSearch(ctx context.Context, key string) ([]daqbuf.Channel, bool) {
	if l.cfg.SearchTTL < 0 {
		return nil, false
	}
	keys := []string{key}
	vals, _ := l.local.GetMany(ctx, keys) // Memory never fails
	if vals[0] == nil && l.shared != nil {
		var err error
		if vals, err = l.shared.GetMany(ctx, keys); err != nil {
			l.storeFailed("search cache read", err)
			return nil, false
		}
	}
	if vals[0] == nil {
		return nil, false
	}
	set, err := decodeChannelSet(vals[0])
	if err != nil {
		return nil, false
	}
	l.stats.searchHits.Add(1)
	return set.Channels, true
}

// storeSearch caches a live-search answer here and in the shared store. Other instances' local
// copies are not written: they read the shared one, so FlushSearches reaches them at once.
func (l *List) storeSearch(ctx context.Context, key string, chs []daqbuf.Channel) {
	if l.cfg.SearchTTL < 0 {
		return
	}
	val := encodeChannelSet(channelSet{Channels: chs})
	_ = l.local.Set(ctx, key, val, l.cfg.SearchTTL)
	if l.shared != nil {
		if err := l.shared.Set(ctx, key, val, l.cfg.SearchTTL); err != nil {
			l.storeFailed("search cache write", err)
		}
	}
}

// add merges channels the list does not have yet, here and in the shared additions.
func (l *List) add(ctx context.Context, chs []daqbuf.Channel) {
	if !l.cat.Load().lacksAny(chs) {
		return // the common case, decided without the lock
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.cat.Load()
	extra := mergeExtras(c.base, c.extra, chs)
	if extra == c.extra {
		return
	}
	l.installLocked(c.withExtra(extra))
	if l.shared != nil {
		l.publishAdditionsLocked(ctx, extra.list[c.extra.len():])
	}
}

// FlushSearches drops every cached live-search answer (shared ones included) and returns how many
// there were (in the shared store when there is one). Other instances' local copies of answers they
// fetched themselves live on for at most SearchTTL.
func (l *List) FlushSearches(ctx context.Context) (int, error) {
	n, _ := l.local.DeletePrefix(ctx, searchKeyPrefix)
	if l.shared == nil {
		return n, nil
	}
	m, err := l.shared.DeletePrefix(ctx, searchKeyPrefix)
	if err != nil {
		l.storeFailed("search cache flush", err)
		return m, err
	}
	return m, nil
}

// FlushList drops the stored list, the additions and the search cache (here and in the shared
// store), then fetches the list from data-api again. The list held in process keeps answering until
// the new one is installed, and stays when the fetch fails (the refresh lease is then released, so
// the next refresh, here or on another instance, retries at once). A failing store does not stop
// the refetch; its error is returned with the fetch's.
func (l *List) FlushList(ctx context.Context) error {
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	var storeErr error
	if l.shared != nil {
		if _, err := l.shared.DeletePrefix(ctx, channelsKeyPrefix); err != nil {
			l.storeFailed("channel list flush", err)
			storeErr = err
		}
	}
	_, _ = l.local.DeletePrefix(ctx, searchKeyPrefix)
	l.mu.Lock()
	l.seenList, l.seenAdd = "", ""
	l.mu.Unlock()
	leased := false
	if l.shared != nil && storeErr == nil {
		var err error
		if leased, err = l.shared.Lock(ctx, leaseKey, l.cfg.RefreshInterval); err != nil {
			l.storeFailed("refresh lease", err)
		}
	}
	err := l.fetchAndInstall(ctx)
	if err == nil {
		l.retryAt, l.retry = time.Time{}, l.cfg.RetryInterval
	} else if leased {
		if uerr := l.shared.Unlock(context.WithoutCancel(ctx), leaseKey); uerr != nil {
			l.storeFailed("refresh lease release", uerr)
		}
	}
	return errors.Join(storeErr, err)
}

// lacksAny reports whether some of chs is in neither the list nor its additions.
func (c *catalog) lacksAny(chs []daqbuf.Channel) bool {
	for i := range chs {
		if !c.base.has(&chs[i]) && !c.extra.has(&chs[i]) {
			return true
		}
	}
	return false
}
