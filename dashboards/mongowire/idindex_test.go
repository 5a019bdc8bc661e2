package mongowire_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	_ "modernc.org/sqlite"

	"github.com/databoard/databoard/dashboards/mongowire"
)

// sqlLog records the SQL statements FerretDB runs (it logs each at debug level as ">>> <statement>").
type sqlLog struct {
	mu    sync.Mutex
	stmts []string
}

func (l *sqlLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *sqlLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *sqlLog) WithGroup(string) slog.Handler            { return l }
func (l *sqlLog) Handle(_ context.Context, r slog.Record) error {
	if q, ok := strings.CutPrefix(r.Message, ">>> "); ok {
		l.mu.Lock()
		l.stmts = append(l.stmts, q)
		l.mu.Unlock()
	}
	return nil
}

// take returns the statements logged since the last take that filter table by a WHERE clause.
func (l *sqlLog) take(table string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, q := range l.stmts {
		if strings.Contains(q, `"`+table+`"`) && strings.Contains(q, " WHERE ") {
			out = append(out, q)
		}
	}
	l.stmts = nil
	return out
}

// openFile opens a FerretDB database file directly, on one connection.
func openFile(t *testing.T, file string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// queryPlan is SQLite's EXPLAIN QUERY PLAN of q, one detail line per step. Every parameter is bound to
// a string: the plan does not depend on the values.
func queryPlan(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	args := make([]any, strings.Count(q, "?"))
	for i := range args {
		args[i] = `"x"`
	}
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer func() { _ = rows.Close() }()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// usesIndex says whether a plan finds rows through an index rather than by scanning the table.
func usesIndex(plan string) bool {
	return strings.Contains(plan, "USING INDEX") && !strings.Contains(plan, "SCAN")
}

// lookUpByID runs the lookups by _id the dashboard store makes: find, update, findAndModify, delete.
func lookUpByID(ctx context.Context, t *testing.T, coll *mongo.Collection) {
	t.Helper()
	byID := func(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }
	if err := coll.FindOne(ctx, byID("b")).Err(); err != nil {
		t.Fatalf("findOne: %v", err)
	}
	if _, err := coll.UpdateOne(ctx, byID("b"), bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 2}}}}); err != nil {
		t.Fatalf("updateOne: %v", err)
	}
	if err := coll.FindOneAndUpdate(ctx, byID("a"), bson.D{{Key: "$inc", Value: bson.D{{Key: "x", Value: 1}}}}).Err(); err != nil {
		t.Fatalf("findOneAndUpdate: %v", err)
	}
	if _, err := coll.DeleteOne(ctx, byID("c")); err != nil {
		t.Fatalf("deleteOne: %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "c"}, {Key: "x", Value: 3}}); err != nil {
		t.Fatalf("insertOne: %v", err)
	}
}

// checkPlans asserts that each statement (there is at least one SELECT, UPDATE and DELETE) finds its rows
// by index, or scans the table when !wantIndex. It explains them on a connection of its own: EXPLAIN does
// not reload a schema another connection changed.
func checkPlans(t *testing.T, file string, stmts []string, wantIndex bool) {
	t.Helper()
	db := openFile(t, file)
	defer func() { _ = db.Close() }()
	kinds := map[string]bool{}
	for _, q := range stmts {
		kinds[strings.Fields(q)[0]] = true
		if plan := queryPlan(t, db, q); usesIndex(plan) != wantIndex {
			t.Errorf("%s\n  plan: %s\n  want an index: %v", q, plan, wantIndex)
		}
	}
	for _, k := range []string{"SELECT", "UPDATE", "DELETE"} {
		if !kinds[k] {
			t.Errorf("no %s by _id among FerretDB's statements %q", k, stmts)
		}
	}
}

// TestMongoIDLookupsUseIndex checks that FerretDB's own SQL for lookups by _id finds rows through an index,
// for a collection created while the server runs and for one stored before the index existed.
func TestMongoIDLookupsUseIndex(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "databoard.sqlite")
	log := &sqlLog{}
	// start starts the server; stop disconnects the client first, so the server need not wait for it.
	start := func() (srv *mongowire.Server, coll *mongo.Collection, stop func()) {
		t.Helper()
		srv, err := mongowire.Start(ctx, mongowire.Config{Dir: dir, Logger: slog.New(log)})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		client := connect(ctx, t, srv.URI())
		var once sync.Once
		stop = func() {
			once.Do(func() {
				_ = client.Disconnect(ctx)
				srv.Close()
			})
		}
		t.Cleanup(stop)
		return srv, client.Database("databoard").Collection("dashboards"), stop
	}

	// A collection created while the server runs.
	srv, coll, stop := start()
	for _, id := range []string{"a", "b", "c"} {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "x", Value: 1}}); err != nil {
			t.Fatalf("insertOne: %v", err)
		}
	}
	if err := srv.EnsureIDIndexes(ctx); err != nil {
		t.Fatalf("EnsureIDIndexes: %v", err)
	}
	var table string
	err := openFile(t, file).QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = 'dashboards'`).Scan(&table)
	if err != nil {
		t.Fatal(err)
	}
	log.take(table)
	lookUpByID(ctx, t, coll)
	stmts := log.take(table)
	checkPlans(t, file, stmts, true)
	stop()

	// Without the added index those statements scan the table: drop it, as in a database written before.
	db := openFile(t, file)
	var index string
	err = db.QueryRow(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql LIKE '%$._id%'`,
		table).Scan(&index)
	if err != nil {
		t.Fatalf("the added index: %v", err)
	}
	if _, err := db.Exec(fmt.Sprintf(`DROP INDEX %q`, index)); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	checkPlans(t, file, stmts, false)

	// Start adds it again before FerretDB serves; FerretDB's own explain agrees.
	_, coll, _ = start()
	checkPlans(t, file, stmts, true)
	var res struct {
		QueryPlanner struct {
			Plan []string `bson:"Plan"`
		} `bson:"queryPlanner"`
	}
	explain := bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: "dashboards"}, {Key: "filter", Value: bson.D{{Key: "_id", Value: "a"}}}}}}
	if err := coll.Database().RunCommand(ctx, explain).Decode(&res); err != nil {
		t.Fatalf("explain: %v", err)
	}
	if plan := strings.Join(res.QueryPlanner.Plan, "; "); !usesIndex(plan) {
		t.Errorf("FerretDB explains find by _id as %s, want an index search", plan)
	}
	lookUpByID(ctx, t, coll)
}
