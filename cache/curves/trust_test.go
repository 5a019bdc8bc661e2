package curves

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databoard/databoard/cache/store"
	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// vouchAll vouches for keys with zero hashes (these tests are about keys and times, not values).
func vouchAll(tr *trust, epoch uint64, keys []string, now, until int64) {
	tr.vouch(epoch, keys, make([]uint64, len(keys)), now, until)
}

func TestTrustVouches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(tr *trust)
		keys  []string
		now   int64
		want  bool
	}{
		{"vouched", func(tr *trust) { vouchAll(tr, tr.current(), []string{"a", "b"}, 0, 10) }, []string{"a", "b"}, 5, true},
		{"one not vouched", func(tr *trust) { vouchAll(tr, tr.current(), []string{"a"}, 0, 10) }, []string{"a", "b"}, 5, false},
		{"expired", func(tr *trust) { vouchAll(tr, tr.current(), []string{"a"}, 0, 10) }, []string{"a"}, 10, false},
		{"no keys", func(tr *trust) {}, nil, 5, false},
		{"dropped", func(tr *trust) { vouchAll(tr, tr.current(), []string{"a"}, 0, 10); tr.drop() }, []string{"a"}, 5, false},
		{"prepared before a drop", func(tr *trust) {
			epoch := tr.current()
			tr.drop() // a flush while the store was read
			vouchAll(tr, epoch, []string{"a"}, 0, 10)
		}, []string{"a"}, 5, false},
		{"prepared after a drop", func(tr *trust) {
			tr.drop()
			vouchAll(tr, tr.current(), []string{"a"}, 0, 10)
		}, []string{"a"}, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr trust
			tc.setup(&tr)
			if _, got := tr.sums(tc.keys, tc.now); got != tc.want {
				t.Errorf("sums(%v, %d) vouched = %v, want %v", tc.keys, tc.now, got, tc.want)
			}
		})
	}
}

// TestTrustBounded: vouches beyond maxTrusted push the expired ones out, then all of them.
func TestTrustBounded(t *testing.T) {
	var tr trust
	keys := func(from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strconv.Itoa(from + i)
		}
		return out
	}
	vouchAll(&tr, 0, keys(0, maxTrusted/2), 0, 10) // expire at 10
	vouchAll(&tr, 0, keys(maxTrusted/2, maxTrusted/2), 0, 100)
	vouchAll(&tr, 0, keys(maxTrusted, 10), 20, 100) // at 20: the first half goes
	if n := len(tr.until); n != maxTrusted/2+10 {
		t.Errorf("%d vouches after the expired were dropped, want %d", n, maxTrusted/2+10)
	}
	if _, ok := tr.sums(keys(maxTrusted, 10), 20); !ok {
		t.Error("a live vouch was dropped")
	}
	if _, ok := tr.sums(keys(0, 1), 5); ok {
		t.Error("wrong vouches kept")
	}
	vouchAll(&tr, 0, keys(2*maxTrusted, maxTrusted), 20, 100) // none expired: all go
	if n := len(tr.until); n > maxTrusted {
		t.Errorf("%d vouches, more than %d", n, maxTrusted)
	}
}

// readCounter counts the reads of a store.
type readCounter struct {
	store.Store
	reads atomic.Int64
}

func (r *readCounter) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	r.reads.Add(1)
	return r.Store.GetMany(ctx, keys)
}

// trustEnv is a Curves with fragments over a store that counts its reads, and a settled window of
// SINE asked twice (its fragments kept and vouched for).
type trustEnv struct {
	*simEnv
	c     *Curves
	s     *readCounter
	ch    daqbuf.ChannelRef
	past  curve.Query
	first string
}

func newTrustEnv(t *testing.T, s store.Store) *trustEnv {
	t.Helper()
	e := &trustEnv{simEnv: newSimEnv(t), s: &readCounter{Store: s}}
	e.c = e.curves(e.s, withFragments(Config{}))
	e.ch = e.channel(t, "SIM-F64:SINE", false)
	e.past = answerQuery(e.ch, e.now()-int64(26*time.Hour), e.now()-int64(2*time.Hour), 2000, true)
	answer(t, e.c, e.past)
	e.first, _ = answer(t, e.c, e.past)
	return e
}

// reads answers q and returns the answer and how many store reads it took.
func (e *trustEnv) reads(t *testing.T, q curve.Query) (string, int64) {
	t.Helper()
	before := e.s.reads.Load()
	got, _ := answer(t, e.c, q)
	return got, e.s.reads.Load() - before
}

// TestTrustedFragmentsSkipTheStore: once an answer found the store holding the values of a settled
// window's kept fragments, the next answers within FragmentTrust do not read the store, and write the
// same bytes; after it they read it again. A live window reads it every time.
func TestTrustedFragmentsSkipTheStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, newStore func() store.Store) {
		e := newTrustEnv(t, newStore())
		want, _ := answer(t, e.direct, e.past)
		if e.first != want {
			t.Fatal("answer differs from the uncached one")
		}
		got, n := e.reads(t, e.past)
		if got != want || n != 0 {
			t.Errorf("trusted answer: %d store reads, equals the uncached one %v; want 0, true", n, got == want)
		}
		read, _ := e.c.planBinRead(daqbuf.BinnedQuery{Channel: e.ch, Range: e.past.Range(), BinCount: 2000}, 0)
		if s := e.c.Stats(); s.TrustedChunks != uint64(len(read.keys)) {
			t.Errorf("%d trusted chunks, want the window's %d", s.TrustedChunks, len(read.keys))
		}

		e.clock.Advance(31 * time.Second) // the default FragmentTrust is 30 s
		if _, n := e.reads(t, e.past); n != 1 {
			t.Errorf("after FragmentTrust: %d store reads, want 1", n)
		}
		if _, n := e.reads(t, e.past); n != 0 {
			t.Errorf("vouched for again: %d store reads, want 0", n)
		}

		live := answerQuery(e.ch, e.now()-int64(3*time.Hour), e.now(), 2000, true)
		for range 3 {
			if _, n := e.reads(t, live); n == 0 {
				t.Error("a live window answered without reading the store")
			}
		}
	})
}

// TestTrustBoundsAStaleFragment: a settled chunk another instance replaced with other data (possible
// only if data-api changed the past, after a deletion) is seen at most FragmentTrust late — and at once
// after a flush here or a DropTrusted (a flush elsewhere).
func TestTrustBoundsAStaleFragment(t *testing.T) {
	e := newTrustEnv(t, store.NewMemory(store.MemoryConfig{}))
	changeChunks(t, e.c, e.s.Store, e.ch, e.past)
	if got, n := e.reads(t, e.past); n != 0 || got != e.first {
		t.Fatalf("within FragmentTrust: %d store reads, the old answer %v; want 0, true", n, got == e.first)
	}
	e.clock.Advance(31 * time.Second)
	got, n := e.reads(t, e.past)
	if want := decodedAnswer(t, e.c, e.past); n != 1 || got != want {
		t.Errorf("after FragmentTrust: %d store reads, the changed answer %v; want 1, true", n, got == want)
	}

	for _, drop := range []struct {
		name string
		do   func() error
	}{
		{"DropTrusted", func() error { e.c.DropTrusted(); return nil }},
		{"a flush of another channel", func() error {
			_, err := e.c.FlushChannel(context.Background(), testBackend, "SIM-F64:NOISE", 0)
			return err
		}},
	} {
		if _, n := e.reads(t, e.past); n != 0 {
			t.Fatalf("before %s: %d store reads, want a trusted answer", drop.name, n)
		}
		if err := drop.do(); err != nil {
			t.Fatal(err)
		}
		if _, n := e.reads(t, e.past); n != 1 {
			t.Errorf("after %s: %d store reads, want 1", drop.name, n)
		}
	}
}

// TestNoTrustWhenNegative: FragmentTrust < 0 reads the store for every answer.
func TestNoTrustWhenNegative(t *testing.T) {
	e := newSimEnv(t)
	s := &readCounter{Store: store.NewMemory(store.MemoryConfig{})}
	c := e.curves(s, withFragments(Config{FragmentTrust: -1}))
	q := answerQuery(e.channel(t, "SIM-F64:SINE", false), e.now()-int64(26*time.Hour), e.now()-int64(2*time.Hour), 2000, true)
	answer(t, c, q) // a miss: fetched and stored
	before := s.reads.Load()
	for range 3 {
		answer(t, c, q)
	}
	if n := s.reads.Load() - before; n != 3 || c.Stats().TrustedChunks != 0 {
		t.Errorf("%d store reads for 3 answers, %d trusted chunks; want 3, 0", n, c.Stats().TrustedChunks)
	}
}

// A flush does not stop an answer that read the store before it from keeping the fragment of the old
// value after it; when an answer after the flush has meanwhile read the new value and vouched for the
// chunks, the kept fragment under their keys is the old value's. The vouch is for the new value's hash,
// so the old fragment is not served: the store is read again (trust.go).
//
// Steps: A plans and reads the store (old values V1), epoch taken. FlushChannel; the chunks are
// fetched again with other data (V2, as after data-api corrected the past, the reason to flush).
// C answers: reads V2, keeps V2's fragments, vouches. A finishes with its V1 values: V1's fragments
// are kept again. D answers: V2's data.
func TestTrustIsForTheValueAfterAFlushRace(t *testing.T) {
	e := newTrustEnv(t, store.NewMemory(store.MemoryConfig{}))
	ctx := context.Background()
	bq := daqbuf.BinnedQuery{Channel: e.ch, Range: e.past.Range(), BinCount: 2000}

	// A: reads the store before the flush.
	readA, ok := e.c.planBinRead(bq, 0)
	if !ok {
		t.Fatal("not chunked")
	}
	epochA := e.c.trust.current()
	readA, err := e.c.loadBins(ctx, readA)
	if err != nil {
		t.Fatal(err)
	}

	// The flush, and the chunks fetched again with corrected data.
	if _, err := e.c.FlushChannel(ctx, testBackend, e.ch.Name, 0); err != nil {
		t.Fatal(err)
	}
	changeChunks(t, e.c, e.s.Store, e.ch, e.past)
	want := decodedAnswer(t, e.c, e.past) // the answer of what the store holds now
	if want == e.first {
		t.Fatal("changeChunks changed nothing")
	}

	// C: after the flush, reads V2 and vouches.
	if got, _ := answer(t, e.c, e.past); got != want {
		t.Fatal("C: answer after the flush is not the store's")
	}

	// A finishes with the values it read before the flush.
	if _, err := e.c.fragments(ctx, readA.keys, readA.vals, epochA); err != nil {
		t.Fatal(err)
	}

	// D: trusted, no store read.
	got, n := e.reads(t, e.past)
	if got != want {
		t.Errorf("after the flush: answer from %d store reads is the flushed data (old answer: %v), not the store's",
			n, got == e.first)
	}
}
