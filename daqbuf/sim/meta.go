package sim

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
)

// acceptsJSON is the Accept rule of the metadata endpoints (§2.1, §2.2): JSON, */* or none.
func acceptsJSON(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return a == "" || strings.Contains(a, "application/json") || strings.Contains(a, "*/*")
}

func (s *Sim) serveBackendList(w http.ResponseWriter, r *http.Request, c *call) {
	if !acceptsJSON(r) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	type backend struct {
		Name string `json:"name"`
	}
	list := make([]backend, len(s.cfg.Backends))
	for i, b := range s.cfg.Backends {
		list[i] = backend{b}
	}
	writeJSON(w, map[string]any{"backends_available": list})
}

// searchRow is one channel of a search answer (§2.2).
type searchRow struct {
	Backend     string   `json:"backend"`
	Name        string   `json:"name"`
	SeriesID    uint64   `json:"seriesId"`
	Source      string   `json:"source"`
	Type        string   `json:"type"`
	Shape       []uint32 `json:"shape"`
	Unit        string   `json:"unit"`
	Description string   `json:"description"`
}

// searchRowsMax is the Scylla backends' row limit.
const searchRowsMax = 400_000

func (s *Sim) serveSearch(w http.ResponseWriter, r *http.Request, c *call) {
	if !acceptsJSON(r) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	rows := []searchRow{}
	if pattern := q.Get("nameRegex"); pattern != "" {
		matches, err := s.searchNames(pattern, boolParam(q, "icase"))
		if err != nil {
			writeSearchError(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		filter := q.Get("backend")
		for _, b := range s.cfg.Backends {
			if filter != "" && b != filter {
				continue
			}
			for _, i := range matches {
				if len(rows) == searchRowsMax {
					break
				}
				ch := s.cat.channel(b, int(i))
				rows = append(rows, searchRow{
					Backend: b, Name: ch.Name, SeriesID: ch.SeriesID, Type: ch.Type, Shape: ch.Shape,
					Unit: ch.Unit, Description: ch.Description,
				})
			}
		}
	}
	writeJSON(w, map[string]any{"channels": rows})
}

// channelConfig is the "Daqbuf" variant of the channel config answer (§2.5).
type channelConfig struct {
	Type       string   `json:"type"`
	Backend    string   `json:"backend"`
	SeriesID   uint64   `json:"seriesId"`
	SeriesKind string   `json:"seriesKind"`
	ScalarType string   `json:"scalarType"`
	Shape      []uint32 `json:"shape"`
	Name       string   `json:"name"`
}

func (s *Sim) serveChannelConfig(w http.ResponseWriter, r *http.Request, c *call) {
	if !acceptsJSON(r) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	backend, idx, err := s.resolveChannel(r.URL.Query())
	switch {
	case errors.Is(err, errChannelNotFound):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		return
	case err != nil:
		writeMalformed(w, r, c.id)
		return
	}
	ch := s.cat.channel(backend, idx)
	writeJSON(w, channelConfig{
		Type: "Daqbuf", Backend: backend, SeriesID: ch.SeriesID, SeriesKind: "ChannelData",
		ScalarType: ch.Type, Shape: ch.Shape, Name: ch.Name,
	})
}

// serveSeriesConfig is /series/config: the channel config addressed by seriesId only.
func (s *Sim) serveSeriesConfig(w http.ResponseWriter, r *http.Request, c *call) {
	if !r.URL.Query().Has("seriesId") {
		writeMalformed(w, r, c.id)
		return
	}
	s.serveChannelConfig(w, r, c)
}

func (s *Sim) serveVersion(w http.ResponseWriter, r *http.Request, c *call) {
	writeJSON(w, map[string]any{"daqbuf_version": map[string]int{"major": 0, "minor": 5, "patch": 5}})
}

// serveNotFound echoes the request, as data-api does for unknown paths (§2.7).
func (s *Sim) serveNotFound(w http.ResponseWriter, r *http.Request) {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, ""
	}
	headers := make(map[string]string, len(r.Header))
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	body := map[string]any{
		"method": r.Method, "uri": r.URL.RequestURI(), "host": host, "port": port,
		"path": r.URL.Path, "query": r.URL.RawQuery, "headers": headers,
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(w).Encode(body)
}
