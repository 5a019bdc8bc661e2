// Package mongowire runs an embedded MongoDB-wire server (FerretDB v1 over SQLite) on a loopback port.
//
// It is the zero-configuration dashboard store of databoard and the MongoDB-wire server the test
// suite talks to. Production points at a real MongoDB instead; callers only ever see a mongodb:// URI,
// so the same mongo-driver code path serves both.
//
// FerretDB v1.24.2 never uses its own _id index (it indexes another expression than the one it queries),
// so the server adds an index its lookups by _id do use to every collection (idindex.go).
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
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
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
	dir    string
	cancel context.CancelFunc // stops FerretDB
	wg     sync.WaitGroup
	uri    string

	client    *mongo.Client      // the _id index check's own client (idindex.go)
	stopWatch context.CancelFunc // stops the check
	watchWG   sync.WaitGroup
	idxMu     sync.Mutex
	indexed   map[string]bool // collections (database, name, UUID) known to have the _id index
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
	// Before FerretDB opens the files: give collections stored earlier the index their lookups by _id
	// need (idindex.go). Without it they still work, only slower, so a failure does not stop the start.
	if err := indexAllFiles(ctx, dir); err != nil {
		logger.Warn("mongowire: lookups by _id scan collections that lack the added index", "err", err)
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
	s := &Server{db: db, dir: dir, cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = db.Run(runCtx)
	}()
	s.uri = db.MongoDBURI() // blocks until the listener is ready

	s.client, err = mongo.Connect(options.Client().ApplyURI(s.uri))
	if err != nil {
		s.cancel()
		s.wg.Wait()
		return nil, fmt.Errorf("mongowire: connect: %w", err)
	}
	watchCtx, stopWatch := context.WithCancel(runCtx)
	s.stopWatch = stopWatch
	s.watchWG.Add(1)
	go func() {
		defer s.watchWG.Done()
		s.watchIndexes(watchCtx, logger)
	}()
	return s, nil
}

// URI is the mongodb:// address clients connect to.
func (s *Server) URI() string { return s.uri }

// Close stops the server and waits until its files are closed.
func (s *Server) Close() {
	s.stopWatch()
	s.watchWG.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = s.client.Disconnect(ctx)
	cancel()
	s.cancel()
	s.wg.Wait()
}
