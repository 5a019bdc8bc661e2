package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// mixMethod says what the mix figures are; it is printed with every result.
const mixMethod = "requests counted when sent inside the measurement; latency of answers with the route's success status and body, from send (after the user's browser slot) to the last byte, histogram as for HTTP (≤ 0.4% high); subscribe: subscribe sent → first snapshot; upstream: differences of the counters read at the measurement's start and end"

// perUserMinute divides n by the user-minutes (0 when there were none).
func perUserMinute(n, userMinutes float64) float64 {
	if userMinutes <= 0 {
		return 0
	}
	return n / userMinutes
}

func writeMixText(w io.Writer, r MixResult, sys sysInfo) error {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "mix         %d users (%d live over /stream, %d on auto-apply every %v) on %d dashboards (%d plot-channels, %.1f each), seed %d\n",
		c.Users, r.LiveUsers, c.Users-r.LiveUsers, c.Refresh, r.Dashboards, r.Curves, float64(r.Curves)/float64(max(r.Dashboards, 1)), c.Seed)
	fmt.Fprintf(&b, "schedule    window %v; ramp %v, warm-up %v; pan every ~%v (stay ~%v), save every ~%v (%.0f%% new), switch every ~%v, health every %v\n",
		c.Window, c.Ramp, c.Warmup, c.PanEvery, c.PanStay, c.SaveEvery, 100*c.SaveNew, c.SwitchEvery, c.Health)
	fmt.Fprintf(&b, "measured    %v, %.1f user-minutes\n", r.Duration.Round(time.Millisecond), r.UserMinutes)
	fmt.Fprintf(&b, "%-13s %8s %8s  %-26s %8s %9s %9s %9s %9s  %s\n", "kind", "requests", "ok", "errors status/trans/tmo/body", "req/s", "p50", "p90", "p99", "max", "x-cache")
	var all KindResult
	for _, k := range r.Kinds {
		fmt.Fprintf(&b, "%-13s %8d %8d  %-26s %8.2f %9v %9v %9v %9v  %s\n", k.Name, k.Requests, k.OK,
			fmt.Sprintf("%d (%d/%d/%d/%d)", k.Errors.Total(), k.Errors.Status, k.Errors.Transport, k.Errors.Timeout, k.Errors.Body),
			perSecond(k.Requests, r.Duration), short(k.Latency.P50), short(k.Latency.P90), short(k.Latency.P99), short(k.Latency.Max),
			formatCounts(k.Cache))
		all.Requests += k.Requests
		all.OK += k.OK
		all.Bytes += k.Bytes
	}
	fmt.Fprintf(&b, "%-13s %8d %8d  %-26d %8.2f  (%.2f MB/s of answers)\n", "all", all.Requests, all.OK, all.Requests-all.OK,
		perSecond(all.Requests, r.Duration), perSecond(all.Bytes, r.Duration)/1e6)
	for _, k := range r.Kinds {
		if k.Errors.Total() > 0 {
			fmt.Fprintf(&b, "errors      %s: statuses %s; first: %s\n", k.Name, formatStatuses(k.Statuses), strings.Join(k.Samples, " | "))
		}
	}
	fmt.Fprintf(&b, "stream      %s; %.1f msg/s, %.2f MB/s; %.1f subscription-minutes; dial errors %d, dropped %d\n",
		formatTypes(r.StreamMessages), perSecond(total(r.StreamMessages), r.Duration), perSecond(r.StreamBytes, r.Duration)/1e6,
		r.LiveSubMinutes, r.StreamDialErrors, r.StreamDropped)
	if len(r.StreamErrors) > 0 {
		fmt.Fprintf(&b, "            error messages by status %s; first: %s\n", formatStatuses(r.StreamErrors), strings.Join(r.StreamSamples, " | "))
	}
	writeUpstream(&b, "upstream    databoard /metrics ("+daqbufMetric+")", r.Upstream, r.UserMinutes)
	writeUpstream(&b, "            data-api (daqbuf-sim /sim/requests)", r.SimUpstream, r.UserMinutes)
	curves := r.Kinds[kindCurveOpen].Requests + r.Kinds[kindCurveRefresh].Requests + r.Kinds[kindCurvePan].Requests
	fmt.Fprintf(&b, "old backend %.0f data-api requests, %.2f per user-minute: computed from this mix, not measured: %d curves + %d ^name$ searches + %.1f live subscription-minutes × 60 s / %v auto-apply; a lower bound (raw-when-sparse refetches not counted)\n",
		r.OldBackend, perUserMinute(r.OldBackend, r.UserMinutes), curves, r.Kinds[kindSearch].Requests, r.LiveSubMinutes, c.Refresh)
	writeUsage(&b, "server", r.Server, false)
	writeUsage(&b, "client", r.Client, false)
	fmt.Fprintf(&b, "            %s\n", mixMethod)
	fmt.Fprintf(&b, "system      %s\n", sys)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeUpstream(b *strings.Builder, label string, u upstreamCount, userMinutes float64) {
	if !u.Known {
		fmt.Fprintf(b, "%s: unknown\n", label)
		return
	}
	fmt.Fprintf(b, "%s: %.0f data-api requests, %.2f per user-minute (%s)\n", label, u.Total, perUserMinute(u.Total, userMinutes), formatFloats(u.ByEndpoint))
}

func formatCounts(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	return formatTypes(m)
}

func formatFloats(m map[string]float64) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

type jsonKind struct {
	Requests  int64            `json:"requests"`
	OK        int64            `json:"ok"`
	Errors    jsonErrors       `json:"errors"`
	Statuses  map[string]int64 `json:"statuses"`
	XCache    map[string]int64 `json:"x_cache,omitempty"`
	PerSecond float64          `json:"per_s"`
	Bytes     int64            `json:"bytes"`
	LatencyMS jsonLatency      `json:"latency_ms"`
	Samples   []string         `json:"error_samples,omitempty"`
}

type jsonUpstream struct {
	Known         bool               `json:"known"`
	Requests      float64            `json:"requests"`
	PerUserMinute float64            `json:"per_user_minute"`
	ByEndpoint    map[string]float64 `json:"by_endpoint,omitempty"`
}

type jsonMixResult struct {
	Users          int                 `json:"users"`
	LiveUsers      int                 `json:"live_users"`
	Dashboards     int                 `json:"dashboards"`
	PlotChannels   int                 `json:"plot_channels"`
	Seed           uint64              `json:"seed"`
	RefreshS       float64             `json:"refresh_s"`
	DurationS      float64             `json:"duration_s"`
	UserMinutes    float64             `json:"user_minutes"`
	Kinds          map[string]jsonKind `json:"kinds"`
	StreamMessages map[string]int64    `json:"stream_messages"`
	StreamBytes    int64               `json:"stream_bytes"`
	StreamErrors   map[string]int64    `json:"stream_errors"`
	StreamSamples  []string            `json:"stream_error_samples,omitempty"`
	StreamDropped  int64               `json:"stream_dropped"`
	StreamDialErrs int64               `json:"stream_dial_errors"`
	LiveSubMinutes float64             `json:"live_subscription_minutes"`
	Upstream       jsonUpstream        `json:"upstream_databoard"`
	SimUpstream    jsonUpstream        `json:"upstream_simulator"`
	OldBackend     jsonUpstream        `json:"old_backend_computed"`
	Server         *ServerUsage        `json:"server,omitempty"`
	Client         ServerUsage         `json:"client"`
	Method         string              `json:"method"`
	System         sysInfo             `json:"system"`
}

func toJSONUpstream(u upstreamCount, userMinutes float64) jsonUpstream {
	return jsonUpstream{Known: u.Known, Requests: u.Total, PerUserMinute: perUserMinute(u.Total, userMinutes), ByEndpoint: u.ByEndpoint}
}

func statusKeys(m map[int]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for code, n := range m {
		out[fmt.Sprint(code)] = n
	}
	return out
}

func writeMixJSON(w io.Writer, r MixResult, sys sysInfo) error {
	out := jsonMixResult{
		Users: r.Config.Users, LiveUsers: r.LiveUsers, Dashboards: r.Dashboards, PlotChannels: r.Curves, Seed: r.Config.Seed,
		RefreshS: r.Config.Refresh.Seconds(), DurationS: r.Duration.Seconds(), UserMinutes: r.UserMinutes,
		Kinds: map[string]jsonKind{}, StreamMessages: r.StreamMessages, StreamBytes: r.StreamBytes,
		StreamErrors: statusKeys(r.StreamErrors), StreamSamples: r.StreamSamples, StreamDropped: r.StreamDropped,
		StreamDialErrs: r.StreamDialErrors, LiveSubMinutes: r.LiveSubMinutes,
		Upstream:    toJSONUpstream(r.Upstream, r.UserMinutes),
		SimUpstream: toJSONUpstream(r.SimUpstream, r.UserMinutes),
		OldBackend:  toJSONUpstream(upstreamCount{Known: true, Total: r.OldBackend}, r.UserMinutes),
		Client:      r.Client, Method: mixMethod, System: sys,
	}
	for _, k := range r.Kinds {
		e := k.Errors
		out.Kinds[k.Name] = jsonKind{
			Requests: k.Requests, OK: k.OK, Statuses: statusKeys(k.Statuses), XCache: k.Cache,
			Errors:    jsonErrors{Total: e.Total(), Status: e.Status, Transport: e.Transport, Timeout: e.Timeout, Body: e.Body},
			PerSecond: perSecond(k.Requests, r.Duration), Bytes: k.Bytes, LatencyMS: toJSONLatency(k.Latency), Samples: k.Samples,
		}
	}
	if r.Server.Measured {
		out.Server = &r.Server
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
