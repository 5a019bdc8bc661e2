package stream

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// readServerFrames reads unmasked server frames from br until EOF and returns their opcodes, and the
// close frame's payload if one came.
func readServerFrames(br *bufio.Reader) (ops []byte, closePayload []byte, err error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return ops, closePayload, err
		}
		op := h[0] & 0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				return ops, closePayload, err
			}
			n = uint64(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				return ops, closePayload, err
			}
			n = binary.BigEndian.Uint64(l[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return ops, closePayload, err
		}
		ops = append(ops, op)
		if op == 8 {
			return ops, p, nil
		}
	}
}

// A close while a connection's writer is busy with its queue: from the hub (Hub.Close: 1001 going away,
// written by Close's goroutine) or from the client (the library's reply, written from the reader
// goroutine). Either comes while the writer holds a message; gathered with it, it was lost: the library
// marks the close as sent, the writer's next message fails, the socket is closed with the gathered
// bytes unwritten, and the client saw the connection end without a close frame (1006). The frame
// cursor sends it at once.
func TestStreamCloseFrameSentWhileWriterBusy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(t *testing.T, h *Hub, nc net.Conn)
	}{
		{"hub shutdown", func(t *testing.T, h *Hub, nc net.Conn) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = h.Close(ctx)
		}},
		{"client close", func(t *testing.T, h *Hub, nc net.Conn) {
			// A masked close frame, 1000 normal closure, mask key 0.
			if _, err := nc.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const tries = 3
			lost := 0
			for range tries {
				h := New(Config{SendQueueBytes: 256 << 20}, nil, prometheus.NewRegistry())
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					_ = h.Close(ctx)
				})
				br, nc := rawStreamConn(t, h)
				busyWriter(t, h)
				type frames struct {
					ops, closePayload []byte
					err               error
				}
				got := make(chan frames, 1)
				go func() { ops, cp, err := readServerFrames(br); got <- frames{ops, cp, err} }()
				time.Sleep(20 * time.Millisecond) // the writer is busy meanwhile (not a bound: it only makes the race likely)
				tc.close(t, h, nc)
				if r := <-got; r.closePayload == nil {
					lost++
					t.Logf("no close frame: %d frames then %v", len(r.ops), r.err)
				}
			}
			if lost > 0 {
				t.Errorf("%d of %d closes: the client got no close frame", lost, tries)
			}
		})
	}
}

// busyWriter fills the queue of h's only connection with 200 000 small messages: its writer is busy
// for a while.
func busyWriter(t *testing.T, h *Hub) {
	t.Helper()
	c := onlyConn(t, h)
	b := body{b: []byte(`,"data":"` + strings.Repeat("x", 100) + `"`)}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	for range 200000 {
		c.push(outItem{typ: typePong, body: b, size: len(b.b) + 64})
	}
	c.signal()
}
