package daqbuf

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// JoinTimestamp reassembles an absolute timestamp from data-api's JSON anchors (docs/daqbuf.md §4):
// anchorSec·1e9 + ms·1e6 + ns, in exact integer arithmetic. ok is false when the result does not fit
// an int64 (a corrupt frame; real timestamps are far below that).
func JoinTimestamp(anchorSec, ms, ns uint64) (ts int64, ok bool) {
	hi, a := bits.Mul64(anchorSec, uint64(time.Second))
	if hi != 0 {
		return 0, false
	}
	hi, b := bits.Mul64(ms, uint64(time.Millisecond))
	if hi != 0 {
		return 0, false
	}
	sum, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return 0, false
	}
	sum, carry = bits.Add64(sum, ns, 0)
	if carry != 0 || sum > math.MaxInt64 {
		return 0, false
	}
	return int64(sum), true
}

// joinTimestamps fills dst with anchor + ms[i] + ns[i]; a missing ns array (len 0) means zeros.
func joinTimestamps(dst []int64, anchor uint64, ms, ns []uint64, what string) error {
	if len(ns) != 0 && len(ns) != len(ms) {
		return fmt.Errorf("%s: %d ms offsets but %d ns offsets", what, len(ms), len(ns))
	}
	for i, m := range ms {
		var n uint64
		if len(ns) != 0 {
			n = ns[i]
		}
		ts, ok := JoinTimestamp(anchor, m, n)
		if !ok {
			return fmt.Errorf("%s[%d]: timestamp %d s + %d ms + %d ns overflows", what, i, anchor, m, n)
		}
		dst[i] = ts
	}
	return nil
}
