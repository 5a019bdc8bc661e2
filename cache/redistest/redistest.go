// Package redistest connects tests to the suite's real Redis.
//
// The test script (scripts/test) makes sure a Redis is reachable on loopback and exports its URL in
// DATABOARD_TEST_REDIS_URL; without it, redis://127.0.0.1:6379/0 is tried. A test that cannot reach
// Redis fails with a message that says how to start it; it never skips.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable holding the Redis URL.
const EnvURL = "DATABOARD_TEST_REDIS_URL"

const defaultURL = "redis://127.0.0.1:6379/0"

const howToStart = "start the suite with ./scripts/test, or run " +
	"`redis-server --daemonize yes --port 6379 --save '' --appendonly no` (Debian: apt-get install redis-server)"

// URL returns the Redis URL tests use.
func URL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return defaultURL
}

// Client returns a pinged client closed when the test ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		t.Fatalf("no Redis at %s: %v; %s", URL(), err, howToStart)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// Prefix returns a unique key prefix for one test, e.g. "test:3f9a1c2b:"; keys under it are deleted
// when the test ends.
func Prefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	prefix := "test:" + hex.EncodeToString(b) + ":"
	client := Client(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// Addr is the host:port of the suite's Redis.
func Addr(t testing.TB) string {
	t.Helper()
	opts, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	return opts.Addr
}

// ClientVia returns a client to the suite's Redis through addr (a proxy the test controls, or a
// dead port), configured as production should be: deadlines from the context, no retries (the
// store's circuit breaker decides). It is closed when the test ends; it is not pinged.
func ClientVia(t testing.TB, addr string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	opts.Addr = addr
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.DialTimeout = 200 * time.Millisecond
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// ClosedAddr returns a loopback address where nothing listens: a Redis that is down.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// Eventually polls cond every 10 ms until it holds, failing the test after timeout. Redis expires
// keys and locks on its own wall clock, so tests wait for that by polling, never by sleeping a
// guessed time.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		<-tick.C
	}
}
