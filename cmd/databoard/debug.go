package main

import (
	"bufio"
	"net/http"
	"net/http/pprof"
	"strconv"

	"github.com/databoard/databoard/stream"
)

// debugHandler serves, on DEBUG_LISTEN_ADDR only, the Go runtime's profiles (/debug/pprof/ and its
// named profiles, a CPU profile, a trace) and the stream's update times (/debug/stream/updates, from
// updates). Never on the main port: profiles show the process's internals and a CPU profile costs CPU.
func debugHandler(updates func() []stream.UpdateTime) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and every named profile under it
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/stream/updates", func(w http.ResponseWriter, r *http.Request) {
		writeUpdateTimes(w, updates())
	})
	return mux
}

// writeUpdateTimes writes one JSON object per line: {"epoch":"…","offset":"…","at_ns":…}, the epoch
// and offset as the stream's messages carry them, at_ns in Unix nanoseconds. A load client joins them
// with the messages it decoded (databoard-load stream -updates).
func writeUpdateTimes(w http.ResponseWriter, ts []stream.UpdateTime) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriter(w)
	var line []byte
	for _, u := range ts {
		line = append(line[:0], `{"epoch":`...)
		line = strconv.AppendQuote(line, u.Epoch)
		line = append(line, `,"offset":"`...)
		line = strconv.AppendInt(line, u.Offset, 10)
		line = append(line, `","at_ns":`...)
		line = strconv.AppendInt(line, u.At.UnixNano(), 10)
		line = append(line, "}\n"...)
		if _, err := bw.Write(line); err != nil {
			return // the client went away
		}
	}
	_ = bw.Flush()
}
