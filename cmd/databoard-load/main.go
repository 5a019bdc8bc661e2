package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK          = 0
	exitInterrupted = 1 // the run was cut short; the partial result is still printed
	exitUsage       = 2 // bad flags or a refused target; nothing was sent
	exitSetup       = 3 // mix mode: the dashboards could not be made; nothing was measured
)

// run parses args ("stream ...": see runStream; "mix ...": see runMix), runs the load and prints the result to stdout; progress and errors go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "stream" {
		return runStream(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "mix" {
		return runMix(ctx, args[1:], stdout, stderr)
	}
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "databoard-load:", err)
		return exitUsage
	}
	l, err := newLoader(opts.cfg)
	if err != nil {
		fmt.Fprintln(stderr, "databoard-load:", err)
		return exitUsage
	}
	c := l.cfg
	fmt.Fprintf(stderr, "databoard-load: %s %d URL(s), concurrency %d, rate %d req/s (0 = closed loop), up to %d requests or %v, warm-up %v\n",
		c.Method, len(c.URLs), c.Concurrency, c.Rate, c.Requests, c.Duration, c.Warmup)

	res, runErr := l.Run(ctx)
	write := writeText
	if opts.json {
		write = writeJSON
	}
	if err := write(stdout, res, currentSystem()); err != nil {
		fmt.Fprintln(stderr, "databoard-load:", err)
		return exitInterrupted
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "databoard-load: interrupted:", runErr)
		return exitInterrupted
	}
	return exitOK
}
