// Package configs turns databoard's environment variables into one typed, validated Config, and
// ships the dashboard JSON schema the store validates against.
//
// It owns the variable names, their defaults, their units and their error messages: nothing else
// in the project reads the environment. Load takes the lookup function as a parameter, so tests
// pass a map and cmd/databoard passes os.Getenv (overlaid with its flags).
//
// It must not import any other package of this module; cmd/databoard reads the Config and hands
// plain values down to server, dashboards, cache and stream.
package configs
