package mongowire_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/databoard/databoard/dashboards/mongowire"
	"github.com/databoard/databoard/dashboards/mongowire/mongotest"
)

// record is a document shaped like what the dashboard store keeps: a string id, a nested
// document, a large 64-bit integer (must not pass through float64), a float and a UTC time.
type record struct {
	ID         string    `bson:"_id"`
	Dashboard  bson.D    `bson:"dashboard"`
	Size       int64     `bson:"_size"`
	Ratio      float64   `bson:"ratio"`
	LastAccess time.Time `bson:"last_access"`
}

func sampleRecord(id string) record {
	return record{
		ID: id,
		Dashboard: bson.D{
			{Key: "widgets", Value: bson.A{bson.D{{Key: "h", Value: 19.25}, {Key: "title", Value: nil}}}},
		},
		Size:       1<<62 + 1,
		Ratio:      0.1,
		LastAccess: time.Date(2025, 5, 16, 14, 33, 31, 275_000_000, time.UTC),
	}
}

// assertSameRecord compares what was written with what was read back.
func assertSameRecord(t *testing.T, got, want record) {
	t.Helper()
	if got.ID != want.ID || got.Size != want.Size || got.Ratio != want.Ratio || !got.LastAccess.Equal(want.LastAccess) {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	gotJSON, err := bson.MarshalExtJSON(got.Dashboard, true, false)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, err := bson.MarshalExtJSON(want.Dashboard, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("dashboard read back as %s, want %s", gotJSON, wantJSON)
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSuiteServerWriteRead talks to the server the test script started.
func TestMongoSuiteServerWriteRead(t *testing.T) {
	ctx := testContext(t)
	coll := mongotest.Database(t).Collection("dashboards")

	want := sampleRecord("3f1c9a52-0d4e-4b8f-9a61-2c7e5d0b8a11")
	if _, err := coll.InsertOne(ctx, want); err != nil {
		t.Fatalf("insertOne: %v", err)
	}
	var got record
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: want.ID}}).Decode(&got); err != nil {
		t.Fatalf("findOne: %v", err)
	}
	assertSameRecord(t, got, want)

	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "missing"}}).Err()
	if !errors.Is(err, mongo.ErrNoDocuments) {
		t.Errorf("findOne of a missing id: %v, want mongo.ErrNoDocuments", err)
	}
}

func TestMongoSuiteServerUniqueIndex(t *testing.T) {
	ctx := testContext(t)
	coll := mongotest.Database(t).Collection("users")
	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		t.Fatalf("createIndex: %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.org"}}); err != nil {
		t.Fatalf("first insert: %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "email", Value: "b@example.org"}}); err != nil {
		t.Fatalf("insert of a different key: %v", err)
	}
	_, err = coll.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.org"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Errorf("second insert of the same key: %v, want a duplicate-key error", err)
	}
	n, err := coll.CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d documents after the refused insert, want 2", n)
	}
}

// connect returns a pinged client of uri.
func connect(ctx context.Context, t *testing.T, uri string) *mongo.Client {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(ctx)
		t.Fatalf("ping %s: %v", uri, err)
	}
	return client
}

// TestEmbeddedPersistence starts the embedded server in this process (one start/restart cycle:
// FerretDB is slow under -race), writes, restarts over the same directory and reads back.
func TestMongoEmbeddedPersistence(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	want := sampleRecord("persisted")

	// startAndUse runs one server lifetime; Close is deferred so a failing step still stops it.
	startAndUse := func(use func(coll *mongo.Collection)) {
		t.Helper()
		srv, err := mongowire.Start(ctx, mongowire.Config{Dir: dir})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		defer srv.Close()
		client := connect(ctx, t, srv.URI())
		defer func() { _ = client.Disconnect(ctx) }()
		use(client.Database("databoard").Collection("dashboards"))
	}

	startAndUse(func(coll *mongo.Collection) {
		if _, err := coll.InsertOne(ctx, want); err != nil {
			t.Fatalf("insertOne: %v", err)
		}
	})
	startAndUse(func(coll *mongo.Collection) {
		var got record
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: want.ID}}).Decode(&got); err != nil {
			t.Fatalf("findOne after restart: %v", err)
		}
		assertSameRecord(t, got, want)
	})
}

func TestMongoStartRequiresDir(t *testing.T) {
	if srv, err := mongowire.Start(context.Background(), mongowire.Config{}); err == nil {
		srv.Close()
		t.Fatal("Start without a directory succeeded")
	}
}
