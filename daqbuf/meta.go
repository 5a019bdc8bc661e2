package daqbuf

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

// Backends lists the backends data-api announces (GET /backend/list, docs/daqbuf.md §2.1). A server
// that does not route it (404) is asked the legacy GET /backends instead.
func (c *Client) Backends(ctx context.Context) ([]string, error) {
	_, body, err := c.getJSON(ctx, "/backend/list", nil)
	if errors.Is(err, ErrChannelNotFound) { // 404: the path is not routed on this server
		if _, body, err = c.getJSON(ctx, "/backends", nil); err != nil {
			return nil, err
		}
		return decodeBackends(body)
	}
	if err != nil {
		return nil, err
	}
	return decodeBackends(body)
}

// decodeBackends reads both the current {"backends_available":[{"name"}]} and the legacy
// {"backends":[names]} body.
func decodeBackends(body []byte) ([]string, error) {
	var v struct {
		Available []struct {
			Name string `json:"name"`
		} `json:"backends_available"`
		Legacy []string `json:"backends"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, badBody("backend list", err)
	}
	out := v.Legacy
	for _, b := range v.Available {
		out = append(out, b.Name)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// SearchQuery searches channels by name (GET /search/channel, docs/daqbuf.md §2.2). The regex is
// unanchored (a substring match); use ^…$ to anchor. An empty Backend searches all backends.
type SearchQuery struct {
	Regex   string
	Backend string
	ICase   bool
}

// Search returns the matching channels in data-api's order, without the duplicates its fan-out
// produces (deduplicated on backend, series id and name).
func (c *Client) Search(ctx context.Context, q SearchQuery) ([]Channel, error) {
	v := url.Values{}
	v.Set("nameRegex", q.Regex)
	if q.Backend != "" {
		v.Set("backend", q.Backend)
	}
	if q.ICase {
		v.Set("icase", "true")
	}
	status, body, err := c.getJSON(ctx, "/search/channel", v)
	if errors.Is(err, ErrChannelNotFound) {
		// The search endpoint itself is missing (a wrong base URL): not a channel that does not exist.
		return nil, &UpstreamError{Kind: ErrUpstream, Status: http.StatusNotFound, Message: "search endpoint not found"}
	}
	if err != nil {
		return nil, err
	}
	if status == http.StatusNoContent {
		return []Channel{}, nil
	}
	return decodeSearch(body)
}

func decodeSearch(body []byte) ([]Channel, error) {
	var v struct {
		Channels []struct {
			Backend     string   `json:"backend"`
			Name        string   `json:"name"`
			SeriesID    uint64   `json:"seriesId"`
			Source      string   `json:"source"`
			Type        string   `json:"type"`
			Shape       []uint32 `json:"shape"`
			Unit        string   `json:"unit"`
			Description string   `json:"description"`
		} `json:"channels"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, badBody("search result", err)
	}
	type key struct {
		backend, name string
		series        uint64
	}
	seen := make(map[key]bool, len(v.Channels))
	out := make([]Channel, 0, len(v.Channels))
	for _, ch := range v.Channels {
		k := key{ch.Backend, ch.Name, ch.SeriesID}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, Channel{
			Backend: ch.Backend, Name: ch.Name, SeriesID: ch.SeriesID, Source: ch.Source, Type: ch.Type,
			Shape: ch.Shape, Unit: ch.Unit, Description: ch.Description,
		})
	}
	return out, nil
}

// ChannelConfig is a channel's configuration (GET /channel/config, docs/daqbuf.md §2.5). Which fields are
// set depends on Kind: "Daqbuf" (Scylla backends) carries SeriesID and SeriesKind, "SfDatabuffer"
// carries Keyspace, TimeBinSize and ByteOrder.
type ChannelConfig struct {
	Kind        string // data-api's "type" tag: "Daqbuf", "SfDatabuffer", ...
	Backend     string
	Name        string
	SeriesID    uint64
	SeriesKind  string
	ScalarType  string // same vocabulary as Channel.Type
	Shape       []uint32
	Keyspace    int
	TimeBinSize int64 // ms
	ByteOrder   string
}

// ChannelConfig fetches the configuration of one channel; an unknown channel wraps ErrChannelNotFound.
func (c *Client) ChannelConfig(ctx context.Context, ch ChannelRef) (ChannelConfig, error) {
	v := url.Values{}
	if err := channelParams(v, ch); err != nil {
		return ChannelConfig{}, err
	}
	status, body, err := c.getJSON(ctx, "/channel/config", v)
	if err != nil {
		return ChannelConfig{}, err
	}
	if status == http.StatusNoContent {
		return ChannelConfig{}, &UpstreamError{Kind: ErrChannelNotFound, Status: status}
	}
	return decodeChannelConfig(body)
}

func decodeChannelConfig(body []byte) (ChannelConfig, error) {
	var v struct {
		Type        string   `json:"type"`
		Backend     string   `json:"backend"`
		Name        string   `json:"name"`
		SeriesID    uint64   `json:"seriesId"`
		SeriesKind  string   `json:"seriesKind"`
		ScalarType  string   `json:"scalarType"`
		Shape       []uint32 `json:"shape"`
		Keyspace    int      `json:"keyspace"`
		TimeBinSize int64    `json:"timeBinSize"`
		ByteOrder   string   `json:"byteOrder"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return ChannelConfig{}, badBody("channel config", err)
	}
	return ChannelConfig{
		Kind: v.Type, Backend: v.Backend, Name: v.Name, SeriesID: v.SeriesID, SeriesKind: v.SeriesKind,
		ScalarType: v.ScalarType, Shape: v.Shape, Keyspace: v.Keyspace, TimeBinSize: v.TimeBinSize,
		ByteOrder: v.ByteOrder,
	}, nil
}

// Version is data-api's version. Patch is 0 when the server did not say.
type Version struct {
	Major, Minor, Patch int
}

// Version asks GET /private/version, falling back to the legacy GET /version on 404 (docs/daqbuf.md §2.7).
func (c *Client) Version(ctx context.Context) (Version, error) {
	_, body, err := c.getJSON(ctx, "/private/version", nil)
	if errors.Is(err, ErrChannelNotFound) {
		_, body, err = c.getJSON(ctx, "/version", nil)
	}
	if err != nil {
		return Version{}, err
	}
	return decodeVersion(body)
}

func decodeVersion(body []byte) (Version, error) {
	var v struct {
		Current *Version `json:"daqbuf_version"`
		Legacy  *Version `json:"data_api_version"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return Version{}, badBody("version", err)
	}
	switch {
	case v.Current != nil:
		return *v.Current, nil
	case v.Legacy != nil:
		return *v.Legacy, nil
	}
	return Version{}, badBody("version", errors.New("no version object"))
}

func badBody(what string, err error) error {
	return &UpstreamError{Kind: ErrUpstream, Message: "undecodable " + what + ": " + err.Error()}
}
