package dashboards

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Store states as Stats reports them.
const (
	StateUnknown = "unknown" // nothing has been asked of the store yet
	StateUp      = "up"      // the last operation or probe got an answer
	StateDown    = "down"    // the last one found the store unreachable, wedged or too slow
)

// health follows whether the store answers, from every operation's outcome and a periodic probe, so that
// a wedged store shows in statistics and metrics even while cached reads keep answering.
type health struct {
	mu        sync.Mutex
	state     string
	since     time.Time
	lastOK    time.Time
	lastErr   string
	lastErrAt time.Time
	failures  uint64
}

// observe records an operation's outcome. Only ErrUnavailable says something about the store; any other
// error (not found, invalid, a caller's cancellation) means it answered or tells nothing.
func (h *health) observe(err error, now time.Time) {
	if err != nil && !errors.Is(err, ErrUnavailable) {
		if errors.Is(err, context.Canceled) {
			return
		}
		err = nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	state := StateUp
	if err != nil {
		state = StateDown
		h.lastErr, h.lastErrAt = err.Error(), now
		h.failures++
	} else {
		h.lastOK = now
	}
	if state != h.state {
		h.state, h.since = state, now
	}
}

// Stats describes the store's state for maintenance and metrics. It does no I/O.
type Stats struct {
	// State is StateUp, StateDown or StateUnknown.
	State string `json:"state"`
	// Since is when State last changed.
	Since time.Time `json:"since"`
	// LastOK is when an operation or probe last got an answer.
	LastOK time.Time `json:"last_ok"`
	// LastError is the last failure that found the store unavailable, and LastErrorAt when it happened.
	LastError   string    `json:"last_error"`
	LastErrorAt time.Time `json:"last_error_at"`
	// Failures counts operations and probes that found the store unavailable.
	Failures uint64 `json:"failures"`
	// Embedded is true for the embedded store (FerretDB over SQLite).
	Embedded bool `json:"embedded"`
	// TotalBytes is the size counter's last known value (the sum of _size that eviction works against),
	// -1 before it is known.
	TotalBytes int64 `json:"total_bytes"`
	// PendingAccessTimes counts reads whose access time is not written yet.
	PendingAccessTimes int `json:"pending_access_times"`
	// SizeRecounts counts full recounts of the total size ($group over every dashboard) since start.
	SizeRecounts uint64 `json:"size_recounts"`
}

// Stats returns the store's state.
func (s *Store) Stats() Stats {
	s.health.mu.Lock()
	st := Stats{State: s.health.state, Since: s.health.since, LastOK: s.health.lastOK,
		LastError: s.health.lastErr, LastErrorAt: s.health.lastErrAt, Failures: s.health.failures}
	s.health.mu.Unlock()
	if st.State == "" {
		st.State = StateUnknown
	}
	st.Embedded = s.cfg.Embedded
	st.TotalBytes = s.total.Load()
	st.PendingAccessTimes = s.access.size()
	st.SizeRecounts = s.recounts.Load()
	return st
}

// probe asks the store for a record no dashboard has, by _id (which even a busy embedded store answers
// from its index): an answer of "none" means the store is up; a timeout means it is down or wedged.
func (s *Store) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout(s.cfg.ProbeInterval))
	defer cancel()
	err := s.reads.FindOne(ctx, byID(probeID)).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		err = nil
	}
	err = translate("probe", err)
	s.health.observe(err, s.cfg.Now())
	return err
}

func probeTimeout(interval time.Duration) time.Duration { return min(interval, 3*time.Second) }

// runProbes probes the store every ProbeInterval until ctx ends.
func (s *Store) runProbes(ctx context.Context) {
	every(ctx, s.cfg.ProbeInterval, func() { _ = s.probe(ctx) })
}
