package daqbuf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// MaxFrameSize is the largest frame payload accepted (docs/daqbuf.md §5.3: data-api's own reader rejects
// more than 80 MiB). A larger length prefix means a corrupt or misaligned stream.
const MaxFrameSize = 80 << 20

// maxPlainBody caps a plain-JSON (unframed) body, which has to be held in memory whole. data-api's
// own estimate caps it at 400 MiB (bytesMax, docs/daqbuf.md §2.3); the real size is a little larger.
const maxPlainBody = 512 << 20

// binaryHeaderLen is the CBOR-framed header: u32 LE length + 12 reserved bytes.
const binaryHeaderLen = 16

// frameReader yields the payloads of one response body, one at a time. The returned slice is only
// valid until the next call (the buffer is reused). It returns io.EOF at a clean end of the body
// (between frames) and an error wrapping ErrUpstream when the body ends inside a frame.
type frameReader interface {
	next() ([]byte, error)
}

// truncated reports a body that ended inside a frame: never a silent, complete-looking end.
func truncated(what string, err error) error {
	return &UpstreamError{Kind: ErrUpstream, Message: fmt.Sprintf("truncated frame: %s (%v)", what, err)}
}

// readErr turns an error of io.ReadFull into a truncation error when the body simply ended, and
// leaves transport errors (deadline, reset) as they are for the caller to classify.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated(what, err)
	}
	return fmt.Errorf("daqbuf: reading %s: %w", what, err)
}

func corrupt(format string, args ...any) error {
	return &UpstreamError{Kind: ErrUpstream, Message: "corrupt frame stream: " + fmt.Sprintf(format, args...)}
}

// growBuf returns buf resized to n bytes, reusing its storage when large enough.
func growBuf(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]byte, n, max(n, 2*cap(buf)))
}

// readStep is how much payload buffer is allocated ahead of the data: a length prefix alone (up to
// MaxFrameSize) does not make the reader allocate that much before the bytes actually arrive.
const readStep = 1 << 20

// readN reads exactly n bytes into buf (reused when large enough), growing it as data arrives.
func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	if cap(buf) >= n || n <= readStep {
		buf = growBuf(buf, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf = buf[:0]
	for len(buf) < n {
		old := len(buf)
		buf = slices.Grow(buf, min(n-old, max(old, readStep)))
		buf = buf[:old+min(n-old, max(old, readStep))]
		if _, err := io.ReadFull(r, buf[old:]); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// binaryFrames reads the binary-header framing of application/cbor-framed (docs/daqbuf.md §5.3), also
// used by application/json-framed in 2024-04..09: u32 LE length, 12 reserved bytes, payload, zero
// padding to a multiple of 8. Pre-2024-05 servers sent a bare 4-byte length without reserved bytes
// and padding; that variant is recognised on the first frame (its byte 4 starts the payload and is
// never zero, while the reserved bytes are).
type binaryFrames struct {
	r       *bufio.Reader
	buf     []byte
	hdr     [binaryHeaderLen]byte
	decided bool
	bare    bool // pre-2024-05 framing: 4-byte length, no reserved bytes, no padding
}

func newBinaryFrames(r *bufio.Reader) *binaryFrames { return &binaryFrames{r: r} }

func (f *binaryFrames) next() ([]byte, error) {
	for {
		n, err := f.header()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue // data-api never sends empty frames; skipping one is harmless
		}
		var err2 error
		if f.buf, err2 = readN(f.r, f.buf, n); err2 != nil {
			return nil, readErr(fmt.Sprintf("payload of %d bytes", n), err2)
		}
		if !f.bare {
			if pad := (8 - n%8) % 8; pad > 0 {
				if _, err := io.ReadFull(f.r, f.hdr[:pad]); err != nil {
					return nil, readErr("padding", err)
				}
			}
		}
		return f.buf, nil
	}
}

// header reads one length prefix; io.EOF when the body ends cleanly before it.
func (f *binaryFrames) header() (int, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:4]); err != nil {
		if err == io.EOF {
			return 0, io.EOF
		}
		return 0, readErr("length header", err)
	}
	n := binary.LittleEndian.Uint32(f.hdr[:4])
	if n > MaxFrameSize {
		return 0, corrupt("frame length %d exceeds %d", n, MaxFrameSize)
	}
	if !f.decided {
		f.decided = true
		if peek, _ := f.r.Peek(12); len(peek) > 0 && peek[0] != 0 {
			f.bare = true
		}
	}
	if !f.bare {
		if _, err := io.ReadFull(f.r, f.hdr[4:]); err != nil {
			return 0, readErr("reserved header bytes", err)
		}
	}
	return int(n), nil
}

// maxLengthLine bounds the decimal length line of json-framed; data-api pads it to 15 characters.
const maxLengthLine = 64

// textFrames reads application/json-framed (docs/daqbuf.md §5.2): a decimal length line (space padded,
// parsed with TrimSpace so the field width does not matter), the payload, one '\n'.
type textFrames struct {
	r    *bufio.Reader
	buf  []byte
	line []byte
}

func (f *textFrames) next() ([]byte, error) {
	for {
		n, err := f.lengthLine()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			// Skip an empty frame; tolerate it with or without its trailing newline.
			if b, err := f.r.Peek(1); err == nil && b[0] == '\n' {
				_, _ = f.r.Discard(1)
			}
			continue
		}
		if f.buf, err = readN(f.r, f.buf, n+1); err != nil {
			return nil, readErr(fmt.Sprintf("payload of %d bytes", n), err)
		}
		if f.buf[n] != '\n' {
			return nil, corrupt("json frame of %d bytes not followed by a newline", n)
		}
		return f.buf[:n], nil
	}
}

func (f *textFrames) lengthLine() (int, error) {
	for {
		line, err := f.readLine()
		if err != nil {
			return 0, err
		}
		s := string(bytes.TrimSpace(line))
		if s == "" {
			continue // a blank line between frames carries nothing
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, corrupt("bad length line %q", s)
		}
		if n > MaxFrameSize {
			return 0, corrupt("frame length %d exceeds %d", n, MaxFrameSize)
		}
		return int(n), nil
	}
}

// readLine reads through the next '\n'. io.EOF only when the body ends before any byte of the
// line: a partial line (even blanks, the padding of the length field) is a truncated frame.
func (f *textFrames) readLine() ([]byte, error) {
	line := f.line[:0]
	defer func() { f.line = line }()
	for {
		chunk, err := f.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLengthLine {
			return nil, corrupt("length line longer than %d bytes", maxLengthLine)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) == 0:
			return nil, io.EOF
		}
		return nil, readErr("length line", err)
	}
}

// wholeBody yields an unframed body (plain application/json) as a single payload.
type wholeBody struct {
	r    io.Reader
	done bool
}

func (f *wholeBody) next() ([]byte, error) {
	if f.done {
		return nil, io.EOF
	}
	f.done = true
	b, err := io.ReadAll(io.LimitReader(f.r, maxPlainBody+1))
	if err != nil {
		return nil, readErr("body", err)
	}
	if len(b) > maxPlainBody {
		return nil, corrupt("plain JSON body larger than %d bytes", maxPlainBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, io.EOF
	}
	return b, nil
}

// sniffedFrames is application/json-framed: the first byte decides between the ASCII length line
// and the 2024 binary-header variant (a first byte that is neither a space nor a digit; docs/daqbuf.md
// §5.2, History). Sniffing waits for the first frame, so it happens on the first read, not earlier.
type sniffedFrames struct {
	r     *bufio.Reader
	inner frameReader
}

func (f *sniffedFrames) next() ([]byte, error) {
	if f.inner == nil {
		if b, err := f.r.Peek(1); err == nil && b[0] != ' ' && (b[0] < '0' || b[0] > '9') {
			f.inner = newBinaryFrames(f.r)
		} else {
			f.inner = &textFrames{r: f.r}
		}
	}
	return f.inner.next()
}

// newFrameReader picks the reader for a response mode (ModeDefault means CBOR-framed).
func newFrameReader(r io.Reader, mode Mode) frameReader {
	switch mode {
	case ModeJSON:
		return &wholeBody{r: r}
	case ModeJSONFramed:
		return &sniffedFrames{r: bufio.NewReaderSize(r, 64<<10)}
	default:
		return newBinaryFrames(bufio.NewReaderSize(r, 64<<10))
	}
}
