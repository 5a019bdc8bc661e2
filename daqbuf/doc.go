// Package daqbuf is a typed, streaming client for data-api v4 ("daqbuf"), the archive's HTTP API
// (shared/reference/DAQBUF.md).
//
// It owns: backend list, channel search and config; raw events and binned data decoded incrementally
// from the framed modes (application/cbor-framed, application/json-framed) with plain JSON as a
// fallback; exact integer nanosecond timestamps and pulse ids; typed errors; and the bin-grid maths
// of DAQBUF.md §7 that the cache plans its chunks with.
//
// It must not import cache, stream, dashboards, server or configs, and knows nothing of HTTP serving.
package daqbuf
