// Command mongowire runs the embedded MongoDB-wire server stand-alone.
//
// The test script starts one for the whole suite (built without -race: its SQLite engine is large and
// slow under the race detector) and hands its URI to the tests in DATABOARD_TEST_MONGO_URI.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/databoard/databoard/dashboards/mongowire"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:27018", "TCP listen address")
	dir := flag.String("dir", "./data/mongowire", "data directory (created if missing)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := mongowire.Start(ctx, mongowire.Config{Addr: *addr, Dir: *dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.URI())
	<-ctx.Done()
	srv.Close()
}
