package server

import (
	"reflect"
	"strings"
	"time"

	"github.com/databoard/databoard/cache"
	"github.com/databoard/databoard/dashboards"
)

// Answer media types of the routes that do not answer JSON.
const (
	mediaJSON       = "application/json"
	mediaText       = "text/plain"
	mediaHTML       = "text/html"
	mediaJavaScript = "text/javascript"
	mediaCSS        = "text/css"
)

// schemas are the OpenAPI components the routes' answers refer to, written from the contract
// (docs/api.md) for the answers encoded by hand, and derived from the Go types for the statistics, so
// a new counter can never be missing from the document.
func schemas() map[string]any {
	str := map[string]any{"type": "string"}
	obj := func(required []string, props map[string]any) map[string]any {
		m := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			m["required"] = required
		}
		return m
	}
	ref := func(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
	anyObject := map[string]any{"type": "object", "additionalProperties": true}
	return map[string]any{
		"Message": obj([]string{"message"}, map[string]any{"message": str}),
		"Error": obj([]string{"detail"}, map[string]any{"detail": map[string]any{
			"description": "a text, or for 422 a list of {loc, msg, type} as FastAPI writes it"}}),
		"Channel": map[string]any{"type": "object", "additionalProperties": false,
			"required": []string{"backend", "name", "seriesId", "source", "type", "shape", "unit", "description"},
			"properties": map[string]any{
				"backend": str, "name": str, "source": str, "unit": str, "description": str,
				"seriesId": map[string]any{"type": "string", "pattern": "^[0-9]+$", "description": "decimal series id"},
				"type":     map[string]any{"type": "string", "description": `scalar type as data-api spells it ("f64", "enum", ...)`},
				"shape": map[string]any{"description": `"" for a scalar, [N] for a waveform, [N, M] for an image`,
					"oneOf": []any{map[string]any{"type": "string", "enum": []any{""}},
						map[string]any{"type": "array", "items": map[string]any{"type": "integer", "minimum": 0}}}},
			}},
		"ChannelList": obj([]string{"channels"}, map[string]any{"channels": map[string]any{"type": "array", "items": ref("Channel")}}),
		"Curve": obj([]string{"curve"}, map[string]any{"curve": map[string]any{"type": "object",
			"description": "Maps keyed by channel_name as sent: NAME (ns timestamp → value; first key), NAME_min and " +
				"NAME_max (binned: ns timestamp → number), NAME_meta (raw, waveform, interval_avg, interval_stddev, " +
				"pointMeta); timestamps are decimal strings in ascending order. No data: {NAME: {}}",
			"additionalProperties": anyObject}}),
		"RawLink":      obj([]string{"link"}, map[string]any{"link": map[string]any{"type": "string", "format": "uri"}}),
		"DashboardDTO": obj([]string{"dashboard"}, map[string]any{"dashboard": anyObject}),
		"Dashboard":    obj([]string{"id", "dashboard"}, map[string]any{"id": str, "dashboard": anyObject}),
		"DashboardRecord": obj([]string{"_id", "dashboard", "_size", "last_access", "whitelisted", "protected"},
			map[string]any{"_id": str,
				"dashboard":   map[string]any{"type": "object", "nullable": true, "additionalProperties": true, "description": "the stored DashboardDTO"},
				"_size":       map[string]any{"type": "integer", "description": "BSON bytes, which eviction sums"},
				"last_access": map[string]any{"type": "string", "format": "date-time", "nullable": true},
				"whitelisted": map[string]any{"type": "boolean"}, "protected": map[string]any{"type": "boolean"}}),
		"FlushResult": obj([]string{"message"}, map[string]any{"message": str,
			"deleted": map[string]any{"type": "integer", "description": "entries deleted"}}),
		"DashboardStoreStats": schemaOf(reflect.TypeFor[dashboards.Stats]()),
		"CacheStats":          schemaOf(reflect.TypeFor[cache.AdminStats]()),
		"OpenAPIDocument":     map[string]any{"type": "object", "additionalProperties": true},
	}
}

// schemaOf is the JSON schema of what encoding/json writes for a value of t. It covers the plain types
// the statistics use (structs, numbers, strings, booleans, times, durations, slices, maps).
func schemaOf(t reflect.Type) map[string]any {
	if t == reflect.TypeFor[time.Time]() {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem())
		s["nullable"] = true
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == reflect.TypeFor[time.Duration]() {
			return map[string]any{"type": "integer", "description": "nanoseconds"}
		}
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "nullable": t.Kind() == reflect.Slice, "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props, required := map[string]any{}, []string{}
		for f := range reflectFields(t) {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{} // anything: a kind the statistics do not use
}

// reflectFields yields the exported fields of t that encoding/json writes, embedded structs flattened.
func reflectFields(t reflect.Type) func(yield func(reflect.StructField) bool) {
	return func(yield func(reflect.StructField) bool) {
		for f := range t.Fields() {
			if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
				for g := range reflectFields(f.Type) {
					if !yield(g) {
						return
					}
				}
				continue
			}
			if f.IsExported() && !yield(f) {
				return
			}
		}
	}
}
