// Package cache holds what databoard keeps so that data-api is asked as little as possible.
//
//   - Store: bytes under versioned, namespaced keys, with two implementations: Redis (shared by every
//     instance; short deadlines and a circuit breaker, so Redis trouble degrades to misses) and Memory
//     (in process, bounded by bytes).
//   - Curves: the chunked curve cache. Binned requests are planned on data-api's own bin grid and cut into
//     epoch-aligned chunks of BinsPerChunk bins; raw events into epoch-aligned time chunks. Chunks are read
//     in one round trip, only the missing ones fetched (in parallel, bounded per backend, coalesced in
//     process and across instances), final ones kept for days, the open tail for seconds; answers are
//     identical to uncached ones, and stale copies are served (flagged) when data-api fails.
//   - ChannelList: the channel list of all backends, shared through the Store and refreshed by one
//     instance at a time, with a fast case-insensitive search and a short cache of live searches.
//   - Admin: statistics and flushes for the maintenance routes. Direct: the uncached curve source.
//
// Planning is pure functions (chunk_plan.go) with table and fuzz tests; the I/O shell is curves*.go.
// It must not import server, dashboards or stream; it reaches data-api only through package daqbuf.
package cache
