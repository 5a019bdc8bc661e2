package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/databoard/databoard/daqbuf"
)

// recentSize is how many recently requested channels /channels/recent returns.
const recentSize = 10

// ChannelListConfig configures a ChannelList. Zero values are defaults.
type ChannelListConfig struct {
	// RefreshInterval is how often the whole list is fetched again. Default 1 h.
	RefreshInterval time.Duration
	// RetryInterval is the first wait after a failed load; it doubles up to RefreshInterval. Default 5 s.
	RetryInterval time.Duration
	// Logger receives refresh results. Default: discard.
	Logger *slog.Logger
}

// ChannelList is the in-process channel directory: the full list of all backends, loaded at start and
// refreshed in the background, searched with RE2, extended by channels that live searches find.
type ChannelList struct {
	client *daqbuf.Client
	cfg    ChannelListConfig

	mu       sync.RWMutex
	gen      uint64
	list     []daqbuf.Channel
	byName   map[nameKey]int
	bySeries map[seriesKey]int
	recent   []daqbuf.Channel
	touched  bool // a curve was requested: recent no longer mirrors the list's tail

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type nameKey struct{ backend, name string }
type seriesKey struct {
	backend string
	id      uint64
}

// NewChannelList returns an empty list; Start loads it.
func NewChannelList(client *daqbuf.Client, cfg ChannelListConfig) *ChannelList {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = time.Hour
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &ChannelList{client: client, cfg: cfg, byName: map[nameKey]int{}, bySeries: map[seriesKey]int{}}
}

// Start loads the list in the background and keeps refreshing it until Close. Searches work before
// the first load completes (live ones reach data-api; cached ones find nothing yet).
func (l *ChannelList) Start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.refreshLoop(ctx)
	}()
}

// Close stops the refresh loop and waits for it.
func (l *ChannelList) Close() {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
}

func (l *ChannelList) refreshLoop(ctx context.Context) {
	wait := time.Duration(0)
	retry := l.cfg.RetryInterval
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := l.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			l.cfg.Logger.Warn("channel list refresh failed", slog.String("error", err.Error()), slog.Duration("retry_in", retry))
			wait = retry
			retry = min(2*retry, l.cfg.RefreshInterval)
			continue
		}
		wait, retry = l.cfg.RefreshInterval, l.cfg.RetryInterval
	}
}

// Refresh fetches the full list of every backend and replaces the held one; channels that live searches
// added and that data-api still lists are kept by the replacement itself.
func (l *ChannelList) Refresh(ctx context.Context) error {
	start := time.Now()
	chs, err := l.client.Search(ctx, daqbuf.SearchQuery{Regex: ".*"})
	if err != nil {
		return fmt.Errorf("channel list: %w", err)
	}
	sort.SliceStable(chs, func(i, j int) bool {
		if chs[i].Backend != chs[j].Backend {
			return chs[i].Backend < chs[j].Backend
		}
		return chs[i].Name < chs[j].Name
	})
	l.mu.Lock()
	l.list = chs
	l.reindexLocked()
	l.gen++
	if !l.touched {
		l.recent = tail(chs, recentSize)
	}
	l.mu.Unlock()
	l.cfg.Logger.Info("channel list loaded", slog.Int("channels", len(chs)), slog.Duration("took", time.Since(start)))
	return nil
}

func tail(chs []daqbuf.Channel, n int) []daqbuf.Channel {
	if len(chs) > n {
		chs = chs[len(chs)-n:]
	}
	return append([]daqbuf.Channel(nil), chs...)
}

func (l *ChannelList) reindexLocked() {
	l.byName = make(map[nameKey]int, len(l.list))
	l.bySeries = make(map[seriesKey]int, len(l.list))
	for i, ch := range l.list {
		k := nameKey{ch.Backend, ch.Name}
		if _, dup := l.byName[k]; !dup {
			l.byName[k] = i
		}
		if ch.SeriesID != 0 {
			l.bySeries[seriesKey{ch.Backend, ch.SeriesID}] = i
		}
	}
}

// All returns the list and its generation. The slice must not be modified.
func (l *ChannelList) All() (uint64, []daqbuf.Channel) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.gen, l.list
}

// ErrBadPattern wraps an invalid search regex.
var ErrBadPattern = errors.New("cache: invalid search pattern")

// Search matches the RE2 pattern case-insensitively and unanchored against channel names (backend ""
// means all), from the list, or from data-api when live is set or the list has no match (the old
// backend's rule). Channels data-api finds that the list lacks are added to it. When the live search
// fails, the list's matches are served instead, if there are any.
func (l *ChannelList) Search(ctx context.Context, pattern, backend string, live bool) ([]daqbuf.Channel, error) {
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPattern, err)
	}
	var cached []daqbuf.Channel
	if !live {
		if cached = l.match(re, backend); len(cached) > 0 {
			return cached, nil
		}
	}
	found, err := l.client.Search(ctx, daqbuf.SearchQuery{Regex: pattern, Backend: backend, ICase: true})
	if err != nil {
		if live {
			cached = l.match(re, backend)
		}
		if len(cached) > 0 {
			l.cfg.Logger.Warn("live channel search failed, answering from the list", slog.String("error", err.Error()))
			return cached, nil
		}
		return nil, err
	}
	l.add(found)
	return found, nil
}

func (l *ChannelList) match(re *regexp.Regexp, backend string) []daqbuf.Channel {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []daqbuf.Channel
	for i := range l.list {
		ch := &l.list[i]
		if backend != "" && ch.Backend != backend {
			continue
		}
		if re.MatchString(ch.Name) {
			out = append(out, *ch)
		}
	}
	return out
}

// add merges channels the list does not have yet.
func (l *ChannelList) add(chs []daqbuf.Channel) {
	l.mu.Lock()
	defer l.mu.Unlock()
	added := false
	for _, ch := range chs {
		if i, ok := l.byName[nameKey{ch.Backend, ch.Name}]; ok && l.list[i].SeriesID == ch.SeriesID {
			continue
		}
		// Copy on write: readers may hold the old slice (All).
		if !added {
			l.list = append(make([]daqbuf.Channel, 0, len(l.list)+len(chs)), l.list...)
			added = true
		}
		l.list = append(l.list, ch)
		k := nameKey{ch.Backend, ch.Name}
		if _, dup := l.byName[k]; !dup {
			l.byName[k] = len(l.list) - 1
		}
		if ch.SeriesID != 0 {
			l.bySeries[seriesKey{ch.Backend, ch.SeriesID}] = len(l.list) - 1
		}
	}
	if added {
		l.gen++
	}
}

// Lookup finds a channel by exact name, asking data-api (and remembering the answer) when the list
// does not have it.
func (l *ChannelList) Lookup(ctx context.Context, backend, name string) (daqbuf.Channel, bool, error) {
	l.mu.RLock()
	i, ok := l.byName[nameKey{backend, name}]
	var ch daqbuf.Channel
	if ok {
		ch = l.list[i]
	}
	l.mu.RUnlock()
	if ok {
		return ch, true, nil
	}
	live, err := l.client.Search(ctx, daqbuf.SearchQuery{Regex: "^" + regexp.QuoteMeta(name) + "$", Backend: backend})
	if err != nil {
		return daqbuf.Channel{}, false, err
	}
	for _, c := range live {
		if c.Backend == backend && c.Name == name {
			l.add([]daqbuf.Channel{c})
			return c, true, nil
		}
	}
	return daqbuf.Channel{}, false, nil
}

// LookupSeries finds a channel by series id in the list.
func (l *ChannelList) LookupSeries(backend string, id uint64) (daqbuf.Channel, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i, ok := l.bySeries[seriesKey{backend, id}]
	if !ok {
		return daqbuf.Channel{}, false
	}
	return l.list[i], true
}

// Requested puts ch at the front of the recent list.
func (l *ChannelList) Requested(ch daqbuf.Channel) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.touched {
		l.recent, l.touched = nil, true
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

// Recent returns up to 10 channels, most recently requested first.
func (l *ChannelList) Recent() []daqbuf.Channel {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]daqbuf.Channel(nil), l.recent...)
}
