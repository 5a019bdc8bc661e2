package dashboards

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// accessLog remembers, per dashboard, the latest access not yet written to MongoDB. Reads then cost no
// write at all; the flusher writes the batch every AccessFlushInterval.
type accessLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newAccessLog() *accessLog { return &accessLog{last: make(map[string]time.Time)} }

func (a *accessLog) touch(id string, t time.Time) {
	a.mu.Lock()
	if prev, ok := a.last[id]; !ok || t.After(prev) {
		a.last[id] = t
	}
	a.mu.Unlock()
}

func (a *accessLog) pending(id string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.last[id]
	return t, ok
}

func (a *accessLog) forget(id string) {
	a.mu.Lock()
	delete(a.last, id)
	a.mu.Unlock()
}

// take hands the pending accesses to the caller and starts a new batch.
func (a *accessLog) take() map[string]time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.last) == 0 {
		return nil
	}
	batch := a.last
	a.last = make(map[string]time.Time, len(batch))
	return batch
}

// restore puts back a batch whose write failed, keeping the later time where an id was accessed again.
func (a *accessLog) restore(batch map[string]time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, t := range batch {
		if prev, ok := a.last[id]; !ok || t.After(prev) {
			a.last[id] = t
		}
	}
}

// flushAccess writes the pending access times in one unordered bulk write. $max keeps the write correct
// whatever order instances flush in, and never resurrects a deleted dashboard (no upsert). On failure the
// batch is kept for the next flush.
func (s *Store) flushAccess(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	batch := s.access.take()
	if len(batch) == 0 {
		return nil
	}
	models := make([]mongo.WriteModel, 0, len(batch))
	for id, t := range batch {
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: fieldID, Value: id}}).
			SetUpdate(bson.D{{Key: "$max", Value: bson.D{{Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(t)}}}}))
	}
	s.writeMu.Lock()
	_, err := s.writes.Load().BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	s.writeMu.Unlock()
	if err != nil {
		s.access.restore(batch)
		return translate(fmt.Sprintf("write %d access times", len(batch)), err)
	}
	return nil
}

// runFlusher flushes access times every interval until ctx ends. Failures are logged once per outage.
func (s *Store) runFlusher(ctx context.Context) {
	t := time.NewTicker(s.cfg.AccessFlushInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, flushTimeout(s.cfg.AccessFlushInterval))
		err := s.flushAccess(fctx)
		cancel()
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			failing = true
			s.log.Warn("dashboards: cannot write access times; keeping them for the next try", "err", err)
		case err == nil && failing:
			failing = false
			s.log.Info("dashboards: access times written again")
		}
	}
}

// flushTimeout bounds one periodic flush: long enough for a big batch, short enough not to pile up.
func flushTimeout(interval time.Duration) time.Duration {
	return max(5*interval, 5*time.Second)
}
