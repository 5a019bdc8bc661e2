package curves

import (
	"context"
	"sync"
	"time"
)

// Completeness collects, for one answer, up to which time it is complete when the curve cache had to
// serve less than the window (data-api failing or slower than StaleAfter on a live window): the newest
// part is left out, or an old copy of the open tail is served. The HTTP edge reports it in the
// X-Complete-Until header. It is safe for concurrent use.
type Completeness struct {
	mu    sync.Mutex
	until int64
	set   bool
}

type completenessKey struct{}

// WithCompleteness returns a context under which Bins and Events record into the returned
// Completeness.
func WithCompleteness(ctx context.Context) (context.Context, *Completeness) {
	c := &Completeness{}
	return context.WithValue(ctx, completenessKey{}, c), c
}

// Until is the time up to which the answers read under its context are complete; ok is false when
// they are complete.
func (c *Completeness) Until() (t time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set {
		return time.Time{}, false
	}
	return time.Unix(0, c.until), true
}

// noteIncomplete records, in the Completeness of ctx if any, that an answer is complete only up to
// until (ns); the earliest such time wins.
func noteIncomplete(ctx context.Context, until int64) {
	c, _ := ctx.Value(completenessKey{}).(*Completeness)
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set || until < c.until {
		c.until, c.set = until, true
	}
}
