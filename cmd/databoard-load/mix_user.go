package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// user is one simulated person with the Data Board frontend open on a dashboard (docs/api.md, "How the web
// frontend uses the API"). Its actions run one at a time; the requests of one action run in parallel, at most
// BrowserConns at once, as a browser's connection limit allows.
type user struct {
	m     *mixLoader
	rng   *rand.Rand
	live  bool // follows its plots over /stream; otherwise auto-apply re-fetches them every Refresh
	width int  // num_bins of every curve: the frontend sends window.innerWidth
	slots chan struct{}

	boardID string
	doc     dashboardDTO
	// series is the seriesId each plot's ^name$ search found (the frontend keeps one map per plot; later
	// curve requests of that plot send it instead of the name).
	seriesMu sync.Mutex
	series   map[plotChannel]string
	panned   bool // on an absolute window: auto-apply sends nothing then (PlotWidget.tsx: equal time values)
	conn     *liveConn
}

type plotChannel struct {
	plot int
	name string
}

// The actions a user takes besides the open; each has its own next time.
type action int

const (
	actRefresh action = iota // auto-apply: the relative window again
	actPan                   // pan or zoom to an absolute window
	actBack                  // back to the relative window
	actSave                  // update the dashboard, or save it as a new one
	actSwitch                // open another dashboard
	actHealth                // the frontend's /health poll
	numActions
)

// never is a next time that does not come within any run.
var never = time.Unix(math.MaxInt32, 0)

// run is the user's life: it starts at a random time within the ramp, opens a dashboard and then takes the
// action whose time comes first until stopCtx ends. Requests run under ctx.
func (u *user) run(ctx, stopCtx context.Context, first time.Time) {
	cfg := u.m.cfg
	if cfg.Ramp > 0 && !sleepUntil(stopCtx, first.Add(time.Duration(u.rng.Int64N(int64(cfg.Ramp))))) {
		return
	}
	u.m.stats.userStarted(time.Now())
	u.open(ctx, stopCtx, u.rng.IntN(len(u.m.ids)))
	defer u.closeLive(time.Now)

	var next [numActions]time.Time
	now := time.Now()
	next[actRefresh] = u.refreshAfter(now)
	next[actPan] = u.after(now, cfg.PanEvery)
	next[actBack] = never
	next[actSave] = u.after(now, cfg.SaveEvery)
	next[actSwitch] = u.after(now, cfg.SwitchEvery)
	next[actHealth] = now.Add(cfg.Health)
	if cfg.Health == 0 {
		next[actHealth] = never
	}
	for {
		a := action(0)
		for i := range next {
			if next[i].Before(next[a]) {
				a = action(i)
			}
		}
		if !sleepUntil(stopCtx, next[a]) {
			return
		}
		u.act(ctx, stopCtx, a, &next)
	}
}

// act takes action a and schedules what follows from it.
func (u *user) act(ctx, stopCtx context.Context, a action, next *[numActions]time.Time) {
	cfg := u.m.cfg
	switch a {
	case actRefresh:
		u.fetchRelative(ctx, stopCtx, kindCurveRefresh)
		next[actRefresh] = u.refreshAfter(time.Now())
	case actPan:
		u.pan(ctx, stopCtx)
		next[actPan], next[actBack] = never, u.after(time.Now(), cfg.PanStay)
		if cfg.PanStay == 0 {
			next[actBack] = time.Now()
		}
	case actBack:
		u.back(ctx, stopCtx)
		next[actBack], next[actPan] = never, u.after(time.Now(), cfg.PanEvery)
		next[actRefresh] = u.refreshAfter(time.Now())
	case actSave:
		u.save(ctx, stopCtx)
		next[actSave] = u.after(time.Now(), cfg.SaveEvery)
	case actSwitch:
		u.closeLive(time.Now)
		u.open(ctx, stopCtx, u.rng.IntN(len(u.m.ids)))
		next[actSwitch] = u.after(time.Now(), cfg.SwitchEvery)
		next[actBack], next[actPan] = never, u.after(time.Now(), cfg.PanEvery)
		next[actRefresh] = u.refreshAfter(time.Now())
	case actHealth:
		u.health(ctx, stopCtx)
		next[actHealth] = time.Now().Add(cfg.Health)
	}
}

// after is an exponentially distributed time with the given mean after now (think times are memoryless);
// a mean of 0 is never.
func (u *user) after(now time.Time, mean time.Duration) time.Time {
	if mean == 0 {
		return never
	}
	return now.Add(time.Duration(u.rng.ExpFloat64() * float64(mean)))
}

// refreshAfter is the next auto-apply: live users and users on a panned window send nothing.
func (u *user) refreshAfter(now time.Time) time.Time {
	if u.live || u.panned {
		return never
	}
	return now.Add(u.m.cfg.Refresh)
}

// open loads dashboard d as a page load does: the dashboard, the sidebar's recent channels, the health ping,
// then for every plot and channel a ^name$ search and the curve of the relative window, together. A live user
// then subscribes to every plot and channel.
func (u *user) open(ctx, stopCtx context.Context, d int) {
	u.boardID, u.panned = u.m.ids[d], false
	u.seriesMu.Lock()
	u.series = map[plotChannel]string{}
	u.seriesMu.Unlock()
	a, ok := u.m.measured(ctx, stopCtx, u, kindDashboard, http.MethodGet, "/dashboard/"+u.boardID, nil, http.StatusOK, checkDashboard)
	if !ok {
		return
	}
	u.doc = dashboardDTO{}             // decoding into the previous one would merge its maps
	_ = json.Unmarshal(a.body, &u.doc) // checkDashboard decoded it already
	var wg sync.WaitGroup
	wg.Go(func() {
		u.m.measured(ctx, stopCtx, u, kindRecent, http.MethodGet, "/channels/recent", nil, http.StatusOK, checkChannels)
	})
	wg.Go(func() { u.health(ctx, stopCtx) })
	end := time.Now().UnixMilli()
	u.eachCurve(func(p int, ch channelObj) {
		wg.Go(func() { u.search(ctx, stopCtx, p, ch) })
		wg.Go(func() { u.curve(ctx, stopCtx, kindCurveOpen, p, ch, end-u.m.cfg.Window.Milliseconds(), end) })
	})
	wg.Wait()
	if u.live {
		u.subscribeAll(ctx, stopCtx)
	}
}

// eachCurve calls f for every plot and channel of the open dashboard.
func (u *user) eachCurve(f func(plot int, ch channelObj)) {
	for p, w := range u.doc.Dashboard.Widgets {
		for _, ch := range w.Channels {
			f(p, ch)
		}
	}
}

// fetchRelative asks every curve of the relative window again, as one press of APPLY (one "now" for all).
func (u *user) fetchRelative(ctx, stopCtx context.Context, k reqKind) {
	end := time.Now().UnixMilli()
	u.fetchAll(ctx, stopCtx, k, end-u.m.cfg.Window.Milliseconds(), end)
}

func (u *user) fetchAll(ctx, stopCtx context.Context, k reqKind, begin, end int64) {
	var wg sync.WaitGroup
	u.eachCurve(func(p int, ch channelObj) {
		wg.Go(func() { u.curve(ctx, stopCtx, k, p, ch, begin, end) })
	})
	wg.Wait()
}

// panSpans are the widths of the windows users pan or zoom to.
var panSpans = []time.Duration{10 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// pan moves every plot to an absolute window of the past week (Ctrl+zoom or the time selector: all plots
// share the time range). A live user leaves the stream while it looks at the past.
func (u *user) pan(ctx, stopCtx context.Context) {
	u.panned = true
	u.unsubscribeAll(ctx)
	span := panSpans[u.rng.IntN(len(panSpans))]
	end := time.Now().Add(-time.Duration(u.rng.Int64N(int64(7 * 24 * time.Hour)))).UnixMilli()
	u.fetchAll(ctx, stopCtx, kindCurvePan, end-span.Milliseconds(), end)
}

// back returns to the relative window: the curves again, and the stream for a live user.
func (u *user) back(ctx, stopCtx context.Context) {
	u.panned = false
	u.fetchRelative(ctx, stopCtx, kindCurveRefresh)
	if u.live {
		u.subscribeAll(ctx, stopCtx)
	}
}

// search is the plot's seriesId lookup (PlotWidget.tsx): exactly one channel of the same backend, name and type
// gives the seriesId later curve requests of this plot send.
func (u *user) search(ctx, stopCtx context.Context, plot int, ch channelObj) {
	q := url.Values{"search_text": {"^" + ch.Name + "$"}, "allow_cached_response": {"false"}, "backend": {ch.Backend}}
	var id string
	u.m.measured(ctx, stopCtx, u, kindSearch, http.MethodGet, "/channels/search?"+q.Encode(), nil, http.StatusOK, func(a answer) string {
		var found struct{ Channels []channelObj }
		if err := json.Unmarshal(a.body, &found); err != nil {
			return "not a channel list: " + err.Error()
		}
		n := 0
		for _, c := range found.Channels {
			if c.Backend == ch.Backend && c.Name == ch.Name && c.Type == ch.Type {
				id, n = c.SeriesID, n+1
			}
		}
		if n != 1 {
			return strconv.Itoa(n) + " channels match " + ch.Name + ", want 1"
		}
		return ""
	})
	if id != "" {
		u.seriesMu.Lock()
		u.series[plotChannel{plot, ch.Name}] = id
		u.seriesMu.Unlock()
	}
}

// curve asks one plot's curve of one channel as the frontend does: by seriesId once the plot's search found
// it, else by name; window.innerWidth bins; raw when sparse; empty bins removed.
func (u *user) curve(ctx, stopCtx context.Context, k reqKind, plot int, ch channelObj, begin, end int64) {
	u.seriesMu.Lock()
	name, ok := u.series[plotChannel{plot, ch.Name}]
	u.seriesMu.Unlock()
	if !ok {
		name = ch.Name
	}
	q := url.Values{
		"channel_name": {name}, "begin_time": {strconv.FormatInt(begin, 10)}, "end_time": {strconv.FormatInt(end, 10)},
		"backend": {ch.Backend}, "num_bins": {strconv.Itoa(u.width)},
		"useEventsIfBinCountTooLarge": {"true"}, "removeEmptyBins": {"true"},
	}
	u.m.measured(ctx, stopCtx, u, k, http.MethodGet, "/channels/curve?"+q.Encode(), nil, http.StatusOK, func(a answer) string {
		// The answer's first key is the channel_name sent (docs/api.md, "Curve"); decoding every curve in full
		// would cost the shared machine more than the check is worth.
		if !bytes.HasPrefix(a.body, []byte(`{"curve":{"`+name+`":`)) {
			return "does not start with the curve of " + name
		}
		return ""
	})
}

// save is "Update Current" (PATCH, falling back to POST on 404 as the frontend does) or, for a share of
// saves, "Save New" (POST), after a small layout change. A new dashboard is the one the user then has open.
func (u *user) save(ctx, stopCtx context.Context) {
	if len(u.doc.Dashboard.Widgets) == 0 {
		return
	}
	w := &u.doc.Dashboard.Widgets[u.rng.IntN(len(u.doc.Dashboard.Widgets))]
	w.Layout.H = float64(10 + u.rng.IntN(15)) // resized a plot
	body, err := json.Marshal(u.doc)
	if err != nil {
		return
	}
	if u.rng.Float64() >= u.m.cfg.SaveNew {
		a, ok := u.m.measured(ctx, stopCtx, u, kindSaveUpdate, http.MethodPatch, "/dashboard/"+u.boardID, body, http.StatusOK, checkDashboard)
		if ok || a.status != http.StatusNotFound {
			return
		}
	}
	var created struct{ ID string }
	_, ok := u.m.measured(ctx, stopCtx, u, kindSaveNew, http.MethodPost, "/dashboard/", body, http.StatusCreated, func(a answer) string {
		if err := json.Unmarshal(a.body, &created); err != nil || created.ID == "" {
			return "no id in the answer"
		}
		return ""
	})
	if ok {
		u.boardID = created.ID
	}
}

func (u *user) health(ctx, stopCtx context.Context) {
	u.m.measured(ctx, stopCtx, u, kindHealth, http.MethodGet, "/health", nil, http.StatusOK, nil)
}

// checkDashboard checks a dashboard answer: {"id", "dashboard": {"widgets": [...]}}.
func checkDashboard(a answer) string {
	var v struct {
		ID        string
		Dashboard *dashboardDoc
	}
	if err := json.Unmarshal(a.body, &v); err != nil {
		return "not a dashboard: " + err.Error()
	}
	if v.ID == "" || v.Dashboard == nil || v.Dashboard.Widgets == nil {
		return "no id or widgets"
	}
	return ""
}

// checkChannels checks a {"channels": [...]} answer.
func checkChannels(a answer) string {
	var v struct{ Channels []channelObj }
	if err := json.Unmarshal(a.body, &v); err != nil || v.Channels == nil {
		return "not a channel list"
	}
	return ""
}
