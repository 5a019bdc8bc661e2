package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// runResult is what one run of the program produced.
type runResult struct {
	code           int
	stdout, stderr string
}

func runWith(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, func(name string) string { return env[name] }, &stdout, &stderr)
	return runResult{code, stdout.String(), stderr.String()}
}

// printedConfig parses the JSON config output.
func printedConfig(t *testing.T, r runResult) map[string]string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("output is not a JSON object of strings: %v\n%s", err, r.stdout)
	}
	return got
}

func TestVersion(t *testing.T) {
	r := runWith(t, nil, "-version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "databoard ") || !strings.Contains(r.stdout, "(go1.") {
		t.Errorf("-version: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestConfigInvalidVariable(t *testing.T) {
	r := runWith(t, map[string]string{
		"DASHBOARD_EVICTION_THRESHOLD": "abc",
		"MONGO_PORT":                   "0",
	}, "config")
	if r.code != exitInvalid {
		t.Errorf("exit %d, want %d", r.code, exitInvalid)
	}
	for _, want := range []string{
		"invalid configuration",
		`DASHBOARD_EVICTION_THRESHOLD: "abc" is not a number`,
		`MONGO_PORT: "0" is out of range`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("printed a config despite the error:\n%s", r.stdout)
	}
}

func TestPrintsRedactedConfig(t *testing.T) {
	for _, args := range [][]string{{"config"}, {"-listen", ":8080", "config"}} {
		got := printedConfig(t, runWith(t, map[string]string{
			"MAINTENANCE_TOKEN": "hunter2",
			"REDIS_URL":         "redis://:hunter2@cache:6379/0",
			"MONGO_DB_NAME":     "boards",
		}, args...))
		if got["MONGO_DB_NAME"] != "boards" || got["LISTEN_ADDR"] != ":8080" {
			t.Errorf("args %q: MONGO_DB_NAME=%q LISTEN_ADDR=%q", args, got["MONGO_DB_NAME"], got["LISTEN_ADDR"])
		}
		if got["MAINTENANCE_TOKEN"] != "xxxxx" || got["REDIS_URL"] != "redis://:xxxxx@cache:6379/0" {
			t.Errorf("args %q: secrets not hidden: token %q, redis %q", args, got["MAINTENANCE_TOKEN"], got["REDIS_URL"])
		}
	}
}

func TestConfigFlagsOverrideEnvironment(t *testing.T) {
	env := map[string]string{"LISTEN_ADDR": "not-an-address", "DATA_DIR": "/env/dir", "DEMO": "true"}
	got := printedConfig(t, runWith(t, env, "-listen", "127.0.0.1:9999", "-data-dir", "/flag/dir", "-demo=false", "config"))
	want := map[string]string{"LISTEN_ADDR": "127.0.0.1:9999", "DATA_DIR": "/flag/dir", "DEMO": "false"}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}
	if got := printedConfig(t, runWith(t, nil, "-demo", "config")); got["DEMO"] != "true" {
		t.Errorf("-demo: DEMO = %q", got["DEMO"])
	}
	// A bad flag value is reported under the variable it stands for.
	r := runWith(t, nil, "-listen", "nowhere")
	if r.code != exitInvalid || !strings.Contains(r.stderr, `LISTEN_ADDR: "nowhere"`) {
		t.Errorf("-listen nowhere: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"serve-forever"}, {"config", "extra"}, {"-no-such-flag"}} {
		if r := runWith(t, nil, args...); r.code != exitUsage {
			t.Errorf("args %q: exit %d, want %d (stderr %q)", args, r.code, exitUsage, r.stderr)
		}
	}
	if r := runWith(t, nil, "-h"); r.code != exitOK || !strings.Contains(r.stderr, "Usage: databoard") {
		t.Errorf("-h: exit %d, stderr %q", r.code, r.stderr)
	}
}
