package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// routeTests names, for every route of the table, the tests that send requests to it (the main ones,
// not every test that touches the route). A new route needs a line here and a test that exists.
var routeTests = map[string][]string{
	"GET /":                                       {"TestCompatRootBodies"},
	"GET /health":                                 {"TestCompatRootBodies", "TestCompatRequestID"},
	"GET /channels/search":                        {"TestCompatSearch", "TestCompatSearchErrors"},
	"GET /channels/recent":                        {"TestCompatRecent"},
	"GET /channels/curve":                         {"TestCompatCurveBinned", "TestCompatCurveRaw", "TestCompatCurveValidation"},
	"GET /channels/raw-link":                      {"TestCompatRawLink"},
	"POST /dashboard/":                            {"TestCompatDashboardRoundTrip", "TestCompatDashboardOldBackendTests"},
	"POST /dashboard":                             {"TestCompatDashboardRoundTrip", "TestCompatDashboardOldBackendTests"},
	"GET /dashboard/:id":                          {"TestCompatDashboardRoundTrip", "TestCompatDashboardOldBackendTests"},
	"PATCH /dashboard/:id":                        {"TestCompatDashboardRoundTrip", "TestCompatDashboardInvalidBodies"},
	"DELETE /dashboard/:id":                       {"TestCompatDashboardOldBackendTests"},
	"GET /maintenance/dashboard/:id":              {"TestCompatMaintenance", "TestCompatMaintenanceToken"},
	"POST /maintenance/dashboard/:id/whitelist":   {"TestCompatMaintenance", "TestCompatMaintenanceToken"},
	"DELETE /maintenance/dashboard/:id/whitelist": {"TestCompatMaintenance", "TestCompatMaintenanceToken"},
	"POST /maintenance/dashboard/:id/protect":     {"TestCompatMaintenance", "TestCompatMaintenanceToken"},
	"DELETE /maintenance/dashboard/:id/protect":   {"TestCompatMaintenance", "TestCompatMaintenanceToken"},
	"GET /maintenance/dashboards":                 {"TestCompatDashboardStoreWedged"},
	"GET /maintenance/cache":                      {"TestCacheMaintenanceRoutes", "TestCacheRoutesWithoutCache"},
	"DELETE /maintenance/cache":                   {"TestCacheMaintenanceRoutes"},
	"DELETE /maintenance/cache/channels":          {"TestCacheMaintenanceRoutes"},
	"DELETE /maintenance/cache/curves":            {"TestCacheMaintenanceRoutes", "TestCacheFlushReachesOtherInstancesAnswers"},
	"GET /metrics":                                {"TestMetrics", "TestMetricsDisabled"},
	"GET /stream.js":                              {"TestWebAssets", "TestLiveBrowser"},
	"GET /live":                                   {"TestWebAssets", "TestLiveBrowser"},
	"GET /live.js":                                {"TestWebAssets", "TestLiveBrowser"},
	"GET /live.css":                               {"TestWebAssets", "TestLiveBrowser"},
	"GET /openapi.json":                           {"TestCompatOpenAPIListsEveryRoute"},
	"GET /docs":                                   {"TestCompatDocsMentionEveryPath"},
}

// TestEveryRouteHasATest checks, from the package's test sources and independently of -run, -skip or
// -list, that every route of the table has a line in routeTests, that every named test is declared
// in this package, and that routeTests names no route the table does not have.
func TestEveryRouteHasATest(t *testing.T) {
	declared := declaredTests(t)
	routes := map[string]bool{}
	for _, r := range New(Config{}, Deps{}).routes() {
		key := r.method + " " + r.path
		routes[key] = true
		tests, ok := routeTests[key]
		if !ok || len(tests) == 0 {
			t.Errorf("route %s has no test: add it to routeTests with the tests that send requests to it", key)
		}
		for _, name := range tests {
			if !declared[name] {
				t.Errorf("route %s: test %s is not declared in package server", key, name)
			}
		}
	}
	for key := range routeTests {
		if !routes[key] {
			t.Errorf("routeTests names %s, which is not a route of the table", key)
		}
	}
}

// declaredTests returns the names of the top-level Test functions in this package's _test.go files
// (go test runs in the package directory).
func declaredTests(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in the package directory (%v)", err)
	}
	slices.Sort(files)
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name != "server" {
			continue // an external test package
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				names[fn.Name.Name] = true
			}
		}
	}
	return names
}

func TestDeclaredTestsFindsThisFile(t *testing.T) {
	got := declaredTests(t)
	for _, name := range []string{"TestEveryRouteHasATest", "TestDeclaredTestsFindsThisFile", "TestCompatRootBodies"} {
		if !got[name] {
			t.Errorf("declaredTests misses %s", name)
		}
	}
	if got["declaredTests"] || got["routePatterns"] {
		t.Error("declaredTests lists functions that are not tests")
	}
}
