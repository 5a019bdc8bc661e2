// Package curve is the one computation of the contract's curve (docs/api.md, "Curve"): it resolves a
// channel by name or series id, validates the window, chooses between binned data and raw events
// (num_bins, useEventsIfBinCountTooLarge), reads them from a Source (data-api directly, or the curve
// cache) and writes the `{"curve": {...}}` answer with exact ns keys and no NaN.
//
// Both the HTTP API (package server) and the live stream (package stream) compute curves here, so a
// stream snapshot is byte for byte what GET /channels/curve answers for the same window.
//
// It declares what it needs as small interfaces (Source, Directory) and imports only daqbuf: the
// cache implements Source, the channel catalogue implements Directory, and cmd wires them.
//
// Files: request.go (Request, Query and their validation), service.go (Service: resolve and fetch),
// json.go (the answer's encoder), fragment.go (the answer's maps pre-encoded per cache chunk, and the
// binned answer written from them: FetchAnswer), points.go (the answer read back as ordered points, for
// deltas).
package curve
