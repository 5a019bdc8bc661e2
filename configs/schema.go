package configs

import _ "embed"

// dashboardSchema is the JSON Schema (draft-07) of the dashboard body the web frontend sends,
// copied from the frontend's generated dashboarddto.schema.json.
//
//go:embed schema/dashboarddto.schema.json
var dashboardSchema []byte

// DashboardSchema returns the shipped dashboard JSON schema, used when SCHEMA_PATH is empty. The
// result is a fresh copy: callers may keep or change it.
func DashboardSchema() []byte {
	return append([]byte(nil), dashboardSchema...)
}
