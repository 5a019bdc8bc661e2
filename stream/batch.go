package stream

import (
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// batchMax bounds the bytes a batch gathers before they are written: 32 KiB, enough for ~80 appends,
// while a snapshot (tens of KiB) mostly goes straight to the socket.
const batchMax = 32 << 10

// frameBatcher is the socket under the WebSocket library's buffered writer. The library flushes every
// frame it writes, one write system call per message: at 2 000 connections 40 % of the server's CPU
// was in that call. A connection's writer writes each message it takes from its queue between hold
// and release; what the library flushes meanwhile is gathered in one buffer, and end writes it with one
// call once the queue is empty (a full buffer is written at once). The bytes, and their order, are the
// ones the library wrote.
//
// A control frame (pong, close), whoever writes it (the reader side does, and may while the writer
// holds a message), is never held back: the bytes that end it go out at once, after the gathered
// bytes if there are any (frameCursor finds where control frames end). Every
// socket write has a deadline of timeout (see write); so the writer's own calls into the library need
// no context deadline: whatever they wait for (the library's frame lock, held by a control frame's
// write, or a full batch's write) is bounded by this deadline or the library's own.
type frameBatcher struct {
	nc      net.Conn
	bufs    *sync.Pool // *[]byte of capacity batchMax, shared by the hub's connections
	timeout time.Duration
	writes  prometheus.Counter // socket writes

	mu       sync.Mutex // orders writes: the library's (under its frame lock) and end's
	held     bool       // the writer is writing a message: writes are gathered
	frames   frameCursor
	buf      *[]byte   // the gathered bytes; nil when there are none, so an idle connection holds no buffer
	deadline time.Time // the socket's write deadline
}

// Write is the library's flush: it gathers p while a message is held, and writes it (after anything
// gathered) otherwise.
func (b *frameBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	control := b.frames.scan(p)
	if b.buf != nil && len(*b.buf)+len(p) > batchMax {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	switch {
	case len(p) >= batchMax:
		return b.write(p)
	case b.held && !control:
		b.gather(p)
		return len(p), nil
	case b.buf != nil: // a control frame behind gathered bytes: both in one call
		b.gather(p)
		return len(p), b.flush()
	}
	return b.write(p)
}

// gather appends p to the pending bytes. Called with mu held.
func (b *frameBatcher) gather(p []byte) {
	if b.buf == nil {
		b.buf = b.bufs.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, p...)
}

// hold starts a message: its writes are gathered until release.
func (b *frameBatcher) hold() {
	b.mu.Lock()
	b.held = true
	b.mu.Unlock()
}

// release ends a message; its bytes stay gathered for end or the next write outside a message.
func (b *frameBatcher) release() {
	b.mu.Lock()
	b.held = false
	b.mu.Unlock()
}

// end writes the gathered bytes in one call.
func (b *frameBatcher) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = false
	return b.flush()
}

// flush writes the pending bytes and returns the buffer to the pool. Called with mu held.
func (b *frameBatcher) flush() error {
	if b.buf == nil {
		return nil
	}
	_, err := b.write(*b.buf)
	*b.buf = (*b.buf)[:0]
	b.bufs.Put(b.buf)
	b.buf = nil
	return err
}

// write writes p to the socket within timeout. A write past it fails with os.ErrDeadlineExceeded and
// may have written part of p: the connection is then closed (conn.writeFailed). Called with mu held.
//
// Setting a socket's deadline is a runtime timer update, two per write cost 5 % of the server's CPU at
// 2 000 connections; so the deadline is set 9/8 of timeout ahead and moved only when less than timeout
// is left: a write blocked for timeout is never cut short (STREAM.md: a write that blocks longer than
// STREAM_WRITE_TIMEOUT closes the connection), and one blocked longer fails by 9/8 of it at the latest.
func (b *frameBatcher) write(p []byte) (int, error) {
	b.writes.Inc()
	if now := time.Now(); b.deadline.Sub(now) < b.timeout {
		b.deadline = now.Add(b.timeout + b.timeout/8)
		if err := b.nc.SetWriteDeadline(b.deadline); err != nil {
			return 0, err
		}
	}
	return b.nc.Write(p)
}

// newBatchPool returns the pool of batch buffers a hub's connections share.
func newBatchPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, 0, batchMax)
		return &b
	}}
}
