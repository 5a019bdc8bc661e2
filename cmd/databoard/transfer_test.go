package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/databoard/databoard/configs"
	"github.com/databoard/databoard/dashboards"
)

// TestImportReport: the import names what it created, skipped and refused (with line and reason), and
// exits non-zero when something was refused; the log says it is done.
func TestImportReport(t *testing.T) {
	dir := t.TempDir()
	env := func(name string) string { return map[string]string{"DATA_DIR": dir, "LOG_LEVEL": "info"}[name] }
	file := filepath.Join(t.TempDir(), "in.jsonl")
	lines := `{"_id":"a","dashboard":{"dashboard":{"widgets":[]}}}` + "\n" +
		`{"_id":"b","dashboard":{"dashboard":{"nope":1}}}` + "\n" +
		`{"_id":"c","dashboard":{"dashboard":{"widgets":[]}}}` + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb strings.Builder
	code := run(ctx, []string{"dashboards", "import", file}, env, &out, &errb)
	if code != exitFailed {
		t.Errorf("import with a refused record: exit %d, want %d", code, exitFailed)
	}
	for _, want := range []string{"refused: line 2, id b:", "Additional property", "1 records refused", `"created":2`, `"refused":1`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("import output lacks %q:\n%s", want, errb.String())
		}
	}
	errb.Reset()
	if code := run(ctx, []string{"dashboards", "import", file}, env, &out, &errb); code != exitFailed ||
		!strings.Contains(errb.String(), `"skipped":2`) {
		t.Errorf("second import: exit %d, output:\n%s\nwant the 2 existing records skipped", code, errb.String())
	}
}

// TestTransferCancel: a cancelled context (Ctrl-C) stops export and import cleanly, saying so, with what was
// done so far.
func TestTransferCancel(t *testing.T) {
	cfg, err := configs.Load(func(name string) string { return map[string]string{"DATA_DIR": t.TempDir()}[name] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cleanup closers
	defer func() { cleanup.run(context.Background()) }()
	store, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler), &cleanup)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, `{"_id":"d%d","dashboard":{"dashboard":{"widgets":[]}}}`+"\n", i)
	}
	file := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(file, []byte(in.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// Cancelled after the 10th record, as Ctrl-C would.
	ictx, icancel := context.WithCancel(ctx)
	rep, err := store.Import(ictx, strings.NewReader(in.String()), dashboards.ImportOptions{Progress: func(r dashboards.ImportReport) {
		if r.Records() == 10 {
			icancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || rep.Created != 10 {
		t.Errorf("cancelled Import = %+v, %v; want 10 created and context.Canceled", rep, err)
	}
	ectx, ecancel := context.WithCancel(ctx)
	n, err := store.Export(ectx, io.Discard, func(done, total int) {
		if done == 5 {
			ecancel()
		}
	})
	if !errors.Is(err, context.Canceled) || n != 5 {
		t.Errorf("cancelled Export = %d, %v; want 5 and context.Canceled", n, err)
	}
	var errb strings.Builder
	if stopped := importDashboards(ictx, store, file, false, &errb, slog.New(slog.DiscardHandler)); stopped != exitFailed ||
		!strings.Contains(errb.String(), "import stopped: interrupted") {
		t.Errorf("CLI import with a cancelled context: exit %d, %q", stopped, errb.String())
	}
}

// TestProgressBar: on a terminal the bar redraws one line in place; elsewhere it logs.
func TestProgressBar(t *testing.T) {
	var tty strings.Builder
	clock := time.Unix(0, 0)
	p := &progressBar{w: &tty, what: "import", every: time.Second, now: func() time.Time { return clock }}
	p.update(1, 4, "one")
	clock = clock.Add(2 * time.Second)
	p.update(2, 4, "two")
	p.update(3, 4, "three") // within a second of the last redraw: not drawn
	p.finish(4, 4, "all")
	if !strings.Contains(tty.String(), "\r\033[Kimport [###############...............]  50%  two") ||
		strings.Contains(tty.String(), "three") || !strings.HasSuffix(tty.String(), "100%  all\n") {
		t.Errorf("terminal output %q", tty.String())
	}
	var logs strings.Builder
	p = newProgressBar(io.Discard, slog.New(slog.NewTextHandler(&logs, nil)), "export")
	p.last, p.now = clock, func() time.Time { return clock.Add(time.Hour) }
	p.update(1, 2, "half")
	p.finish(2, 2, "done")
	if !strings.Contains(logs.String(), "percent=50") || strings.Contains(logs.String(), "\r") {
		t.Errorf("log output %q", logs.String())
	}
}
