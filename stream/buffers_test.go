package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A client may send its first frame in the same packet as its handshake: net/http has then read it
// already, and the connection's own (smaller) reader must still get it first.
func TestStreamFrameSentWithHandshake(t *testing.T) {
	e := newTestEnv(t)
	ping := []byte(`{"type":"ping","data":"early"}`)
	for _, tc := range []struct {
		name      string
		pipelined bool // the frame goes in the handshake's write
		frames    int
	}{
		{"frame after the 101", false, 1},
		{"frame with the handshake", true, 1},
		{"two frames with the handshake", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var d net.Dialer
			nc, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(e.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if dl, ok := ctx.Deadline(); ok {
				_ = nc.SetDeadline(dl)
			}
			handshake := "GET /stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
			var frames []byte
			for range tc.frames {
				frames = append(frames, maskedTextFrame(ping)...)
			}
			first := []byte(handshake)
			if tc.pipelined {
				first = append(first, frames...)
			}
			if _, err := nc.Write(first); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(nc)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake answered %s", res.Status)
			}
			if !tc.pipelined {
				if _, err := nc.Write(frames); err != nil {
					t.Fatal(err)
				}
			}
			for i := range tc.frames {
				if got, want := readServerFrame(t, br), `{"type":"pong","data":"early"}`; got != want {
					t.Errorf("answer %d = %s, want %s", i, got, want)
				}
			}
		})
	}
}

// maskedTextFrame is one client text frame (FIN, masked) carrying p, shorter than 126 bytes.
func maskedTextFrame(p []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(p))}
	f = append(f, key[:]...)
	for i, b := range p {
		f = append(f, b^key[i%4])
	}
	return f
}

// readServerFrame reads one unmasked, unfragmented server frame and returns its payload.
func readServerFrame(t *testing.T, r io.Reader) string {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			t.Fatal(err)
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			t.Fatal(err)
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The hijacked connection's buffers are the small ones, the reader larger only to hold what the client
// sent with its handshake.
func TestSmallBuffersHijack(t *testing.T) {
	for _, tc := range []struct {
		name       string
		early      int // bytes sent right after the request
		wantReader int
	}{
		{"nothing early", 0, connReadBuffer},
		{"a small frame early", 40, connReadBuffer},
		{"more than the reader holds", 3000, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Config{}, nil, nil)
			type sizes struct{ reader, writer, buffered int }
			got := make(chan sizes, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				nc, brw, err := (&smallBuffers{ResponseWriter: w, newBatcher: h.newBatcher}).Hijack()
				if err != nil {
					t.Error(err)
					got <- sizes{}
					return
				}
				defer nc.Close()
				if tc.early > 0 { // wait for all of it, then see it read first
					_, _ = brw.Reader.Peek(tc.early)
				}
				got <- sizes{brw.Reader.Size(), brw.Writer.Size(), brw.Reader.Buffered()}
			}))
			defer srv.Close()
			nc, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", tc.early)
			if _, err := nc.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			s := <-got
			if s.reader != tc.wantReader || s.writer != connWriteBuffer || s.buffered < tc.early {
				t.Errorf("reader %d bytes (%d buffered), writer %d; want %d (at least %d buffered), %d",
					s.reader, s.buffered, s.writer, tc.wantReader, tc.early, connWriteBuffer)
			}
		})
	}
}

// A connection's reader runs on a goroutine of its own: the HTTP server's goroutine, with its grown
// stack and the request, has returned.
func TestStreamReaderLeavesHandlerGoroutine(t *testing.T) {
	e := newTestEnv(t)
	const n = 3
	for range n {
		e.dial(t)
	}
	waitFor(t, "connections", func() bool { return gaugeValue(t, e.reg, "databoard_stream_connections") == n })
	readers, onHandler := 0, 0
	for _, g := range strings.Split(allStacks(), "\n\n") {
		if strings.Contains(g, "stream.(*conn).readLoop") {
			readers++
			if strings.Contains(g, "net/http.(*conn).serve") {
				onHandler++
			}
		}
	}
	if readers != n || onHandler != 0 {
		t.Errorf("%d readers, %d of them on an HTTP server goroutine; want %d and 0", readers, onHandler, n)
	}
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
