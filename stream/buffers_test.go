package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
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
