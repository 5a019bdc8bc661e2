package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// upstreamCount is a count of data-api requests, in total and by endpoint, from one source.
type upstreamCount struct {
	Known      bool // the source answered (both samples, for a difference)
	Total      float64
	ByEndpoint map[string]float64
}

// minus is the count from b to a (a later sample minus an earlier one).
func (a upstreamCount) minus(b upstreamCount) upstreamCount {
	if !a.Known || !b.Known {
		return upstreamCount{}
	}
	d := upstreamCount{Known: true, Total: a.Total - b.Total, ByEndpoint: map[string]float64{}}
	for k, v := range a.ByEndpoint {
		d.ByEndpoint[k] = v - b.ByEndpoint[k]
	}
	return d
}

// daqbufMetric is databoard's count of the requests its data-api client sent, by endpoint.
const daqbufMetric = "databoard_daqbuf_requests_total"

// upstream samples both sources of upstream counts (either may be unknown).
func (m *mixLoader) upstream(ctx context.Context) (databoard, sim upstreamCount) {
	if m.cfg.MetricsURL != "" {
		if body, err := m.fetch(ctx, m.cfg.MetricsURL); err == nil {
			databoard = parseDaqbufMetric(string(body))
		}
	}
	if m.cfg.SimURL != "" {
		if body, err := m.fetch(ctx, m.cfg.SimURL+"/sim/requests"); err == nil {
			sim = parseSimCounts(body)
		}
	}
	return databoard, sim
}

func (m *mixLoader) fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := getOK(ctx, m.client, url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// getOK GETs url and returns the response when its status is 200 OK (the caller closes its body), else
// an *httpStatusError.
func getOK(ctx context.Context, client *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &httpStatusError{resp.StatusCode}
	}
	return resp, nil
}

type httpStatusError struct{ status int }

func (e *httpStatusError) Error() string { return "status " + strconv.Itoa(e.status) }

// parseDaqbufMetric reads databoard_daqbuf_requests_total{endpoint="..."} lines of a Prometheus text
// exposition. A server without the metric gives an unknown count, not zero.
func parseDaqbufMetric(text string) upstreamCount {
	c := upstreamCount{ByEndpoint: map[string]float64{}}
	for line := range strings.SplitSeq(text, "\n") {
		rest, ok := strings.CutPrefix(line, daqbufMetric+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		endpoint := labelValue(labels, "endpoint")
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || endpoint == "" {
			continue
		}
		c.Known = true
		c.ByEndpoint[endpoint] += v
		c.Total += v
	}
	if !c.Known && strings.Contains(text, "# TYPE "+daqbufMetric+" ") {
		c.Known = true // the metric exists but nothing was sent yet
	}
	return c
}

// labelValue returns the value of name in a Prometheus label set (`a="x",b="y"`); values here hold no quotes.
func labelValue(labels, name string) string {
	for part := range strings.SplitSeq(labels, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// parseSimCounts reads daqbuf-sim's /sim/requests answer; paths lose their /api/4 prefix to match databoard's.
func parseSimCounts(body []byte) upstreamCount {
	var v struct {
		Total  float64            `json:"total"`
		ByPath map[string]float64 `json:"by_path"`
	}
	if json.Unmarshal(body, &v) != nil || v.ByPath == nil {
		return upstreamCount{}
	}
	c := upstreamCount{Known: true, Total: v.Total, ByEndpoint: map[string]float64{}}
	for p, n := range v.ByPath {
		c.ByEndpoint[strings.TrimPrefix(p, "/api/4")] += n
	}
	return c
}
