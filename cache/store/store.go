package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the byte stores. Callers treat both as a miss: a cache that cannot answer
// must never fail the request it was meant to speed up.
var (
	// ErrUnavailable: the store did not answer in time, failed, or its circuit breaker is open.
	ErrUnavailable = errors.New("cache: store unavailable")
	// ErrSlow accompanies ErrUnavailable when the store did not answer within its deadline: it is
	// slow (or the host is busy), not absent. A caller coordinating through the store may try again
	// instead of going on without it.
	ErrSlow = errors.New("cache: store slow")
	// ErrMiss: the key holds no value (used by single-key helpers; GetMany reports misses as nil).
	ErrMiss = errors.New("cache: miss")
)

// Store keeps opaque byte values under string keys, with a time to live. Keys are relative: each
// implementation puts them under its own namespace. Redis (shared by every instance) and Memory (in
// process) implement it.
type Store interface {
	// GetMany reads keys in one round trip; a nil entry is a miss.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)
	// Set stores val under key for ttl (> 0).
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// SetMany stores entries in one round trip.
	SetMany(ctx context.Context, entries []Entry) error
	// Lock takes the named lock for ttl unless someone holds it (SET NX PX); true when taken.
	Lock(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Unlock releases a lock this store instance took; a lock taken by another instance is left alone.
	Unlock(ctx context.Context, key string) error
	// Extend renews a lock this store instance holds for another ttl; false when it no longer holds it.
	Extend(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// DeletePrefix deletes every value whose key starts with prefix and returns how many.
	DeletePrefix(ctx context.Context, prefix string) (int, error)
	// Stats reports the number and size of the values held.
	Stats(ctx context.Context) (Stats, error)
}

// Entry is one value for SetMany.
type Entry struct {
	Key string
	Val []byte
	TTL time.Duration
}

// Stats describes what a store holds.
type Stats struct {
	// Entries is the number of keys (values and locks).
	Entries int64
	// Bytes is the size of keys plus values, without the store's own overhead.
	Bytes int64
	// Approximate is set when the numbers come from a scan that may double-count or miss keys
	// written meanwhile (Redis), or were capped.
	Approximate bool
}
