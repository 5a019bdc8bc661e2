package store

import (
	"context"
	"sync/atomic"
	"time"
)

// TieredConfig configures a Tiered store. Zero values are defaults.
type TieredConfig struct {
	// MaxBytes bounds the in-process copy (least recently used values go first). Default 64 MiB.
	MaxBytes int64
	// ReadTTL is how long a value read from the shared store is kept in process (its remaining
	// lifetime there is unknown). Default 1 h.
	ReadTTL time.Duration
	// Now is the in-process copy's clock. Default time.Now.
	Now func() time.Time
}

// Tiered is a shared store (Redis) with a bounded in-process copy of the values this instance wrote
// or read recently (hot curve chunks, the channel list). The shared store stays the source of truth:
// reads go to it, and the copy answers only while it is unavailable, so instances stay consistent and
// a dead Redis does not hand every request to data-api. Writes go to both; DeletePrefix empties both.
// Another instance's flush reaches the copy through DropLocal (the flush epoch, cache.Admin). Locks
// are the shared store's alone.
type Tiered struct {
	far     Store
	near    *Memory
	readTTL time.Duration

	fallbacks atomic.Uint64
}

var _ Store = (*Tiered)(nil)

// NewTiered puts a bounded in-process copy in front of far.
func NewTiered(far Store, cfg TieredConfig) *Tiered {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.ReadTTL <= 0 {
		cfg.ReadTTL = time.Hour
	}
	return &Tiered{far: far, near: NewMemory(MemoryConfig{MaxBytes: cfg.MaxBytes, Now: cfg.Now}), readTTL: cfg.ReadTTL}
}

// Fallbacks counts reads answered from the in-process copy because the shared store was unavailable.
func (t *Tiered) Fallbacks() uint64 { return t.fallbacks.Load() }

// LocalStats is the size of the in-process copy (Stats is the shared store's).
func (t *Tiered) LocalStats() Stats {
	st, _ := t.near.Stats(context.Background())
	return st
}

// DropLocal empties the in-process copy (another instance flushed the shared store).
func (t *Tiered) DropLocal(ctx context.Context) {
	_, _ = t.near.DeletePrefix(ctx, "")
}

// GetMany reads the shared store and keeps what it found in process; when the shared store fails, the
// in-process copy answers (its misses are misses), and the error is returned only if it has nothing.
func (t *Tiered) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	vals, err := t.far.GetMany(ctx, keys)
	if err == nil {
		var entries []Entry
		for i, v := range vals {
			if v != nil {
				entries = append(entries, Entry{Key: keys[i], Val: v, TTL: t.readTTL})
			}
		}
		_ = t.near.SetMany(ctx, entries)
		return vals, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	near, _ := t.near.GetMany(ctx, keys)
	for _, v := range near {
		if v != nil {
			t.fallbacks.Add(1)
			return near, nil
		}
	}
	return nil, err
}

// Set stores in process and in the shared store; the shared store's error is returned.
func (t *Tiered) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	_ = t.near.Set(ctx, key, val, ttl)
	return t.far.Set(ctx, key, val, ttl)
}

// SetMany stores in process and in the shared store; the shared store's error is returned.
func (t *Tiered) SetMany(ctx context.Context, entries []Entry) error {
	_ = t.near.SetMany(ctx, entries)
	return t.far.SetMany(ctx, entries)
}

// Lock is the shared store's.
func (t *Tiered) Lock(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return t.far.Lock(ctx, key, ttl)
}

// Unlock is the shared store's.
func (t *Tiered) Unlock(ctx context.Context, key string) error { return t.far.Unlock(ctx, key) }

// Extend is the shared store's.
func (t *Tiered) Extend(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return t.far.Extend(ctx, key, ttl)
}

// DeletePrefix deletes in process and in the shared store, and returns the shared store's count.
func (t *Tiered) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	_, _ = t.near.DeletePrefix(ctx, prefix)
	return t.far.DeletePrefix(ctx, prefix)
}

// Stats are the shared store's.
func (t *Tiered) Stats(ctx context.Context) (Stats, error) { return t.far.Stats(ctx) }
