package dashboards

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestLoadSchema(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SchemaFile), []byte(`{"from":"dir"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"from":"file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/schema/" + SchemaFile:
			fmt.Fprint(w, `{"from":"base url"}`)
		case "/x/custom.json":
			fmt.Fprint(w, `{"from":"file url"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name, path, want string
		wantErr          bool
	}{
		{"empty gives fallback", "", `{"from":"fallback"}`, false},
		{"directory", dir, `{"from":"dir"}`, false},
		{"directory with slash", dir + "/", `{"from":"dir"}`, false},
		{"json file", other, `{"from":"file"}`, false},
		{"base URL", srv.URL + "/schema/", `{"from":"base url"}`, false},
		{"base URL without slash", srv.URL + "/schema", `{"from":"base url"}`, false},
		{"URL of a .json file", srv.URL + "/x/custom.json", `{"from":"file url"}`, false},
		{"URL answering 404", srv.URL + "/missing", "", true},
		{"missing directory", filepath.Join(dir, "nope"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadSchema(context.Background(), tt.path, []byte(`{"from":"fallback"}`))
			if (err != nil) != tt.wantErr || string(got) != tt.want {
				t.Errorf("LoadSchema(%q) = %s, %v; want %s (error %v)", tt.path, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNewChecksConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"schema required", Config{ValidateSchema: true}},
		{"schema must compile", Config{ValidateSchema: true, Schema: []byte(`{"type": 5}`)}},
		{"target above threshold", Config{EvictionThreshold: 0.5, TargetUtilization: 0.7}},
		{"negative limit", Config{MaxTotalBytes: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(mongoDatabase(t), tt.cfg, nil); err == nil {
				t.Errorf("New(%+v) accepted a bad config", tt.cfg)
			}
		})
	}
	if _, err := New(nil, Config{}, nil); err == nil {
		t.Error("New(nil db) accepted")
	}
}

func TestWriteConcernUnsupported(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"unsatisfiable", mongo.WriteException{WriteConcernError: &mongo.WriteConcernError{Code: 100, Message: "Not enough data-bearing nodes"}}, true},
		{"unknown mode", mongo.WriteException{WriteConcernError: &mongo.WriteConcernError{Code: 79, Message: "unrecognized write concern mode"}}, true},
		{"not replicated", mongo.CommandError{Code: 2, Message: "cannot use 'w' > 1 when a host is not replicated"}, true},
		{"other bad value", mongo.CommandError{Code: 2, Message: "invalid key"}, false},
		{"write error, no wc error", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 11000}}}, false},
		{"plain", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := writeConcernUnsupported(fmt.Errorf("wrapped: %w", tt.err)); got != tt.want {
				t.Errorf("writeConcernUnsupported(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestWriteConcernOnFerretDB: FerretDB accepts (and ignores) majority, so the store keeps it.
func TestWriteConcernOnFerretDB(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	if s.writes.Load() != &s.majority {
		t.Error("the store fell back to w:1 on a server that accepts majority")
	}
}
