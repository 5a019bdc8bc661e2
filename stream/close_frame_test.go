package stream

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// Hub.Close while a connection's writer is busy with its queue: the close frame (1001 going away) is
// written by Close's goroutine while the writer holds a message. Gathered with it, it was lost: the
// library marks the close as sent, the writer's next message fails, the socket is closed with the
// gathered bytes unwritten, and the client saw the connection end without a close frame (1006). The
// frame cursor sends it at once.
func TestStreamCloseFrameSentWhileWriterBusy(t *testing.T) {
	lost := 0
	const tries = 3
	for range tries {
		h := New(Config{SendQueueBytes: 256 << 20}, nil, prometheus.NewRegistry())
		br, _ := rawStreamConn(t, h)
		c := onlyConn(t, h)
		b := body{b: []byte(`,"data":"` + strings.Repeat("x", 100) + `"`)}
		c.qmu.Lock()
		for range 200000 {
			c.push(outItem{typ: typePong, body: b, size: len(b.b) + 64})
		}
		c.signal()
		c.qmu.Unlock()
		type res struct {
			ops []byte
			cp  []byte
			err error
		}
		got := make(chan res, 1)
		go func() { ops, cp, err := readServerFrames(br); got <- res{ops, cp, err} }()
		time.Sleep(20 * time.Millisecond) // the writer is busy
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = h.Close(ctx)
		cancel()
		r := <-got
		if r.cp == nil {
			lost++
			t.Logf("no close frame: %d frames then %v", len(r.ops), r.err)
		} else {
			t.Logf("close frame after %d frames: code %d", len(r.ops), binary.BigEndian.Uint16(r.cp))
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d shutdowns: the client got no close frame (1001 going away)", lost, tries)
	}
}

// The same with a close from the client while the server's writer is busy: the library's reply,
// written from the reader goroutine, must reach the client before the library closes the socket.
func TestStreamCloseReplySentWhileWriterBusy(t *testing.T) {
	lost := 0
	const tries = 3
	for range tries {
		h := New(Config{SendQueueBytes: 256 << 20}, nil, prometheus.NewRegistry())
		srvBr, nc := rawStreamConn(t, h)
		c := onlyConn(t, h)
		b := body{b: []byte(`,"data":"` + strings.Repeat("x", 100) + `"`)}
		c.qmu.Lock()
		for range 200000 {
			c.push(outItem{typ: typePong, body: b, size: len(b.b) + 64})
		}
		c.signal()
		c.qmu.Unlock()
		type res struct {
			ops []byte
			cp  []byte
			err error
		}
		got := make(chan res, 1)
		go func() { ops, cp, err := readServerFrames(srvBr); got <- res{ops, cp, err} }()
		time.Sleep(20 * time.Millisecond)
		// A masked close frame, 1000 normal closure, mask key 0.
		if _, err := nc.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if r.cp == nil {
			lost++
			t.Logf("no close reply: %d frames then %v", len(r.ops), r.err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = h.Close(ctx)
		cancel()
	}
	if lost > 0 {
		t.Errorf("%d of %d client closes: no close reply from the server", lost, tries)
	}
}

// rawStreamConnNC is rawStreamConn that also returns the client's socket.
func rawStreamConnNC(t *testing.T, h *Hub) (*bufio.Reader, net.Conn) {
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
