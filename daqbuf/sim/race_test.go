//go:build race

package sim_test

// raceEnabled: built with -race (latency checks are skipped).
const raceEnabled = true
