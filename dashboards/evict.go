package dashboards

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// evictPage is how many eviction candidates are read at a time. Candidates are read fully before any is
// deleted, so no cursor stays open across deletes (SQLite-backed servers lock on that).
const evictPage = 200

// evictIfNeeded runs eviction after a create or replace when the counter says the threshold is reached
// (or when it is unknown). The write has succeeded whatever happens here, so a failure is logged, not
// returned: the next write tries again.
func (s *Store) evictIfNeeded(ctx context.Context, total sizeTotal) {
	if total.known && float64(total.bytes) < s.threshold() {
		return
	}
	if err := s.evict(ctx); err != nil {
		s.log.Error("dashboards: eviction failed", "err", err)
	}
}

func (s *Store) threshold() float64 { return s.cfg.EvictionThreshold * float64(s.cfg.MaxTotalBytes) }

// Evict applies the storage limit: when the total size of all dashboards reaches EvictionThreshold ×
// MaxTotalBytes, it deletes dashboards that are neither whitelisted nor protected, least recently accessed
// first, until the total is at most TargetUtilization × MaxTotalBytes. Create and Replace call it when the
// size counter reaches the threshold; it is exported for maintenance commands.
func (s *Store) Evict(ctx context.Context) error {
	_, err := run(s, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, s.evict(ctx) })
	return err
}

// evict decides on an exact recount, never on the counter alone, so a counter that drifted high costs one
// recount and never evicts a dashboard too many.
func (s *Store) evict(ctx context.Context) error {
	if err := s.evictLock.lock(ctx, "evict"); err != nil {
		return err
	}
	defer s.evictLock.unlock()
	total, err := s.recount(ctx)
	if err != nil || float64(total) < s.threshold() {
		return err
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
		deleted, err := s.deleteEvictable(ctx, ids, sizes)
		if err != nil {
			return err
		}
		evicted += int(deleted)
		if deleted == int64(len(ids)) {
			total -= sizes
		} else if total, err = s.recount(ctx); err != nil { // raced with another writer: count again
			return err
		}
	}
	if evicted > 0 {
		s.log.Info("dashboards: evicted least recently used dashboards",
			"count", evicted, "freed_bytes", start-total, "total_bytes", total, "target_bytes", target)
	}
	return nil
}

// deleteEvictable deletes those of ids that are still evictable, in one statement (at most evictPage ids,
// and FerretDB closes a delete's cursor before it writes), and accounts for them in the size counter when
// all of them went, so that their sizes are known; otherwise the caller recounts.
func (s *Store) deleteEvictable(ctx context.Context, ids []any, sizes int64) (int64, error) {
	var deleted int64
	err := s.locked(ctx, "evict", func(w *writeSet) error {
		res, err := w.dash.DeleteMany(ctx, bson.D{
			{Key: fieldID, Value: bson.D{{Key: "$in", Value: ids}}},
			{Key: fieldWhitelisted, Value: bson.D{{Key: "$ne", Value: true}}},
			{Key: fieldProtected, Value: bson.D{{Key: "$ne", Value: true}}},
		})
		if err != nil {
			return translate("evict", err)
		}
		deleted = res.DeletedCount
		if deleted == int64(len(ids)) {
			s.addSize(ctx, w, -sizes)
		}
		return nil
	})
	for _, id := range ids {
		if id, ok := id.(string); ok {
			s.invalidate(id)
			s.access.forget(id)
		}
	}
	return deleted, err
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
