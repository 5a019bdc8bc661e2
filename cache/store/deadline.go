package store

import (
	"sync"
	"time"
)

// deadline sizes the per-call deadline of a store from measurements, as TCP sizes its retransmission
// timeout: a smoothed round trip plus four deviations, times a margin, between floor and ceiling. A
// call that times out at the current deadline doubles it (up to ceiling): a busy host makes calls
// slow, and a slow store is not a dead one. It is safe for concurrent use.
type deadline struct {
	floor, ceiling time.Duration

	mu     sync.Mutex
	cur    time.Duration
	srtt   float64 // ns
	rttvar float64 // ns
	seeded bool
}

// deadlineMargin multiplies the measured bound: the deadline is for outliers, not for the typical call.
const deadlineMargin = 3

func newDeadline(floor, ceiling time.Duration) *deadline {
	return &deadline{floor: floor, ceiling: max(floor, ceiling), cur: floor}
}

// current is the deadline for the next call.
func (d *deadline) current() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// observe records a successful call's round trip and lowers the deadline toward what it shows, slowly
// (an eighth of the way per call), so that one quick call after a slow spell does not undo it.
func (d *deadline) observe(rtt time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x := float64(rtt)
	if !d.seeded {
		d.srtt, d.rttvar, d.seeded = x, x/2, true
	} else {
		diff := x - d.srtt
		if diff < 0 {
			diff = -diff
		}
		d.rttvar = 0.75*d.rttvar + 0.25*diff
		d.srtt = 0.875*d.srtt + 0.125*x
	}
	target := min(max(time.Duration(deadlineMargin*(d.srtt+4*d.rttvar)), d.floor), d.ceiling)
	if target >= d.cur {
		d.cur = target
	} else {
		d.cur -= (d.cur - target) / 8
	}
}

// timedOut records a call that ran out of its deadline used. It reports whether that says something
// about the store: only a call that had the current deadline does (calls started before it was
// raised do not), and it doubles the deadline.
func (d *deadline) timedOut(used time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if used < d.cur {
		return false
	}
	d.cur = min(2*d.cur, d.ceiling)
	return true
}
