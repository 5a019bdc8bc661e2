package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Hard limits: every run stops by itself, whatever the flags say.
const (
	maxRequests     = 10_000_000
	maxDuration     = 10 * time.Minute
	maxConcurrency  = 1024
	maxRate         = 1_000_000
	maxBodyBytes    = 64 << 20
	maxURLs         = 100_000
	defaultDuration = 10 * time.Second
	defaultTimeout  = 10 * time.Second
	defaultWorkers  = 16
)

// config describes one load run. The zero value of each field is its default.
type config struct {
	URLs        []string      // targets; request i goes to URLs[i%len(URLs)]; at least one
	Method      string        // HTTP method; default GET
	Body        []byte        // request body sent with every request; nil = none
	Header      http.Header   // added to every request; a "Host" entry sets the request's Host
	Concurrency int           // workers, and idle connections kept per host; default 16, at most 1024
	Requests    int64         // stop after this many completed requests; 0 = the cap of 10 000 000
	Duration    time.Duration // stop sending after this long; 0 = the cap of 10 minutes
	Rate        int           // target requests per second, open loop; 0 = closed loop
	Warmup      time.Duration // unmeasured run before the measurement; default 0 (none), at most 10 minutes
	Timeout     time.Duration // per request, body included; default 10s, at most 10 minutes
	Expect      int           // status that counts as success; default 200
	AllowRemote bool          // allow non-loopback targets; default false
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c config) withDefaults() config {
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	if c.Concurrency == 0 {
		c.Concurrency = defaultWorkers
	}
	if c.Requests == 0 {
		c.Requests = maxRequests
	}
	if c.Duration == 0 {
		c.Duration = maxDuration
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.Expect == 0 {
		c.Expect = http.StatusOK
	}
	return c
}

// validate checks a config that has had its defaults applied.
func (c config) validate() error {
	if len(c.URLs) == 0 {
		return errors.New("no target: give -url or -urls-file")
	}
	if len(c.URLs) > maxURLs {
		return fmt.Errorf("%d URLs, at most %d", len(c.URLs), maxURLs)
	}
	for _, raw := range c.URLs {
		if err := checkTarget(raw, c.AllowRemote); err != nil {
			return err
		}
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > maxConcurrency:
		return fmt.Errorf("-c %d: want 1..%d", c.Concurrency, maxConcurrency)
	case c.Requests < 1 || c.Requests > maxRequests:
		return fmt.Errorf("-n %d: want 1..%d", c.Requests, maxRequests)
	case c.Duration <= 0 || c.Duration > maxDuration:
		return fmt.Errorf("-d %v: want more than 0 and at most %v", c.Duration, maxDuration)
	case c.Rate < 0 || c.Rate > maxRate:
		return fmt.Errorf("-rate %d: want 0 (closed loop) to %d", c.Rate, maxRate)
	case c.Warmup < 0 || c.Warmup > maxDuration:
		return fmt.Errorf("-warmup %v: want 0 to %v", c.Warmup, maxDuration)
	case c.Timeout <= 0 || c.Timeout > maxDuration:
		return fmt.Errorf("-timeout %v: want more than 0 and at most %v", c.Timeout, maxDuration)
	case c.Expect < 100 || c.Expect > 599:
		return fmt.Errorf("-expect %d: want an HTTP status 100..599", c.Expect)
	case len(c.Body) > maxBodyBytes:
		return fmt.Errorf("request body of %d bytes, at most %d", len(c.Body), maxBodyBytes)
	}
	// NewRequest rejects methods that are not HTTP tokens; checking once here gives one clear error.
	if _, err := http.NewRequest(c.Method, c.URLs[0], nil); err != nil {
		return fmt.Errorf("-method %q: %w", c.Method, err)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

const usageLine = `usage: databoard-load (-url URL ... | -urls-file FILE) [-method GET] [-body-file FILE] [-header 'K: V' ...]
       [-c 16] [-n N | -d 10s] [-rate 0] [-warmup 0] [-timeout 10s] [-expect 200] [-json] [-allow-remote]`

// options are the parsed command line: the run's config and how to print the result.
type options struct {
	cfg  config
	json bool
}

// parseFlags turns the command line into options. It prints usage and flag errors to stderr; -h gives flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("databoard-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usageLine)
		fs.PrintDefaults()
	}
	var (
		urls, headers stringList
		opts          options
	)
	fs.Var(&urls, "url", "target URL (repeatable; requests rotate over the URLs)")
	urlsFile := fs.String("urls-file", "", "file with one target URL per line (blank lines and # comments skipped)")
	method := fs.String("method", http.MethodGet, "HTTP method")
	bodyFile := fs.String("body-file", "", "file whose content is sent as the body of every request")
	fs.Var(&headers, "header", "request header 'Name: value' (repeatable)")
	workers := fs.Int("c", defaultWorkers, "concurrency: workers and kept-alive connections per host")
	requests := fs.Int64("n", 0, fmt.Sprintf("total requests to complete (at most %d)", maxRequests))
	duration := fs.Duration("d", defaultDuration, fmt.Sprintf("duration of the measurement (at most %v)", maxDuration))
	rate := fs.Int("rate", 0, "target requests per second, open loop, latency from the scheduled send time (0 = closed loop)")
	warmup := fs.Duration("warmup", 0, "unmeasured run before the measurement")
	timeout := fs.Duration("timeout", defaultTimeout, "per-request timeout, response body included")
	expect := fs.Int("expect", http.StatusOK, "expected status; any other counts as an error")
	fs.BoolVar(&opts.json, "json", false, "print the result as JSON")
	allowRemote := fs.Bool("allow-remote", false, "allow non-loopback targets")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q (targets go in -url)", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	cfg := config{
		URLs:        urls,
		Method:      *method,
		Concurrency: *workers,
		Rate:        *rate,
		Warmup:      *warmup,
		Timeout:     *timeout,
		Expect:      *expect,
		AllowRemote: *allowRemote,
	}
	// -n and -d: whichever is given bounds the run (both: whichever comes first); neither: -d's default.
	if given["n"] {
		if *requests < 1 {
			return options{}, fmt.Errorf("-n %d: want at least 1", *requests)
		}
		cfg.Requests = *requests
	}
	if given["d"] || !given["n"] {
		if *duration <= 0 {
			return options{}, fmt.Errorf("-d %v: want more than 0", *duration)
		}
		cfg.Duration = *duration
	}
	if given["c"] && *workers < 1 {
		return options{}, fmt.Errorf("-c %d: want at least 1", *workers)
	}
	if given["timeout"] && *timeout <= 0 {
		return options{}, fmt.Errorf("-timeout %v: want more than 0", *timeout)
	}
	if *urlsFile != "" {
		fromFile, err := readURLs(*urlsFile)
		if err != nil {
			return options{}, err
		}
		cfg.URLs = append(cfg.URLs, fromFile...)
	}
	if *bodyFile != "" {
		body, err := readBody(*bodyFile)
		if err != nil {
			return options{}, err
		}
		cfg.Body = body
	}
	if len(headers) > 0 {
		cfg.Header = http.Header{}
		for _, h := range headers {
			name, value, ok := strings.Cut(h, ":")
			name = strings.TrimSpace(name)
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return options{}, fmt.Errorf("-header %q: want 'Name: value'", h)
			}
			cfg.Header.Add(name, strings.TrimSpace(value))
		}
	}
	opts.cfg = cfg
	return opts, nil
}

// readURLs reads one URL per line, skipping blank lines and lines starting with #.
func readURLs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-urls-file: %w", err)
	}
	defer f.Close()
	var urls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(urls) == maxURLs {
			return nil, fmt.Errorf("-urls-file %s: more than %d URLs", path, maxURLs)
		}
		urls = append(urls, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-urls-file %s: %w", path, err)
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("-urls-file %s: no URLs", path)
	}
	return urls, nil
}

// readBody reads the request body file, refusing files over maxBodyBytes.
func readBody(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-body-file: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(f, maxBodyBytes+1)); err != nil {
		return nil, fmt.Errorf("-body-file %s: %w", path, err)
	}
	if buf.Len() > maxBodyBytes {
		return nil, fmt.Errorf("-body-file %s: larger than %d bytes", path, maxBodyBytes)
	}
	return buf.Bytes(), nil
}
