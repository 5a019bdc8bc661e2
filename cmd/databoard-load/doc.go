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
//	databoard-load stream -url ws://HOST:PORT/stream ...   (see "Stream mode" below)
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
// # Stream mode
//
// "databoard-load stream" loads the live stream (/stream, docs/streaming.md) instead: it dials -conns WebSockets
// (-dial at a time), sends -subs subscribes on each (subscription j of connection i is series (i*subs+j) mod
// -series, channel fmt.Sprintf(-channel-format, series), a rolling -window of -bins bins), waits until every
// subscription has had its first message, warms up for -warmup, then measures for -d. Every message is decoded in
// full. It prints messages by type and per second, and for the appends received while measuring:
//
//   - fan-out: from the message's end_time (a rolling window ends at its poll's now) to the decode: the poll plus
//     the fan-out, an upper bound of "poll result ready → decoded";
//   - spread: for each (series, offset) that reached every subscriber, the first decode to the last;
//   - freshness: from the previous end_time of the same subscription to the decode, the age of the oldest event
//     that the append is the first to carry;
//   - the size of each append frame, and the points in its value map.
//
// With -pid it reads the server's RSS (VmRSS, VmHWM) and CPU time (utime+stime) from /proc before the first dial,
// once every connection is ready, and at the end; with -metrics its Go heap (go_memstats_heap_inuse_bytes). Its own
// usage is printed too: it shares the machine with the server. Bounds: at most 20 000 connections, 100
// subscriptions each, 10 minutes of measurement; loopback only unless -allow-remote.
//
//	databoard-load stream -url ws://127.0.0.1:18080/stream -conns 1000 -subs 10 -series 100 -d 60s -pid $PID
//
// The HTTP mode uses the standard library only; the stream mode adds github.com/coder/websocket. Neither imports
// anything from this module.
package main
