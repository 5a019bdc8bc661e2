// Package cache holds what databoard keeps so that data-api is asked as little as possible. Each job
// lives in a sub-package of its own:
//
//   - cache/store: the byte stores. Store is bytes under namespaced keys with a time to live, plus
//     the locks the other packages coordinate with; Redis (shared by every instance; short deadlines
//     and a circuit breaker, so Redis trouble degrades to misses) and Memory (in process, bounded by
//     bytes) implement it.
//   - cache/curves: the chunked curve cache (Curves) and the uncached curve source (Direct), both
//     curve.Source.
//   - cache/catalogue: the channel catalogue (List): the channel list of all backends, its search
//     index, the cache of live searches, and the shared copy refreshed by one instance at a time.
//   - cache/redistest: the test helper that connects tests to the suite's Redis.
//
// This package itself holds only what spans them: Admin, the operators' view behind the maintenance
// routes (statistics of all caches, flushes, and the shared flush epoch that tells every instance to
// drop the answers it keeps).
//
// It must not import server, dashboards or stream; it reaches data-api only through package daqbuf.
package cache
