// Package mongotest connects tests to the suite's real MongoDB-wire server.
//
// The test script (scripts/test) starts one embedded server for the whole run and exports its URI in
// DATABOARD_TEST_MONGO_URI. A test that cannot reach it fails with a message that says how to start
// one; it never skips.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnvURI names the environment variable holding the server's mongodb:// URI.
const EnvURI = "DATABOARD_TEST_MONGO_URI"

const howToStart = "start the suite with ./scripts/test, or run `go run ./cmd/mongowire -addr 127.0.0.1:27018 -dir /tmp/mongowire` " +
	"and export " + EnvURI + "=mongodb://127.0.0.1:27018/"

// URI returns the server's URI, failing the test when it is not configured.
func URI(t testing.TB) string {
	t.Helper()
	uri := os.Getenv(EnvURI)
	if uri == "" {
		t.Fatalf("no MongoDB-wire server: %s is not set; %s", EnvURI, howToStart)
	}
	return uri
}

// Client returns a connected, pinged client that is disconnected when the test ends.
func Client(t testing.TB) *mongo.Client {
	t.Helper()
	uri := URI(t)
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatalf("mongo connect %s: %v; %s", uri, err, howToStart)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(ctx)
		t.Fatalf("mongo ping %s: %v; %s", uri, err, howToStart)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Disconnect(ctx)
	})
	return client
}

// Database returns a fresh database with a unique name, dropped when the test ends.
func Database(t testing.TB) *mongo.Database {
	t.Helper()
	client := Client(t)
	db := client.Database("test_" + randomHex(t, 6))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Drop(ctx)
	})
	return db
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
