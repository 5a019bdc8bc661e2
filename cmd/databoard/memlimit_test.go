package main

import (
	"errors"
	"io"
	"log/slog"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name             string
		budgets, outside int64
		want             int64
	}{
		{"nothing outside", 448 * mib, 0, 448*mib + 50_000_000 - 4*mib},
		{"this binary's pages", 448 * mib, 30_000_000, 448*mib + 20_000_000 - 4*mib},
		{"negative reading taken as 0", 448 * mib, -5 * mib, 448*mib + 50_000_000 - 4*mib},
		{"outside near the allowance: the floor", 448 * mib, 45_000_000, 448*mib + 8*mib},
		{"outside beyond the allowance: the floor", 64 * mib, 200 * mib, 64*mib + 8*mib},
		{"no budgets", 0, 10_000_000, 40_000_000 - 4*mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := memoryLimit(tc.budgets, tc.outside); got != tc.want {
				t.Errorf("memoryLimit(%d, %d) = %d, want %d", tc.budgets, tc.outside, got, tc.want)
			}
		})
	}
}

func TestParseRSS(t *testing.T) {
	const status = "Name:\tdataboard\nVmHWM:\t  566596 kB\nVmRSS:\t  518788 kB\n" +
		"RssAnon:\t  487356 kB\nRssFile:\t   29992 kB\nRssShmem:\t       4 kB\nVmData:\t 1000 kB\n"
	got, err := parseRSS([]byte(status))
	if want := (residentSet{anon: 487356 << 10, file: 29992 << 10, shmem: 4 << 10}); err != nil || got != want {
		t.Errorf("parseRSS = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{
		"",
		"RssAnon:\t1 kB\nRssFile:\t2 kB\n", // RssShmem missing
		"RssAnon:\t1 kB\nRssFile:\tx kB\nRssShmem:\t0 kB\n", // not a number
		"RssAnon:\t1 MB\nRssFile:\t2 kB\nRssShmem:\t0 kB\n", // another unit
	} {
		if got, err := parseRSS([]byte(bad)); err == nil {
			t.Errorf("parseRSS(%q) = %+v, want an error", bad, got)
		}
	}
}

// The governor lowers the limit as the memory outside the runtime grows, never raises it again, and
// keeps the last good measurement when one fails.
func TestMemoryGovernorUpdate(t *testing.T) {
	const budgets = 100 << 20
	readings := []struct {
		outside int64
		err     error
		want    int64
	}{
		{20_000_000, nil, memoryLimit(budgets, 20_000_000)},
		{26_000_000, nil, memoryLimit(budgets, 26_000_000)},
		{22_000_000, nil, memoryLimit(budgets, 26_000_000)}, // lower reading: the limit stays
		{0, errors.New("no /proc"), memoryLimit(budgets, 26_000_000)},
		{31_000_000, nil, memoryLimit(budgets, 31_000_000)},
	}
	var set []int64
	g := newMemoryGovernor(budgetCollector{{name: "curves", max: budgets}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	g.setLimit = func(l int64) int64 { set = append(set, l); return 0 }
	for i, r := range readings {
		g.measure = func() (int64, error) { return r.outside, r.err }
		g.update()
		if g.limit != r.want || set[len(set)-1] != r.want {
			t.Errorf("reading %d (%d, %v): limit %d (last set %d), want %d", i, r.outside, r.err, g.limit, set[len(set)-1], r.want)
		}
	}
	if len(set) != 3 {
		t.Errorf("the runtime's limit was set %d times (%v), want 3: only when it changes", len(set), set)
	}
}

// outsideRuntime reads this process: some file pages (the test binary) and far less than its RSS.
func TestOutsideRuntime(t *testing.T) {
	got, err := outsideRuntime()
	if err != nil {
		t.Skipf("no /proc/self/status here: %v", err)
	}
	if got <= 0 || got > 1<<30 {
		t.Errorf("outsideRuntime = %d, want a positive size under 1 GiB", got)
	}
}
