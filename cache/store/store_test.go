package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/redistest"
)

// storeImpls builds fresh stores of each kind; Redis ones share a prefix per test.
func storeImpls(t *testing.T) map[string]func() Store {
	t.Helper()
	prefix := redistest.Prefix(t)
	return map[string]func() Store{
		"memory": func() Store { return NewMemory(MemoryConfig{}) },
		"redis":  func() Store { return NewRedis(redistest.Client(t), RedisConfig{Prefix: prefix, Timeout: time.Second}) },
	}
}

func TestStoreGetSet(t *testing.T) {
	ctx := context.Background()
	for name, mk := range storeImpls(t) {
		t.Run(name, func(t *testing.T) {
			s := mk()
			if err := s.Set(ctx, "a", []byte("alpha"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := s.SetMany(ctx, []Entry{{"b", []byte("beta"), time.Minute}, {"c", []byte{}, time.Minute}}); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetMany(ctx, []string{"a", "missing", "b", "c"})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"alpha", "", "beta", ""}
			nils := []bool{false, true, false, false}
			for i := range want {
				if string(got[i]) != want[i] || (got[i] == nil) != nils[i] {
					t.Errorf("key %d: %q (nil %v), want %q (nil %v)", i, got[i], got[i] == nil, want[i], nils[i])
				}
			}
			if got, err := s.GetMany(ctx, nil); err != nil || len(got) != 0 {
				t.Errorf("no keys: %v, %v", got, err)
			}
		})
	}
}

func TestStoreTTL(t *testing.T) {
	ctx := context.Background()
	for name, mk := range storeImpls(t) {
		t.Run(name, func(t *testing.T) {
			s := mk()
			if err := s.Set(ctx, "short", []byte("x"), 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, "long", []byte("y"), time.Minute); err != nil {
				t.Fatal(err)
			}
			redistest.Eventually(t, time.Minute, "short-lived value expires", func() bool {
				got, err := s.GetMany(ctx, []string{"short"})
				return err == nil && got[0] == nil
			})
			if got, _ := s.GetMany(ctx, []string{"long"}); string(got[0]) != "y" {
				t.Errorf("long-lived value: %q", got[0])
			}
		})
	}
}

func TestStoreLock(t *testing.T) {
	ctx := context.Background()
	for name, mk := range storeImpls(t) {
		t.Run(name, func(t *testing.T) {
			s := mk()
			for i, want := range []bool{true, false} {
				if got, err := s.Lock(ctx, "lk", time.Minute); err != nil || got != want {
					t.Fatalf("Lock %d: %v, %v; want %v", i, got, err, want)
				}
			}
			if err := s.Unlock(ctx, "lk"); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Lock(ctx, "lk", 50*time.Millisecond); err != nil || !got {
				t.Fatalf("Lock after Unlock: %v, %v", got, err)
			}
			redistest.Eventually(t, time.Minute, "lock expires", func() bool {
				got, err := s.Lock(ctx, "lk", time.Minute)
				return err == nil && got
			})
		})
	}
}

// TestRedisUnlockOnlyOwnLock: a late Unlock by an instance whose lock expired must not release the
// lock another instance holds now.
func TestRedisUnlockOnlyOwnLock(t *testing.T) {
	ctx := context.Background()
	prefix := redistest.Prefix(t)
	a := NewRedis(redistest.Client(t), RedisConfig{Prefix: prefix})
	b := NewRedis(redistest.Client(t), RedisConfig{Prefix: prefix})
	if got, err := b.Lock(ctx, "lk", time.Minute); err != nil || !got {
		t.Fatalf("b.Lock: %v, %v", got, err)
	}
	if err := a.Unlock(ctx, "lk"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Lock(ctx, "lk", time.Minute); err != nil || got {
		t.Errorf("a took b's lock after a's Unlock: %v, %v", got, err)
	}
}

// TestLockExtend: a lock can be renewed only by the store instance that holds it.
func TestLockExtend(t *testing.T) {
	prefix := redistest.Prefix(t)
	shared := func() Store { return NewRedis(redistest.Client(t), RedisConfig{Prefix: prefix, Timeout: time.Second}) }
	for _, tc := range []struct {
		name  string
		mine  Store
		other Store // nil: no second instance (Memory is one process)
	}{
		{"memory", NewMemory(MemoryConfig{}), nil},
		{"redis", shared(), shared()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if ok, err := tc.mine.Lock(ctx, "l", time.Minute); !ok || err != nil {
				t.Fatalf("lock: %v %v", ok, err)
			}
			if ok, err := tc.mine.Extend(ctx, "l", time.Minute); !ok || err != nil {
				t.Errorf("extend by the holder: %v %v", ok, err)
			}
			if tc.other != nil {
				if ok, _ := tc.other.Extend(ctx, "l", time.Minute); ok {
					t.Error("another instance extended a lock it does not hold")
				}
			}
			if err := tc.mine.Unlock(ctx, "l"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := tc.mine.Extend(ctx, "l", time.Minute); ok {
				t.Error("extended a released lock")
			}
		})
	}
}

func TestStoreDeletePrefixAndStats(t *testing.T) {
	ctx := context.Background()
	for name, mk := range storeImpls(t) {
		t.Run(name, func(t *testing.T) {
			s := mk()
			var entries []Entry
			for i := range 2500 {
				entries = append(entries, Entry{fmt.Sprintf("p*[x]:%04d", i), []byte("0123456789"), time.Minute})
			}
			entries = append(entries,
				Entry{"p*[x]", []byte("exact prefix"), time.Minute}, // matches its own prefix
				Entry{"pa[x]:1", []byte("glob would match"), time.Minute},
				Entry{"q:1", []byte("other"), time.Minute})
			if err := s.SetMany(ctx, entries); err != nil {
				t.Fatal(err)
			}
			st, err := s.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Entries != 2503 || st.Bytes < 2500*(10+11) {
				t.Errorf("stats %+v: want 2503 entries and at least %d bytes", st, 2500*21)
			}
			n, err := s.DeletePrefix(ctx, "p*[x]")
			if err != nil || n != 2501 {
				t.Errorf("DeletePrefix: %d, %v; want 2501", n, err)
			}
			got, _ := s.GetMany(ctx, []string{"p*[x]:0001", "pa[x]:1", "q:1"})
			if got[0] != nil || got[1] == nil || got[2] == nil {
				t.Errorf("after DeletePrefix: %q", got)
			}
		})
	}
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	val := make([]byte, 100)
	per := memSize("a", val)
	m := NewMemory(MemoryConfig{MaxBytes: 3 * per})
	for _, k := range []string{"a", "b", "c"} {
		_ = m.Set(ctx, k, val, time.Minute)
	}
	_, _ = m.GetMany(ctx, []string{"a"}) // a is now more recent than b
	_ = m.Set(ctx, "d", val, time.Minute)
	got, _ := m.GetMany(ctx, []string{"a", "b", "c", "d"})
	for i, wantPresent := range []bool{true, false, true, true} {
		if (got[i] != nil) != wantPresent {
			t.Errorf("key %d present %v, want %v", i, got[i] != nil, wantPresent)
		}
	}
	if st, _ := m.Stats(ctx); st.Bytes > 3*per || st.Entries != 3 {
		t.Errorf("stats %+v: over the bound", st)
	}
	_ = m.Set(ctx, "huge", make([]byte, 4*per), time.Minute)
	if got, _ := m.GetMany(ctx, []string{"huge", "a"}); got[0] != nil || got[1] == nil {
		t.Error("a value larger than the bound was stored, or evicted the others")
	}
}

// TestMemoryConcurrent exercises the locking under -race.
func TestMemoryConcurrent(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryConfig{MaxBytes: 50_000})
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				k := fmt.Sprintf("k%d", (g*31+i)%97)
				_ = m.Set(ctx, k, make([]byte, i%300), time.Minute)
				_, _ = m.GetMany(ctx, []string{k, "k1"})
				if i%100 == 0 {
					_, _ = m.DeletePrefix(ctx, "k1")
				}
				_, _ = m.Lock(ctx, k, time.Second)
				_ = m.Unlock(ctx, k)
			}
		}()
	}
	for range 8 {
		<-done
	}
	if st, _ := m.Stats(ctx); st.Bytes > 50_000 {
		t.Errorf("%d bytes, over the bound", st.Bytes)
	}
}

func TestBreaker(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 7, 0, time.UTC)
	b := newBreaker(3, 2*time.Second, func() time.Time { return now })
	call := func(o outcome) (allowed bool) {
		ok, probe := b.allow()
		if ok {
			b.done(probe, o)
		}
		return ok
	}
	for i := range 3 {
		if !call(outcomeFailure) {
			t.Fatalf("call %d refused while closed", i)
		}
	}
	if st, trips := b.snapshot(); st != BreakerOpen || trips != 1 {
		t.Fatalf("after 3 failures: %s, %d trips", st, trips)
	}
	if call(outcomeSuccess) {
		t.Error("call allowed while open")
	}
	now = now.Add(2 * time.Second)
	ok, probe := b.allow()
	if !ok || !probe {
		t.Fatalf("after the cooldown: allowed %v, probe %v; want one probe", ok, probe)
	}
	if ok2, _ := b.allow(); ok2 {
		t.Error("a second call allowed while the probe is in flight")
	}
	b.done(true, outcomeFailure)
	if st, trips := b.snapshot(); st != BreakerOpen || trips != 2 {
		t.Errorf("failed probe: %s, %d trips; want open again", st, trips)
	}
	now = now.Add(2 * time.Second)
	ok, probe = b.allow()
	b.done(probe, outcomeNeutral) // the caller gave up: the next call probes instead
	if ok2, probe2 := b.allow(); !ok || !ok2 || !probe2 {
		t.Errorf("after a neutral probe: %v, %v, %v; want another probe", ok, ok2, probe2)
	} else {
		b.done(probe2, outcomeSuccess)
	}
	if st, _ := b.snapshot(); st != BreakerClosed {
		t.Errorf("after a successful probe: %s, want closed", st)
	}
	// Failures that are not consecutive do not open it.
	for range 5 {
		call(outcomeFailure)
		call(outcomeFailure)
		call(outcomeSuccess)
	}
	if st, _ := b.snapshot(); st != BreakerClosed {
		t.Errorf("interleaved failures: %s, want closed", st)
	}
}

func TestRedisErrorsAreUnavailable(t *testing.T) {
	ln := redistest.ClosedAddr(t)
	r := NewRedis(redistest.ClientVia(t, ln), RedisConfig{Timeout: 50 * time.Millisecond, BreakerFailures: 2, BreakerCooldown: time.Hour})
	ctx := context.Background()
	for i := range 3 {
		_, err := r.GetMany(ctx, []string{"k"})
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("call %d: %v, want ErrUnavailable", i, err)
		}
	}
	if r.Failures() != 3 {
		t.Errorf("%d failures counted, want 3", r.Failures())
	}
	// A caller's cancellation is not the store's failure.
	r2 := NewRedis(redistest.ClientVia(t, ln), RedisConfig{BreakerFailures: 1})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r2.GetMany(cctx, []string{"k"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v", err)
	}
	if st, _ := r2.Breaker(); st != BreakerClosed {
		t.Errorf("breaker %s after a cancelled call, want closed", st)
	}
}

// TestDeadlineFromMeasurements: the deadline starts at the floor, follows measured round trips with a
// margin (and comes down only slowly), doubles when a call times out at it (not when an older call
// with a shorter deadline does), and stays within floor and ceiling.
func TestDeadlineFromMeasurements(t *testing.T) {
	d := newDeadline(100*time.Millisecond, time.Second)
	if got := d.current(); got != 100*time.Millisecond {
		t.Fatalf("start %s", got)
	}
	for range 20 {
		d.observe(time.Millisecond) // a quick Redis: the floor holds
	}
	if got := d.current(); got != 100*time.Millisecond {
		t.Errorf("quick calls: %s, want the floor", got)
	}
	if !d.timedOut(100*time.Millisecond) || d.current() != 200*time.Millisecond {
		t.Errorf("a timeout at the current deadline: %s, want doubled", d.current())
	}
	if d.timedOut(100 * time.Millisecond) {
		t.Error("a call started before the raise counted")
	}
	for range 10 {
		d.timedOut(d.current())
	}
	if got := d.current(); got != time.Second {
		t.Errorf("many timeouts: %s, want the ceiling", got)
	}
	for range 20 {
		d.observe(150 * time.Millisecond) // a busy host: every call ~150 ms
	}
	got := d.current()
	if got < 450*time.Millisecond || got > time.Second {
		t.Errorf("150 ms calls: deadline %s, want a margin over them", got)
	}
	d.observe(time.Millisecond)
	if after := d.current(); after < got*7/8-time.Millisecond {
		t.Errorf("one quick call lowered the deadline from %s to %s", got, after)
	}
}

// TestBreakerSlowIsNotAbsent: timeouts (slow) open the breaker only after many in a row; connection
// failures after the usual few; a success resets both.
func TestBreakerSlowIsNotAbsent(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBreaker(3, time.Second, func() time.Time { return now })
	call := func(o outcome) {
		ok, probe := b.allow()
		if ok {
			b.done(probe, o)
		}
	}
	for range 11 {
		call(outcomeSlow)
	}
	if st, _ := b.snapshot(); st != BreakerClosed {
		t.Fatalf("11 slow calls (threshold 3, slow 12): %s", st)
	}
	call(outcomeSuccess)
	for range 11 {
		call(outcomeSlow)
	}
	if st, _ := b.snapshot(); st != BreakerClosed {
		t.Fatalf("a success did not reset the slow count: %s", st)
	}
	call(outcomeSlow)
	if st, trips := b.snapshot(); st != BreakerOpen || trips != 1 {
		t.Errorf("12 slow calls in a row: %s after %d trips, want open", st, trips)
	}
	b2 := newBreaker(3, time.Second, func() time.Time { return now })
	for range 3 {
		ok, probe := b2.allow()
		if ok {
			b2.done(probe, outcomeFailure)
		}
	}
	if st, _ := b2.snapshot(); st != BreakerOpen {
		t.Errorf("3 connection failures: %s, want open", st)
	}
}

// A value cut from a larger buffer is kept as a tight copy, so the store holds what it counts.
func TestMemoryKeepsTightCopies(t *testing.T) {
	ctx := context.Background()
	big := make([]byte, 100, 1<<20)
	m := NewMemory(MemoryConfig{MaxBytes: 1 << 30})
	_ = m.Set(ctx, "k", big, time.Minute)
	got, _ := m.GetMany(ctx, []string{"k"})
	if len(got[0]) != 100 || cap(got[0]) > 100+memSlack(100) {
		t.Errorf("kept len %d cap %d, want a tight copy of 100 bytes", len(got[0]), cap(got[0]))
	}
	st, _ := m.Stats(ctx)
	if want := memSize("k", got[0]); st.Bytes != want {
		t.Errorf("counted %d bytes, want %d", st.Bytes, want)
	}
	tight := make([]byte, 100)
	_ = m.Set(ctx, "t", tight, time.Minute)
	if got, _ := m.GetMany(ctx, []string{"t"}); &got[0][0] != &tight[0] {
		t.Error("a tight value was copied")
	}
}
