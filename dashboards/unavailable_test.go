package dashboards

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/databoard/databoard/dashboards/mongowire/mongotest"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string { return mongotest.FreeAddr(t) }

// clientTo connects a client to addr with a short server-selection timeout, as the caller configures it.
func clientTo(t *testing.T, addr string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + addr + "/").
		SetServerSelectionTimeout(300 * time.Millisecond).SetConnectTimeout(300 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

func TestUnavailableFailsFast(t *testing.T) {
	client := clientTo(t, freeAddr(t))
	s, err := New(client.Database("databoard_unavailable"), Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start with MongoDB down = %v, want nil (retrying in the background)", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Start took %v with MongoDB down", d)
	}
	body := []byte(`{"dashboard":{"widgets":[]}}`)
	ops := map[string]func(context.Context) error{
		"Create":         func(ctx context.Context) error { _, err := s.Create(ctx, body); return err },
		"Get":            func(ctx context.Context) error { _, err := s.Get(ctx, "x"); return err },
		"Replace":        func(ctx context.Context) error { _, err := s.Replace(ctx, "x", body); return err },
		"Delete":         func(ctx context.Context) error { _, err := s.Delete(ctx, "x"); return err },
		"Record":         func(ctx context.Context) error { _, err := s.Record(ctx, "x"); return err },
		"SetWhitelisted": func(ctx context.Context) error { return s.SetWhitelisted(ctx, "x", true) },
		"SetProtected":   func(ctx context.Context) error { return s.SetProtected(ctx, "x", true) },
		"Export":         func(ctx context.Context) error { _, err := s.Export(ctx, io.Discard, nil); return err },
	}
	for name, op := range ops {
		start := time.Now()
		err := op(ctx)
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with MongoDB down: %v, want ErrUnavailable", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s took %v with MongoDB down", name, d)
		}
	}
	// A caller deadline shorter than server selection also ends as ErrUnavailable, at the deadline.
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := s.Get(short, "x"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get past the caller's deadline: %v, want ErrUnavailable wrapping DeadlineExceeded", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestRecoversWhenMongoReturns starts the store while nothing listens, then opens a forwarder to the real
// server on that address: setup (the index) completes in the background and operations work.
func TestRecoversWhenMongoReturns(t *testing.T) {
	target, err := url.Parse(mongotest.URI(t))
	if err != nil {
		t.Fatal(err)
	}
	real := mongotest.Database(t)
	addr := freeAddr(t)
	client := clientTo(t, addr)
	s := startStore(t, client.Database(real.Name()), Config{})
	ctx := testCtx(t)
	if _, err := s.Create(ctx, []byte(`{"dashboard":{"widgets":[]}}`)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Create while down: %v, want ErrUnavailable", err)
	}

	forward(t, addr, target.Host)
	deadline := time.Now().Add(20 * time.Second)
	for !hasLastAccessIndex(t, real) {
		if time.Now().After(deadline) {
			t.Fatal("the last_access index was not created within 20 s of MongoDB returning")
		}
		time.Sleep(50 * time.Millisecond) // polling the observable outcome
	}
	d, err := s.Create(ctx, []byte(`{"dashboard":{"widgets":[]}}`))
	if err != nil {
		t.Fatalf("Create after recovery: %v", err)
	}
	if _, err := s.Get(ctx, d.ID); err != nil {
		t.Fatalf("Get after recovery: %v", err)
	}
	if err := s.Close(ctx); err != nil { // before the forwarder goes: Close writes the pending access
		t.Errorf("Close: %v", err)
	}
}

func hasLastAccessIndex(t *testing.T, db *mongo.Database) bool {
	t.Helper()
	cur, err := db.Collection("dashboards").Indexes().List(context.Background())
	if err != nil {
		return false
	}
	var specs []bson.M
	if err := cur.All(context.Background(), &specs); err != nil {
		return false
	}
	for _, s := range specs {
		if s["name"] == "last_access_1" {
			return true
		}
	}
	return false
}

// forward accepts on addr and pipes every connection to target until the test ends.
func forward(t *testing.T, addr, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); out.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}
