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
//	databoard-load mix -url http://HOST:PORT ...            (see "Mix mode" below)
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
//   - with -updates (the server's /debug/stream/updates, served on its DEBUG_LISTEN_ADDR): "poll result ready →
//     decoded" itself, from the time the server lists for each update (epoch, offset) to each decode of it;
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
// # Mix mode
//
// "databoard-load mix" replays what people with the Data Board frontend open do (docs/api.md, "How the web
// frontend uses the API"), to see a realistic load's throughput, latency, errors and upstream (data-api) requests:
//
//	databoard-load mix -url http://127.0.0.1:8080 -sim http://127.0.0.1:8091 -users 200 -dashboards 20 -d 4m
//
// Setup (not measured): it looks up -channels channels of the catalogue (-channel-format, by default the
// simulator's SIM-GEN:CH000000..., so run daqbuf-sim with -catalogue at least -channels) with a ^name$ search
// each, and creates -dashboards dashboards (POST /dashboard/) as the frontend saves them (schema-valid: plots
// with their channels, curve attributes, y axes, layout), each with -plots plots of -per-plot channels drawn
// from those. Then -users users start at random times within -ramp; user i is live when ⌊(i+1)·live⌋ grows, so
// exactly ⌊users·live⌋ are. A user:
//
//   - opens a random dashboard as a page load does: GET /dashboard/{id}, GET /channels/recent and /health, then
//     for every plot and channel, together, a ^name$ search (allow_cached_response=false, the backend) and the
//     curve of the relative -window ending now, by name (the search is still running, as in the frontend);
//     num_bins is the user's screen width (window.innerWidth: 1280 to 2560), raw when sparse, empty bins
//     removed;
//   - on auto-apply (the users that are not live): every -refresh (60.6 s, the frontend's real "1min" period)
//     asks the whole window of every plot and channel again, with one "now", by the seriesId each plot's search
//     found;
//   - live: opens one /stream connection and subscribes to every plot and channel (the same window, bins and
//     flags), reading and counting every message;
//   - every ~-pan-every (exponential think time) pans or zooms every plot to an absolute window of 10 minutes
//     to a day within the past week (distinct curves; a live user unsubscribes first), and goes back to the
//     relative window after ~-pan-stay (the curves again; a live user subscribes again); auto-apply sends
//     nothing while on an absolute window, as in the frontend;
//   - every ~-save-every saves after resizing a plot: PATCH /dashboard/{id}, or with probability -save-new a
//     POST /dashboard/ whose dashboard the user then has open;
//   - every ~-switch-every opens another dashboard; every -health polls /health.
//
// A user's actions run one after another, and one action's requests run together, at most -browser-conns (6)
// at once, as a browser over HTTP/1.1. The users share one connection pool; answers are asked for gzipped, as a
// browser does, and bytes are counted after decompression. All choices come from -seed: dashboards, users,
// windows and think times, so a rerun sends the same mix (times and server answers aside).
//
// After -warmup from the first user's start (with -warmup 0, before it) it measures for -d, then stops new
// requests and waits for those in flight. It prints, per kind of request (dashboard, recent, search,
// curve-open, curve-refresh, curve-pan, save-update, save-new, health, subscribe): requests sent inside the
// measurement, errors by kind (status, transport, timeout, body: a success status whose body is not what the
// route promises) with the statuses and the first few error texts, requests per second, latency p50/p90/p99/max
// of the good answers, and X-Cache of the curves; subscribe is the time from a subscribe to its first snapshot.
// Then the stream messages by type, the user-minutes measured, and the data-api requests made meanwhile:
//
//   - databoard's own count, databoard_daqbuf_requests_total{endpoint} on -metrics (default -url + /metrics): every
//     request its data-api client sent, curves, searches and the channel list alike;
//   - with -sim, what the simulator received (daqbuf-sim's /sim/requests), the same figure seen from data-api;
//   - the old backend's figure for the same requests, computed from its contract and not measured: one data-api
//     request per curve request and per ^name$ search, plus one auto-apply curve per -refresh for every live
//     subscription (the old frontend has no stream). It is a lower bound: with raw-when-sparse the old backend
//     asked data-api a second time, for raw events, whenever the bins held fewer events than bins.
//
// Each is also given per user-minute. With -pid it adds the server's CPU time and RSS, and its own. Bounds: at
// most 20 000 users, 10 000 dashboards, 10 minutes of measurement; loopback only unless -allow-remote. Exit
// status 3: the setup failed (a channel not found, a dashboard refused), nothing was measured.
//
// The HTTP mode uses the standard library only; the stream and mix modes add github.com/coder/websocket. None
// imports anything from this module.
package main
