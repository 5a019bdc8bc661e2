package configs

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"/plain/path", "/plain/path"},
		{"mongodb://db:27017/", "mongodb://db:27017/"},
		{"mongodb://user@db/?authMechanism=MONGODB-X509", "mongodb://user@db/?authMechanism=MONGODB-X509"},
		{"mongodb://user:pa55@db:27017/boards", "mongodb://user:xxxxx@db:27017/boards"},
		{"mongodb://user:p@ss/w@h1,h2/?replicaSet=rs", "mongodb://user:xxxxx@h1,h2/?replicaSet=rs"},
		{"mongodb://db/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:abc",
			"mongodb://db/?authMechanism=MONGODB-AWS&authMechanismProperties=xxxxx"},
		{"redis://:hunter2@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"rediss://default:hunter2@cache:6380", "rediss://default:xxxxx@cache:6380"},
		{"https://host/schema?token=abc&v=1", "https://host/schema?token=xxxxx&v=1"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// secretVars sets every secret-bearing variable to a value containing "SECRET".
var secretVars = map[string]string{
	"MAINTENANCE_TOKEN":  "SECRET-token",
	"MONGO_URI":          "mongodb://admin:SECRET1@db:27017/",
	"REDIS_URL":          "redis://:SECRET2@cache:6379/0",
	"SCHEMA_PATH":        "https://u:SECRET3@schemas.example.org/",
	"DAQBUF_DEFAULT_URL": "https://u:SECRET4@data-api.example.org/api/4",
}

func TestConfigSecretsNeverPrinted(t *testing.T) {
	c := mustLoad(t, secretVars)
	if c.MaintenanceToken != "SECRET-token" || !strings.Contains(c.MongoURI, "SECRET1") {
		t.Fatalf("Load lost the real secrets: %#v", c)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c)
	var settings strings.Builder
	for _, s := range c.Settings() {
		settings.WriteString(s.Name + "=" + s.Value + "\n")
	}
	outputs := map[string]string{
		"Settings":    settings.String(),
		"String":      c.String(),
		"fmt %v":      fmt.Sprintf("%v", c),
		"fmt %s":      fmt.Sprintf("%s", c),
		"slog (JSON)": logged.String(),
	}
	for what, out := range outputs {
		if strings.Contains(out, "SECRET") {
			t.Errorf("%s leaks a secret:\n%s", what, out)
		}
		// The output must still say where things are, only without the secret.
		for _, keep := range []string{"admin:xxxxx@db:27017", ":xxxxx@cache:6379", "data-api.example.org"} {
			if !strings.Contains(out, keep) {
				t.Errorf("%s lost %q:\n%s", what, keep, out)
			}
		}
	}
	if !strings.Contains(c.String(), `MAINTENANCE_TOKEN="xxxxx"`) {
		t.Errorf("String() does not show the token as set-but-hidden: %s", c)
	}
	if c.Redacted().MaintenanceToken != redactedMark {
		t.Errorf("Redacted().MaintenanceToken = %q", c.Redacted().MaintenanceToken)
	}
	if Default().Redacted().MaintenanceToken != "" {
		t.Error("an unset token must stay empty when redacted, so the output says the routes are open")
	}
}

func TestConfigErrorsDoNotLeakSecrets(t *testing.T) {
	tests := map[string]string{
		"MONGO_URI":          "mongodbx://admin:SECRET@db/",
		"REDIS_URL":          "redis://:SECRET@cache:6379/notanumber",
		"DAQBUF_DEFAULT_URL": "https://u:SECRET@bad host/",
		"SCHEMA_PATH":        "https://u:SECRET@bad host/",
	}
	for name, value := range tests {
		_, err := Load(env(map[string]string{name: value}))
		if err == nil {
			t.Errorf("%s=%q: no error", name, value)
			continue
		}
		if !strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("%s: error %q does not name the variable", name, err)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error leaks the secret: %v", name, err)
		}
	}
}
