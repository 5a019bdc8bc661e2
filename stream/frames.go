package stream

// frameCursor follows the WebSocket frames in the bytes the library writes, in order, to tell where a
// control frame (close, ping, pong: opcode 8 and above) ends. The batcher cannot tell a control frame
// from the writer's by who writes it: a close or pong written from the reader side while the writer
// holds a message would be gathered with it, and a close handed to the library ends the connection,
// so the gathered frames, close included, would never leave. With the cursor, a control frame is
// written at once, after the bytes gathered before it.
type frameCursor struct {
	left    uint64   // payload bytes of the current frame still to come
	control bool     // the current frame is a control frame
	hdr     [14]byte // the header being read: it may be split across writes
	n       int      // bytes of hdr read
}

// scan moves the cursor over p and says whether a control frame ends in it.
func (f *frameCursor) scan(p []byte) (controlEnds bool) {
	for len(p) > 0 {
		if f.left > 0 {
			k := min(uint64(len(p)), f.left)
			f.left -= k
			p = p[k:]
			if f.left == 0 && f.control {
				controlEnds = true
			}
			continue
		}
		f.hdr[f.n] = p[0]
		f.n++
		p = p[1:]
		size, payload, ok := frameHeader(f.hdr[:f.n])
		if !ok || f.n < size {
			continue
		}
		f.n, f.left, f.control = 0, payload, f.hdr[0]&0x0f >= 8
		if f.left == 0 && f.control {
			controlEnds = true
		}
	}
	return controlEnds
}

// frameHeader reads a frame header's length and its payload's length from its first bytes (RFC 6455
// §5.2); ok is false while too few bytes are there to know.
func frameHeader(h []byte) (size int, payload uint64, ok bool) {
	if len(h) < 2 {
		return 0, 0, false
	}
	size = 2
	if h[1]&0x80 != 0 { // masked (a client's frame; the server's are not)
		size += 4
	}
	switch n := h[1] & 0x7f; n {
	case 126:
		size += 2
		if len(h) < 4 {
			return size, 0, true
		}
		payload = uint64(h[2])<<8 | uint64(h[3])
	case 127:
		size += 8
		if len(h) < 10 {
			return size, 0, true
		}
		for _, b := range h[2:10] {
			payload = payload<<8 | uint64(b)
		}
	default:
		payload = uint64(n)
	}
	return size, payload, true
}
