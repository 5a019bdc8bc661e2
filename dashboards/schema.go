package dashboards

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SchemaFile is the file name the old backend looked for under SCHEMA_PATH.
const SchemaFile = "dashboarddto.schema.json"

// maxSchemaBytes bounds a fetched schema; the real one is 8 KB.
const maxSchemaBytes = 4 << 20

// LoadSchema resolves SCHEMA_PATH the way the old backend did: "" gives fallback (the schema the project
// ships); an http(s) URL is fetched, as <url>/dashboarddto.schema.json unless the URL itself ends in .json;
// anything else is a directory holding dashboarddto.schema.json, or a .json file.
func LoadSchema(ctx context.Context, path string, fallback []byte) ([]byte, error) {
	switch {
	case path == "":
		if len(fallback) == 0 {
			return nil, fmt.Errorf("load schema: no SCHEMA_PATH and no built-in schema")
		}
		return fallback, nil
	case strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://"):
		url := path
		if !strings.HasSuffix(url, ".json") {
			url = strings.TrimRight(url, "/") + "/" + SchemaFile
		}
		return fetchSchema(ctx, url)
	default:
		file := path
		if !strings.HasSuffix(file, ".json") {
			file = filepath.Join(path, SchemaFile)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("load schema: %w", err)
		}
		return b, nil
	}
}

func fetchSchema(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("load schema %s: %w", url, err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req) // the old backend's limit
	if err != nil {
		return nil, fmt.Errorf("load schema %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("load schema %s: HTTP %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSchemaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load schema %s: %w", url, err)
	}
	if len(b) > maxSchemaBytes {
		return nil, fmt.Errorf("load schema %s: larger than %d bytes", url, maxSchemaBytes)
	}
	return b, nil
}
