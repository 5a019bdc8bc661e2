package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// streamMethod says what the stream figures are; it is printed with every result.
const streamMethod = "fan-out ≤ end_time (the poll's now) → decoded, so it includes the poll itself; ready→decoded (with -updates): the server's time of the update (its poll result ready) → decoded; spread: first → last subscriber decoding one (series, offset); freshness: previous end_time of the subscription → decoded; ms clocks of one machine; histogram as for HTTP (≤ 0.4% high)"

func writeStreamText(w io.Writer, r StreamResult, sys sysInfo) error {
	var b strings.Builder
	lat := func(l Latency) string {
		return fmt.Sprintf("min %v  p50 %v  p90 %v  p99 %v  p99.9 %v  max %v",
			short(l.Min), short(l.P50), short(l.P90), short(l.P99), short(l.P999), short(l.Max))
	}
	fmt.Fprintf(&b, "load        %d connections × %d subscriptions over %d series\n", r.Conns, r.Subs, r.Series)
	fmt.Fprintf(&b, "connected   %d ready in %v (dial errors %d, dropped %d)\n", r.Connected, r.ReadyIn.Round(time.Millisecond), r.DialErrors, r.Dropped)
	fmt.Fprintf(&b, "duration    %v\n", r.Duration.Round(time.Millisecond))
	fmt.Fprintf(&b, "messages    %s; %.1f msg/s, %.0f bytes/s (%.2f MB/s)\n", formatTypes(r.Messages),
		perSecond(total(r.Messages), r.Duration), perSecond(r.Bytes, r.Duration), perSecond(r.Bytes, r.Duration)/1e6)
	fmt.Fprintf(&b, "appends     %d (%.1f/s), snapshots while measuring %d\n", r.Appends, perSecond(r.Appends, r.Duration), r.Snapshots)
	fmt.Fprintf(&b, "fan-out     %s  (%d appends)\n", lat(r.FanOut), r.Samples)
	if r.ReadyJoined+r.ReadyUnlisted > 0 {
		fmt.Fprintf(&b, "ready→dec.  %s  (%d appends with the server's ready time, %d without)\n", lat(r.Ready), r.ReadyJoined, r.ReadyUnlisted)
	}
	fmt.Fprintf(&b, "spread      %s\n", lat(r.Spread))
	fmt.Fprintf(&b, "freshness   %s\n", lat(r.Freshness))
	fmt.Fprintf(&b, "append size bytes min %d  p50 %d  p99 %d  max %d; points min %d  p50 %d  p99 %d  max %d\n",
		r.AppendBytes.Min, r.AppendBytes.P50, r.AppendBytes.P99, r.AppendBytes.Max,
		r.AppendPoints.Min, r.AppendPoints.P50, r.AppendPoints.P99, r.AppendPoints.Max)
	writeUsage(&b, "server", r.Server, true)
	writeUsage(&b, "client", r.Client, true)
	fmt.Fprintf(&b, "            %s\n", streamMethod)
	fmt.Fprintf(&b, "system      %s\n", sys)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeUsage prints a process's memory and CPU. perConn adds the stream mode's per-connection figures; without
// it (the mix mode) the RSS is at the measurement's start and end.
func writeUsage(b *strings.Builder, who string, u ServerUsage, perConn bool) {
	if !u.Measured {
		return
	}
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	if !perConn {
		fmt.Fprintf(b, "%-11s RSS %.1f MiB at the start, %.1f MiB at the end, peak %.1f MiB\n", who, mib(u.RSSBefore), mib(u.RSSEnd), mib(u.RSSPeak))
	} else {
		fmt.Fprintf(b, "%-11s RSS before %.1f MiB, ready %.1f MiB, end %.1f MiB, peak %.1f MiB; %.0f bytes RSS per connection\n",
			who, mib(u.RSSBefore), mib(u.RSSReady), mib(u.RSSEnd), mib(u.RSSPeak), u.PerConnRSSBytes)
	}
	if perConn && u.HeapBefore >= 0 && u.HeapReady >= 0 {
		fmt.Fprintf(b, "            heap in use before %.1f MiB, ready %.1f MiB; %.0f bytes heap per connection\n",
			mib(u.HeapBefore), mib(u.HeapReady), u.PerConnHeap)
	}
	fmt.Fprintf(b, "            CPU %.2f s while measuring: %.3f cores\n", u.CPUSeconds, u.CPUShare)
}

func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func formatTypes(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

type jsonStreamResult struct {
	Conns        int              `json:"connections"`
	Subs         int              `json:"subscriptions_per_connection"`
	Series       int              `json:"series"`
	Connected    int              `json:"connected"`
	DialErrors   int64            `json:"dial_errors"`
	Dropped      int64            `json:"dropped"`
	ReadyS       float64          `json:"ready_s"`
	DurationS    float64          `json:"duration_s"`
	Messages     map[string]int64 `json:"messages"`
	MessagesPerS float64          `json:"messages_per_s"`
	Bytes        int64            `json:"bytes"`
	BytesPerS    float64          `json:"bytes_per_s"`
	Appends      int64            `json:"appends"`
	Snapshots    int64            `json:"snapshots_while_measuring"`
	FanOutMS     jsonLatency      `json:"fanout_ms"`
	SpreadMS     jsonLatency      `json:"spread_ms"`
	ReadyMS      *jsonLatency     `json:"ready_to_decoded_ms,omitempty"`
	ReadyJoined  int64            `json:"ready_joined,omitempty"`
	ReadyUnlist  int64            `json:"ready_unlisted,omitempty"`
	FreshnessMS  jsonLatency      `json:"freshness_ms"`
	AppendBytes  Distribution     `json:"append_bytes"`
	AppendPoints Distribution     `json:"append_points"`
	Server       *ServerUsage     `json:"server,omitempty"`
	Client       ServerUsage      `json:"client"`
	Method       string           `json:"method"`
	System       sysInfo          `json:"system"`
}

func toJSONLatency(l Latency) jsonLatency {
	return jsonLatency{Min: ms(l.Min), P50: ms(l.P50), P90: ms(l.P90), P99: ms(l.P99), P999: ms(l.P999), Max: ms(l.Max)}
}

func writeStreamJSON(w io.Writer, r StreamResult, sys sysInfo) error {
	out := jsonStreamResult{
		Conns: r.Conns, Subs: r.Subs, Series: r.Series, Connected: r.Connected, DialErrors: r.DialErrors,
		Dropped: r.Dropped, ReadyS: r.ReadyIn.Seconds(), DurationS: r.Duration.Seconds(), Messages: r.Messages,
		MessagesPerS: perSecond(total(r.Messages), r.Duration), Bytes: r.Bytes, BytesPerS: perSecond(r.Bytes, r.Duration),
		Appends: r.Appends, Snapshots: r.Snapshots, FanOutMS: toJSONLatency(r.FanOut), SpreadMS: toJSONLatency(r.Spread),
		FreshnessMS: toJSONLatency(r.Freshness), AppendBytes: r.AppendBytes, AppendPoints: r.AppendPoints,
		Client: r.Client, Method: streamMethod, System: sys,
	}
	if r.Server.Measured {
		out.Server = &r.Server
	}
	if r.ReadyJoined+r.ReadyUnlisted > 0 {
		l := toJSONLatency(r.Ready)
		out.ReadyMS, out.ReadyJoined, out.ReadyUnlist = &l, r.ReadyJoined, r.ReadyUnlisted
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
