// Package curves is the chunked curve cache: the curve.Source that answers binned and raw requests
// from a store.Store, asking data-api only for what is missing or out of date.
//
//   - Curves: binned requests are planned on data-api's own bin grid and cut into epoch-aligned
//     chunks of BinsPerChunk bins, raw events into epoch-aligned time chunks. Chunks are read in one
//     round trip, only the missing ones fetched (in parallel, bounded per backend, coalesced in
//     process and across instances through the store's locks), final ones kept for days, the open
//     tail for seconds; answers are identical to uncached ones, and stale copies are served
//     (flagged) when data-api fails. BinFragments serves binned chunks as pieces of the answer already
//     encoded (curve.Fragment), kept in an in-process cache beside the exact chunk value each was
//     made from (fragments.go) when the chunk was asked for before, so a cache hit is mostly copying;
//     a window whose chunks are all final and were found unchanged in the store within FragmentTrust
//     is written from the kept fragments without reading the store (trust.go).
//   - Direct: the uncached curve source, every request to data-api.
//
// The range algebra is pure functions (chunk_plan.go) with table and fuzz tests; chunk_codec.go and
// chunk_keys.go are the stored values and their keys; the I/O shell is curves.go and fetch.go.
//
// It owns the curve chunks' keys ("curve:", "lock:curve:") in the store and nothing else there (the
// fragment cache is its own store.Memory, under the same chunk keys). It
// must not import the other cache packages (except store), server, dashboards or stream; it reaches
// data-api only through package daqbuf.
package curves
