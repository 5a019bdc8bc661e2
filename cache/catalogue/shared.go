package catalogue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
)

// Keys of the channel list in the store (relative: the store adds its own namespace). The layout
// version is part of the key and the first byte of every value. FlushList deletes channelsKeyPrefix.
//
//	channels:v1:list           the full list (channelSet: 1.8 MB for 100 000 generated channels)
//	channels:v1:list-id        the list's id: what instances poll to notice a new list
//	channels:v1:additions      channels live searches found since the list was fetched
//	channels:v1:additions-id   changes with every write of the additions
//	channels:v1:lease          held by the instance that fetches from data-api, for RefreshInterval
//	channels:v1:search:…       live-search answers, for SearchTTL
const (
	channelsKeyPrefix = "channels:"
	listKey           = "channels:v1:list"
	listIDKey         = "channels:v1:list-id"
	addKey            = "channels:v1:additions"
	addIDKey          = "channels:v1:additions-id"
	leaseKey          = "channels:v1:lease"
	searchKeyPrefix   = "channels:v1:search:"
)

// tick is one round of the background loop: notice a newer stored list, and fetch from data-api
// when the held list is due (under the lease when the store is shared). It returns the wait until
// the next round.
func (l *List) tick(ctx context.Context) time.Duration {
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	storeOK := false
	if l.shared != nil {
		storeOK = l.sync(ctx)
	}
	now := time.Now()
	if l.due(now) && !now.Before(l.retryAt) {
		fetch, leased := true, false
		if storeOK {
			// Another instance holding the lease is fetching, or fetched less than RefreshInterval
			// ago; its list will show up in sync. A store that fails here is treated as absent.
			got, err := l.shared.Lock(ctx, leaseKey, l.cfg.RefreshInterval)
			if err != nil {
				l.storeFailed("refresh lease", err)
			} else {
				fetch, leased = got, got
			}
		}
		if fetch {
			if err := l.fetchAndInstall(ctx); err != nil {
				if ctx.Err() != nil {
					return time.Hour // stopping
				}
				if leased {
					// Let another instance try before our backoff ends.
					if err := l.shared.Unlock(ctx, leaseKey); err != nil {
						l.storeFailed("refresh unlock", err)
					}
				}
				l.cfg.Logger.Warn("channel list refresh failed", slog.String("error", err.Error()),
					slog.Duration("retry_in", l.retry))
				l.retryAt = now.Add(l.retry)
				l.retry = min(2*l.retry, l.cfg.RefreshInterval)
			} else {
				l.retryAt, l.retry = time.Time{}, l.cfg.RetryInterval
			}
		}
	}

	now = time.Now()
	var wait time.Duration
	switch {
	case !l.due(now):
		wait = l.cat.Load().fetchedAt.Add(l.cfg.RefreshInterval).Sub(now)
	case l.retryAt.After(now):
		wait = l.retryAt.Sub(now)
	default:
		// Due, but another instance holds the lease: its list will show up in a poll.
		wait = l.cfg.PollInterval
	}
	if l.shared != nil {
		wait = min(wait, l.cfg.PollInterval)
	}
	return max(wait, time.Millisecond)
}

// due reports whether the held list should be fetched again.
func (l *List) due(now time.Time) bool {
	c := l.cat.Load()
	return c.base == nil || !now.Before(c.fetchedAt.Add(l.cfg.RefreshInterval))
}

// sync loads the stored list or additions when their ids differ from the ones held (one small
// round trip when nothing changed). It reports whether the store answered.
func (l *List) sync(ctx context.Context) bool {
	vals, err := l.shared.GetMany(ctx, []string{listIDKey, addIDKey})
	if err != nil {
		l.storeFailed("channel list poll", err)
		return false
	}
	listID, addID := string(vals[0]), string(vals[1])
	l.mu.Lock()
	seenList, seenAdd := l.seenList, l.seenAdd
	l.mu.Unlock()
	switch {
	case listID != "" && listID != seenList:
		return l.loadList(ctx, listID)
	case addID != "" && addID != seenAdd:
		return l.loadAdditions(ctx, addID)
	}
	return true
}

// loadList replaces the held list with the stored one (and its additions).
func (l *List) loadList(ctx context.Context, listID string) bool {
	start := time.Now()
	vals, err := l.shared.GetMany(ctx, []string{listKey, addKey, addIDKey})
	if err != nil {
		l.storeFailed("channel list load", err)
		return false
	}
	if vals[0] == nil {
		return true // expired or flushed since the id was read: the next poll sees
	}
	set, err := decodeChannelSet(vals[0])
	if err != nil {
		// Do not download it again on every poll; a refresh will overwrite it.
		l.cfg.Logger.Warn("stored channel list unreadable", slog.String("error", err.Error()))
		l.mu.Lock()
		l.seenList = listID
		l.mu.Unlock()
		return true
	}
	base := newChannelIndex(set.Channels)
	var adds []daqbuf.Channel
	if vals[1] != nil {
		if a, err := decodeChannelSet(vals[1]); err == nil && a.ID == set.ID {
			adds = a.Channels
		}
	}
	l.stats.storeLoads.Add(1)

	l.mu.Lock()
	defer l.mu.Unlock()
	c := &catalog{base: base, listID: set.ID, fetchedAt: set.FetchedAt, fetchTook: set.FetchTook}
	c.extra = mergeExtras(base, nil, adds)
	l.installLocked(c)
	l.seenList, l.seenAdd = set.ID, string(vals[2])
	l.cfg.Logger.Info("channel list loaded from the store", slog.Int("channels", len(set.Channels)),
		slog.Int("bytes", len(vals[0])), slog.Duration("took", time.Since(start)))
	return true
}

// loadAdditions merges the stored additions into the held list.
func (l *List) loadAdditions(ctx context.Context, addID string) bool {
	vals, err := l.shared.GetMany(ctx, []string{addKey})
	if err != nil {
		l.storeFailed("channel additions load", err)
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seenAdd = addID
	if vals[0] == nil {
		return true
	}
	a, err := decodeChannelSet(vals[0])
	c := l.cat.Load()
	if err != nil || a.ID != c.listID {
		return true // unreadable, or additions to another list
	}
	if extra := mergeExtras(c.base, c.extra, a.Channels); extra != c.extra {
		l.installLocked(c.withExtra(extra))
	}
	return true
}

// publishListLocked writes a freshly fetched list, its id and empty additions; mu is held.
func (l *List) publishListLocked(ctx context.Context, set channelSet) {
	ttl := l.listTTL()
	addID := newStoreID(time.Now())
	err := l.shared.SetMany(ctx, []store.Entry{
		// The list before its id: a reader that sees the id finds the list.
		{Key: listKey, Val: encodeChannelSet(set), TTL: ttl},
		{Key: listIDKey, Val: []byte(set.ID), TTL: ttl},
		{Key: addKey, Val: encodeChannelSet(channelSet{ID: set.ID}), TTL: ttl},
		{Key: addIDKey, Val: []byte(addID), TTL: ttl},
	})
	if err != nil {
		l.storeFailed("channel list store", err)
		return
	}
	l.seenList, l.seenAdd = set.ID, addID
}

// publishAdditionsLocked adds fresh to the stored additions of the held list; mu is held. It is a
// read-modify-write without a lock: two instances adding at once may lose one side's channels,
// which only costs a later live search.
func (l *List) publishAdditionsLocked(ctx context.Context, fresh []daqbuf.Channel) {
	c := l.cat.Load()
	if c.listID == "" {
		return // the held list was never stored (store down at fetch): nothing to extend
	}
	vals, err := l.shared.GetMany(ctx, []string{addKey})
	if err != nil {
		l.storeFailed("channel additions read", err)
		return
	}
	var stored []daqbuf.Channel
	if vals[0] != nil {
		if a, err := decodeChannelSet(vals[0]); err == nil && a.ID == c.listID {
			stored = a.Channels
		}
	}
	merged := appendNew(stored, fresh)
	if len(merged) == len(stored) || len(merged) > l.cfg.MaxAdditions {
		return
	}
	addID := newStoreID(time.Now())
	ttl := l.listTTL()
	err = l.shared.SetMany(ctx, []store.Entry{
		{Key: addKey, Val: encodeChannelSet(channelSet{ID: c.listID, Channels: merged}), TTL: ttl},
		{Key: addIDKey, Val: []byte(addID), TTL: ttl},
	})
	if err != nil {
		l.storeFailed("channel additions store", err)
		return
	}
	l.seenAdd = addID
	// What other instances added before us is now ours too (we skip their additions-id).
	if extra := mergeExtras(c.base, c.extra, stored); extra != c.extra {
		l.installLocked(c.withExtra(extra))
	}
}

// listTTL keeps a stored list well beyond its refresh, so that a fleet whose refreshing instance
// died still starts from it.
func (l *List) listTTL() time.Duration {
	return max(4*l.cfg.RefreshInterval, time.Hour)
}

// storeFailed counts a failed shared-store call; callers go on as after a miss.
func (l *List) storeFailed(op string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	l.stats.storeErrors.Add(1)
	l.cfg.Logger.Debug("channel list: store call failed", slog.String("op", op), slog.String("error", err.Error()))
}

// withExtra is c with other additions and a new generation to be assigned by installLocked.
func (c *catalog) withExtra(extra *channelIndex) *catalog {
	return &catalog{base: c.base, extra: extra, listID: c.listID, fetchedAt: c.fetchedAt, fetchTook: c.fetchTook}
}

// mergeExtras returns extra extended by the channels of adds that neither base nor extra hold, or
// extra itself when there are none.
func mergeExtras(base, extra *channelIndex, adds []daqbuf.Channel) *channelIndex {
	var have []daqbuf.Channel
	if extra != nil {
		have = extra.list
	}
	out := have
	seen := map[channelIdentity]bool{}
	for i := range adds {
		ch := &adds[i]
		id := channelIdentity{ch.Backend, ch.Name, ch.SeriesID}
		if seen[id] || base.has(ch) || extra.has(ch) {
			continue
		}
		seen[id] = true
		if len(out) == len(have) {
			out = append(make([]daqbuf.Channel, 0, len(have)+len(adds)-i), have...)
		}
		out = append(out, *ch)
	}
	if len(out) == len(have) {
		return extra
	}
	// Sorted like the list, so that names are found by binary search.
	slices.SortStableFunc(out, compareChannels)
	return newChannelIndex(out)
}

// channelIdentity is what makes two search rows the same channel (data-api's own deduplication).
type channelIdentity struct {
	backend, name string
	series        uint64
}

// appendNew appends the channels of add that list lacks.
func appendNew(list, add []daqbuf.Channel) []daqbuf.Channel {
	seen := make(map[channelIdentity]bool, len(list)+len(add))
	for i := range list {
		seen[channelIdentity{list[i].Backend, list[i].Name, list[i].SeriesID}] = true
	}
	out := list
	for i := range add {
		id := channelIdentity{add[i].Backend, add[i].Name, add[i].SeriesID}
		if seen[id] {
			continue
		}
		seen[id] = true
		if len(out) == len(list) {
			out = append(make([]daqbuf.Channel, 0, len(list)+len(add)), list...)
		}
		out = append(out, add[i])
	}
	return out
}

// newStoreID returns a fresh id: the time (for people reading the store) and random bits.
func newStoreID(t time.Time) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return strconv.FormatInt(t.UnixNano(), 36) + "-" + hex.EncodeToString(b)
}
