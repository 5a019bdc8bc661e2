package store

import (
	"sync"
	"time"
)

// BreakerState is the state of a store's circuit breaker.
type BreakerState string

// Breaker states: closed (calls go through), open (calls fail at once with ErrUnavailable), half-open
// (one probe call is in flight; the others fail at once until it reports).
const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half-open"
)

// breaker is a consecutive-failure circuit breaker: after threshold failures in a row (or
// slowThreshold calls timing out in a row) it opens for cooldown, then lets exactly one probe
// through; the probe's success closes it, its failure (or timeout) opens it again. It protects
// requests from waiting on a dead Redis, call after call, while a merely slow one keeps serving.
type breaker struct {
	threshold     int
	slowThreshold int
	cooldown      time.Duration
	now           func() time.Time

	mu       sync.Mutex
	failures int
	slow     int
	state    BreakerState
	until    time.Time // end of the open period
	trips    uint64
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	return &breaker{threshold: threshold, slowThreshold: 4 * threshold, cooldown: cooldown, now: now, state: BreakerClosed}
}

// allow reports whether a call may proceed; probe is true for the single half-open probe, which
// must be followed by done(probe, ...).
func (b *breaker) allow() (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true, false
	case BreakerOpen:
		if b.now().Before(b.until) {
			return false, false
		}
		b.state = BreakerHalfOpen
		return true, true
	}
	return false, false // half-open: the probe is in flight
}

// outcome of one call, as the breaker sees it.
type outcome uint8

const (
	outcomeSuccess outcome = iota
	outcomeFailure         // a connection error: the store is absent
	outcomeSlow            // the call ran out of its (grown) deadline: the store or the host is slow
	outcomeNeutral         // the caller gave up, or the call's deadline was already raised: says nothing
)

// done records the outcome of a call allowed by allow.
func (b *breaker) done(probe bool, o outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch o {
	case outcomeSuccess:
		b.failures, b.slow = 0, 0
		if probe || b.state != BreakerOpen {
			b.state = BreakerClosed
		}
	case outcomeFailure:
		b.failures++
		if probe || (b.state == BreakerClosed && b.failures >= b.threshold) {
			b.state, b.until = BreakerOpen, b.now().Add(b.cooldown)
			b.trips++
		}
	case outcomeSlow:
		b.slow++
		if probe || (b.state == BreakerClosed && b.slow >= b.slowThreshold) {
			b.state, b.until = BreakerOpen, b.now().Add(b.cooldown)
			b.trips++
		}
	case outcomeNeutral:
		if probe && b.state == BreakerHalfOpen {
			// Let the next call probe instead.
			b.state, b.until = BreakerOpen, time.Time{}
		}
	}
}

// snapshot returns the state and how often the breaker opened.
func (b *breaker) snapshot() (BreakerState, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.trips
}
