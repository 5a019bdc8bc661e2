package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Hard limits of the mix mode: every run stops by itself, whatever the flags say.
const (
	maxMixUsers      = 20_000
	maxMixDashboards = 10_000
	maxMixPlots      = 20
	maxMixPerPlot    = 20
	maxBrowserConns  = 64
	maxThink         = 24 * time.Hour // think times and periods: they do not bound the run, -d does
)

// autoApplyPeriod is the frontend's real "Auto Apply: 1min" period: a 600 ms tick advances a progress bar by 1 %
// and the apply fires on the 101st tick (docs/api.md, "The frontend's live mode today").
const autoApplyPeriod = 60600 * time.Millisecond

// mixConfig describes one mix run. The zero value of each field is its default (withDefaults).
type mixConfig struct {
	URL           string        // databoard's base URL, http://host:port (no path)
	Users         int           // simulated users; default 200
	Dashboards    int           // dashboards created before the run; default 20
	Live          float64       // fraction of users that follow their dashboard over /stream; default 0.2; 0..1
	Plots         intRange      // plots per dashboard; default 2-4
	PerPlot       intRange      // channels per plot; default 1-4
	Channels      int           // distinct channels the dashboards draw from; default 200
	ChannelFormat string        // channel i's name; default "SIM-GEN:CH%06d" (daqbuf-sim -catalogue N)
	Backend       string        // default sf-databuffer
	Window        time.Duration // the relative window users look at ("Last 10m"); default 10m
	Refresh       time.Duration // auto-apply period; default 60.6s (the frontend's "1min")
	Ramp          time.Duration // users start at random times within it; default 60s
	PanEvery      time.Duration // mean time between a user's pans/zooms to another window; default 5m; 0 = never
	PanStay       time.Duration // mean time on that window before going back to the relative one; default 1m
	SaveEvery     time.Duration // mean time between a user's saves; default 10m; 0 = never
	SaveNew       float64       // fraction of saves that are "Save New" (POST) rather than "Update" (PATCH); default 0.25
	SwitchEvery   time.Duration // mean time before a user opens another dashboard; default 15m; 0 = never
	Health        time.Duration // the frontend's /health poll; default 60s; 0 = never
	Warmup        time.Duration // from the first user's start to the measurement; default 0
	Duration      time.Duration // measurement; default 3m, at most 10 minutes
	Seed          uint64        // of every random choice; default 1
	Timeout       time.Duration // per request; default 60s (the curve route's deadline)
	BrowserConns  int           // requests one user has in flight at once; default 6 (a browser over HTTP/1.1)
	MetricsURL    string        // databoard's /metrics for upstream counts; default URL+"/metrics"; "-" = none
	SimURL        string        // daqbuf-sim's base URL (http://host:port) for /sim/requests; "" = none
	PID           int           // the server's process id, for its CPU and RSS from /proc; 0 = none
	AllowRemote   bool
}

// intRange is an inclusive range of counts, given as "N" or "A-B".
type intRange struct{ Min, Max int }

func (r intRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

func (r *intRange) Set(s string) error {
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || a < 1 || b < a {
		return fmt.Errorf("%q: want N or A-B with 1 ≤ A ≤ B", s)
	}
	r.Min, r.Max = a, b
	return nil
}

func (c mixConfig) withDefaults() mixConfig {
	c.URL = strings.TrimRight(c.URL, "/")
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Users, 200)
	def(&c.Dashboards, 20)
	def(&c.Channels, 200)
	def(&c.BrowserConns, 6)
	if c.Plots == (intRange{}) {
		c.Plots = intRange{2, 4}
	}
	if c.PerPlot == (intRange{}) {
		c.PerPlot = intRange{1, 4}
	}
	if c.ChannelFormat == "" {
		c.ChannelFormat = "SIM-GEN:CH%06d"
	}
	if c.Backend == "" {
		c.Backend = "sf-databuffer"
	}
	if c.Window == 0 {
		c.Window = 10 * time.Minute
	}
	if c.Refresh == 0 {
		c.Refresh = autoApplyPeriod
	}
	if c.Duration == 0 {
		c.Duration = 3 * time.Minute
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.MetricsURL == "" {
		c.MetricsURL = c.URL + "/metrics"
	}
	if c.MetricsURL == "-" {
		c.MetricsURL = ""
	}
	c.SimURL = strings.TrimRight(c.SimURL, "/")
	return c
}

func (c mixConfig) validate() error {
	if c.URL == "" {
		return errors.New("no target: give -url http://host:port (databoard's base URL)")
	}
	for _, u := range []string{c.URL, c.MetricsURL, c.SimURL} {
		if u == "" {
			continue
		}
		if err := checkTarget(u, c.AllowRemote); err != nil {
			return err
		}
	}
	durations := []struct {
		name   string
		v, max time.Duration
	}{{"-ramp", c.Ramp, maxDuration}, {"-warmup", c.Warmup, maxDuration}, {"-pan-every", c.PanEvery, maxThink},
		{"-pan-stay", c.PanStay, maxThink}, {"-save-every", c.SaveEvery, maxThink}, {"-switch-every", c.SwitchEvery, maxThink},
		{"-health", c.Health, maxThink}}
	for _, d := range durations {
		if d.v < 0 || d.v > d.max {
			return fmt.Errorf("%s %v: want 0 to %v", d.name, d.v, d.max)
		}
	}
	switch {
	case c.Users < 1 || c.Users > maxMixUsers:
		return fmt.Errorf("-users %d: want 1..%d", c.Users, maxMixUsers)
	case c.Dashboards < 1 || c.Dashboards > maxMixDashboards:
		return fmt.Errorf("-dashboards %d: want 1..%d", c.Dashboards, maxMixDashboards)
	case c.Live < 0 || c.Live > 1:
		return fmt.Errorf("-live %g: want a fraction 0..1", c.Live)
	case c.SaveNew < 0 || c.SaveNew > 1:
		return fmt.Errorf("-save-new %g: want a fraction 0..1", c.SaveNew)
	case c.Plots.Max > maxMixPlots:
		return fmt.Errorf("-plots %v: at most %d", c.Plots, maxMixPlots)
	case c.PerPlot.Max > maxMixPerPlot:
		return fmt.Errorf("-per-plot %v: at most %d", c.PerPlot, maxMixPerPlot)
	case c.Channels < 1:
		return fmt.Errorf("-channels %d: want at least 1", c.Channels)
	case c.Window <= 0:
		return fmt.Errorf("-window %v: want more than 0", c.Window)
	case c.Refresh <= 0 || c.Refresh > maxThink:
		return fmt.Errorf("-refresh %v: want more than 0 and at most %v", c.Refresh, maxThink)
	case c.Duration <= 0 || c.Duration > maxDuration:
		return fmt.Errorf("-d %v: want more than 0 and at most %v", c.Duration, maxDuration)
	case c.Timeout <= 0 || c.Timeout > maxDuration:
		return fmt.Errorf("-timeout %v: want more than 0 and at most %v", c.Timeout, maxDuration)
	case c.BrowserConns < 1 || c.BrowserConns > maxBrowserConns:
		return fmt.Errorf("-browser-conns %d: want 1..%d", c.BrowserConns, maxBrowserConns)
	}
	return nil
}

const mixUsageLine = `usage: databoard-load mix -url http://127.0.0.1:8080 [-users 200] [-dashboards 20] [-live 0.2]
       [-plots 2-4] [-per-plot 1-4] [-channels 200] [-channel-format 'SIM-GEN:CH%06d'] [-backend sf-databuffer]
       [-window 10m] [-refresh 60.6s] [-ramp 60s] [-pan-every 5m] [-pan-stay 1m] [-save-every 10m] [-save-new 0.25]
       [-switch-every 15m] [-health 60s] [-warmup 0] [-d 3m] [-seed 1] [-timeout 60s] [-browser-conns 6]
       [-metrics URL|-] [-sim URL] [-pid PID] [-json] [-allow-remote]`

func parseMixFlags(args []string, stderr io.Writer) (mixConfig, bool, error) {
	fs := flag.NewFlagSet("databoard-load mix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, mixUsageLine)
		fs.PrintDefaults()
	}
	c := mixConfig{Plots: intRange{2, 4}, PerPlot: intRange{1, 4}}
	fs.StringVar(&c.URL, "url", "", "databoard's base URL, http://host:port")
	fs.IntVar(&c.Users, "users", 200, fmt.Sprintf("simulated users (at most %d)", maxMixUsers))
	fs.IntVar(&c.Dashboards, "dashboards", 20, "dashboards created before the run; each user opens one of them")
	fs.Float64Var(&c.Live, "live", 0.2, "fraction of users that follow their dashboard over /stream instead of auto-apply")
	fs.Var(&c.Plots, "plots", "plots per dashboard, N or A-B")
	fs.Var(&c.PerPlot, "per-plot", "channels per plot, N or A-B")
	fs.IntVar(&c.Channels, "channels", 200, "distinct channels the dashboards draw from (channel-format of 0..N-1)")
	fs.StringVar(&c.ChannelFormat, "channel-format", "SIM-GEN:CH%06d", "channel name of channel i, a fmt format of i (daqbuf-sim -catalogue N serves SIM-GEN:CH000000...)")
	fs.StringVar(&c.Backend, "backend", "sf-databuffer", "backend of every channel")
	fs.DurationVar(&c.Window, "window", 10*time.Minute, "the relative window users look at (\"Last 10m\")")
	fs.DurationVar(&c.Refresh, "refresh", autoApplyPeriod, "auto-apply period: the whole window of every plot and channel again")
	fs.DurationVar(&c.Ramp, "ramp", 60*time.Second, "users start at random times within this")
	fs.DurationVar(&c.PanEvery, "pan-every", 5*time.Minute, "mean time between a user's pans/zooms to another window (0: never)")
	fs.DurationVar(&c.PanStay, "pan-stay", time.Minute, "mean time a user stays on a panned window before going back to the relative one")
	fs.DurationVar(&c.SaveEvery, "save-every", 10*time.Minute, "mean time between a user's saves (0: never)")
	fs.Float64Var(&c.SaveNew, "save-new", 0.25, "fraction of saves that are Save New (POST) rather than Update (PATCH)")
	fs.DurationVar(&c.SwitchEvery, "switch-every", 15*time.Minute, "mean time before a user opens another dashboard (0: never)")
	fs.DurationVar(&c.Health, "health", time.Minute, "the frontend's /health poll period (0: never)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "unmeasured time from the start of the first user")
	fs.DurationVar(&c.Duration, "d", 3*time.Minute, fmt.Sprintf("duration of the measurement (at most %v)", maxDuration))
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of every random choice (dashboards, users, times)")
	fs.DurationVar(&c.Timeout, "timeout", 60*time.Second, "per-request timeout, response body included")
	fs.IntVar(&c.BrowserConns, "browser-conns", 6, "requests one user has in flight at once (a browser: 6 per host over HTTP/1.1)")
	fs.StringVar(&c.MetricsURL, "metrics", "", "databoard's /metrics, read for data-api requests (default: -url + /metrics; - for none)")
	fs.StringVar(&c.SimURL, "sim", "", "daqbuf-sim's base URL, http://host:port: its /sim/requests is read for the requests data-api received")
	fs.IntVar(&c.PID, "pid", 0, "the server's process id: its CPU time and RSS are read from /proc")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow non-loopback targets")
	if err := fs.Parse(args); err != nil {
		return mixConfig{}, false, err
	}
	if fs.NArg() > 0 {
		return mixConfig{}, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := refuseZero(fs, "users", "dashboards", "channels", "window", "refresh", "d", "timeout", "browser-conns", "seed"); err != nil {
		return mixConfig{}, false, err
	}
	return c, *asJSON, nil
}

// runMix is the mix subcommand: it parses args, creates the dashboards, runs the users and prints the result.
func runMix(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, asJSON, code, ok := configure("databoard-load mix", stderr, func() (mixConfig, bool, error) { return parseMixFlags(args, stderr) })
	if !ok {
		return code
	}
	fmt.Fprintf(stderr, "databoard-load mix: %d users (%.0f%% live) on %d dashboards (%v plots × %v channels of %d), ramp %v, warm-up %v, measuring %v, seed %d\n",
		cfg.Users, 100*cfg.Live, cfg.Dashboards, cfg.Plots, cfg.PerPlot, cfg.Channels, cfg.Ramp, cfg.Warmup, cfg.Duration, cfg.Seed)
	res, runErr := newMixLoader(cfg).run(ctx, stderr)
	if res.Setup != nil {
		fmt.Fprintln(stderr, "databoard-load mix: setup failed:", res.Setup)
		return exitSetup
	}
	return printResult(stdout, stderr, "databoard-load mix", res, runErr, asJSON, writeMixText, writeMixJSON)
}
