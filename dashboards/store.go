package dashboards

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/xeipuuv/gojsonschema"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
	"golang.org/x/sync/singleflight"
)

// Field names of a stored record: the old backend's, so existing databases keep working.
const (
	fieldID          = "_id"
	fieldDashboard   = "dashboard"
	fieldSize        = "_size"
	fieldLastAccess  = "last_access"
	fieldWhitelisted = "whitelisted"
	fieldProtected   = "protected"
)

// Dashboard is one dashboard as the HTTP API answers it.
type Dashboard struct {
	// ID is the dashboard's id (a uuid4 string for dashboards created here).
	ID string
	// JSON is the complete answer body: {"id": ID} followed by the members of the stored body exactly as the
	// client sent them, i.e. {"id":"…","dashboard":{…}} (the old backend's {"id": id, **body}). Ready to write;
	// it may be shared with other callers, so it must not be modified.
	JSON []byte
}

// MarshalJSON returns d.JSON, so a Dashboard can be embedded in other answers.
func (d Dashboard) MarshalJSON() ([]byte, error) { return d.JSON, nil }

// Store keeps dashboards in one MongoDB collection. It is safe for concurrent use.
type Store struct {
	cfg    Config
	log    *slog.Logger
	schema *gojsonschema.Schema // nil when schema validation is off

	reads    *mongo.Collection
	majority writeSet
	w1       writeSet
	writes   atomic.Pointer[writeSet] // majority until Start finds the server cannot honour it

	access *accessLog
	cache  *answerCache // nil when off
	reads1 singleflight.Group
	health health

	// total is the last known value of the shared size counter (see size.go); recountDue asks the
	// background recount to run early because the counter may have drifted.
	total      atomic.Int64
	recountDue atomic.Bool
	// measuredV is the counter's version right after this process's last recount stored it (-1: none
	// yet); recounts counts full measurements ($group over every dashboard).
	measuredV atomic.Int64
	recounts  atomic.Uint64

	// isFerretDB: the server said it is FerretDB (detected at start); see onFerretDB.
	isFerretDB atomic.Bool

	evictLock ctxLock
	flushMu   sync.Mutex
	// writeLock serializes this process's writes. FerretDB v1 implements every update as read, modify,
	// write back the whole document without isolation, so an access-time flush racing a PATCH would put
	// the old dashboard back (a lost save), and two $inc of the size counter would lose one. Only one
	// process writes the embedded store, so one lock closes those races; on MongoDB it is merely redundant.
	// It is a channel, not a mutex, so that a caller whose deadline passes while a wedged store holds it
	// gives up (ErrUnavailable) instead of waiting for good.
	writeLock ctxLock

	lifeMu  sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// writeSet is the collections writes go through, with the write concern Start chose.
type writeSet struct {
	dash *mongo.Collection // the dashboards
	meta *mongo.Collection // the size counter
}

// New builds a store on db. It does no I/O; Start prepares the collection and starts the background work.
// A nil logger discards log lines.
func New(db *mongo.Database, cfg Config, logger *slog.Logger) (*Store, error) {
	if db == nil {
		return nil, errors.New("dashboards: nil database")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		cfg:       cfg,
		log:       logger,
		access:    newAccessLog(),
		evictLock: newCtxLock(),
		writeLock: newCtxLock(),
	}
	if cfg.ValidateSchema {
		if s.schema, err = compileSchema(cfg.Schema); err != nil {
			return nil, err
		}
	}
	if cfg.CacheBytes > 0 {
		s.cache = newAnswerCache(cfg.CacheBytes, cfg.CacheTTL, cfg.Now)
	}
	s.reads = db.Collection(cfg.Collection)
	s.majority = newWriteSet(db, cfg.Collection, writeconcern.Majority())
	s.w1 = newWriteSet(db, cfg.Collection, writeconcern.W1())
	s.writes.Store(&s.majority)
	s.total.Store(-1)
	s.measuredV.Store(-1)
	return s, nil
}

func newWriteSet(db *mongo.Database, collection string, wc *writeconcern.WriteConcern) writeSet {
	opts := options.Collection().SetWriteConcern(wc)
	return writeSet{dash: db.Collection(collection, opts), meta: db.Collection(collection+metaSuffix, opts)}
}

// now returns the current time at BSON's millisecond precision, in UTC.
func (s *Store) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// Create validates body (a DashboardDTO, {"dashboard": {...}}), stores it under a new uuid4 and then evicts
// least recently used dashboards if the total size reached the threshold.
func (s *Store) Create(ctx context.Context, body []byte) (Dashboard, error) {
	return run(s, ctx, func(ctx context.Context) (Dashboard, error) { return s.create(ctx, body) })
}

func (s *Store) create(ctx context.Context, body []byte) (Dashboard, error) {
	doc, stored, err := s.encodeForStore(body)
	if err != nil {
		return Dashboard{}, fmt.Errorf("create dashboard: %w", err)
	}
	id := uuid.NewString()
	rec := bson.D{
		{Key: fieldID, Value: id},
		{Key: fieldDashboard, Value: bson.Raw(stored)},
		{Key: fieldSize, Value: sizeValue(len(doc))},
		{Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(s.now())},
	}
	var total sizeTotal
	err = s.locked(ctx, "create dashboard", func(w *writeSet) error {
		if _, err := w.dash.InsertOne(ctx, rec); err != nil {
			return translateWrite("create dashboard", err)
		}
		total = s.addSize(ctx, w, int64(len(doc)))
		return nil
	})
	if err != nil {
		return Dashboard{}, err
	}
	s.evictIfNeeded(ctx, total)
	return answer(id, doc)
}

// Get returns the dashboard with the given id and records the access (written in batches, see doc.go).
func (s *Store) Get(ctx context.Context, id string) (Dashboard, error) {
	if d, ok := s.cache.get(id); ok {
		s.access.touch(id, s.now())
		return d, nil
	}
	return run(s, ctx, func(ctx context.Context) (Dashboard, error) { return s.getShared(ctx, id) })
}

// getShared reads id, sharing the query with concurrent reads of the same id (a dashboard link opened by
// many at once).
func (s *Store) getShared(ctx context.Context, id string) (Dashboard, error) {
	ch := s.reads1.DoChan(id, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedReadTimeout)
		defer cancel()
		return s.read(rctx, id)
	})
	select {
	case <-ctx.Done():
		return Dashboard{}, translate("get dashboard "+id, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return Dashboard{}, res.Err
		}
		s.access.touch(id, s.now())
		return res.Val.(Dashboard), nil
	}
}

// sharedReadTimeout bounds a read shared by several Get calls, which outlives any one caller's context.
const sharedReadTimeout = 10 * time.Second

func (s *Store) read(ctx context.Context, id string) (Dashboard, error) {
	gen := s.cache.generation()
	raw, err := s.reads.FindOne(ctx, byID(id),
		options.FindOne().SetProjection(bson.D{{Key: fieldDashboard, Value: 1}})).Raw()
	if err != nil {
		return Dashboard{}, translate("get dashboard "+id, err)
	}
	d, err := s.answerFromRecord(id, raw)
	if err != nil {
		return Dashboard{}, fmt.Errorf("get dashboard %s: %w", id, err)
	}
	s.cache.put(d, gen)
	return d, nil
}

// Replace validates body and replaces the whole stored dashboard, keeping its id and its whitelisted and
// protected flags. A protected dashboard gives ErrProtected, an unknown id ErrNotFound.
func (s *Store) Replace(ctx context.Context, id string, body []byte) (Dashboard, error) {
	return run(s, ctx, func(ctx context.Context) (Dashboard, error) { return s.replace(ctx, id, body) })
}

func (s *Store) replace(ctx context.Context, id string, body []byte) (Dashboard, error) {
	op := "replace dashboard " + id
	doc, stored, err := s.encodeForStore(body)
	if err != nil {
		return Dashboard{}, fmt.Errorf("%s: %w", op, err)
	}
	set := bson.D{{Key: "$set", Value: bson.D{
		{Key: fieldDashboard, Value: bson.Raw(stored)},
		{Key: fieldSize, Value: sizeValue(len(doc))},
		{Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(s.now())},
	}}}
	var total sizeTotal
	err = s.locked(ctx, op, func(w *writeSet) error {
		old, err := s.updateUnprotected(ctx, w, id, set)
		if err != nil {
			return err
		}
		total = s.addSize(ctx, w, int64(len(doc))-old)
		return nil
	})
	s.invalidate(id)
	if err != nil {
		return Dashboard{}, fmt.Errorf("%s: %w", op, err)
	}
	s.evictIfNeeded(ctx, total)
	return answer(id, doc)
}

// Delete removes the dashboard and returns what it held. A protected dashboard gives ErrProtected.
func (s *Store) Delete(ctx context.Context, id string) (Dashboard, error) {
	return run(s, ctx, func(ctx context.Context) (Dashboard, error) { return s.delete(ctx, id) })
}

func (s *Store) delete(ctx context.Context, id string) (Dashboard, error) {
	op := "delete dashboard " + id
	var raw bson.Raw
	err := s.locked(ctx, op, func(w *writeSet) error {
		var err error
		if raw, err = s.deleteUnprotected(ctx, w, id); err != nil {
			return err
		}
		s.addSize(ctx, w, -storedSize(raw))
		return nil
	})
	s.invalidate(id)
	if err != nil {
		return Dashboard{}, fmt.Errorf("%s: %w", op, err)
	}
	s.access.forget(id)
	d, err := s.answerFromRecord(id, raw)
	if err != nil {
		return Dashboard{}, fmt.Errorf("%s: deleted, but %w", op, err)
	}
	return d, nil
}

// updateUnprotected applies update to dashboard id unless it is protected, and returns its size before.
//
// Real MongoDB checks and writes in one findAndModify. FerretDB v1 finds a document by index only when the
// filter is exactly {_id: <string>}; any other filter reads and decodes the whole collection, so every
// write would slow down as the collection grows. The embedded store therefore reads the flags first and
// then writes by _id alone; the write lock, which the caller holds, keeps the two steps together because
// only this process writes there. A FerretDB server shared by several instances gets the same two steps:
// its own findAndModify is not isolated either.
func (s *Store) updateUnprotected(ctx context.Context, w *writeSet, id string, update bson.D) (int64, error) {
	if s.onFerretDB() {
		prev, err := s.unprotected(ctx, id, bson.D{{Key: fieldSize, Value: 1}, {Key: fieldProtected, Value: 1}})
		if err != nil {
			return 0, err
		}
		if _, err := w.dash.UpdateOne(ctx, byID(id), update); err != nil {
			return 0, translateWrite("write", err)
		}
		return storedSize(prev), nil
	}
	// The whole old record comes back: FerretDB v1 implements no projection on findAndModify.
	raw, err := w.dash.FindOneAndUpdate(ctx, unprotectedID(id), update).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, s.whyMissing(ctx, id)
	}
	if err != nil {
		return 0, translateWrite("write", err)
	}
	return storedSize(raw), nil
}

// deleteUnprotected deletes dashboard id unless it is protected and returns the deleted record (see
// updateUnprotected for the two ways).
func (s *Store) deleteUnprotected(ctx context.Context, w *writeSet, id string) (bson.Raw, error) {
	if s.onFerretDB() {
		raw, err := s.unprotected(ctx, id, nil)
		if err != nil {
			return nil, err
		}
		if _, err := w.dash.DeleteOne(ctx, byID(id)); err != nil {
			return nil, translate("delete", err)
		}
		return raw, nil
	}
	raw, err := w.dash.FindOneAndDelete(ctx, unprotectedID(id)).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, s.whyMissing(ctx, id)
	}
	if err != nil {
		return nil, translate("delete", err)
	}
	return raw, nil
}

// unprotected reads record id (the fields of projection; all when nil) and fails with ErrNotFound or
// ErrProtected.
func (s *Store) unprotected(ctx context.Context, id string, projection bson.D) (bson.Raw, error) {
	opts := options.FindOne()
	if projection != nil {
		opts.SetProjection(projection)
	}
	raw, err := s.reads.FindOne(ctx, byID(id), opts).Raw()
	if err != nil {
		return nil, translate("look up", err)
	}
	if p, _ := raw.Lookup(fieldProtected).BooleanOK(); p {
		return nil, ErrProtected
	}
	return raw, nil
}

func byID(id string) bson.D { return bson.D{{Key: fieldID, Value: id}} }

func unprotectedID(id string) bson.D {
	return bson.D{{Key: fieldID, Value: id}, {Key: fieldProtected, Value: bson.D{{Key: "$ne", Value: true}}}}
}

// storedSize reads a record's _size (0 when absent, as in the old backend's first databases).
func storedSize(raw bson.Raw) int64 {
	n, _ := raw.Lookup(fieldSize).AsInt64OK()
	return n
}

// invalidate makes later reads of id see a write that just completed: the cached answer goes, and a read
// already in flight (which may have read the old version) is no longer joined.
func (s *Store) invalidate(id string) {
	s.cache.remove(id)
	s.reads1.Forget(id)
}

// whyMissing explains a write that matched nothing: the dashboard is protected, or it does not exist.
func (s *Store) whyMissing(ctx context.Context, id string) error {
	err := s.reads.FindOne(ctx, byID(id),
		options.FindOne().SetProjection(bson.D{{Key: fieldProtected, Value: 1}})).Err()
	if err != nil {
		return translate("look up", err)
	}
	// Present but not matched: it was protected when the write ran (if it has been unprotected since, the
	// caller may simply retry).
	return ErrProtected
}

// Record returns the full stored record, for maintenance. Its LastAccess includes accesses not yet written.
func (s *Store) Record(ctx context.Context, id string) (Record, error) {
	return run(s, ctx, func(ctx context.Context) (Record, error) { return s.record(ctx, id) })
}

func (s *Store) record(ctx context.Context, id string) (Record, error) {
	raw, err := s.reads.FindOne(ctx, byID(id)).Raw()
	if err != nil {
		return Record{}, translate("dashboard record "+id, err)
	}
	rec, err := s.parseRecord(raw)
	if err != nil {
		return Record{}, fmt.Errorf("dashboard record %s: %w", id, err)
	}
	if t, ok := s.access.pending(id); ok && t.After(rec.LastAccess) {
		rec.LastAccess = t
	}
	return rec, nil
}

// SetWhitelisted exempts the dashboard from eviction (on) or makes it evictable again (off).
func (s *Store) SetWhitelisted(ctx context.Context, id string, on bool) error {
	return s.setFlags(ctx, "whitelist dashboard "+id, id, bson.D{{Key: fieldWhitelisted, Value: on}})
}

// SetProtected makes the dashboard read-only and whitelists it (on), or makes it writable again leaving the
// whitelist flag as it is (off).
func (s *Store) SetProtected(ctx context.Context, id string, on bool) error {
	set := bson.D{{Key: fieldProtected, Value: false}}
	if on {
		set = bson.D{{Key: fieldProtected, Value: true}, {Key: fieldWhitelisted, Value: true}}
	}
	return s.setFlags(ctx, "protect dashboard "+id, id, set)
}

func (s *Store) setFlags(ctx context.Context, op, id string, set bson.D) error {
	_, err := run(s, ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.locked(ctx, op, func(w *writeSet) error {
			res, err := w.dash.UpdateOne(ctx, byID(id), bson.D{{Key: "$set", Value: set}})
			if err != nil {
				return translate(op, err)
			}
			if res.MatchedCount == 0 {
				return fmt.Errorf("%s: %w", op, ErrNotFound)
			}
			return nil
		})
	})
	return err
}

// sizeValue stores a size the way pymongo stored a Python int: int32 when it fits.
func sizeValue(n int) any {
	if n <= math.MaxInt32 {
		return int32(n)
	}
	return int64(n)
}

// answer builds the API answer {"id": id, <members of the DTO body>} from the stored body document.
func answer(id string, body []byte) (Dashboard, error) {
	buf := make([]byte, 0, len(body)+len(id)+16)
	buf = append(buf, `{"id":`...)
	buf = appendJSONString(buf, []byte(id))
	// A body member named "id" would shadow the real id; the answer keeps the real one.
	buf, err := appendMembers(buf, body, "id")
	if err != nil {
		return Dashboard{}, err
	}
	return Dashboard{ID: id, JSON: append(buf, '}')}, nil
}

// answerFromRecord builds the answer from a stored record (or a projection of it).
func (s *Store) answerFromRecord(id string, raw bson.Raw) (Dashboard, error) {
	v, err := raw.LookupErr(fieldDashboard)
	if err != nil {
		return Dashboard{}, fmt.Errorf("stored record has no %q field", fieldDashboard)
	}
	body, ok := v.DocumentOK()
	if !ok {
		return Dashboard{}, fmt.Errorf("stored %q field is BSON type %s, not a document", fieldDashboard, v.Type)
	}
	body, err = s.fromStored(body)
	if err != nil {
		return Dashboard{}, err
	}
	return answer(id, body)
}

// CacheBytes is the size of the encoded answers this instance keeps (0 when it keeps none).
func (s *Store) CacheBytes() int64 {
	if s == nil {
		return 0
	}
	return s.cache.size()
}

// onFerretDB reports whether the store is FerretDB (the embedded store, or a server whose buildInfo says
// so). Writes then find documents by _id alone (see updateUnprotected) and Export does not sort.
func (s *Store) onFerretDB() bool { return s.cfg.Embedded || s.isFerretDB.Load() }
