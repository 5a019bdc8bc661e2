// Package mongowire runs an embedded MongoDB-wire server (FerretDB v1 over SQLite) on a loopback port.
//
// It is the zero-configuration dashboard store of databoard and the MongoDB-wire server the test
// suite talks to. Production points at a real MongoDB instead; callers only ever see a mongodb:// URI,
// so the same mongo-driver code path serves both.
//
// It must not import server, cache, stream or daqbuf.
package mongowire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Config says where the embedded server listens and keeps its files.
type Config struct {
	// Addr is the TCP listen address. Default "127.0.0.1:0" (a free loopback port).
	Addr string
	// Dir is the directory holding the SQLite files, one per database. Required; created if missing.
	Dir string
	// Logger receives the server's own log lines. Default: discard all but errors.
	Logger *slog.Logger
}

// Server is a running embedded MongoDB-wire server.
type Server struct {
	db     *ferretdb.FerretDB
	cancel context.CancelFunc
	wg     sync.WaitGroup
	uri    string
}

// Start creates the data directory and starts serving. The server stops when Close is called.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("mongowire: data directory is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("mongowire: data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("mongowire: data directory: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		// FerretDB logs a harmless endSessions warning on every driver Disconnect; keep only errors.
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	db, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: cfg.Addr},
		Logger:   logger,
		Handler:  "sqlite",
		// The trailing slash matters: FerretDB treats the URL as a directory only with it.
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return nil, fmt.Errorf("mongowire: start: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{db: db, cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = db.Run(runCtx)
	}()
	s.uri = db.MongoDBURI() // blocks until the listener is ready
	return s, nil
}

// URI is the mongodb:// address clients connect to.
func (s *Server) URI() string { return s.uri }

// Close stops the server and waits until its files are closed.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}
