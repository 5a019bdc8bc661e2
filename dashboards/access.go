package dashboards

import (
	"context"
	"fmt"
	"maps"
	"slices"
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

func (a *accessLog) size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.last)
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

// accessBulk bounds the update statements of one bulk write. FerretDB v1 keeps each statement's cursor
// open until the whole command ends, and its SQLite pool has 100 connections: a bulk of 100 statements
// wedges the embedded store for good. 25 stays far below that and leaves room for concurrent reads.
const accessBulk = 25

// flushAccess writes the pending access times in unordered bulk writes of at most accessBulk statements,
// each taking the write lock on its own so that saves interleave with a large flush. $max keeps the write
// correct whatever order instances flush in, and never resurrects a deleted dashboard (no upsert). On
// failure the unwritten rest of the batch is kept for the next flush.
func (s *Store) flushAccess(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	batch := s.access.take()
	if len(batch) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(batch))
	for start := 0; start < len(ids); start += accessBulk {
		if err := s.writeAccess(ctx, ids[start:min(start+accessBulk, len(ids))], batch); err != nil {
			rest := make(map[string]time.Time, len(ids)-start)
			for _, id := range ids[start:] {
				rest[id] = batch[id]
			}
			s.access.restore(rest)
			return fmt.Errorf("write %d access times: %w", len(rest), err)
		}
	}
	return nil
}

// writeAccess writes the access times of ids in one bulk write.
func (s *Store) writeAccess(ctx context.Context, ids []string, batch map[string]time.Time) error {
	models := make([]mongo.WriteModel, 0, len(ids))
	for _, id := range ids {
		models = append(models, mongo.NewUpdateOneModel().
			SetFilter(byID(id)).
			SetUpdate(bson.D{{Key: "$max", Value: bson.D{{Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(batch[id])}}}}))
	}
	err := s.locked(ctx, "write access times", func(w *writeSet) error {
		_, err := w.dash.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		return translate("write access times", err)
	})
	s.health.observe(err, s.cfg.Now()) // the flusher is often the first to find the store stuck
	return err
}

// runFlusher flushes access times every interval until ctx ends. Failures are logged once per outage.
func (s *Store) runFlusher(ctx context.Context) {
	failing := false
	every(ctx, s.cfg.AccessFlushInterval, func() {
		fctx, cancel := context.WithTimeout(ctx, flushTimeout(s.cfg.AccessFlushInterval))
		defer cancel()
		err := s.flushAccess(fctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			failing = true
			s.log.Warn("dashboards: cannot write access times; keeping them for the next try", "err", err)
		case err == nil && failing:
			failing = false
			s.log.Info("dashboards: access times written again")
		}
	})
}

// flushTimeout bounds one periodic flush: long enough for a big batch, short enough not to pile up.
func flushTimeout(interval time.Duration) time.Duration {
	return max(5*interval, 5*time.Second)
}
