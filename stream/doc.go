// Package stream will hold live subscriptions (docs/ARCHITECTURE.md, "Live streaming"): the hub, one poller per
// (backend, series, mode, width) in the whole deployment, fan-out of incremental updates over WebSocket,
// the slow-consumer policy and cross-instance coordination through Redis.
//
// Not built yet; nothing imports it. It must not import dashboards or server.
package stream
