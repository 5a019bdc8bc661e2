package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/databoard/databoard/configs"
)

// transferTimeout bounds an export or import run.
const transferTimeout = 30 * time.Minute

// runDashboards is `databoard dashboards export [-o FILE]` and `databoard dashboards import [-replace] FILE`:
// the operators' backup and restore of every dashboard record, as JSON lines. With the embedded store, stop
// the server first (its files are one process's) or use the maintenance routes of the running server.
func runDashboards(ctx context.Context, cfg configs.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprintln(stderr, "usage: databoard dashboards export [-o FILE] | import [-replace] FILE")
		return exitUsage
	}
	fs := flag.NewFlagSet("databoard dashboards "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "export: write to FILE instead of standard output")
	replace := fs.Bool("replace", false, "import: replace records whose id already exists")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if args[0] == "import" && fs.NArg() != 1 || args[0] == "export" && fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	var cleanup closers
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		cleanup.run(ctx)
	}()
	store, err := openStore(ctx, cfg, log, &cleanup)
	if err != nil {
		fmt.Fprintln(stderr, "databoard:", err)
		return exitFailed
	}
	var n int
	if args[0] == "export" {
		w := stdout
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				fmt.Fprintln(stderr, "databoard:", err)
				return exitFailed
			}
			defer f.Close()
			w = f
		}
		n, err = store.Export(ctx, w)
	} else {
		f, ferr := os.Open(fs.Arg(0))
		if ferr != nil {
			fmt.Fprintln(stderr, "databoard:", ferr)
			return exitFailed
		}
		defer f.Close()
		n, err = store.Import(ctx, f, *replace)
	}
	if err != nil {
		fmt.Fprintf(stderr, "databoard: dashboards %s: %v (%d records done)\n", args[0], err, n)
		return exitFailed
	}
	log.Info("dashboards "+args[0]+" done", slog.Int("records", n))
	return exitOK
}
