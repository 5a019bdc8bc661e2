package dashboards

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The total size of all dashboards, which eviction works against, is kept in one counter document so that
// a write costs O(1) instead of a $group over the whole collection:
//
//	collection "<Collection>_meta": {_id: "total_size", bytes: <sum of _size>, v: <changes so far>}
//
// Every write that changes the sum adds its difference with $inc right after the write (under the write
// lock, since FerretDB v1's $inc is not atomic), which is atomic and order-independent across instances.
// A crash between the write and its $inc, or a failed $inc, leaves the counter off; a periodic recount
// ($group, without any lock) puts it right, and only if v did not change meanwhile, so a recount never
// overwrites a concurrent write's $inc. Eviction itself always decides on a fresh recount, so the counter
// only has to say when to look: the eviction rule holds exactly.
const (
	metaSuffix    = "_meta"
	sizeCounterID = "total_size"
	fieldBytes    = "bytes"
	fieldVersion  = "v"
)

// sizeTotal is the counter's value after a write; known is false when there is no counter yet (or the $inc
// failed), and then eviction recounts.
type sizeTotal struct {
	bytes int64
	known bool
}

// addSize adds delta to the counter and returns the new total. The write it accounts for has succeeded
// whatever happens here, so a failure only asks for an early recount. The caller holds the write lock.
func (s *Store) addSize(ctx context.Context, w *writeSet, delta int64) sizeTotal {
	var doc struct {
		Bytes int64 `bson:"bytes"`
	}
	err := w.meta.FindOneAndUpdate(ctx, byID(sizeCounterID),
		bson.D{{Key: "$inc", Value: bson.D{{Key: fieldBytes, Value: delta}, {Key: fieldVersion, Value: int64(1)}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if err != nil {
		s.recountDue.Store(true)
		if !errors.Is(err, mongo.ErrNoDocuments) {
			s.log.Warn("dashboards: cannot update the size counter; recounting soon", "err", err, "delta", delta)
		}
		return sizeTotal{}
	}
	s.total.Store(doc.Bytes)
	return sizeTotal{bytes: doc.Bytes, known: true}
}

// recount measures the total exactly and stores it in the counter (creating it if missing), unless a write
// changed the counter meanwhile: that write's $inc is then newer than the measurement, and the counter is
// left as it is.
func (s *Store) recount(ctx context.Context) (int64, error) {
	w := s.writes.Load()
	var cur struct {
		V int64 `bson:"v"`
	}
	err := w.meta.FindOne(ctx, byID(sizeCounterID)).Decode(&cur)
	missing := errors.Is(err, mongo.ErrNoDocuments)
	if err != nil && !missing {
		return 0, translate("recount: read size counter", err)
	}
	total, err := s.totalSize(ctx)
	if err != nil {
		return 0, err
	}
	s.recounts.Add(1)
	err = s.locked(ctx, "recount", func(w *writeSet) error {
		if missing {
			_, err := w.meta.InsertOne(ctx, bson.D{{Key: fieldID, Value: sizeCounterID},
				{Key: fieldBytes, Value: total}, {Key: fieldVersion, Value: int64(0)}})
			if mongo.IsDuplicateKeyError(err) { // another instance created it first, from its own count
				s.recountDue.Store(true)
				return nil
			}
			if err == nil {
				s.measuredV.Store(0)
			}
			return translate("recount: create size counter", err)
		}
		res, err := w.meta.UpdateOne(ctx, bson.D{{Key: fieldID, Value: sizeCounterID}, {Key: fieldVersion, Value: cur.V}},
			bson.D{{Key: "$set", Value: bson.D{{Key: fieldBytes, Value: total}}},
				{Key: "$inc", Value: bson.D{{Key: fieldVersion, Value: int64(1)}}}})
		if err == nil && res.MatchedCount == 1 {
			s.measuredV.Store(cur.V + 1)
		}
		return translate("recount: store size counter", err)
	})
	if err != nil {
		s.recountDue.Store(true)
		return 0, err
	}
	s.total.Store(total)
	return total, nil
}

// recountTimeout bounds one background recount: FerretDB's $group reads every whole document (about 10 ms
// per 71 KB dashboard on a small machine).
const recountTimeout = 10 * time.Minute

// runRecounts recounts every SizeRecount, and sooner (at the next probe tick) when a write could not update
// the counter, until ctx ends. A scheduled recount is skipped while the counter has not changed since this
// process last measured it: no instance has written since, so there is nothing new to check, and on
// FerretDB a recount of 10 000 dashboards reads 280 MB. (A write whose instance died before its $inc is
// then caught by the first recount after the next write; eviction never relies on this, it always
// measures.)
func (s *Store) runRecounts(ctx context.Context) {
	last := time.Now()
	every(ctx, s.cfg.ProbeInterval, func() {
		due := s.recountDue.Swap(false)
		if !due && time.Since(last) < s.cfg.SizeRecount {
			return
		}
		last = time.Now()
		rctx, cancel := context.WithTimeout(ctx, recountTimeout)
		defer cancel()
		if !due && s.counterUnchanged(rctx) {
			return
		}
		if _, err := s.recount(rctx); err != nil && ctx.Err() == nil {
			s.log.Warn("dashboards: size recount failed; retrying", "err", err)
		}
	})
}

// counterUnchanged reports whether the size counter still has the version this process's last recount
// gave it. Any failure to read it says false, so the recount runs.
func (s *Store) counterUnchanged(ctx context.Context) bool {
	measured := s.measuredV.Load()
	if measured < 0 {
		return false
	}
	var cur struct {
		V int64 `bson:"v"`
	}
	err := s.writes.Load().meta.FindOne(ctx, byID(sizeCounterID)).Decode(&cur)
	return err == nil && cur.V == measured
}
