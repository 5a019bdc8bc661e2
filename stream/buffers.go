package stream

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// Buffer sizes of a WebSocket connection. net/http hands a hijacked connection over with a 4 KiB
// reader and a 4 KiB writer, which the WebSocket library keeps for the connection's life: 8 KiB of an
// idle connection's ~15. Client messages are a few hundred bytes (a subscribe), and appends ~400 bytes
// plus their head; a larger message is read in more calls, or written past the buffer straight to the
// socket (bufio writes a large slice directly), so the bytes on the wire are the same.
const (
	connReadBuffer  = 1 << 10
	connWriteBuffer = 2 << 10
)

// smallBuffers is the handshake's ResponseWriter: its Hijack gives the WebSocket library buffers of
// connReadBuffer and connWriteBuffer bytes instead of net/http's, the writer flushing to the
// frameBatcher that newBatcher makes of the connection (kept in batch). Everything else is the
// ResponseWriter's own.
type smallBuffers struct {
	http.ResponseWriter
	newBatcher func(net.Conn) *frameBatcher
	batch      *frameBatcher // set by Hijack
}

// Hijack takes the connection over from net/http. Bytes the client sent after its request that
// net/http has read already (a first frame sent with the handshake) are read first.
func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			_ = nc.Close()
			return nil, nil, err
		}
	}
	br := bufio.NewReaderSize(nc, connReadBuffer)
	if n := brw.Reader.Buffered(); n > 0 {
		// In the new reader's buffer, not behind it: the library takes over what is buffered and
		// resets the reader onto the connection.
		early, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc), max(connReadBuffer, n))
		if _, err := br.Peek(n); err != nil {
			_ = nc.Close()
			return nil, nil, err
		}
	}
	w.batch = w.newBatcher(nc)
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(w.batch, connWriteBuffer)), nil
}

// Unwrap gives http.ResponseController the ResponseWriter underneath.
func (w *smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }
