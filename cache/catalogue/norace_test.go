//go:build !race

package catalogue

// raceEnabled: built with -race (latency checks are skipped).
const raceEnabled = false
