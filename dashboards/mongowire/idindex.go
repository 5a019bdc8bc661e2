package mongowire

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	// The SQLite driver FerretDB itself uses (registered as "sqlite"); imported here for the side
	// connection that adds the _id index.
	_ "modernc.org/sqlite"
)

// Why this file exists: FerretDB v1.24.2's SQLite backend stores each collection as a table with one TEXT
// column, _ferretdb_sjson, and creates the collection's unique _id index on the expression
// _ferretdb_sjson->"_id". Every lookup it makes by _id — a find, update, delete or findAndModify whose
// filter is exactly {_id: <string or ObjectId>}, and the UPDATE and DELETE statements it runs by _id after
// reading — compares the expression _ferretdb_sjson->'$._id' instead. SQLite uses an expression index
// only for the very expression it was built on, so it never uses FerretDB's index: each of those lookups
// scans the whole table and parses every stored document, and writes slow down in proportion to the
// collection (EXPLAIN QUERY PLAN says "SCAN <table>").
//
// The fix, without changing FerretDB: add a second, non-unique index on exactly the expression the
// queries use (FerretDB's unique index keeps enforcing uniqueness). FerretDB does not know of it: it is
// not listed by listIndexes, and it disappears with its table when the collection or database is dropped.
// It is added
//   - at Start, before FerretDB opens the files, to every collection already stored (so databases written
//     before this existed get it, with nobody else using the files yet), and
//   - for collections created later, by a background check every indexCheckInterval that asks the server
//     for each database's collections (listCollections: FerretDB answers it from memory) and opens a
//     database file only when a collection it has not indexed appears (a new one, or one dropped and
//     created again, which gets a new UUID).
//
// Other fields are not indexed: FerretDB v1 pushes no filter but exactly {_id: …} down to SQLite and
// sorts in Go (except $natural), so an index on any other field (last_access, which eviction sorts by)
// would never be used.
//
// Sharing the files with FerretDB is safe: FerretDB opens them in WAL mode (persistent in the file), so
// the side connection's reads block nobody; CREATE INDEX holds SQLite's write lock only while it runs,
// and it waits for that lock with a busy timeout instead of holding anything while it waits, so it
// cannot wedge FerretDB's pool (100 connections) — at worst FerretDB's writers wait until the index is
// built (a few milliseconds for a new collection). The side connection is one connection, opened with
// mode=rw so it never creates a file, and closed right after use: while it is open a concurrent
// dropDatabase leaves the -wal and -shm files behind until it closes, which is harmless unless a
// database of the same name is created again within those milliseconds (databoard never drops its
// database).

const (
	// idPath is the SQL expression FerretDB v1.24.2 compares in its lookups by _id (its IDColumn).
	idPath = `_ferretdb_sjson->'$._id'`
	// idIndexSuffix is appended to the table name to name the added index. FerretDB names its own
	// indexes <table>_<index name>; this one is not a name databoard gives a MongoDB index.
	idIndexSuffix = "_databoard_id_path"
	// metadataTable is FerretDB's table mapping collection names to table names.
	metadataTable = "_ferretdb_collections"
	// dbFileExt is the extension of FerretDB's database files (<database name>.sqlite).
	dbFileExt = ".sqlite"
	// busyTimeoutMS is how long the side connection waits for SQLite's write lock; FerretDB's own
	// connections use the same.
	busyTimeoutMS = 10000
	// indexCheckInterval is how often the background check looks for new collections. Until it runs, a
	// new collection's lookups by _id scan a table that is still small.
	indexCheckInterval = time.Second
)

// indexDatabaseFile adds the _id index to every collection table of one FerretDB database file that lacks
// it. A file FerretDB has not set up yet (no metadata table) is left alone.
func indexDatabaseFile(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", fmt.Sprintf("file:%s?mode=rw&_pragma=busy_timeout(%d)", file, busyTimeoutMS))
	if err != nil {
		return fmt.Errorf("open %s: %w", filepath.Base(file), err)
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)

	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, metadataTable).Scan(&n)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	if n == 0 {
		return nil
	}
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM `+quoteIdent(metadataTable)+` AS c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master AS m WHERE m.type = 'index' AND m.name = c.table_name || ?)`,
		idIndexSuffix)
	if err != nil {
		return fmt.Errorf("%s: list tables: %w", filepath.Base(file), err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			_ = rows.Close()
			return fmt.Errorf("%s: list tables: %w", filepath.Base(file), err)
		}
		tables = append(tables, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("%s: list tables: %w", filepath.Base(file), err)
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, quoteIdent(t+idIndexSuffix), quoteIdent(t), idPath)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: index table %s: %w", filepath.Base(file), t, err)
		}
	}
	return nil
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// databaseFiles lists the database files in dir.
func databaseFiles(dir string) ([]string, error) {
	return filepath.Glob(filepath.Join(globEscape(dir), "*"+dbFileExt))
}

// globEscape escapes the characters filepath.Glob treats as pattern syntax.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// indexAllFiles indexes every database file in dir; it is run at Start before FerretDB opens them.
func indexAllFiles(ctx context.Context, dir string) error {
	files, err := databaseFiles(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		errs = append(errs, indexDatabaseFile(ctx, f))
	}
	return errors.Join(errs...)
}

// EnsureIDIndexes adds the _id index (see the comment at the top of this file) to every collection the
// server holds that this Server has not indexed yet, and returns when they have it. The background check
// calls it every second; call it directly to have a just-created collection indexed now.
func (s *Server) EnsureIDIndexes(ctx context.Context) error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	files, err := databaseFiles(s.dir)
	if err != nil {
		return fmt.Errorf("mongowire: index _id: %w", err)
	}
	indexed := make(map[string]bool, len(s.indexed))
	var errs []error
	for _, f := range files {
		keys, err := s.collectionKeys(ctx, strings.TrimSuffix(filepath.Base(f), dbFileExt))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		missing := false
		for _, k := range keys {
			missing = missing || !s.indexed[k]
		}
		if missing {
			if err := indexDatabaseFile(ctx, f); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		for _, k := range keys {
			indexed[k] = true
		}
	}
	s.indexed = indexed // forgets dropped collections
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mongowire: index _id: %w", err)
	}
	return nil
}

// collectionKeys names each collection of database db with its UUID, which changes when a collection is
// dropped and created again.
func (s *Server) collectionKeys(ctx context.Context, db string) ([]string, error) {
	cur, err := s.client.Database(db).ListCollections(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("list collections of %s: %w", db, err)
	}
	var colls []struct {
		Name string `bson:"name"`
		Info struct {
			UUID bson.Binary `bson:"uuid"`
		} `bson:"info"`
	}
	if err := cur.All(ctx, &colls); err != nil {
		return nil, fmt.Errorf("list collections of %s: %w", db, err)
	}
	keys := make([]string, len(colls))
	for i, c := range colls {
		keys[i] = fmt.Sprintf("%s\x00%s\x00%x", db, c.Name, c.Info.UUID.Data)
	}
	return keys, nil
}

// watchIndexes runs EnsureIDIndexes every indexCheckInterval until ctx ends.
func (s *Server) watchIndexes(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(indexCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.EnsureIDIndexes(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, mongo.ErrClientDisconnected) {
			log.Warn("mongowire: lookups by _id scan collections that lack the added index; retrying", "err", err)
		}
	}
}
