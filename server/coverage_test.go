package server

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// covered records which routes the tests exercised, as "METHOD /pattern".
var covered = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// routePatterns are the table's routes, matched against request paths.
func routePatterns() []route { return New(Config{}, Deps{}).routes() }

func matchRoute(pattern, path string) bool {
	pp := strings.Split(strings.TrimSuffix(pattern, "/"), "/")
	ps := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if pattern == "/" {
		return path == "/"
	}
	if len(pp) != len(ps) || strings.HasSuffix(pattern, "/") != strings.HasSuffix(path, "/") && pattern != "/" {
		return false
	}
	for i := range pp {
		if strings.HasPrefix(pp[i], ":") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if pp[i] != ps[i] {
			return false
		}
	}
	return true
}

func markCovered(method, path string) {
	covered.Lock()
	defer covered.Unlock()
	for _, r := range routePatterns() {
		if r.method == method && matchRoute(r.path, path) {
			covered.m[r.method+" "+r.path] = true
		}
	}
}

// TestMain fails the run when a route of the table was not exercised by any test (only for full runs:
// a -run filter legitimately skips routes).
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if f := flag.Lookup("test.run"); code == 0 && (f == nil || f.Value.String() == "") {
		var missing []string
		for _, r := range routePatterns() {
			if !covered.m[r.method+" "+r.path] {
				missing = append(missing, r.method+" "+r.path)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			fmt.Fprintf(os.Stderr, "FAIL: routes without a test: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

func TestMatchRoute(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/", "/", true},
		{"/", "/health", false},
		{"/dashboard/", "/dashboard/", true},
		{"/dashboard", "/dashboard/", false},
		{"/dashboard", "/dashboard", true},
		{"/dashboard/:id", "/dashboard/abc", true},
		{"/dashboard/:id", "/dashboard/", false},
		{"/maintenance/dashboard/:id/protect", "/maintenance/dashboard/x/protect", true},
		{"/maintenance/dashboard/:id", "/maintenance/dashboard/x/protect", false},
	}
	for _, tt := range tests {
		if got := matchRoute(tt.pattern, tt.path); got != tt.want {
			t.Errorf("matchRoute(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
