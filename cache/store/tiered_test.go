package store

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// flaky is a Memory that fails every call while down is set, as a Redis that went away.
type flaky struct {
	*Memory
	down atomic.Bool
}

func (f *flaky) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if f.down.Load() {
		return nil, ErrUnavailable
	}
	return f.Memory.GetMany(ctx, keys)
}

func (f *flaky) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if f.down.Load() {
		return ErrUnavailable
	}
	return f.Memory.Set(ctx, key, val, ttl)
}

// TestTieredServesWhileSharedIsDown (issue 12, point 1): values written or read through a Tiered store
// are answered in process while the shared store is down; with it up, the shared store is the truth
// (another instance's newer value wins); DeletePrefix and DropLocal empty the copy.
func TestTieredServesWhileSharedIsDown(t *testing.T) {
	ctx := context.Background()
	far := &flaky{Memory: NewMemory(MemoryConfig{})}
	tr := NewTiered(far, TieredConfig{})
	if err := tr.Set(ctx, "a", []byte("1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	_ = far.Memory.Set(ctx, "b", []byte("2"), time.Hour) // written by another instance
	if v, err := tr.GetMany(ctx, []string{"a", "b"}); err != nil || string(v[0]) != "1" || string(v[1]) != "2" {
		t.Fatalf("up: %q %v", v, err)
	}
	_ = far.Memory.Set(ctx, "a", []byte("1b"), time.Hour) // another instance replaced it
	if v, _ := tr.GetMany(ctx, []string{"a"}); string(v[0]) != "1b" {
		t.Errorf("up: %q, want the shared store's newer value", v[0])
	}

	far.down.Store(true)
	v, err := tr.GetMany(ctx, []string{"a", "b", "c"})
	if err != nil || string(v[0]) != "1b" || string(v[1]) != "2" || v[2] != nil {
		t.Errorf("down: %q %v, want the in-process copies and a miss", v, err)
	}
	if _, err := tr.GetMany(ctx, []string{"c"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("down, nothing in process: %v, want ErrUnavailable", err)
	}
	if tr.Fallbacks() != 1 {
		t.Errorf("%d fallbacks, want 1", tr.Fallbacks())
	}
	if err := tr.Set(ctx, "d", []byte("4"), time.Hour); !errors.Is(err, ErrUnavailable) {
		t.Errorf("down: Set %v, want the shared store's error", err)
	}
	if v, _ := tr.GetMany(ctx, []string{"d"}); string(v[0]) != "4" {
		t.Errorf("down: a value written meanwhile is %q", v[0])
	}
	far.down.Store(false)
	if _, err := tr.DeletePrefix(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	tr.DropLocal(ctx)
	far.down.Store(true)
	if v, err := tr.GetMany(ctx, []string{"a", "b", "d"}); err == nil {
		t.Errorf("after the flush, down: %q served", v)
	}
}
