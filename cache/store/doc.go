// Package store holds the byte stores the caches keep their values in.
//
// Store keeps opaque byte values under relative keys with a time to live, and named locks with an
// owner (Lock, Extend, Unlock) that instances coordinate through. Redis is the store shared by every
// instance: every call has a short deadline and goes through a circuit breaker (breaker.go), and any
// failure is returned as ErrUnavailable, so that callers treat Redis trouble as a miss and never fail
// the request the cache was meant to speed up. Memory is the in-process store, bounded by bytes.
//
// It knows nothing of what the values mean: it must not import daqbuf, the other cache packages,
// server, dashboards or stream.
package store
