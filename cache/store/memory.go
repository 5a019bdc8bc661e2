package store

import (
	"container/list"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// memEntryOverhead is what one entry costs besides its key and value, counted so that many tiny values
// cannot exceed MaxBytes by much: the memItem (72 bytes, an 80-byte allocation), its list.Element (48),
// and a map slot (string key and pointer, 24 bytes, at up to half occupancy after a growth: 48).
const memEntryOverhead = 176

// memSize is what an entry costs: its key and value as the allocator holds them (rounded up to its
// size classes; the value's whole capacity) and memEntryOverhead.
func memSize(key string, val []byte) int64 {
	return int64(allocSize(len(key))+allocSize(cap(val))) + memEntryOverhead
}

// memSlack is how much spare capacity a value may carry before Set keeps a tight copy instead: a value
// cut from a larger buffer would otherwise hold the whole buffer while being counted by its length.
func memSlack(n int) int { return n/8 + 64 }

// MemoryConfig configures a Memory store. Zero values are defaults.
type MemoryConfig struct {
	// MaxBytes bounds keys + values (as allocated) + a fixed per-entry overhead; the least recently used
	// values are evicted beyond it, and a single value larger than it is not stored. Default 256 MiB.
	MaxBytes int64
	// Now is the clock for TTLs. Default time.Now.
	Now func() time.Time
}

// Memory is the in-process Store: bounded by bytes, least recently used evicted first, with TTLs.
// It is safe for concurrent use and does no I/O, so it never returns ErrUnavailable.
type Memory struct {
	maxBytes int64
	now      func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element // of *memItem
	lru   list.List                // front = most recently used
	bytes int64
	locks map[string]time.Time // lock name → expiry
}

type memItem struct {
	key     string
	val     []byte
	expires time.Time
	size    int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Memory{maxBytes: cfg.MaxBytes, now: cfg.Now, items: map[string]*list.Element{}, locks: map[string]time.Time{}}
}

// GetMany returns the live values of keys (nil for misses). The slices are shared with the store
// and must not be modified.
func (m *Memory) GetMany(_ context.Context, keys []string) ([][]byte, error) {
	now := m.now()
	out := make([][]byte, len(keys))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range keys {
		el, ok := m.items[k]
		if !ok {
			continue
		}
		it := el.Value.(*memItem)
		if !now.Before(it.expires) {
			m.remove(el)
			continue
		}
		m.lru.MoveToFront(el)
		out[i] = it.val
	}
	return out, nil
}

// Set stores a copy-free reference to val: callers must not modify val afterwards.
func (m *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set(now, key, val, ttl)
	return nil
}

// SetMany stores entries like Set.
func (m *Memory) SetMany(_ context.Context, entries []Entry) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		m.set(now, e.Key, e.Val, e.TTL)
	}
	return nil
}

func (m *Memory) set(now time.Time, key string, val []byte, ttl time.Duration) {
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	if ttl <= 0 {
		return
	}
	if cap(val)-len(val) > memSlack(len(val)) {
		val = slices.Clone(val)
	}
	size := memSize(key, val)
	if size > m.maxBytes {
		return
	}
	it := &memItem{key: key, val: val, expires: now.Add(ttl), size: size}
	m.items[key] = m.lru.PushFront(it)
	m.bytes += size
	for m.bytes > m.maxBytes {
		m.remove(m.lru.Back())
	}
}

func (m *Memory) remove(el *list.Element) {
	it := m.lru.Remove(el).(*memItem)
	delete(m.items, it.key)
	m.bytes -= it.size
}

// Lock takes the lock unless it is held and not expired.
func (m *Memory) Lock(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.locks[key]; ok && now.Before(exp) {
		return false, nil
	}
	m.locks[key] = now.Add(ttl)
	return true, nil
}

// Extend renews a lock that is still held (one process: whoever took it).
func (m *Memory) Extend(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.locks[key]; !ok || !now.Before(exp) {
		return false, nil
	}
	m.locks[key] = now.Add(ttl)
	return true, nil
}

// Unlock releases the lock.
func (m *Memory) Unlock(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.locks, key)
	return nil
}

// DeletePrefix deletes the values whose key starts with prefix.
func (m *Memory) DeletePrefix(_ context.Context, prefix string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, el := range m.items {
		if strings.HasPrefix(k, prefix) {
			m.remove(el)
			n++
		}
	}
	return n, nil
}

// Stats reports the values held (locks not included) and their exact accounted size.
func (m *Memory) Stats(_ context.Context) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Entries: int64(len(m.items)), Bytes: m.bytes}, nil
}
