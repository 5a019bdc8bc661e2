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
	return printResult(stdout, stderr, "databoard-load", res, runErr, opts.json, writeText, writeJSON)
}

// printResult prints a subcommand's result as text or JSON and turns the run's error into the exit code.
func printResult[R any](stdout, stderr io.Writer, prefix string, res R, runErr error, asJSON bool,
	text, js func(io.Writer, R, sysInfo) error) int {
	write := text
	if asJSON {
		write = js
	}
	if err := write(stdout, res, currentSystem()); err != nil {
		fmt.Fprintln(stderr, prefix+":", err)
		return exitInterrupted
	}
	if runErr != nil {
		fmt.Fprintln(stderr, prefix+": interrupted:", runErr)
		return exitInterrupted
	}
	return exitOK
}

// refuseZero returns an error for the first of names given explicitly as 0 (or 0s): for flags whose zero value
// would otherwise silently mean "the default".
func refuseZero(fs *flag.FlagSet, names ...string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range names {
		if v := fs.Lookup(name).Value.String(); given[name] && (v == "0" || v == "0s") {
			return fmt.Errorf("-%s 0: want more than 0", name)
		}
	}
	return nil
}

// configure is a subcommand's start: its flags, then its config's defaults and checks. When it should not run
// (-h, a bad flag or value), ok is false and code is the exit code.
func configure[C interface {
	withDefaults() C
	validate() error
}](prefix string, stderr io.Writer, parse func() (C, bool, error)) (cfg C, asJSON bool, code int, ok bool) {
	cfg, asJSON, err := parse()
	if errors.Is(err, flag.ErrHelp) {
		return cfg, false, exitOK, false
	}
	if err == nil {
		cfg = cfg.withDefaults()
		err = cfg.validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, prefix+":", err)
		return cfg, false, exitUsage, false
	}
	return cfg, asJSON, exitOK, true
}
