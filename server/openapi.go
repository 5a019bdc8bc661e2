package server

import (
	"encoding/json"
	"html"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// openAPIPath turns a Fiber path (/dashboard/:id) into an OpenAPI one (/dashboard/{id}).
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, ":") {
			parts[i] = "{" + part[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// publicRoutes are the routes the main port serves, which its OpenAPI document and /docs describe: with
// a separate maintenance listener, the maintenance routes are not among them.
func (s *Server) publicRoutes() []route {
	all := s.routes()
	if !s.cfg.SeparateMaintenance {
		return all
	}
	out := all[:0]
	for _, r := range all {
		if !r.maintenance {
			out = append(out, r)
		}
	}
	return out
}

// openAPI builds the OpenAPI 3.0 document from the route table, so it can never miss a route.
func (s *Server) openAPI() map[string]any {
	detail := map[string]any{"$ref": "#/components/schemas/Error"}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": detail}}}
	}
	paths := map[string]any{}
	for _, r := range s.publicRoutes() {
		op := map[string]any{
			"summary":     r.summary,
			"tags":        []string{r.tag},
			"operationId": strings.ToLower(r.method) + strings.NewReplacer("/", "_", ":", "", "-", "_", ".", "_").Replace(r.path),
		}
		var params []any
		if strings.Contains(r.path, ":id") {
			params = append(params, map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.query {
			schema := map[string]any{"type": q.typ}
			if q.def != "" || q.typ == "string" && !q.required && q.name == "search_text" {
				schema["default"] = defaultValue(q)
			}
			params = append(params, map[string]any{"name": q.name, "in": "query", "required": q.required,
				"description": q.doc, "schema": schema})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.body {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/DashboardDTO"}}}}
		}
		status := r.status
		if status == 0 {
			status = http.StatusOK
		}
		responses := map[string]any{strconv.Itoa(status): successResponse(r)}
		responses["422"] = errResp("Validation Error")
		responses["504"] = errResp("Request timed out")
		if r.maintenance && s.cfg.MaintenanceToken != "" {
			responses["401"] = errResp("Missing or wrong maintenance token")
			op["security"] = []any{map[string]any{maintenanceScheme: []string{}}}
		}
		for code, desc := range routeErrors(r) {
			responses[code] = errResp(desc)
		}
		op["responses"] = responses
		p := openAPIPath(r.path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		item[strings.ToLower(r.method)] = op
	}
	components := map[string]any{"schemas": schemas()}
	if s.cfg.MaintenanceToken != "" {
		components["securitySchemes"] = map[string]any{maintenanceScheme: map[string]any{
			"type": "http", "scheme": "bearer",
			"description": "MAINTENANCE_TOKEN, sent as Authorization: Bearer <token> (scheme name in any case)"}}
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Data Board backend (databoard)", "version": "1",
			"description": streamDescription},
		"servers":    []any{map[string]any{"url": s.cfg.RootPath}},
		"paths":      paths,
		"components": components,
	}
}

// maintenanceScheme names the security scheme of the maintenance routes when a token is set.
const maintenanceScheme = "maintenanceToken"

// successResponse describes r's success answer: its schema for JSON, its media type otherwise.
func successResponse(r route) map[string]any {
	media, schema := r.media, map[string]any{"type": "string"}
	if media == "" {
		media, schema = mediaJSON, map[string]any{"$ref": "#/components/schemas/" + r.answer}
	}
	return map[string]any{"description": "Successful Response",
		"content": map[string]any{media: map[string]any{"schema": schema}}}
}

// streamDescription names the route OpenAPI cannot describe: the WebSocket.
const streamDescription = "Live updates: GET /stream upgrades to a WebSocket (JSON text frames, or MessagePack " +
	"with the subprotocol databoard.v1.msgpack) where a client subscribes to curves and receives a snapshot, then " +
	"appends of what is new; the protocol is docs/streaming.md in the databoard repository. Two browser files use " +
	"it: GET /stream.js, a dependency-free ES module (connect, subscribe) that keeps curves in the shape of " +
	"/channels/curve and resumes after reconnects, and GET /live, a page that searches channels and plots them live."

func defaultValue(q queryParam) any {
	switch q.typ {
	case "integer":
		n, _ := strconv.Atoi(q.def)
		return n
	case "boolean":
		return q.def == "true"
	}
	return q.def
}

func (s *Server) handleOpenAPI(c *fiber.Ctx) error {
	b, err := json.Marshal(s.openAPI())
	if err != nil {
		return err
	}
	return jsonBytes(c, http.StatusOK, b)
}

// handleDocs renders the route table as a self-contained HTML page: no script or stylesheet from
// elsewhere, so it works offline and behind strict proxies.
func (s *Server) handleDocs(c *fiber.Ctx) error {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>databoard API</title><style>` +
		`body{font-family:sans-serif;max-width:960px;margin:2em auto}code{background:#eee;padding:0 .2em}` +
		`table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}</style></head><body>`)
	b.WriteString(`<h1>databoard API</h1><p>Machine-readable: <a href="` + html.EscapeString(strings.TrimRight(s.cfg.RootPath, "/")) +
		`/openapi.json">openapi.json</a>. Errors are <code>{"detail": ...}</code>.</p><p>` + html.EscapeString(streamDescription) + `</p>`)
	for _, r := range s.publicRoutes() {
		b.WriteString("<h2><code>" + r.method + " " + html.EscapeString(openAPIPath(r.path)) + "</code></h2><p>" +
			html.EscapeString(r.summary) + "</p>")
		if len(r.query) > 0 {
			b.WriteString("<table><tr><th>query</th><th>type</th><th>default</th><th></th></tr>")
			for _, q := range r.query {
				def := q.def
				if q.required {
					def = "required"
				}
				b.WriteString("<tr><td><code>" + q.name + "</code></td><td>" + q.typ + "</td><td>" +
					html.EscapeString(def) + "</td><td>" + html.EscapeString(q.doc) + "</td></tr>")
			}
			b.WriteString("</table>")
		}
		if r.body {
			b.WriteString(`<p>Body: <a href="#schema-DashboardDTO">DashboardDTO</a> <code>{"dashboard": {"widgets": [...]}}</code></p>`)
		}
		status := r.status
		if status == 0 {
			status = http.StatusOK
		}
		b.WriteString("<p>Answer: " + strconv.Itoa(status) + " ")
		if r.media != "" {
			b.WriteString("<code>" + r.media + "</code>")
		} else {
			b.WriteString(`<a href="#schema-` + r.answer + `">` + r.answer + "</a>")
		}
		if r.maintenance && s.cfg.MaintenanceToken != "" {
			b.WriteString("; requires <code>Authorization: Bearer &lt;token&gt;</code> (401 otherwise)")
		}
		b.WriteString("</p>")
	}
	b.WriteString("<h1>Schemas</h1>")
	all := schemas()
	for _, name := range slices.Sorted(maps.Keys(all)) {
		js, _ := json.MarshalIndent(all[name], "", "  ")
		b.WriteString(`<h2 id="schema-` + name + `">` + name + "</h2><pre>" + html.EscapeString(string(js)) + "</pre>")
	}
	b.WriteString("</body></html>")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(b.String())
}

// routeErrors lists the error answers a route can give besides 422 and 504, as statusOf maps them.
func routeErrors(r route) map[string]string {
	switch {
	case r.path == "/channels/curve":
		return map[string]string{"400": "Invalid times or too many values", "404": "Channel not found in backend",
			"500": "Error fetching data from backend"}
	case r.path == "/channels/search":
		return map[string]string{"400": "Invalid or too long regular expression", "500": "Error fetching data from backend"}
	case strings.HasPrefix(r.path, "/dashboard"):
		errs := map[string]string{"404": "Dashboard not found", "503": "Dashboard storage unavailable"}
		if r.body {
			errs["413"] = "Dashboard too large"
		}
		if r.method == "PATCH" || r.method == "DELETE" {
			errs["403"] = "Dashboard is protected"
		}
		if r.method == "POST" {
			delete(errs, "404")
		}
		return errs
	case r.path == "/maintenance/dashboards":
		return map[string]string{"503": "No dashboard store configured"}
	case strings.HasPrefix(r.path, "/maintenance/dashboard"):
		return map[string]string{"404": "Dashboard not found", "503": "Dashboard storage unavailable"}
	case strings.HasPrefix(r.path, "/maintenance/cache"):
		return map[string]string{"404": "No cache configured", "500": "Flush failed"}
	}
	return nil
}
