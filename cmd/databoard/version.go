package main

import (
	"runtime"
	"runtime/debug"
)

// version is the release name, set at link time (go build -ldflags "-X main.version=v1.2.3").
// It is the one package-level variable of the binary, written only by the linker.
var version string

// buildVersion returns the release name, else the module version and VCS revision recorded by the
// Go toolchain, followed by the Go version, e.g. "v1.2.3 (go1.26.8)" or "(devel) 3f9a1c2b0d4e+dirty (go1.26.8)".
func buildVersion() string {
	v := version
	if v == "" {
		v = "(devel)"
		if info, ok := debug.ReadBuildInfo(); ok {
			if info.Main.Version != "" {
				v = info.Main.Version
			}
			var revision, dirty string
			for _, s := range info.Settings {
				switch {
				case s.Key == "vcs.revision" && len(s.Value) >= 12:
					revision = s.Value[:12]
				case s.Key == "vcs.modified" && s.Value == "true":
					dirty = "+dirty"
				}
			}
			if revision != "" {
				v += " " + revision + dirty
			}
		}
	}
	return v + " (" + runtime.Version() + ")"
}
