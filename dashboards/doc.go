// Package dashboards is the dashboard store: create, read, replace and delete dashboards in MongoDB,
// validated (JSON Schema, size), evicted least-recently-used, with whitelist/protect flags and
// export/import for operators.
//
// # Storage
//
// It keeps the old Python backend's layout so existing databases keep working: collection "dashboards",
// one document per dashboard,
//
//	{_id: "<uuid4>", dashboard: <the request body, {"dashboard": {...}}>, _size: <BSON size of the body>,
//	 last_access: <UTC datetime>, whitelisted?: bool, protected?: bool}
//
// and an index on last_access. Note that the stored "dashboard" field holds the whole DashboardDTO (the old
// backend stored the request body as is), and the HTTP answer is {"id": id} followed by the body's members.
//
// # Round trip
//
// The browser hashes a loaded dashboard and compares the hash with the one in the page URL, so a dashboard
// must come back exactly as it was sent. The package converts JSON to BSON and back itself (jsonbson.go,
// bsonjson.go) instead of going through Go maps: member order is kept, integers are stored as int32/int64
// and numbers with a fraction or exponent as doubles (as pymongo stored Python's json.loads values), and
// doubles are written back the way Python's json.dumps wrote them (2.0 stays "2.0", 19.25 stays "19.25").
//
// # Reads and last_access
//
// A read does not write. Get records the access time in memory; a background flusher writes the batch
// every Config.AccessFlushInterval as unordered bulk writes of at most 25 {$max: {last_access: t}} updates
// (FerretDB v1 keeps one cursor per statement open until the command ends and has 100 SQLite connections,
// so one bulk of 100 wedged it for good). $max is order-independent across instances and never resurrects
// a deleted dashboard. Eviction, Export and Close flush first, so eviction order is right and a clean
// shutdown loses nothing (a crash loses at most one interval of access times, which only shifts eviction
// order).
//
// # Eviction and the size counter
//
// The total of _size is kept in a counter document (collection "<Collection>_meta", see size.go) that every
// write adjusts with $inc, so a write costs O(1) whatever the collection's size; a periodic recount
// ($group/$sum, Config.SizeRecount) puts right what a crash between a write and its $inc left. When the
// counter reaches EvictionThreshold × MaxTotalBytes the store recounts exactly and, if the total really is
// there, deletes dashboards that are neither whitelisted nor protected, least recently accessed first,
// until the total is at most TargetUtilization × MaxTotalBytes.
//
// # Health
//
// Every operation runs within its caller's deadline minus a margin (ops.go), and the write lock gives up
// when that passes, so a wedged or unreachable store gives ErrUnavailable while the caller can still say
// so. Operations, the flusher and a periodic probe feed Stats (up/down, last error), which the server
// shows on /maintenance/dashboards and /metrics.
//
// # Answer cache
//
// Config.CacheBytes enables a bounded in-process cache of encoded answers. It is off by default: several
// instances share one database, and a cached answer on instance B after a replace on instance A would make
// the browser report "modified since last save". With it on, this instance's own writes invalidate at once
// and other instances' writes show within Config.CacheTTL. Turn it on for the embedded store, which only
// one process can write (there FerretDB needs about 10 ms of CPU to read a 71 KB dashboard, so uncached
// reads top out near 100/s on two cores), or when that staleness is acceptable. Against MongoDB reads are
// cheap and the cache is not needed. Concurrent reads of one id share one query either way.
//
// # MongoDB and FerretDB
//
// Only operations both MongoDB and FerretDB v1 (the embedded store) implement are used: no transactions,
// change streams, TTL indexes, $lookup, or projections on findAndModify. Writes ask for majority write
// concern; Start falls back to w:1 if the server refuses it. FerretDB v1 refuses keys containing '.' or
// starting with '$': with Config.Embedded such keys are escaped reversibly (keys.go), while MongoDB stores
// them as they are. It also refuses arrays directly inside arrays, which still fail with ErrInvalid there.
// FerretDB v1 pushes only a filter of exactly {_id: <string>} down to SQLite (any other filter decodes
// every document in Go), so with Config.Embedded writes read the flags first and then write by _id alone.
// FerretDB's own _id index is on another expression than the one its lookups compare, so the MongoDB-wire
// server (package mongowire) adds an index on that expression to every collection; with it a lookup by id
// does not grow with the collection. Against FerretDB the MongoDB code path's findAndModify (filter {_id,
// protected}) still reads and decodes documents in order until it finds the one: on MongoDB it is an
// index lookup. When MongoDB is unreachable, operations fail with ErrUnavailable within the client's
// server-selection timeout or the caller's deadline, and the store recovers by itself.
//
// The package must not import server, cache, stream, daqbuf or configs; it knows nothing of HTTP.
package dashboards
