package dashboards

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// evictPage is how many eviction candidates are read at a time. Candidates are read fully before any is
// deleted, so no cursor stays open across deletes (SQLite-backed servers lock on that).
const evictPage = 200

// evictAfterWrite runs eviction after a create or replace. The write has succeeded whatever happens here, so
// a failure is logged, not returned: the next write tries again.
func (s *Store) evictAfterWrite(ctx context.Context, written int64) {
	if err := s.Evict(ctx); err != nil {
		s.log.Error("dashboards: eviction failed", "err", err, "written_bytes", written)
	}
}

// Evict applies the storage limit: when the total size of all dashboards reaches EvictionThreshold ×
// MaxTotalBytes, it deletes dashboards that are neither whitelisted nor protected, least recently accessed
// first, until the total is at most TargetUtilization × MaxTotalBytes. Create and Replace call it; it is
// exported for maintenance commands.
func (s *Store) Evict(ctx context.Context) error {
	s.evictMu.Lock()
	defer s.evictMu.Unlock()
	threshold := s.cfg.EvictionThreshold * float64(s.cfg.MaxTotalBytes)
	total, ok := s.sizes.estimate(s.now(), s.cfg.SizeRecount)
	if ok && float64(total) < threshold {
		return nil
	}
	total, err := s.measureTotal(ctx)
	if err != nil {
		return err
	}
	if float64(total) < threshold {
		return nil
	}
	// The order is by last_access, so the accesses only this process knows about must be written first.
	if err := s.flushAccess(ctx); err != nil {
		return fmt.Errorf("evict: %w", err)
	}
	target := int64(s.cfg.TargetUtilization * float64(s.cfg.MaxTotalBytes))
	start, evicted := total, 0
	for total > target {
		ids, sizes, err := s.evictionCandidates(ctx, total-target)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			s.log.Warn("dashboards: storage above target but nothing left to evict (all whitelisted or protected)",
				"total_bytes", total, "target_bytes", target)
			break
		}
		s.writeMu.Lock()
		res, err := s.writes.Load().DeleteMany(ctx, bson.D{
			{Key: fieldID, Value: bson.D{{Key: "$in", Value: ids}}},
			{Key: fieldWhitelisted, Value: bson.D{{Key: "$ne", Value: true}}},
			{Key: fieldProtected, Value: bson.D{{Key: "$ne", Value: true}}},
		})
		s.writeMu.Unlock()
		if err != nil {
			return translate("evict", err)
		}
		for _, id := range ids {
			if id, ok := id.(string); ok {
				s.invalidate(id)
				s.access.forget(id)
			}
		}
		evicted += int(res.DeletedCount)
		if res.DeletedCount == int64(len(ids)) {
			total -= sizes
		} else if total, err = s.measureTotal(ctx); err != nil { // raced with another writer: count again
			return err
		}
	}
	s.sizes.set(total, s.now())
	if evicted > 0 {
		s.log.Info("dashboards: evicted least recently used dashboards",
			"count", evicted, "freed_bytes", start-total, "total_bytes", total, "target_bytes", target)
	}
	return nil
}

// evictionCandidates returns the least recently accessed evictable dashboards whose sizes add up to at
// least need (or all there are), with their total size.
func (s *Store) evictionCandidates(ctx context.Context, need int64) ([]any, int64, error) {
	cur, err := s.reads.Find(ctx,
		bson.D{
			{Key: fieldWhitelisted, Value: bson.D{{Key: "$ne", Value: true}}},
			{Key: fieldProtected, Value: bson.D{{Key: "$ne", Value: true}}},
		},
		options.Find().
			SetSort(bson.D{{Key: fieldLastAccess, Value: 1}, {Key: fieldID, Value: 1}}).
			SetProjection(bson.D{{Key: fieldSize, Value: 1}}).
			SetLimit(evictPage))
	if err != nil {
		return nil, 0, translate("evict: list candidates", err)
	}
	var docs []struct {
		ID   any `bson:"_id"` // any: records written by other tools may have non-string ids
		Size any `bson:"_size"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, 0, translate("evict: list candidates", err)
	}
	var ids []any
	var sum int64
	for _, d := range docs {
		if sum >= need {
			break
		}
		ids = append(ids, d.ID)
		sum += asInt64(d.Size)
	}
	return ids, sum, nil
}

// measureTotal sums _size exactly and remembers the result as the new estimate.
func (s *Store) measureTotal(ctx context.Context) (int64, error) {
	total, err := s.totalSize(ctx)
	if err != nil {
		return 0, err
	}
	s.sizes.set(total, s.now())
	return total, nil
}

// totalSize sums _size over all dashboards, as the old backend did.
func (s *Store) totalSize(ctx context.Context) (int64, error) {
	cur, err := s.reads.Aggregate(ctx, bson.A{
		bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil}, {Key: "total", Value: bson.D{{Key: "$sum", Value: "$" + fieldSize}}}}}},
	})
	if err != nil {
		return 0, translate("evict: total size", err)
	}
	var out []struct {
		Total any `bson:"total"`
	}
	if err := cur.All(ctx, &out); err != nil {
		return 0, translate("evict: total size", err)
	}
	if len(out) == 0 {
		return 0, nil
	}
	return asInt64(out[0].Total), nil
}

// asInt64 reads a stored number whatever BSON type it has (int32, int64, double).
func asInt64(v any) int64 {
	switch n := v.(type) {
	case int32:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	default:
		return 0
	}
}

// sizeEstimate is the total size last measured, plus this instance's writes since (see Config.SizeRecount).
type sizeEstimate struct {
	mu       sync.Mutex
	total    int64
	measured time.Time // zero: nothing measured yet
}

// estimate returns the total if a measurement younger than maxAge exists.
func (e *sizeEstimate) estimate(now time.Time, maxAge time.Duration) (int64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.measured.IsZero() || now.Sub(e.measured) >= maxAge {
		return 0, false
	}
	return e.total, true
}

func (e *sizeEstimate) set(total int64, now time.Time) {
	e.mu.Lock()
	e.total, e.measured = total, now
	e.mu.Unlock()
}

// add adjusts the estimate by a write of this instance (negative for deletes).
func (e *sizeEstimate) add(n int64) {
	e.mu.Lock()
	e.total += n
	e.mu.Unlock()
}

// forget drops the estimate, so the next check measures.
func (e *sizeEstimate) forget() {
	e.mu.Lock()
	e.measured = time.Time{}
	e.mu.Unlock()
}
