package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/databoard/databoard/configs"
	"github.com/databoard/databoard/dashboards"
)

// runDashboards is `databoard dashboards export [-o FILE]` and `databoard dashboards import [-replace] FILE`:
// the operators' backup and restore of every dashboard record, as JSON lines. With the embedded store, stop
// the server first (its files are one process's) or use the maintenance routes of the running server.
// There is no time limit: a large store takes as long as it takes, and Ctrl-C (ctx) stops it cleanly.
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
	if args[0] == "export" {
		return exportDashboards(ctx, store, *out, stdout, stderr, log)
	}
	return importDashboards(ctx, store, fs.Arg(0), *replace, stderr, log)
}

func exportDashboards(ctx context.Context, store *dashboards.Store, out string, stdout, stderr io.Writer, log *slog.Logger) int {
	w := stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			fmt.Fprintln(stderr, "databoard:", err)
			return exitFailed
		}
		defer f.Close()
		w = f
	}
	bar := newProgressBar(stderr, log, "export")
	var total int64
	n, err := store.Export(ctx, w, func(done, all int) {
		total = int64(all)
		bar.update(int64(done), total, fmt.Sprintf("%d/%d records", done, all))
	})
	bar.finish(int64(n), max(total, int64(n)), fmt.Sprintf("%d records", n))
	if err != nil {
		fmt.Fprintf(stderr, "databoard: dashboards export: %v (%d records written)\n", stopReason(err), n)
		return exitFailed
	}
	log.Info("dashboards export done", slog.Int("records", n))
	return exitOK
}

func importDashboards(ctx context.Context, store *dashboards.Store, path string, replace bool, stderr io.Writer, log *slog.Logger) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(stderr, "databoard:", err)
		return exitFailed
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	// Progress is by bytes read: the number of records is not known before the end.
	in := &countingReader{r: f}
	bar := newProgressBar(stderr, log, "import")
	rep, err := store.Import(ctx, in, dashboards.ImportOptions{Replace: replace, Progress: func(r dashboards.ImportReport) {
		bar.update(in.n, size, reportLine(r))
	}})
	bar.finish(in.n, size, reportLine(rep))
	writeRefusals(stderr, rep.Refused)
	if err != nil {
		fmt.Fprintf(stderr, "databoard: dashboards import stopped: %v (%s)\n", stopReason(err), reportLine(rep))
		return exitFailed
	}
	log.Info("dashboards import done", slog.Int("created", rep.Created), slog.Int("replaced", rep.Replaced),
		slog.Int("skipped", rep.Skipped), slog.Int("refused", len(rep.Refused)))
	if len(rep.Refused) > 0 {
		fmt.Fprintf(stderr, "databoard: dashboards import: %d records refused (listed above)\n", len(rep.Refused))
		return exitFailed
	}
	return exitOK
}

// reportLine sums up an import report in one line.
func reportLine(r dashboards.ImportReport) string {
	return fmt.Sprintf("created %d, replaced %d, skipped %d, refused %d", r.Created, r.Replaced, r.Skipped, len(r.Refused))
}

func writeRefusals(w io.Writer, refused []dashboards.Refusal) {
	for _, r := range refused {
		id := r.ID
		if id == "" {
			id = "?"
		}
		fmt.Fprintf(w, "refused: line %d, id %s: %s\n", r.Line, id, r.Reason)
	}
}

// stopReason words an interruption (Ctrl-C) as such rather than as a failure of the store.
func stopReason(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	return err.Error()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
