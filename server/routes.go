package server

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/databoard/databoard/server/web"
)

// route is one entry of the API. The same table builds the Fiber app, the OpenAPI document and the
// test that every route has a test.
type route struct {
	method, path string
	summary      string
	tag          string
	deadline     time.Duration
	maintenance  bool
	query        []queryParam // for OpenAPI
	body         bool         // takes a DashboardDTO body
	status       int          // success status
	answer       string       // schema of the success body (a component of schemas()), for JSON answers
	media        string       // the success body's media type; "" = application/json
	handler      fiber.Handler
}

// queryParam documents one query parameter.
type queryParam struct {
	name, typ, def, doc string
	required            bool
}

var curveParams = []queryParam{
	{name: "channel_name", typ: "string", required: true, doc: "channel name, or its seriesId (all digits)"},
	{name: "begin_time", typ: "integer", required: true, doc: "start, ms since the Unix epoch"},
	{name: "end_time", typ: "integer", required: true, doc: "end, ms since the Unix epoch (clamped to now)"},
	{name: "backend", typ: "string", def: "sf-databuffer", doc: "data-api backend"},
	{name: "num_bins", typ: "integer", def: "0", doc: "at least this many bins; 0 = raw events"},
	{name: "useEventsIfBinCountTooLarge", typ: "boolean", def: "false", doc: "raw events when fewer events than bins"},
	{name: "removeEmptyBins", typ: "boolean", def: "false", doc: "drop bins with count 0"},
	{name: "isString", typ: "boolean", doc: "treat values as strings"},
}

func (s *Server) routes() []route {
	d := s.cfg.Deadlines
	return []route{
		{method: "GET", path: "/", answer: "Message", summary: "Hello", tag: "root", deadline: d.Root, handler: s.handleRoot},
		{method: "GET", path: "/health", answer: "Message", summary: "Liveness", tag: "root", deadline: d.Root, handler: s.handleHealth},
		{method: "GET", path: "/channels/search", answer: "ChannelList", summary: "Search channels by regex", tag: "channels", deadline: d.Search,
			query: []queryParam{
				{name: "search_text", typ: "string", def: "", doc: "case-insensitive RE2 regex; empty = the whole list"},
				{name: "allow_cached_response", typ: "boolean", def: "true", doc: "false asks data-api live"},
				{name: "backend", typ: "string", doc: "restrict to one backend"},
			}, handler: s.handleSearch},
		{method: "GET", path: "/channels/recent", answer: "ChannelList", summary: "Channels whose curves were requested last", tag: "channels",
			deadline: d.Recent, handler: s.handleRecent},
		{method: "GET", path: "/channels/curve", answer: "Curve", summary: "Binned or raw curve of one channel", tag: "channels",
			deadline: d.Curve, query: curveParams, handler: s.handleCurve},
		{method: "GET", path: "/channels/raw-link", answer: "RawLink", summary: "data-api link to the raw events", tag: "channels",
			deadline: d.RawLink, query: curveParams[:4], handler: s.handleRawLink},
		{method: "POST", path: "/dashboard/", answer: "Dashboard", summary: "Create a dashboard", tag: "dashboards", deadline: d.Dashboards,
			body: true, status: http.StatusCreated, handler: s.handleCreateDashboard},
		{method: "POST", path: "/dashboard", answer: "Dashboard", summary: "Create a dashboard (no trailing slash)", tag: "dashboards",
			deadline: d.Dashboards, body: true, status: http.StatusCreated, handler: s.handleCreateDashboard},
		{method: "GET", path: "/dashboard/:id", answer: "Dashboard", summary: "Get a dashboard", tag: "dashboards", deadline: d.Dashboards,
			handler: s.handleGetDashboard},
		{method: "PATCH", path: "/dashboard/:id", answer: "Dashboard", summary: "Replace a dashboard", tag: "dashboards", deadline: d.Dashboards,
			body: true, handler: s.handleReplaceDashboard},
		{method: "DELETE", path: "/dashboard/:id", answer: "Dashboard", summary: "Delete a dashboard", tag: "dashboards", deadline: d.Dashboards,
			handler: s.handleDeleteDashboard},
		{method: "GET", path: "/maintenance/dashboard/:id", answer: "DashboardRecord", summary: "Full stored record", tag: "maintenance",
			deadline: d.Dashboards, maintenance: true, handler: s.handleRecord},
		{method: "POST", path: "/maintenance/dashboard/:id/whitelist", answer: "Message", summary: "Whitelist (never evicted)",
			tag: "maintenance", deadline: d.Dashboards, maintenance: true, handler: s.handleWhitelist(true)},
		{method: "DELETE", path: "/maintenance/dashboard/:id/whitelist", answer: "Message", summary: "Remove from whitelist",
			tag: "maintenance", deadline: d.Dashboards, maintenance: true, handler: s.handleWhitelist(false)},
		{method: "POST", path: "/maintenance/dashboard/:id/protect", answer: "Message", summary: "Protect (read-only) and whitelist",
			tag: "maintenance", deadline: d.Dashboards, maintenance: true, handler: s.handleProtect(true)},
		{method: "DELETE", path: "/maintenance/dashboard/:id/protect", answer: "Message", summary: "Unprotect (whitelist unchanged)",
			tag: "maintenance", deadline: d.Dashboards, maintenance: true, handler: s.handleProtect(false)},
		{method: "GET", path: "/maintenance/dashboards", answer: "DashboardStoreStats", summary: "Dashboard store state (up/down, last error, total size)",
			tag: "maintenance", deadline: d.Dashboards, maintenance: true, handler: s.handleDashboardStats},
		{method: "GET", path: "/maintenance/cache", answer: "CacheStats", summary: "Cache statistics (curves, channel list, store)",
			tag: "maintenance", deadline: d.Dashboards, maintenance: true, handler: s.handleCacheStats},
		{method: "DELETE", path: "/maintenance/cache", answer: "FlushResult", summary: "Flush every cache (the channel list is reloaded)",
			tag: "maintenance", deadline: d.Search, maintenance: true, handler: s.handleCacheFlushAll},
		{method: "DELETE", path: "/maintenance/cache/channels", answer: "FlushResult", summary: "Flush the channel list and search cache",
			tag: "maintenance", deadline: d.Search, maintenance: true, handler: s.handleCacheFlushChannels},
		{method: "DELETE", path: "/maintenance/cache/curves", answer: "FlushResult", summary: "Flush one channel's cached curves",
			tag: "maintenance", deadline: d.Dashboards, maintenance: true, handler: s.handleCacheFlushCurves,
			query: []queryParam{
				{name: "channel_name", typ: "string", required: true, doc: "channel name, or its seriesId (all digits)"},
				{name: "backend", typ: "string", def: "sf-databuffer", doc: "data-api backend"},
			}},
		// Operational data, so protected like the maintenance routes (token, separate listener).
		{method: "GET", path: "/metrics", media: mediaText, summary: "Prometheus metrics (text format)", tag: "operations",
			deadline: d.Root, maintenance: true, handler: s.handleMetrics()},
		// The browser client of the stream and a page that uses it (package web, embedded).
		{method: "GET", path: "/stream.js", media: mediaJavaScript, summary: "Live stream client for browsers (ES module, docs/streaming.md)",
			tag: "live", deadline: d.Root, handler: handleAsset(web.StreamJS)},
		{method: "GET", path: "/live", media: mediaHTML, summary: "Live plot page: search channels, watch their curves stream in",
			tag: "live", deadline: d.Root, handler: s.handleLive()},
		{method: "GET", path: "/live.js", media: mediaJavaScript, summary: "Script of the /live page", tag: "live", deadline: d.Root,
			handler: handleAsset(web.LiveJS)},
		{method: "GET", path: "/live.css", media: mediaCSS, summary: "Stylesheet of the /live page", tag: "live", deadline: d.Root,
			handler: handleAsset(web.LiveCSS)},
		{method: "GET", path: "/openapi.json", answer: "OpenAPIDocument", summary: "This API as OpenAPI 3", tag: "docs", deadline: d.Root,
			handler: s.handleOpenAPI},
		{method: "GET", path: "/docs", media: mediaHTML, summary: "Readable API documentation", tag: "docs", deadline: d.Root,
			handler: s.handleDocs},
	}
}

func (s *Server) handleRoot(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"message": "Hello, World!"})
}

func (s *Server) handleHealth(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"message": "Alive and Well!"})
}
