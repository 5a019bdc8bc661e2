// Command daqbuf-sim serves the data-api v4 simulator (package daqbuf/sim) on its own, for demos and
// load tests: point a client at http://<addr>/api/4. GET http://<addr>/sim/requests answers how many data-api
// requests it has received, by path ({"total": N, "by_path": {"/api/4/binned": n, ...}}).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/databoard/databoard/daqbuf/sim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "daqbuf-sim:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	catalogue := flag.Int("catalogue", 0, "number of extra generated channels per backend (SIM-GEN:CH000000...)")
	latency := flag.Duration("latency", 0, "delay added before every response")
	perFrame := flag.Int("events-per-frame", 0, "maximum events per framed data frame (0 = 1000)")
	keepalive := flag.Bool("keepalive", false, "start framed events streams with a keepalive frame")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	handler := sim.New(sim.Config{
		CatalogueSize:  *catalogue,
		Latency:        *latency,
		EventsPerFrame: *perFrame,
		Keepalive:      *keepalive,
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: &requestCounter{next: handler}, ReadHeaderTimeout: 10 * time.Second}
	log.Info("daqbuf-sim listening", "url", "http://"+ln.Addr().String()+"/api/4", "catalogue", *catalogue,
		"latency", *latency, "request_counts", "http://"+ln.Addr().String()+countsPath)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("daqbuf-sim shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
