package main

import (
	"net/http"
	"net/http/pprof"
)

// debugHandler serves the Go runtime's profiles (DEBUG_LISTEN_ADDR): /debug/pprof/ and its named
// profiles (heap, goroutine, allocs, ...), a CPU profile, a trace. Only on that separate address,
// never on the main port: profiles show the process's internals and a CPU profile costs CPU.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and every named profile under it
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
