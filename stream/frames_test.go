package stream

import (
	"bytes"
	"testing"
)

// frame builds an unmasked frame of opcode op with n payload bytes.
func frame(op byte, n int) []byte {
	h := []byte{0x80 | op}
	switch {
	case n < 126:
		h = append(h, byte(n))
	case n < 1<<16:
		h = append(h, 126, byte(n>>8), byte(n))
	default:
		h = append(h, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(h, bytes.Repeat([]byte{0x88}, n)...) // payload bytes that look like close headers
}

// The cursor says which write holds the end of a control frame, however the frames are cut into
// writes (headers split, payloads of every length form, control frames after unflushed data).
func TestFrameCursor(t *testing.T) {
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name   string
		stream []byte
		cuts   []int  // write boundaries in stream
		want   []bool // per write: a control frame ends in it
	}{
		{"text frame", frame(1, 10), nil, []bool{false}},
		{"close frame", frame(8, 2), nil, []bool{true}},
		{"empty pong", frame(10, 0), nil, []bool{true}},
		{"data then close in one write", cat(frame(1, 300), frame(8, 2)), nil, []bool{true}},
		{"close split in its header", cat(frame(1, 5), frame(8, 2)), []int{8}, []bool{false, true}},
		{"close split in its payload", frame(8, 2), []int{3}, []bool{false, true}},
		{"16-bit length, header split", cat(frame(1, 1000), frame(9, 4)), []int{3, 500}, []bool{false, false, true}},
		{"64-bit length", cat(frame(2, 70000), frame(10, 1)), []int{5, 70000}, []bool{false, false, true}},
		{"non-final fragment then pong", cat([]byte{0x01, 3, 'a', 'b', 'c'}, frame(10, 0), []byte{0x80, 1, 'd'}), []int{5, 7}, []bool{false, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f frameCursor
			prev := 0
			for i, cut := range append(tc.cuts, len(tc.stream)) {
				if got := f.scan(tc.stream[prev:cut]); got != tc.want[i] {
					t.Errorf("write %d (bytes %d..%d): control frame ends = %v, want %v", i, prev, cut, got, tc.want[i])
				}
				prev = cut
			}
			if f.left != 0 || f.n != 0 {
				t.Errorf("cursor not at a frame boundary after the stream: %+v", f)
			}
		})
	}
}
