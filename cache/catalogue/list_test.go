package catalogue

import (
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/sim"
)

const sineName = "SIM-F64:SINE"

// TestChannelListSharedOneRefresh: instances on one Redis fetch the list from data-api once; the
// others, and one started later, load it from the store.
func TestChannelListSharedOneRefresh(t *testing.T) {
	e := newChannelEnv(t, 500)
	want := len(e.fullList(t))
	stores := sharedRedis(t, 3)
	cfg := func(s store.Store) Config {
		return Config{Store: s, PollInterval: 10 * time.Millisecond, RefreshInterval: time.Hour}
	}
	a, b := e.list(t, cfg(stores[0])), e.list(t, cfg(stores[1]))
	a.Start(ctxT(t))
	b.Start(ctxT(t))
	waitUntil(t, "both instances hold the list", func() bool {
		return a.Stats().Channels == want && b.Stats().Channels == want
	})
	if n := e.count(".*"); n != 1 {
		t.Errorf("data-api full-list fetches: %d, want 1", n)
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.Refreshes+sb.Refreshes != 1 || sa.StoreLoads+sb.StoreLoads != 1 {
		t.Errorf("refreshes %d+%d, store loads %d+%d: want one of each", sa.Refreshes, sb.Refreshes,
			sa.StoreLoads, sb.StoreLoads)
	}
	if !sa.LastRefresh.Equal(sb.LastRefresh) || sa.LastRefresh.IsZero() {
		t.Errorf("last refresh %v vs %v: both should report the one fetch", sa.LastRefresh, sb.LastRefresh)
	}
	_, la := a.All()
	_, lb := b.All()
	if !slices.EqualFunc(la, lb, sameChannel) {
		t.Error("the instances hold different lists")
	}

	c := e.list(t, cfg(stores[2]))
	c.Start(ctxT(t))
	waitUntil(t, "a late instance holds the list", func() bool { return c.Stats().Channels == want })
	if n := e.count(".*"); n != 1 {
		t.Errorf("data-api full-list fetches after a late start: %d, want still 1", n)
	}
	if s := c.Stats(); s.StoreLoads != 1 || s.Refreshes != 0 {
		t.Errorf("late instance: %d store loads, %d refreshes; want 1, 0", s.StoreLoads, s.Refreshes)
	}
}

// TestChannelListSharedStaleListRefreshedOnce: a stored list older than RefreshInterval is
// refreshed by exactly one instance.
func TestChannelListSharedStaleListRefreshedOnce(t *testing.T) {
	e := newChannelEnv(t, 0)
	full := e.fullList(t)
	stores := sharedRedis(t, 2)
	seedList(t, stores[0], full[:5], time.Now().Add(-2*time.Minute))
	cfg := func(s store.Store) Config {
		return Config{Store: s, PollInterval: 10 * time.Millisecond, RefreshInterval: time.Minute}
	}
	a, b := e.list(t, cfg(stores[0])), e.list(t, cfg(stores[1]))
	a.Start(ctxT(t))
	b.Start(ctxT(t))
	waitUntil(t, "both hold the refreshed list", func() bool {
		return a.Stats().Channels == len(full) && b.Stats().Channels == len(full)
	})
	if n := e.count(".*"); n != 1 {
		t.Errorf("data-api full-list fetches: %d, want 1", n)
	}
}

// TestChannelListSharedAdditions: a channel one instance finds live (the stored list lacks it)
// reaches the other instance through the store, which then resolves it without data-api.
func TestChannelListSharedAdditions(t *testing.T) {
	e := newChannelEnv(t, 20)
	full := e.fullList(t)
	var partial []daqbuf.Channel
	for _, ch := range full {
		if ch.Name != "SIM-GEN:CH000007" {
			partial = append(partial, ch)
		}
	}
	stores := sharedRedis(t, 2)
	seedList(t, stores[0], partial, time.Now())
	cfg := func(s store.Store) Config {
		return Config{Store: s, PollInterval: 10 * time.Millisecond}
	}
	a, b := e.list(t, cfg(stores[0])), e.list(t, cfg(stores[1]))
	a.Start(ctxT(t))
	b.Start(ctxT(t))
	waitUntil(t, "both loaded the stored list", func() bool {
		return a.Stats().Channels == len(partial) && b.Stats().Channels == len(partial)
	})
	if got := e.searches(); len(got) != 0 {
		t.Fatalf("instances with a stored list asked data-api: %q", got)
	}

	found, err := a.Search(ctxT(t), "^SIM-GEN:CH000007$", "", true)
	if err != nil || found.Len() != 3 { // one per backend
		t.Fatalf("live search: %d channels, %v; want 3", found.Len(), err)
	}
	if _, listed := found.Generation(); listed {
		t.Error("a live answer claims positions in the list")
	}
	if s := a.Stats(); s.Additions != 3 {
		t.Errorf("instance a: %d additions, want 3", s.Additions)
	}
	waitUntil(t, "b sees the additions", func() bool { return b.Stats().Additions == 3 })
	before := len(e.searches())
	ch, ok, err := b.Lookup(ctxT(t), "sf-databuffer", "SIM-GEN:CH000007")
	if err != nil || !ok || ch.SeriesID == 0 {
		t.Fatalf("lookup on b: %+v %v %v", ch, ok, err)
	}
	if got, ok := b.LookupSeries("sf-databuffer", ch.SeriesID); !ok || got.Name != ch.Name {
		t.Errorf("series lookup on b: %+v %v", got, ok)
	}
	res, err := b.Search(ctxT(t), "ch000007", "", false)
	if err != nil || res.Len() != 3 {
		t.Errorf("list search on b: %d channels, %v; want 3", res.Len(), err)
	}
	if n := len(e.searches()) - before; n != 0 {
		t.Errorf("b asked data-api %d times for a channel a found", n)
	}
	if _, all := b.All(); !slices.ContainsFunc(all, func(c daqbuf.Channel) bool { return c.Name == "SIM-GEN:CH000007" }) {
		t.Error("All on b lacks the addition")
	}
}

// TestChannelListLiveSearchCached: the frontend's repeated `^name$` live searches reach data-api
// once per SearchTTL, across instances, also when they arrive at once.
func TestChannelListLiveSearchCached(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "in process"
		if shared {
			name = "redis"
		}
		t.Run(name, func(t *testing.T) {
			e := newChannelEnv(t, 0)
			// Every search below up to the expiry check must fall within ttl: 2 s leave a loaded
			// machine ample time for 26 searches (300 ms did not always, under -race).
			ttl := 2 * time.Second
			var stores []store.Store
			if shared {
				for _, r := range sharedRedis(t, 2) {
					stores = append(stores, r)
				}
			} else {
				stores = []store.Store{nil, nil}
			}
			a := e.list(t, Config{Store: stores[0], SearchTTL: ttl})
			b := e.list(t, Config{Store: stores[1], SearchTTL: ttl})
			pattern := "^" + sineName + "$"

			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					if res, err := a.Search(ctxT(t), pattern, "", true); err != nil || res.Len() != 3 {
						t.Errorf("search: %d channels, %v", res.Len(), err)
					}
				})
			}
			wg.Wait()
			for range 5 {
				if _, err := a.Search(ctxT(t), pattern, "", true); err != nil {
					t.Fatal(err)
				}
			}
			if n := e.count(pattern); n != 1 {
				t.Errorf("data-api searches after 25 on one instance: %d, want 1", n)
			}
			if s := a.Stats(); s.LiveSearches != 1 || s.SearchCacheHits < 5 {
				t.Errorf("stats: %d live searches, %d cache hits", s.LiveSearches, s.SearchCacheHits)
			}

			if _, err := b.Search(ctxT(t), pattern, "", true); err != nil {
				t.Fatal(err)
			}
			wantB := 1
			if !shared {
				wantB = 2 // in process, every instance has its own cache
			}
			if n := e.count(pattern); n != wantB {
				t.Errorf("data-api searches after the other instance's search: %d, want %d", n, wantB)
			}

			// Lookup of a name the list lacks goes through the same cache.
			for range 3 {
				if _, ok, err := a.Lookup(ctxT(t), "sf-databuffer", "NO-SUCH:CHANNEL"); ok || err != nil {
					t.Fatalf("lookup of a missing channel: %v %v", ok, err)
				}
			}
			if n := e.count(`^NO-SUCH:CHANNEL$`); n != 1 {
				t.Errorf("data-api searches for 3 lookups of a missing channel: %d, want 1", n)
			}

			// After the TTL the next search asks again.
			start := time.Now()
			waitUntil(t, "the cached answer expired", func() bool {
				if time.Since(start) < ttl {
					return false
				}
				_, err := a.Search(ctxT(t), pattern, "", true)
				return err == nil && e.count(pattern) > wantB
			})
			if n := e.count(pattern); n != wantB+1 {
				t.Errorf("data-api searches after the TTL: %d, want %d", n, wantB+1)
			}
		})
	}
}

// TestChannelListLookupListedNoUpstream: resolving a listed name or series id (what
// /channels/curve does) makes no data-api call.
func TestChannelListLookupListedNoUpstream(t *testing.T) {
	e := newChannelEnv(t, 0)
	l := e.list(t, Config{})
	if err := l.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetRequests()
	ch, ok, err := l.Lookup(ctxT(t), "sf-databuffer", sineName)
	if err != nil || !ok {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	want, _ := e.sim.Channel("sf-databuffer", sineName)
	if ch.SeriesID != want.SeriesID {
		t.Errorf("series id %d, want %d", ch.SeriesID, want.SeriesID)
	}
	if got, ok := l.LookupSeries("sf-databuffer", ch.SeriesID); !ok || got.Name != sineName {
		t.Errorf("series lookup: %+v %v", got, ok)
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("data-api requests: %d, want 0", n)
	}
}

// TestChannelListRedisDown: with the store unreachable the list loads from data-api, searches and
// lookups work, live answers are still cached in process, and the flushes report the store error.
func TestChannelListRedisDown(t *testing.T) {
	e := newChannelEnv(t, 0)
	want := len(e.fullList(t))
	l := e.list(t, Config{Store: deadRedis(t), PollInterval: 10 * time.Millisecond})
	l.Start(ctxT(t))
	waitUntil(t, "the list loaded without store.Redis", func() bool { return l.Stats().Channels == want })

	res, err := l.Search(ctxT(t), "sine", "", false)
	if err != nil || res.Len() == 0 {
		t.Fatalf("list search: %d, %v", res.Len(), err)
	}
	pattern := "^" + sineName + "$"
	for range 3 {
		if res, err := l.Search(ctxT(t), pattern, "", true); err != nil || res.Len() != 3 {
			t.Fatalf("live search: %d, %v", res.Len(), err)
		}
	}
	if n := e.count(pattern); n != 1 {
		t.Errorf("data-api searches for 3 live searches with store.Redis down: %d, want 1", n)
	}
	if _, ok, err := l.Lookup(ctxT(t), "sf-archiver", sineName); !ok || err != nil {
		t.Errorf("lookup: %v %v", ok, err)
	}
	if s := l.Stats(); s.StoreErrors == 0 {
		t.Error("no store errors counted")
	}
	if _, err := l.FlushSearches(ctxT(t)); err == nil {
		t.Error("FlushSearches with store.Redis down: no error")
	}
	if err := l.FlushList(ctxT(t)); err == nil {
		t.Error("FlushList with store.Redis down: no error")
	}
	if got := l.Stats().Channels; got != want {
		t.Errorf("after FlushList: %d channels, want %d (refetched from data-api)", got, want)
	}
}

// TestChannelListFlushList: the flush empties the stored list, additions and search cache and
// refills the list; other instances pick the new list up.
func TestChannelListFlushList(t *testing.T) {
	e := newChannelEnv(t, 10)
	full := e.fullList(t)
	stores := sharedRedis(t, 2)
	seedList(t, stores[0], full[1:], time.Now())
	cfg := func(s store.Store) Config {
		return Config{Store: s, PollInterval: 10 * time.Millisecond}
	}
	a, b := e.list(t, cfg(stores[0])), e.list(t, cfg(stores[1]))
	a.Start(ctxT(t))
	b.Start(ctxT(t))
	waitUntil(t, "both loaded", func() bool {
		return a.Stats().Channels == len(full)-1 && b.Stats().Channels == len(full)-1
	})
	missing := full[0]
	if _, ok, err := a.Lookup(ctxT(t), missing.Backend, missing.Name); !ok || err != nil {
		t.Fatalf("lookup of the unlisted channel: %v %v", ok, err)
	}
	waitUntil(t, "b sees the addition", func() bool { return b.Stats().Additions >= 1 })
	searchKeyOf := searchKey(missing.Backend, "^"+regexp.QuoteMeta(missing.Name)+"$")
	if v := storeGet(t, stores[0], searchKeyOf); v == nil {
		t.Fatal("the lookup's answer is not in the shared search cache")
	}

	genB := b.Stats().Generation
	fetches := e.count(".*")
	if err := a.FlushList(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := e.count(".*"); n != fetches+1 {
		t.Errorf("full-list fetches: %d, want %d", n, fetches+1)
	}
	if s := a.Stats(); s.Channels != len(full) || s.Additions != 0 {
		t.Errorf("after flush: %d channels, %d additions; want %d, 0", s.Channels, s.Additions, len(full))
	}
	if v := storeGet(t, stores[0], searchKeyOf); v != nil {
		t.Error("the search cache survived FlushList")
	}
	if v := storeGet(t, stores[0], addKey); v == nil {
		t.Error("no additions value after the refill")
	} else if set, err := decodeChannelSet(v); err != nil || len(set.Channels) != 0 {
		t.Errorf("stored additions after flush: %v, %v", set.Channels, err)
	}
	waitUntil(t, "b loads the refilled list", func() bool {
		s := b.Stats()
		return s.Generation != genB && s.Channels == len(full) && s.Additions == 0 && s.StoreLoads == 2
	})

	// FlushSearches counts and drops the shared answers.
	if _, err := a.Search(ctxT(t), "^"+sineName+"$", "", true); err != nil {
		t.Fatal(err)
	}
	if n, err := b.FlushSearches(ctxT(t)); err != nil || n != 1 {
		t.Errorf("FlushSearches: %d, %v; want 1", n, err)
	}
}

// TestChannelListSearchMatchesScan: the list's search (base and additions) answers what a plain
// RE2 scan of All() answers.
func TestChannelListSearchMatchesScan(t *testing.T) {
	e := newChannelEnv(t, 300)
	l := e.list(t, Config{})
	if err := l.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// An addition, to search both parts.
	l.add(ctxT(t), []daqbuf.Channel{{Backend: "sf-archiver", Name: "ZZ-ADDED:sine", SeriesID: 42}})
	gen, all := l.All()
	for _, p := range []string{"^SIM-F64:SINE$", "sine", "ch0001", "^sim-gen:ch00002[0-9]$", "wave|ramp", ".*", "(?-i)Sine", `\d\d`} {
		for _, backend := range []string{"", "sf-archiver"} {
			want := scanSearch(t, all, p, backend)
			got, err := l.Search(ctxT(t), p, backend, false)
			if len(want) == 0 {
				continue // a miss goes live: not this test
			}
			if err != nil || !slices.Equal(channelNames(got.Channels()), channelNames(want)) {
				t.Errorf("search %q in %q: %d channels, %v; want %d", p, backend, got.Len(), err, len(want))
			}
			// The positions index the same channels in All() of the generation searched.
			if g, ok := got.Generation(); !ok || g != gen {
				t.Errorf("search %q in %q: generation %d %v, want %d", p, backend, g, ok, gen)
			}
			var atPositions []daqbuf.Channel
			for pos := range got.Positions() {
				atPositions = append(atPositions, all[pos])
			}
			if !slices.Equal(channelNames(atPositions), channelNames(want)) {
				t.Errorf("search %q in %q: positions name %q, want %q", p, backend, channelNames(atPositions), channelNames(want))
			}
		}
	}
}

// TestChannelListLiveFallback: a failing live search answers from the list.
func TestChannelListLiveFallback(t *testing.T) {
	e := newChannelEnv(t, 0)
	l := e.list(t, Config{})
	if err := l.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/search", Status: 500})
	res, err := l.Search(ctxT(t), "^"+sineName+"$", "", true)
	if err != nil || res.Len() != 3 {
		t.Errorf("live search with data-api failing: %d, %v; want the list's 3", res.Len(), err)
	}
	if _, err := l.Search(ctxT(t), "^NOT-LISTED$", "", true); err == nil {
		t.Error("failing live search of an unlisted name: no error")
	}
}

func sameChannel(a, b daqbuf.Channel) bool {
	return a.Backend == b.Backend && a.Name == b.Name && a.SeriesID == b.SeriesID
}

// TestChannelListWaitsForLeaseHolder: an instance without a list whose lease is held elsewhere
// neither fetches nor spins: it polls at PollInterval.
func TestChannelListWaitsForLeaseHolder(t *testing.T) {
	e := newChannelEnv(t, 0)
	stores := sharedRedis(t, 2)
	if ok, err := stores[1].Lock(ctxT(t), leaseKey, time.Minute); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	poll := 250 * time.Millisecond
	l := e.list(t, Config{Store: stores[0], PollInterval: poll})
	for range 3 {
		if wait := l.tick(ctxT(t)); wait != poll {
			t.Errorf("wait after a tick without the lease: %v, want %v", wait, poll)
		}
	}
	if n := len(e.searches()); n != 0 {
		t.Errorf("data-api searches without the lease: %d", n)
	}
	if err := stores[1].Unlock(ctxT(t), leaseKey); err != nil {
		t.Fatal(err)
	}
	if wait := l.tick(ctxT(t)); wait != poll || l.Stats().Refreshes != 1 {
		t.Errorf("after the lease was freed: wait %v, %d refreshes; want %v, 1", wait, l.Stats().Refreshes, poll)
	}
}

// TestChannelListSearchCacheDisabled: a negative SearchTTL sends every live search to data-api.
func TestChannelListSearchCacheDisabled(t *testing.T) {
	e := newChannelEnv(t, 0)
	l := e.list(t, Config{SearchTTL: -1})
	for range 3 {
		if _, err := l.Search(ctxT(t), "BIG", "", true); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count("BIG"); n != 3 {
		t.Errorf("data-api searches: %d, want 3", n)
	}
}

// TestChannelListFlushFailureKeepsList: a flush while data-api fails keeps the list this instance
// holds and releases the refresh lease, so the next refresh succeeds as soon as data-api is back
// (instead of an empty list until the lease expired).
func TestChannelListFlushFailureKeepsList(t *testing.T) {
	e := newChannelEnv(t, 10)
	rs := sharedRedis(t, 1)[0]
	l := e.list(t, Config{Store: rs})
	if err := l.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	want := l.Stats().Channels
	e.sim.SetFault(sim.Fault{PathPrefix: "/api/4/search", Status: 500})
	if err := l.FlushList(ctxT(t)); err == nil {
		t.Fatal("FlushList with data-api failing: no error")
	}
	if got := l.Stats().Channels; got != want {
		t.Errorf("after a failed flush: %d channels, want the %d held before", got, want)
	}
	e.sim.ClearFault()
	refreshes := l.Stats().Refreshes
	if err := l.Refresh(ctxT(t)); err != nil {
		t.Fatalf("refresh after data-api recovered: %v", err)
	}
	if l.Stats().Refreshes != refreshes+1 {
		t.Error("the refresh after recovery did not fetch from data-api (lease still held?)")
	}
}

// A search matching the whole list shares it without copying; appending to the result cannot change
// the list.
func TestSearchAllSharesTheList(t *testing.T) {
	chs := realisticCatalogue(1000)
	l := loadedList(chs)
	res, err := l.Search(t.Context(), ".*", "", false)
	if err != nil || res.Len() != len(chs) {
		t.Fatalf("search .*: %d, %v", res.Len(), err)
	}
	_ = append(res.Channels(), daqbuf.Channel{Backend: "x", Name: "appended"})
	_, all := l.All()
	if len(all) != len(chs) || all[len(all)-1].Name == "appended" {
		t.Error("appending to a search result changed the list")
	}
	one, err := l.Search(t.Context(), ".*", "sf-archiver", false)
	if err != nil || one.Len() == 0 || one.Len() >= len(chs) {
		t.Fatalf("search .* in one backend: %d, %v", one.Len(), err)
	}
	for ch := range one.All() {
		if ch.Backend != "sf-archiver" {
			t.Fatalf("backend %q in a search of sf-archiver", ch.Backend)
		}
	}
}

// Stats.Bytes follows what the list holds: names 10 bytes longer, held twice (as listed and case-folded
// for the search), add 20 bytes a channel.
func TestStatsBytesCountsNames(t *testing.T) {
	const n = 1000
	list := func(pad string) []daqbuf.Channel {
		chs := make([]daqbuf.Channel, n)
		for i := range chs {
			chs[i] = daqbuf.Channel{Backend: "b", Name: fmt.Sprintf("CH%s%06d", pad, i), SeriesID: uint64(i + 1)}
		}
		return chs
	}
	short, long := newChannelIndex(list("")).bytes(), newChannelIndex(list("0123456789")).bytes()
	if min := int64(n) * int64(unsafe.Sizeof(daqbuf.Channel{})); short < min {
		t.Errorf("%d channels: %d bytes, less than their values (%d)", n, short, min)
	}
	if long-short != 20*n {
		t.Errorf("names 10 bytes longer: %d more bytes, want %d", long-short, 20*n)
	}
}
