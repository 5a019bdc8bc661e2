package catalogue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
)

// recentSize is how many recently requested channels /channels/recent returns.
const recentSize = 10

// Config configures a List. Zero values are defaults.
type Config struct {
	// RefreshInterval is how often the whole list is fetched again from data-api (by one instance
	// when Store is shared). Default 1 h.
	RefreshInterval time.Duration
	// RetryInterval is the first wait after a failed load; it doubles up to RefreshInterval. Default 5 s.
	RetryInterval time.Duration
	// Store, when set, holds the full list, the channels live searches added and the live-search
	// cache for every instance using it (Redis): one instance fetches the list from data-api under a
	// lease, the others load it from the store. Default nil: everything stays in process.
	Store store.Store
	// PollInterval is how often an instance checks the store for a newer list or new additions
	// (one small read). Only with Store. Default 10 s.
	PollInterval time.Duration
	// SearchTTL is how long a live data-api search answer is reused (the frontend repeats `^name$`
	// searches for every plot of every dashboard load). Default 30 s; negative: not cached (every
	// live search reaches data-api; concurrent identical ones still share one call).
	SearchTTL time.Duration
	// MaxAdditions bounds the channels live searches add to the shared list between two refreshes
	// (beyond it they are kept in process only). Default 10 000.
	MaxAdditions int
	// Logger receives refresh results. Default: discard.
	Logger *slog.Logger
}

// List is the channel directory: the full list of all backends, loaded at start and
// refreshed in the background, searched with RE2 (through a literal prefilter, match.go),
// extended by channels that live searches find. With a shared Store the list lives there and is
// fetched from data-api by one instance at a time (shared.go). The recent list is per
// instance.
type List struct {
	client *daqbuf.Client
	cfg    Config
	shared store.Store   // cfg.Store; nil: in process only
	local  *store.Memory // live-search answers of this instance (in front of shared)
	flight singleflight.Group

	cat atomic.Pointer[catalog]

	// mu serialises changes of cat and of the sync state below; it may be held across a store
	// round trip, never across a data-api call.
	mu       sync.Mutex
	gen      uint64
	seenList string // id of the stored list last loaded or written
	seenAdd  string // id of the stored additions last loaded or written

	// refreshMu serialises whole-list work (the background tick, Refresh, FlushList).
	refreshMu sync.Mutex
	retryAt   time.Time
	retry     time.Duration

	recentMu sync.Mutex
	recent   []daqbuf.Channel
	touched  bool // a curve was requested: recent no longer mirrors the list's tail

	stats channelCounters

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// catalog is one immutable state of the list: replaced, never modified.
type catalog struct {
	gen   uint64
	base  *channelIndex // the full list as data-api listed it
	extra *channelIndex // channels live searches found that base lacks (small)
	// listID identifies base in the shared store ("" when it was never stored).
	listID    string
	fetchedAt time.Time
	fetchTook time.Duration

	allOnce sync.Once
	all     []daqbuf.Channel
}

// bytes approximates the memory c holds: both indexes, and the merged list All makes when there
// are additions.
func (c *catalog) bytes() int64 {
	n := c.base.bytes() + c.extra.bytes()
	if c.extra.len() > 0 {
		n += int64(c.base.len()+c.extra.len()) * int64(unsafe.Sizeof(daqbuf.Channel{}))
	}
	return n
}

func (c *catalog) channels() []daqbuf.Channel {
	if c.extra.len() == 0 {
		if c.base == nil {
			return nil
		}
		return c.base.list
	}
	c.allOnce.Do(func() {
		c.all = make([]daqbuf.Channel, 0, c.base.len()+c.extra.len())
		if c.base != nil {
			c.all = append(c.all, c.base.list...)
		}
		c.all = append(c.all, c.extra.list...)
	})
	return c.all
}

// Stats describes the list for /metrics.
type Stats struct {
	Channels   int    // channels held, additions included
	Bytes      int64  // approximate memory the held list and its index take
	Additions  int    // of which found by live searches since the last refresh
	Generation uint64 // changes whenever the held list does
	// LastRefresh is when the held list was fetched from data-api (by whichever instance), and
	// RefreshTook how long that took; zero before the first load.
	LastRefresh time.Time
	RefreshTook time.Duration
	Refreshes   uint64 // full-list fetches from data-api by this instance
	StoreLoads  uint64 // full lists this instance loaded from the shared store
	// LiveSearches counts data-api searches made by this instance (Lookup misses included);
	// SearchCacheHits counts live searches answered from the search cache instead.
	LiveSearches    uint64
	SearchCacheHits uint64
	// StoreErrors counts shared-store calls that failed (each one was treated as a miss).
	StoreErrors uint64
	Shared      bool // a shared store is configured
}

type channelCounters struct {
	refreshes, storeLoads, liveSearches, searchHits, storeErrors atomic.Uint64
}

// New returns an empty list; Start (or Refresh) loads it. It does no I/O.
func New(client *daqbuf.Client, cfg Config) *List {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = time.Hour
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 5 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 10 * time.Second
	}
	if cfg.SearchTTL == 0 {
		cfg.SearchTTL = 30 * time.Second
	}
	if cfg.MaxAdditions <= 0 {
		cfg.MaxAdditions = 10_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &List{
		client: client, cfg: cfg, shared: cfg.Store,
		local: store.NewMemory(store.MemoryConfig{MaxBytes: 16 << 20}),
		retry: cfg.RetryInterval,
	}
	l.cat.Store(&catalog{})
	return l
}

// Start loads the list in the background (from the shared store when it holds one, else from
// data-api) and keeps it current until Close. Searches work before the first load completes (live
// ones reach data-api; cached ones find nothing yet).
func (l *List) Start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			timer.Reset(l.tick(ctx))
		}
	}()
}

// Close stops the background work and waits for it.
func (l *List) Close() {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
}

// Refresh fetches the full list of every backend from data-api now and replaces the held one (and,
// with a shared store, the stored one). Channels that live searches added are dropped: the new list
// has those data-api still lists.
func (l *List) Refresh(ctx context.Context) error {
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	if l.shared != nil {
		// Keep the other instances' loops from fetching too; whether we got the lease or not,
		// an explicit refresh goes ahead.
		if _, err := l.shared.Lock(ctx, leaseKey, l.cfg.RefreshInterval); err != nil {
			l.storeFailed("refresh lease", err)
		}
	}
	return l.fetchAndInstall(ctx)
}

// fetchAndInstall is the data-api fetch of the whole list; refreshMu is held.
func (l *List) fetchAndInstall(ctx context.Context) error {
	start := time.Now()
	chs, err := l.client.Search(ctx, daqbuf.SearchQuery{Regex: ".*"})
	if err != nil {
		return fmt.Errorf("channel list: %w", err)
	}
	took := time.Since(start)
	l.stats.refreshes.Add(1)
	internFields(chs)
	sort.SliceStable(chs, func(i, j int) bool {
		if chs[i].Backend != chs[j].Backend {
			return chs[i].Backend < chs[j].Backend
		}
		return chs[i].Name < chs[j].Name
	})
	set := channelSet{ID: newStoreID(start), FetchedAt: start, FetchTook: took, Channels: chs}
	base := newChannelIndex(chs)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.installLocked(&catalog{base: base, listID: set.ID, fetchedAt: start, fetchTook: took})
	if l.shared != nil {
		l.publishListLocked(ctx, set)
	}
	l.cfg.Logger.Info("channel list fetched from data-api", slog.Int("channels", len(chs)),
		slog.Duration("took", took))
	return nil
}

// internFields makes channels share one copy of each backend, source, type and unit string (a
// catalogue repeats a handful of each): hundreds of thousands fewer objects for the GC to mark.
func internFields(chs []daqbuf.Channel) {
	seen := map[string]string{}
	intern := func(s *string) {
		if v, ok := seen[*s]; ok {
			*s = v
		} else {
			seen[*s] = *s
		}
	}
	for i := range chs {
		ch := &chs[i]
		intern(&ch.Backend)
		intern(&ch.Source)
		intern(&ch.Type)
		intern(&ch.Unit)
	}
}

// installLocked makes c the current catalog with a new generation; mu is held.
func (l *List) installLocked(c *catalog) {
	l.gen++
	c.gen = l.gen
	l.cat.Store(c)
}

// All returns the list and its generation. The slice must not be modified.
func (l *List) All() (uint64, []daqbuf.Channel) {
	c := l.cat.Load()
	return c.gen, c.channels()
}

// ErrBadPattern wraps an invalid search regex.
var ErrBadPattern = errors.New("cache: invalid search pattern")

// Search matches the RE2 pattern case-insensitively and unanchored against channel names (backend ""
// means all), from the list, or from data-api when live is set or the list has no match (the old
// backend's rule). Live answers are cached for SearchTTL; channels they hold that the list lacks are
// added to it. When the live search fails, the list's matches are served instead, if there are any.
func (l *List) Search(ctx context.Context, pattern, backend string, live bool) (Matches, error) {
	m, err := compileMatcher(pattern)
	if err != nil {
		return Matches{}, fmt.Errorf("%w: %v", ErrBadPattern, err)
	}
	var cached Matches
	if !live {
		if cached = l.match(m, backend); cached.Len() > 0 {
			return cached, nil
		}
	}
	found, err := l.liveSearch(ctx, pattern, backend)
	if err != nil {
		if live {
			cached = l.match(m, backend)
		}
		if cached.Len() > 0 {
			l.cfg.Logger.Warn("live channel search failed, answering from the list", slog.String("error", err.Error()))
			return cached, nil
		}
		return Matches{}, err
	}
	return sliceMatches(found), nil
}

// match searches the held list.
func (l *List) match(m *nameMatcher, backend string) Matches {
	c := l.cat.Load()
	var base, extra matchPart
	if c.base != nil {
		base = c.base.search(m, backend)
	}
	if c.extra != nil {
		extra = c.extra.search(m, backend)
		extra.at += c.base.len()
	}
	return listMatches(c.gen, base, extra)
}

// Lookup finds a channel by exact name, asking data-api (through the live-search cache) when the
// list does not have it.
func (l *List) Lookup(ctx context.Context, backend, name string) (daqbuf.Channel, bool, error) {
	c := l.cat.Load()
	if ch, ok := c.base.lookup(backend, name); ok {
		return ch, true, nil
	}
	if ch, ok := c.extra.lookup(backend, name); ok {
		return ch, true, nil
	}
	found, err := l.liveSearch(ctx, "^"+regexp.QuoteMeta(name)+"$", backend)
	if err != nil {
		return daqbuf.Channel{}, false, err
	}
	for _, ch := range found {
		if ch.Backend == backend && ch.Name == name {
			return ch, true, nil
		}
	}
	return daqbuf.Channel{}, false, nil
}

// LookupSeries finds a channel by series id in the list.
func (l *List) LookupSeries(backend string, id uint64) (daqbuf.Channel, bool) {
	c := l.cat.Load()
	if ch, ok := c.base.lookupSeries(backend, id); ok {
		return ch, true
	}
	return c.extra.lookupSeries(backend, id)
}

// Requested puts ch at the front of the recent list; as in the old backend, the list's startup entries
// stay behind the requested channels until pushed out. The recent list is per instance.
func (l *List) Requested(ch daqbuf.Channel) {
	l.recentMu.Lock()
	defer l.recentMu.Unlock()
	if !l.touched {
		l.recent, l.touched = l.listTail(), true
	}
	out := make([]daqbuf.Channel, 0, recentSize)
	out = append(out, ch)
	for _, r := range l.recent {
		if len(out) == recentSize {
			break
		}
		if r.Backend == ch.Backend && r.Name == ch.Name && r.SeriesID == ch.SeriesID {
			continue
		}
		out = append(out, r)
	}
	l.recent = out
}

// Recent returns up to 10 channels, most recently requested first; before any request, the last
// 10 of the list.
func (l *List) Recent() []daqbuf.Channel {
	l.recentMu.Lock()
	defer l.recentMu.Unlock()
	if l.touched {
		return append([]daqbuf.Channel(nil), l.recent...)
	}
	return l.listTail()
}

// listTail is a copy of the last recentSize channels of the list (most recent first would be
// meaningless here: the old backend showed the list's last entries).
func (l *List) listTail() []daqbuf.Channel {
	var all []daqbuf.Channel
	if c := l.cat.Load(); c.base != nil {
		all = c.base.list
	}
	if len(all) > recentSize {
		all = all[len(all)-recentSize:]
	}
	return append([]daqbuf.Channel(nil), all...)
}

// Stats reports the list's state and counters.
func (l *List) Stats() Stats {
	c := l.cat.Load()
	return Stats{
		Channels:        c.base.len() + c.extra.len(),
		Bytes:           c.bytes(),
		Additions:       c.extra.len(),
		Generation:      c.gen,
		LastRefresh:     c.fetchedAt,
		RefreshTook:     c.fetchTook,
		Refreshes:       l.stats.refreshes.Load(),
		StoreLoads:      l.stats.storeLoads.Load(),
		LiveSearches:    l.stats.liveSearches.Load(),
		SearchCacheHits: l.stats.searchHits.Load(),
		StoreErrors:     l.stats.storeErrors.Load(),
		Shared:          l.shared != nil,
	}
}
