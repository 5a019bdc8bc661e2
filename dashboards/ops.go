package dashboards

import (
	"context"
	"time"
)

// opMargin bounds how much earlier than its caller's deadline a store operation gives up (at most a fifth
// of the time left).
const opMargin = time.Second

// opContext bounds one store operation so that it ends before the caller's deadline: a wedged or
// unreachable store then fails the operation with ErrUnavailable (the driver's timeout, or the write
// lock's) while the caller still has time to say so, instead of the caller's own deadline passing first.
func opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	margin := min(opMargin, time.Until(dl)/5)
	return context.WithDeadline(ctx, dl.Add(-margin))
}

// run runs one public store operation within opContext and records its outcome in the store's health.
func run[T any](s *Store, ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	v, err := f(ctx)
	s.health.observe(err, s.cfg.Now())
	return v, err
}

// ctxLock is a mutex whose lock gives up when the context ends.
type ctxLock chan struct{}

func newCtxLock() ctxLock { return make(ctxLock, 1) }

// lock takes the lock or fails when ctx ends first: ErrUnavailable on a deadline (whoever holds the lock
// is stuck on the store), the cancellation itself otherwise.
func (l ctxLock) lock(ctx context.Context, op string) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return translate(op+": waiting for the store's write lock", ctx.Err())
	}
}

func (l ctxLock) unlock() { <-l }

// locked runs f holding the write lock.
func (s *Store) locked(ctx context.Context, op string, f func(w *writeSet) error) error {
	if err := s.writeLock.lock(ctx, op); err != nil {
		return err
	}
	defer s.writeLock.unlock()
	return f(s.writes.Load())
}

// every calls f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f()
	}
}
