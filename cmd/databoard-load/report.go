package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// latencyMethod says how the latency figures were computed; it is printed with every result.
const latencyMethod = "log-linear histogram, 256 sub-buckets per power of two (< 512 ns exact, otherwise bucket upper edge, ≤ 0.4% high); min and max exact; expected-status requests only"

// sysInfo describes the machine and toolchain a result was measured on.
type sysInfo struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
}

func currentSystem() sysInfo {
	model := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		model = cpuModel(f)
		f.Close()
	}
	return sysInfo{
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUModel:   model,
	}
}

// cpuModel returns the first CPU model named in a /proc/cpuinfo listing, or "unknown".
func cpuModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "model name", "Model", "Hardware", "cpu model": // x86, arm boards, older arm, mips
			if v := strings.TrimSpace(value); v != "" {
				return v
			}
		}
	}
	return "unknown"
}

func (s sysInfo) String() string {
	return fmt.Sprintf("%s %s/%s, NumCPU %d, GOMAXPROCS %d, CPU %s", s.GoVersion, s.GOOS, s.GOARCH, s.NumCPU, s.GOMAXPROCS, s.CPUModel)
}

// writeText prints r for people.
func writeText(w io.Writer, r Result, sys sysInfo) error {
	mode := "closed loop"
	if r.Rate > 0 {
		mode = fmt.Sprintf("open loop at %d req/s, latency from scheduled send", r.Rate)
	}
	target := r.URLs[0]
	if len(r.URLs) > 1 {
		target = fmt.Sprintf("%d URLs (first %s)", len(r.URLs), r.URLs[0])
	}
	l := r.Latency
	var b strings.Builder
	fmt.Fprintf(&b, "target      %s %s\n", r.Method, target)
	fmt.Fprintf(&b, "load        concurrency %d, %s, stopped by %s\n", r.Concurrency, mode, r.StopCause)
	fmt.Fprintf(&b, "requests    %d (ok %d, errors %d: status %d, transport %d, timeout %d)\n",
		r.Requests, r.OK, r.Errors.Total(), r.Errors.Status, r.Errors.Transport, r.Errors.Timeout)
	fmt.Fprintf(&b, "statuses    %s\n", formatStatuses(r.Statuses))
	fmt.Fprintf(&b, "duration    %v\n", r.Duration.Round(time.Millisecond))
	fmt.Fprintf(&b, "throughput  %.1f req/s, %.0f bytes/s (%.2f MB/s)\n", r.Throughput(), r.BytesPerSecond(), r.BytesPerSecond()/1e6)
	fmt.Fprintf(&b, "latency     min %v  p50 %v  p90 %v  p99 %v  p99.9 %v  max %v  (%d samples)\n",
		short(l.Min), short(l.P50), short(l.P90), short(l.P99), short(l.P999), short(l.Max), r.Samples)
	fmt.Fprintf(&b, "            %s\n", latencyMethod)
	fmt.Fprintf(&b, "system      %s\n", sys)
	_, err := io.WriteString(w, b.String())
	return err
}

// short rounds a duration to three significant digits for reading.
func short(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Second)
}

func formatStatuses(m map[int]int64) string {
	if len(m) == 0 {
		return "none"
	}
	codes := make([]int, 0, len(m))
	for code := range m {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, code := range codes {
		parts[i] = fmt.Sprintf("%d: %d", code, m[code])
	}
	return strings.Join(parts, ", ")
}

// jsonResult is the -json output; units are in the field names.
type jsonResult struct {
	Method        string           `json:"method"`
	URLs          []string         `json:"urls"`
	Concurrency   int              `json:"concurrency"`
	TargetRate    int              `json:"target_rate"`
	Requests      int64            `json:"requests"`
	OK            int64            `json:"ok"`
	Errors        jsonErrors       `json:"errors"`
	Statuses      map[string]int64 `json:"statuses"`
	DurationS     float64          `json:"duration_s"`
	ThroughputRPS float64          `json:"throughput_rps"`
	Bytes         int64            `json:"bytes"`
	BytesPerS     float64          `json:"bytes_per_s"`
	LatencyMS     jsonLatency      `json:"latency_ms"`
	LatencyN      uint64           `json:"latency_samples"`
	LatencyMethod string           `json:"latency_method"`
	StopCause     string           `json:"stop_cause"`
	System        sysInfo          `json:"system"`
}

type jsonErrors struct {
	Total     int64 `json:"total"`
	Status    int64 `json:"status"`
	Transport int64 `json:"transport"`
	Timeout   int64 `json:"timeout"`
	Body      int64 `json:"body,omitempty"` // mix mode only
}

type jsonLatency struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeJSON prints r as one JSON object.
func writeJSON(w io.Writer, r Result, sys sysInfo) error {
	statuses := make(map[string]int64, len(r.Statuses))
	for code, n := range r.Statuses {
		statuses[strconv.Itoa(code)] = n
	}
	l := r.Latency
	out := jsonResult{
		Method:      r.Method,
		URLs:        r.URLs,
		Concurrency: r.Concurrency,
		TargetRate:  r.Rate,
		Requests:    r.Requests,
		OK:          r.OK,
		Errors: jsonErrors{
			Total: r.Errors.Total(), Status: r.Errors.Status, Transport: r.Errors.Transport, Timeout: r.Errors.Timeout,
		},
		Statuses:      statuses,
		DurationS:     r.Duration.Seconds(),
		ThroughputRPS: r.Throughput(),
		Bytes:         r.Bytes,
		BytesPerS:     r.BytesPerSecond(),
		LatencyMS: jsonLatency{
			Min: ms(l.Min), P50: ms(l.P50), P90: ms(l.P90), P99: ms(l.P99), P999: ms(l.P999), Max: ms(l.Max),
		},
		LatencyN:      r.Samples,
		LatencyMethod: latencyMethod,
		StopCause:     r.StopCause,
		System:        sys,
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
