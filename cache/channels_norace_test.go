//go:build !race

package cache

// raceEnabled: built with -race (latency checks are skipped).
const raceEnabled = false
