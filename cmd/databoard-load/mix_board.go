package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
)

// The dashboard types below follow the shipped schema (configs/schema/dashboarddto.schema.json) and the
// frontend's saved dashboards (dashboards/testdata/dashboards): the mix creates dashboards the frontend could
// have saved, and users read them back through the same types.

// channelObj is a channel exactly as /channels/search answers it and as the frontend stores it in dashboards.
type channelObj struct {
	Backend     string          `json:"backend"`
	Name        string          `json:"name"`
	SeriesID    string          `json:"seriesId"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Shape       json.RawMessage `json:"shape"` // [] or [N] or "": kept as sent
	Unit        string          `json:"unit"`
	Description string          `json:"description"`
}

type dashboardDTO struct {
	Dashboard dashboardDoc `json:"dashboard"`
}

type dashboardDoc struct {
	Widgets []widget `json:"widgets"`
}

type widget struct {
	Channels     []channelObj  `json:"channels"`
	Layout       layout        `json:"layout"`
	PlotSettings *plotSettings `json:"plotSettings,omitempty"`
}

type layout struct {
	W      float64 `json:"w"`
	H      float64 `json:"h"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	I      string  `json:"i"`
	Moved  bool    `json:"moved"`
	Static bool    `json:"static"`
}

type plotSettings struct {
	PlotTitle            string               `json:"plotTitle"`
	CurveAttributes      map[string]curveAttr `json:"curveAttributes"`
	YAxisAttributes      []yAxis              `json:"yAxisAttributes"`
	ManualAxisAssignment bool                 `json:"manualAxisAssignment"`
}

type curveAttr struct {
	Channel        channelObj `json:"channel"`
	Color          string     `json:"color"`
	CurveShape     string     `json:"curveShape"`
	CurveMode      string     `json:"curveMode"`
	DisplayLabel   string     `json:"displayLabel"`
	AxisAssignment string     `json:"axisAssignment"`
}

type yAxis struct {
	Label              string   `json:"label"`
	Scaling            string   `json:"scaling"`
	Min                *float64 `json:"min"` // null: automatic
	Max                *float64 `json:"max"`
	DisplayLabel       string   `json:"displayLabel"`
	ManualDisplayLabel bool     `json:"manualDisplayLabel"`
}

// plotlyColors is the frontend's colour cycle (Plotly's default).
var plotlyColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// curveLabel is the key and display label the frontend gives a curve.
func curveLabel(c channelObj) string { return c.Name + " | " + c.Backend + " | " + c.Type }

// dashboardPlan is which channels (indices into the -channels range) each plot of each dashboard shows.
// It depends on the seed only, so a rerun creates the same dashboards.
func dashboardPlan(cfg mixConfig) [][][]int {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	plan := make([][][]int, cfg.Dashboards)
	for d := range plan {
		plots := make([][]int, between(rng, cfg.Plots))
		for p := range plots {
			// Distinct channels within a plot (as far as -channels allows); plots and dashboards may share
			// channels, as real ones do.
			n := min(between(rng, cfg.PerPlot), cfg.Channels)
			plots[p] = rng.Perm(cfg.Channels)[:n]
		}
		plan[d] = plots
	}
	return plan
}

func between(rng *rand.Rand, r intRange) int { return r.Min + rng.IntN(r.Max-r.Min+1) }

// buildDashboard turns one dashboard's plan into the DTO the frontend would save.
func buildDashboard(rng *rand.Rand, plots [][]int, channels map[int]channelObj) dashboardDTO {
	var doc dashboardDTO
	doc.Dashboard.Widgets = []widget{} // never null: the schema wants an array
	y := 0.0
	for p, idx := range plots {
		w := widget{Channels: make([]channelObj, 0, len(idx))}
		ps := &plotSettings{PlotTitle: fmt.Sprintf("Plot %d", p+1), CurveAttributes: map[string]curveAttr{}, YAxisAttributes: []yAxis{}}
		for k, i := range idx {
			ch := channels[i]
			w.Channels = append(w.Channels, ch)
			axis := fmt.Sprintf("y%d", k%4+1) // the frontend has four y axes
			ps.CurveAttributes[curveLabel(ch)] = curveAttr{Channel: ch, Color: plotlyColors[k%len(plotlyColors)],
				CurveShape: "linear", CurveMode: "lines+markers", DisplayLabel: curveLabel(ch), AxisAssignment: axis}
			if k < 4 {
				ps.YAxisAttributes = append(ps.YAxisAttributes, yAxis{Label: axis, Scaling: "linear", DisplayLabel: curveLabel(ch)})
			}
		}
		h := float64(10 + rng.IntN(15))
		w.Layout = layout{W: 12, H: h, X: 0, Y: y, I: uuidFrom(rng)}
		w.PlotSettings = ps
		y += h
		doc.Dashboard.Widgets = append(doc.Dashboard.Widgets, w)
	}
	return doc
}

// uuidFrom is a version-4-shaped UUID from rng, like the layout keys the frontend makes.
func uuidFrom(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}

// channelIndices returns the distinct channel indices a plan uses.
func channelIndices(plan [][][]int) []int {
	seen := map[int]bool{}
	var out []int
	for _, plots := range plan {
		for _, idx := range plots {
			for _, i := range idx {
				if !seen[i] {
					seen[i] = true
					out = append(out, i)
				}
			}
		}
	}
	return out
}

// setupDashboards looks up every channel the plan uses (as a user adding it from the sidebar would) and
// creates the dashboards. It returns their ids, in plan order.
func (m *mixLoader) setupDashboards(ctx context.Context) ([]string, error) {
	plan := dashboardPlan(m.cfg)
	channels, err := m.lookUpChannels(ctx, channelIndices(plan))
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(m.cfg.Seed, 1))
	ids := make([]string, len(plan))
	for d, plots := range plan {
		body, err := json.Marshal(buildDashboard(rng, plots, channels))
		if err != nil {
			return nil, err
		}
		var created struct{ ID string }
		status, err := m.setupCall(ctx, http.MethodPost, "/dashboard/", body, &created)
		if err != nil || status != http.StatusCreated || created.ID == "" {
			return nil, fmt.Errorf("creating dashboard %d: status %d, id %q, %v", d, status, created.ID, err)
		}
		ids[d] = created.ID
	}
	return ids, nil
}

// lookUpChannels finds each channel by an anchored search, a few at a time.
func (m *mixLoader) lookUpChannels(ctx context.Context, indices []int) (map[int]channelObj, error) {
	var (
		mu    sync.Mutex
		out   = make(map[int]channelObj, len(indices))
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, 8)
	)
	for _, i := range indices {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			name := fmt.Sprintf(m.cfg.ChannelFormat, i)
			ch, err := m.lookUpChannel(ctx, name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			out[i] = ch
		})
	}
	wg.Wait()
	return out, first
}

func (m *mixLoader) lookUpChannel(ctx context.Context, name string) (channelObj, error) {
	q := url.Values{"search_text": {"^" + name + "$"}, "backend": {m.cfg.Backend}, "allow_cached_response": {"false"}}
	var found struct{ Channels []channelObj }
	status, err := m.setupCall(ctx, http.MethodGet, "/channels/search?"+q.Encode(), nil, &found)
	if err != nil || status != http.StatusOK {
		return channelObj{}, fmt.Errorf("looking up channel %s: status %d, %v", name, status, err)
	}
	for _, c := range found.Channels {
		if c.Name == name && c.Backend == m.cfg.Backend {
			return c, nil
		}
	}
	return channelObj{}, fmt.Errorf("channel %s not found on backend %s (does the data-api serve it? daqbuf-sim -catalogue N serves SIM-GEN:CH000000 to N-1)", name, m.cfg.Backend)
}
