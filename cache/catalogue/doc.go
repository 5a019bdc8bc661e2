// Package catalogue is the channel catalogue: the channel list of all backends, held in process
// with a fast case-insensitive search (index.go, match.go, dfa.go) whose answers are read in place
// (matches.go), extended by what live data-api searches find (live.go), and, with a shared
// store.Store, kept there and refreshed from data-api by one instance at a time under a lease
// (shared.go, codec.go).
//
// It owns the "channels:" keys in the store (the list, the additions, the lease, live searches) and
// nothing else there. It must not import the other cache packages (except store), server, dashboards
// or stream; it reaches data-api only through package daqbuf.
package catalogue
