// Command databoard-load is a small HTTP load generator used to measure databoard for BENCHMARKS.md.
//
// It sends requests from -c concurrent workers, rotating over the given URLs, until -n requests have completed or
// -d has elapsed, and prints requests, errors by kind, throughput, bytes/s, latency percentiles and the machine it
// ran on. Without -rate it runs closed-loop (each worker sends its next request as soon as the previous one has
// finished); with -rate it runs open-loop on a fixed schedule (request i is due at start + i/rate) and measures each
// latency from the scheduled send time, so a stalled server is charged for the requests it delayed (no coordinated
// omission).
//
// Examples:
//
//	databoard-load -url http://127.0.0.1:8080/dashboard/demo -c 16 -d 10s -warmup 2s
//	databoard-load -url 'http://127.0.0.1:8080/channels/search?search_text=sine' -c 16 -n 100000 -json
//	databoard-load -urls-file curves.txt -rate 1000 -d 30s -header 'Accept: application/json'
//
// Usage:
//
//	databoard-load (-url URL ... | -urls-file FILE) [-method GET] [-body-file FILE] [-header 'K: V' ...]
//	               [-c 16] [-n N | -d 10s] [-rate 0] [-warmup 0] [-timeout 10s] [-expect 200] [-json]
//	               [-allow-remote]
//
// Latency is recorded in a log-linear histogram (256 sub-buckets per power of two): values below 512 ns are exact,
// larger ones are reported as the upper edge of their bucket, at most 0.4% above the true value; min and max are
// exact. Only requests that got the -expect status contribute to latency; every other outcome is an error counted by
// kind: status (a response with another status), timeout (-timeout exceeded, body included) and transport
// (connection refused or reset, malformed response, ...). Bytes are response body bytes as received: compression is
// not requested, so add -header 'Accept-Encoding: gzip' to measure a compressed path. Redirects are not followed.
//
// Safety: unless -allow-remote is given, only loopback targets are accepted (127.0.0.0/8, ::1, localhost), checked
// on the URL and again on every dialled address. Every run is bounded: at most 10 000 000 requests and at most
// 10 minutes of measurement (plus -warmup, also at most 10 minutes), whichever of -n and -d is given.
//
// The command uses the standard library only and imports nothing from this module.
package main
