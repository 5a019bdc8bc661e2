package dashboards

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Retry delays of the background setup while MongoDB is unreachable.
const (
	setupRetryMin = 500 * time.Millisecond
	setupRetryMax = 30 * time.Second
)

// probeID is an id no dashboard has: the write-concern probe's filter matches nothing, so it writes nothing.
const probeID = "databoard-write-concern-probe"

// Start prepares the collection (the last_access index; the write concern the server accepts) and starts
// the background work: the access-time flusher, the health probe and the size recount. If MongoDB is unreachable it logs so and keeps retrying in the background while
// operations answer ErrUnavailable; any other setup failure is returned. Start may be called once.
func (s *Store) Start(ctx context.Context) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.started || s.closed {
		return errors.New("dashboards: Start called twice or after Close")
	}
	err := s.setup(ctx)
	if err != nil && !errors.Is(err, ErrUnavailable) {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.started = true
	if err != nil {
		s.log.Warn("dashboards: MongoDB unreachable; dashboard operations fail until it answers, setup retries in the background",
			"err", err)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.retrySetup(runCtx)
		}()
	}
	for _, loop := range []func(context.Context){s.runFlusher, s.runProbes, s.runRecounts} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			loop(runCtx)
		}()
	}
	return nil
}

// Close stops the background work, waits for it, and writes the pending access times (bounded by ctx).
func (s *Store) Close(ctx context.Context) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if err := s.flushAccess(ctx); err != nil {
		return fmt.Errorf("dashboards: close: %w", err)
	}
	return nil
}

func (s *Store) retrySetup(ctx context.Context) {
	delay := setupRetryMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		err := s.setup(ctx)
		if err == nil {
			s.log.Info("dashboards: MongoDB reachable, collection ready")
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Debug("dashboards: setup retry failed", "err", err, "next_in", delay)
		delay = min(2*delay, setupRetryMax)
	}
}

// setup decides the write concern and ensures the index on last_access that eviction sorts by.
func (s *Store) setup(ctx context.Context) error {
	if err := s.chooseWriteConcern(ctx); err != nil {
		return err
	}
	s.detectFerretDB(ctx)
	// The old backend's index has the default name last_access_1, so creating it again is a no-op.
	_, err := s.writes.Load().dash.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: fieldLastAccess, Value: 1}}})
	if err != nil && !indexExistsElsewhere(err) {
		return translate("dashboards: ensure last_access index", err)
	}
	return nil
}

// detectFerretDB notes whether the server is FerretDB (its buildInfo names its version), whose writes by a
// filter other than exactly {_id} read the whole collection: writes then find documents by _id alone, as on
// the embedded store. FerretDB's findAndModify is not isolated either, so nothing is lost that it gave.
func (s *Store) detectFerretDB(ctx context.Context) {
	var info bson.M
	if err := s.reads.Database().RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return // an unknown server is taken for MongoDB
	}
	if _, ok := info["ferretdbVersion"]; ok {
		s.isFerretDB.Store(true)
	}
}

// chooseWriteConcern tries a majority write that matches nothing. Servers that cannot acknowledge majority
// writes (a stand-alone server that says so) get w:1 instead, once, with a log line. FerretDB accepts and
// ignores write concerns, so it keeps majority.
func (s *Store) chooseWriteConcern(ctx context.Context) error {
	_, err := s.majority.dash.UpdateOne(ctx, bson.D{{Key: fieldID, Value: probeID}},
		bson.D{{Key: "$max", Value: bson.D{{Key: fieldLastAccess, Value: bson.DateTime(0)}}}})
	switch {
	case err == nil:
		s.writes.Store(&s.majority)
		return nil
	case writeConcernUnsupported(err):
		s.writes.Store(&s.w1)
		s.log.Warn("dashboards: server refuses majority write concern; writing with w:1", "err", err)
		return nil
	default:
		return translate("dashboards: probe write concern", err)
	}
}

// indexExistsElsewhere reports that an index on the same key exists under another name or options
// (IndexOptionsConflict, IndexKeySpecsConflict): eviction has its index either way.
func indexExistsElsewhere(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && (se.HasErrorCode(85) || se.HasErrorCode(86))
}
