package configs

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestConfigDashboardSchema(t *testing.T) {
	var schema struct {
		Schema      string                     `json:"$schema"`
		Ref         string                     `json:"$ref"`
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	if err := json.Unmarshal(DashboardSchema(), &schema); err != nil {
		t.Fatalf("shipped schema is not JSON: %v", err)
	}
	if schema.Schema != "http://json-schema.org/draft-07/schema#" || schema.Ref != "#/definitions/DashboardDTO" {
		t.Errorf("unexpected schema header: $schema=%q $ref=%q", schema.Schema, schema.Ref)
	}
	for _, def := range []string{"DashboardDTO", "Channel"} {
		if _, ok := schema.Definitions[def]; !ok {
			t.Errorf("definition %q missing", def)
		}
	}

	// Callers get their own copy.
	b := DashboardSchema()
	b[0] = 'X'
	if DashboardSchema()[0] == 'X' {
		t.Error("DashboardSchema returns shared bytes")
	}
}

// TestReadmeDocumentsEverySetting keeps README.md's configuration table complete.
func TestConfigReadmeDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Default().Settings() {
		if !strings.Contains(string(readme), "| `"+s.Name+"`") {
			t.Errorf("README.md has no configuration table row for %s", s.Name)
		}
	}
}
