package mongotest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
	"time"
)

// Build builds the main package pkg (an import path of this module) into the test's temporary directory
// and returns the binary's path. It never adds -race, whatever the test runs with: the MongoDB-wire
// server's SQLite engine crawls under the race detector (scripts/test builds it the same way).
func Build(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), path.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Process is a MongoDB-wire server (cmd/mongowire) of the test's own, in a subprocess, for tests that kill
// it, restart it or may wedge it without harming the suite's shared server.
type Process struct {
	t    testing.TB
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartProcess builds cmd/mongowire and starts it over a fresh data directory on a free loopback port. It
// is killed when the test ends.
func StartProcess(t testing.TB) *Process {
	t.Helper()
	p := &Process{t: t, bin: Build(t, "github.com/databoard/databoard/cmd/mongowire"), dir: t.TempDir(), addr: FreeAddr(t)}
	p.Start()
	t.Cleanup(p.Kill)
	return p
}

// URI is the server's mongodb:// address; it stays the same across restarts.
func (p *Process) URI() string { return "mongodb://" + p.addr + "/" }

// Start starts the server (again, after Kill) on the same address and data directory and waits until it
// accepts connections.
func (p *Process) Start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "-addr", p.addr, "-dir", p.dir)
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start mongowire: %v", err)
	}
	done := make(chan struct{})
	p.done = done
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(done) }(p.cmd)
	WaitListening(p.t, p.addr, done)
}

// Kill kills the server with SIGKILL (no chance to flush or close anything) and waits for it to exit.
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// FreeAddr returns a loopback address nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// WaitListening polls until something accepts TCP connections on addr, failing the test if exited closes
// first or nothing listens within a minute (a generous bound: it only ends a hung test).
func WaitListening(t testing.TB, addr string, exited <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("the process meant to listen on %s exited", addr)
		case <-ctx.Done():
			t.Fatalf("nothing listens on %s after a minute: %v", addr, err)
		case <-time.After(20 * time.Millisecond): // polling interval
		}
	}
}
