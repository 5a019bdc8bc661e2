// Command databoard is the Data Board backend: a drop-in replacement of the Python backend that
// proxies and caches data-api v4 and stores dashboards in MongoDB.
//
//	databoard [-listen addr] [-data-dir dir] [-demo]   serve the API
//	databoard config                                     print the effective configuration
//	databoard dashboards export [-o FILE] | import [-replace] FILE
//	databoard -version
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/databoard/databoard/configs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes of run.
const (
	exitOK      = 0
	exitInvalid = 1 // the configuration is invalid
	exitUsage   = 2 // bad flags or arguments
	exitFailed  = 3 // the server could not start or failed
)

// run is the whole program behind main, with its inputs and outputs passed in so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("databoard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	listen := fs.String("listen", "", "HTTP listen address, host:port (overrides LISTEN_ADDR)")
	dataDir := fs.String("data-dir", "", "directory of the embedded dashboard store (overrides DATA_DIR)")
	demo := fs.Bool("demo", false, "serve curves from the in-process data-api simulator (overrides DEMO)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: databoard [flags] [config]\n\n"+
			"Commands:\n  (none)   serve the API\n  config   print the effective configuration (secrets hidden) as JSON and exit\n"+
			"  dashboards export [-o FILE]         write every dashboard record as JSON lines\n"+
			"  dashboards import [-replace] FILE   read them back (validated; existing ids kept unless -replace)\n\n"+
			"Configuration comes from environment variables (see README.md); flags override them.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *showVersion {
		fmt.Fprintf(stdout, "databoard %s\n", buildVersion())
		return exitOK
	}
	command := fs.Arg(0)
	if (command != "" && command != "config" && command != "dashboards") || (command != "dashboards" && fs.NArg() > 1) {
		fmt.Fprintf(stderr, "databoard: unknown command %q\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return exitUsage
	}

	// Flags override the environment by standing in for its variables, so they are validated
	// (and their errors worded) exactly like the variables.
	overrides := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			overrides["LISTEN_ADDR"] = *listen
		case "data-dir":
			overrides["DATA_DIR"] = *dataDir
		case "demo":
			overrides["DEMO"] = fmt.Sprint(*demo)
		}
	})
	cfg, err := configs.Load(func(name string) string {
		if v, ok := overrides[name]; ok {
			return v
		}
		return getenv(name)
	})
	if err != nil {
		fmt.Fprintln(stderr, "databoard: invalid configuration:")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "  "+line)
		}
		return exitInvalid
	}
	if command == "dashboards" {
		return runDashboards(ctx, cfg, fs.Args()[1:], stdout, stderr)
	}
	if command == "config" {
		if err := writeSettings(stdout, cfg.Settings()); err != nil {
			fmt.Fprintln(stderr, "databoard:", err)
			return exitInvalid
		}
		return exitOK
	}
	if err := serve(ctx, cfg, newLogger(cfg, stderr), nil); err != nil {
		fmt.Fprintln(stderr, "databoard:", err)
		return exitFailed
	}
	return exitOK
}

// writeSettings prints the settings as one JSON object, keys in documentation order, values as the
// strings an operator would put in the environment.
func writeSettings(w io.Writer, settings []configs.Setting) error {
	var b strings.Builder
	b.WriteString("{\n")
	for i, s := range settings {
		name, _ := json.Marshal(s.Name)
		value, _ := json.Marshal(s.Value)
		fmt.Fprintf(&b, "  %s: %s", name, value)
		if i < len(settings)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
