// Package daqbuf is a typed, streaming client for data-api v4 ("daqbuf"), the archive's HTTP API
// (docs/daqbuf.md).
//
// It owns: backend list, channel search and config; raw events and binned data decoded incrementally
// from the framed modes (application/cbor-framed, application/json-framed) with plain JSON as a
// fallback; exact integer nanosecond timestamps and pulse ids; typed errors; and the bin-grid maths
// of docs/daqbuf.md §7 that the cache plans its chunks with.
//
// Files by responsibility: client.go (Config, Client, one request with its deadlines), httperr.go
// (status codes and error bodies → typed errors), meta.go (backends, search, channel config,
// version), query.go (queries, modes, date and width formats), stream.go (EventStream with
// continuation, BinStream), decode*.go (frame envelopes → batches), frames.go (the three framings),
// values*.go (values arrays → typed columns), timestamps.go, grid.go.
//
// Decisions worth knowing:
//   - A 204 answer to Events or Binned is an empty stream, not an error (NoContent reports it);
//     data-api also answers 204 when it ran out of time, so it never counts as RangeFinal.
//   - A body that ends inside a frame, an in-band {"error"} frame and an {"ERROR":true} frame are
//     errors wrapping ErrUpstream; only a body that ends between frames is a clean end.
//   - Values arrays are scanned by this package (after encoding/json or fxamacker/cbor checked the
//     frame) so integers stay exact up to 2^64-1, nulls become NaN and waveforms are flattened
//     without a per-element allocation.
//   - Every request sent is counted by endpoint (Client.RequestCounts, whatever its outcome, continuations
//     included): the whole upstream load the process causes, for /metrics and load tests.
//
// It must not import cache, stream, dashboards, server or configs, and knows nothing of HTTP serving.
package daqbuf
