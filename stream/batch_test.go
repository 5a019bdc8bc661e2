package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// recordConn is a socket that records each write, whether a write deadline was in force for it, and
// how often the deadline was set. With stall set, a write blocks until its deadline and fails as a
// real socket's does.
type recordConn struct {
	net.Conn // not called

	mu       sync.Mutex
	writes   [][]byte
	timed    []bool // a deadline was set for the write
	deadline time.Time
	sets     int
	stall    bool
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stall {
		if c.deadline.IsZero() {
			return 0, errors.New("recordConn: a stalled write without a deadline would block forever")
		}
		c.mu.Unlock()
		time.Sleep(time.Until(c.deadline))
		c.mu.Lock()
		return 0, os.ErrDeadlineExceeded
	}
	c.writes = append(c.writes, bytes.Clone(p))
	c.timed = append(c.timed, !c.deadline.IsZero())
	return len(p), nil
}

func (c *recordConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.sets++
	c.mu.Unlock()
	return nil
}

func newTestBatcher(nc net.Conn, timeout time.Duration) *frameBatcher {
	return &frameBatcher{nc: nc, bufs: newBatchPool(), timeout: timeout, writes: prometheus.NewCounter(prometheus.CounterOpts{Name: "w"})}
}

// The writes of held messages are gathered and written in one call when the queue is empty, or when
// the buffer is full; anything else goes straight out, after the gathered bytes. The bytes are the
// same, in the same order.
func TestFrameBatcher(t *testing.T) {
	// Steps: "hold", "release", "end", or a number: a write of that many bytes.
	for _, tc := range []struct {
		name   string
		steps  []any
		writes []int // socket writes, their sizes
	}{
		{"outside a message: straight out", []any{100, 200}, []int{100, 200}},
		{"three messages, one write", []any{"hold", 100, 40, "release", "hold", 200, "release", "hold", 300, "release", "end"},
			[]int{640}},
		{"a full buffer is written at once", []any{"hold", 16000, "release", "hold", 16000, "release", "hold", 16000, "release", "end"},
			[]int{32000, 16000}},
		{"a write of batchMax or more goes straight after the gathered bytes", []any{"hold", 100, 40000, 100, "release", "end"},
			[]int{100, 40000, 100}},
		{"a control frame between messages is not held back", []any{"hold", 100, "release", 10}, []int{110}},
		{"a control frame inside a message joins it", []any{"hold", 100, 10, 200, "release", "end"}, []int{310}},
		{"nothing gathered, nothing written", []any{"hold", "release", "end"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := &recordConn{}
			b := newTestBatcher(nc, time.Minute)
			var want []byte
			for i, s := range tc.steps {
				switch s {
				case "hold":
					b.hold()
				case "release":
					b.release()
				case "end":
					if err := b.end(); err != nil {
						t.Fatal(err)
					}
				default:
					p := bytes.Repeat([]byte{byte('a' + i)}, s.(int))
					if n, err := b.Write(p); n != len(p) || err != nil {
						t.Fatalf("step %d: Write = %d, %v", i, n, err)
					}
					want = append(want, p...)
				}
			}
			var sizes []int
			for _, w := range nc.writes {
				sizes = append(sizes, len(w))
			}
			if !slices.Equal(sizes, tc.writes) {
				t.Errorf("socket writes %v, want %v", sizes, tc.writes)
			}
			if i := slices.Index(nc.timed, false); i >= 0 {
				t.Errorf("socket write %d without a deadline", i)
			}
			// The writes are well within an eighth of a minute: the deadline is set once.
			if want := min(len(tc.writes), 1); nc.sets != want {
				t.Errorf("write deadline set %d times, want %d", nc.sets, want)
			}
			if got := bytes.Join(nc.writes, nil); !bytes.Equal(got, want) {
				t.Errorf("bytes on the socket differ from the bytes written (%d against %d)", len(got), len(want))
			}
		})
	}
}

// A gathered write blocked past the timeout fails with the socket's deadline error (conn then closes
// the connection as a slow consumer).
func TestFrameBatcherWriteTimeout(t *testing.T) {
	nc := &recordConn{stall: true}
	b := newTestBatcher(nc, 10*time.Millisecond)
	b.hold()
	if _, err := b.Write([]byte("append")); err != nil {
		t.Fatal(err)
	}
	b.release()
	if err := b.end(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("end = %v, want %v", err, os.ErrDeadlineExceeded)
	}
}

// The stream writes a connection's queued messages with fewer socket writes than messages, and the
// bytes on the wire are exactly those written one message at a time: same frames, same order.
func TestStreamCoalescedWritesSameBytes(t *testing.T) {
	// Sizes cover a one-frame message, a message written head then body (over 4 KiB), and one larger
	// than a batch.
	sizes := []int{10, 300, 5000, 300, 40000, 20, 20, 20}
	oneByOne, oneByOneWrites := streamWireBytes(t, sizes, false)
	queued, queuedWrites := streamWireBytes(t, sizes, true)
	if !bytes.Equal(queued, oneByOne) {
		t.Errorf("queued messages put %d bytes on the wire, one by one %d; they differ", len(queued), len(oneByOne))
	}
	if queuedWrites >= oneByOneWrites {
		t.Errorf("%v socket writes for %d queued messages, %v one by one: not coalesced", queuedWrites, len(sizes), oneByOneWrites)
	}
	t.Logf("%d messages, %d bytes: %v socket writes queued, %v one by one", len(sizes), len(queued), queuedWrites, oneByOneWrites)
}

// streamWireBytes has a hub write pong messages with data of the given sizes to a raw client socket
// and returns the bytes the client read after the handshake and the hub's socket writes. queued puts
// them all in the queue before its writer starts; otherwise each is written before the next is queued.
func streamWireBytes(t *testing.T, sizes []int, queued bool) ([]byte, float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := New(Config{}, nil, reg)
	br, _ := rawStreamConn(t, h)
	c := onlyConn(t, h)
	writesBefore := counterValue(t, reg, "databoard_stream_socket_writes_total")
	c.qmu.Lock()
	for i, n := range sizes {
		b := body{b: []byte(`,"data":"` + strings.Repeat(string(rune('a'+i)), n) + `"`)}
		c.push(outItem{typ: typePong, body: b, size: len(b.b) + 64})
		if !queued {
			c.signal()
			c.qmu.Unlock()
			c.writers.Wait()
			c.qmu.Lock()
		}
	}
	c.signal()
	c.qmu.Unlock()
	c.writers.Wait()
	writes := counterValue(t, reg, "databoard_stream_socket_writes_total") - writesBefore
	_ = c.ws.CloseNow()
	got, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return got, writes
}

// A client that stops reading: once the socket's buffers are full, the blocked write fails after
// WriteTimeout and the connection is closed as a slow consumer, its goroutines freed.
func TestStreamWriteTimeoutClosesSlowConsumer(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := New(Config{WriteTimeout: 200 * time.Millisecond, SendQueueBytes: 256 << 20}, nil, reg)
	rawStreamConn(t, h)
	c := onlyConn(t, h)
	// 64 MiB, more than loopback's socket buffers hold, and never read.
	big := body{b: []byte(`,"data":"` + strings.Repeat("x", 1<<20) + `"`)}
	c.qmu.Lock()
	for range 64 {
		c.push(outItem{typ: typePong, body: big, size: len(big.b) + 64})
	}
	c.signal()
	c.qmu.Unlock()
	waitFor(t, "the slow consumer to be closed", func() bool {
		return counterValue(t, reg, "databoard_stream_slow_consumer_closes_total") == 1 &&
			gaugeValue(t, reg, "databoard_stream_connections") == 0
	})
	waitFor(t, "the stream's goroutines to end", func() bool { return streamGoroutines() == "" })
}

// onlyConn waits for h's one connection and returns it.
func onlyConn(t *testing.T, h *Hub) *conn {
	t.Helper()
	var c *conn
	waitFor(t, "the connection", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for hc := range h.conns {
			c = hc
		}
		return c != nil
	})
	return c
}

// rawStreamConn serves h on a loopback server and opens a WebSocket to it by hand, with no client
// library between the test and the bytes: it returns the reader of what the server sends after the
// handshake, and the socket. The socket and the server close when the test ends.
func rawStreamConn(t *testing.T, h *Hub) (*bufio.Reader, net.Conn) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	nc, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	handshake := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(handshake)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", res, err)
	}
	return br, nc
}
