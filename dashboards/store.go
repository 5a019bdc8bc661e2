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
	majority *mongo.Collection
	w1       *mongo.Collection
	writes   atomic.Pointer[mongo.Collection] // majority until Start finds the server cannot honour it

	access *accessLog
	cache  *answerCache // nil when off
	reads1 singleflight.Group

	sizes   sizeEstimate
	evictMu sync.Mutex
	flushMu sync.Mutex
	// writeMu serializes this process's writes. FerretDB v1 implements every update as read, modify,
	// write back the whole document without isolation, so an access-time flush racing a PATCH would put
	// the old dashboard back (a lost save). Only one process writes the embedded store, and writes are
	// rare, so one mutex closes that race at no measurable cost; on MongoDB it is merely redundant.
	writeMu sync.Mutex

	lifeMu  sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
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
		cfg:    cfg,
		log:    logger,
		access: newAccessLog(),
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
	s.majority = db.Collection(cfg.Collection, options.Collection().SetWriteConcern(writeconcern.Majority()))
	s.w1 = db.Collection(cfg.Collection, options.Collection().SetWriteConcern(writeconcern.W1()))
	s.writes.Store(s.majority)
	return s, nil
}

// now returns the current time at BSON's millisecond precision, in UTC.
func (s *Store) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// Create validates body (a DashboardDTO, {"dashboard": {...}}), stores it under a new uuid4 and then evicts
// least recently used dashboards if the total size reached the threshold.
func (s *Store) Create(ctx context.Context, body []byte) (Dashboard, error) {
	doc, err := s.encodeBody(body)
	if err != nil {
		return Dashboard{}, fmt.Errorf("create dashboard: %w", err)
	}
	id := uuid.NewString()
	rec := bson.D{
		{Key: fieldID, Value: id},
		{Key: fieldDashboard, Value: bson.Raw(doc)},
		{Key: fieldSize, Value: sizeValue(len(doc))},
		{Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(s.now())},
	}
	if _, err := s.writes.Load().InsertOne(ctx, rec); err != nil {
		return Dashboard{}, translateWrite("create dashboard", err)
	}
	s.sizes.add(int64(len(doc)))
	s.evictAfterWrite(ctx, int64(len(doc)))
	return answer(id, doc)
}

// Get returns the dashboard with the given id and records the access (written in batches, see doc.go).
func (s *Store) Get(ctx context.Context, id string) (Dashboard, error) {
	if d, ok := s.cache.get(id); ok {
		s.access.touch(id, s.now())
		return d, nil
	}
	// Concurrent reads of one id share one query (a dashboard link opened by many at once).
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
	raw, err := s.reads.FindOne(ctx, bson.D{{Key: fieldID, Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: fieldDashboard, Value: 1}})).Raw()
	if err != nil {
		return Dashboard{}, translate("get dashboard "+id, err)
	}
	d, err := answerFromRecord(id, raw)
	if err != nil {
		return Dashboard{}, fmt.Errorf("get dashboard %s: %w", id, err)
	}
	s.cache.put(d, gen)
	return d, nil
}

// Replace validates body and replaces the whole stored dashboard, keeping its id and its whitelisted and
// protected flags. A protected dashboard gives ErrProtected, an unknown id ErrNotFound.
func (s *Store) Replace(ctx context.Context, id string, body []byte) (Dashboard, error) {
	doc, err := s.encodeBody(body)
	if err != nil {
		return Dashboard{}, fmt.Errorf("replace dashboard %s: %w", id, err)
	}
	s.writeMu.Lock()
	res, err := s.writes.Load().UpdateOne(ctx,
		bson.D{{Key: fieldID, Value: id}, {Key: fieldProtected, Value: bson.D{{Key: "$ne", Value: true}}}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: fieldDashboard, Value: bson.Raw(doc)},
			{Key: fieldSize, Value: sizeValue(len(doc))},
			{Key: fieldLastAccess, Value: bson.NewDateTimeFromTime(s.now())},
		}}})
	s.writeMu.Unlock()
	s.invalidate(id)
	if err != nil {
		return Dashboard{}, translateWrite("replace dashboard "+id, err)
	}
	if res.MatchedCount == 0 {
		return Dashboard{}, fmt.Errorf("replace dashboard %s: %w", id, s.whyMissing(ctx, id))
	}
	s.sizes.add(int64(len(doc))) // the old size is unknown here: the estimate errs high
	s.evictAfterWrite(ctx, int64(len(doc)))
	return answer(id, doc)
}

// Delete removes the dashboard and returns what it held. A protected dashboard gives ErrProtected.
func (s *Store) Delete(ctx context.Context, id string) (Dashboard, error) {
	s.writeMu.Lock()
	raw, err := s.writes.Load().FindOneAndDelete(ctx,
		// No projection: FerretDB v1 does not implement one on findAndModify.
		bson.D{{Key: fieldID, Value: id}, {Key: fieldProtected, Value: bson.D{{Key: "$ne", Value: true}}}}).Raw()
	s.writeMu.Unlock()
	s.invalidate(id)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Dashboard{}, fmt.Errorf("delete dashboard %s: %w", id, s.whyMissing(ctx, id))
	}
	if err != nil {
		return Dashboard{}, translate("delete dashboard "+id, err)
	}
	s.access.forget(id)
	if size, ok := raw.Lookup(fieldSize).AsInt64OK(); ok {
		s.sizes.add(-size)
	}
	d, err := answerFromRecord(id, raw)
	if err != nil {
		return Dashboard{}, fmt.Errorf("delete dashboard %s: deleted, but %w", id, err)
	}
	return d, nil
}

// invalidate makes later reads of id see a write that just completed: the cached answer goes, and a read
// already in flight (which may have read the old version) is no longer joined.
func (s *Store) invalidate(id string) {
	s.cache.remove(id)
	s.reads1.Forget(id)
}

// whyMissing explains a write that matched nothing: the dashboard is protected, or it does not exist.
func (s *Store) whyMissing(ctx context.Context, id string) error {
	err := s.reads.FindOne(ctx, bson.D{{Key: fieldID, Value: id}},
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
	raw, err := s.reads.FindOne(ctx, bson.D{{Key: fieldID, Value: id}}).Raw()
	if err != nil {
		return Record{}, translate("dashboard record "+id, err)
	}
	rec, err := parseRecord(raw)
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
	s.writeMu.Lock()
	res, err := s.writes.Load().UpdateOne(ctx, bson.D{{Key: fieldID, Value: id}}, bson.D{{Key: "$set", Value: set}})
	s.writeMu.Unlock()
	if err != nil {
		return translate(op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
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
func answerFromRecord(id string, raw bson.Raw) (Dashboard, error) {
	v, err := raw.LookupErr(fieldDashboard)
	if err != nil {
		return Dashboard{}, fmt.Errorf("stored record has no %q field", fieldDashboard)
	}
	body, ok := v.DocumentOK()
	if !ok {
		return Dashboard{}, fmt.Errorf("stored %q field is BSON type %s, not a document", fieldDashboard, v.Type)
	}
	return answer(id, body)
}
