package stream

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

// update is one message of a series stream: a snapshot or an append, at an offset of an epoch. Its
// bodies are encoded at most once per format, whoever sends them.
type update struct {
	epoch          string
	offset         int64
	snapshot       bool
	beginMs, endMs int64
	doc            *curve.Doc // snapshot: the whole curve
	delta          delta      // append
	at             time.Time

	mu     sync.Mutex
	bodies [2]body // encoded on first use; dropped by forget
}

func (u *update) typ() string {
	if u.snapshot {
		return typeSnapshot
	}
	return typeAppend
}

// body is u encoded for f, encoded once for every subscriber it goes to.
func (u *update) body(f format) body {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bodies[f].b == nil {
		if u.snapshot {
			u.bodies[f] = snapshotBody(f, u.epoch, u.offset, u.beginMs, u.endMs, u.doc)
		} else {
			u.bodies[f] = appendBody(f, u.epoch, u.offset, u.beginMs, u.endMs, u.delta)
		}
	}
	return u.bodies[f]
}

// forget drops u's encoded bodies once it has gone to every subscriber; it stays in the history as its
// change alone (encoded again for a client that resumes before it): an encoded append is as large as
// its points, and the history holds ten minutes of them.
func (u *update) forget() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.bodies = [2]body{}
}

// size approximates u's encoded size, for the send queue's byte bound.
func (u *update) size(f format) int { return len(u.body(f).b) + 64 }

// series is one series stream: the state every subscription with its Params shares (the current curve,
// epoch, offset, history) and the poller that moves it. All fields below mu are guarded by it.
type series struct {
	hub    *Hub
	params Params
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	epoch     string
	offset    int64
	doc       *curve.Doc // nil until the first good poll
	beginMs   int64
	endMs     int64
	history   []*update // oldest first, consecutive offsets ending at offset; never a snapshot first
	snap      *update   // the latest snapshot, while new subscribers are greeted with it (see greetSnapshot)
	subs      map[*subscription]struct{}
	idleSince time.Time // when the last subscriber left
	closed    bool      // removed from the hub: attach must make a new one
	failing   bool      // the last poll failed (its error was sent)
}

func newEpoch() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// add attaches sub and sends it what it needs first (see greet), or leaves that to the first state
// the series gets (a poll, or the shared state of another instance). Called with the hub's lock held.
//
// It returns false when the series has ended meanwhile (complete, or a final error found by a poll that
// ran before sub was added): the caller starts a new one.
func (s *series) add(sub *subscription, resume *resumePoint) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.subs[sub] = struct{}{}
	sub.series, sub.resume = s, resume
	if s.doc != nil {
		s.greet(sub)
	}
	return true
}

// greet sends a new subscription its first messages: resumed and the missed updates when its resume
// can be served from history, else a snapshot. Called with mu held, once the series has a curve.
func (s *series) greet(sub *subscription) {
	resume := sub.resume
	sub.resume, sub.started = nil, true
	if resume != nil && s.canResume(*resume) {
		s.hub.metrics.resumes.WithLabelValues("recovered").Inc()
		sub.conn.enqueueControl(typeResumed, sub.id, true, resumedBody(sub.conn.format, resume.epoch, resume.offset))
		for _, u := range s.history {
			if u.offset > resume.offset {
				sub.conn.enqueueUpdate(sub, u)
			}
		}
		return
	}
	if resume != nil {
		s.hub.metrics.resumes.WithLabelValues("snapshot").Inc()
	}
	snap := s.greetSnapshot()
	sub.conn.enqueueSnapshot(sub, snap)
	sub.started = true
	if snap.offset < s.offset {
		for _, u := range s.history[snap.offset+1-s.history[0].offset:] {
			sub.conn.enqueueUpdate(sub, u)
		}
	}
}

// canResume says whether every update after r is in the history.
func (s *series) canResume(r resumePoint) bool {
	if r.epoch != s.epoch || r.offset > s.offset {
		return false
	}
	if r.offset == s.offset {
		return true
	}
	return len(s.history) > 0 && s.history[0].offset <= r.offset+1
}

// greetCatchUp is how many updates old the series' latest snapshot may be and still greet a new
// subscriber, followed by the appends since (each a few hundred bytes, kept encoded meanwhile). A
// snapshot is ~100 KB of JSON for 1 000 bins: encoding one per poll for whoever subscribed in that
// second made a thousand connections opening one dashboard hold a different snapshot for every second
// they took, and the encoding was most of a greeting's cost.
const greetCatchUp = 20

// greetSnapshot is the snapshot a new subscriber gets first: the latest one while it is at most
// greetCatchUp updates old and every update since is in the history, else a new one of the current
// state. Called with mu held.
func (s *series) greetSnapshot() *update {
	if u := s.snap; u != nil && u.epoch == s.epoch && s.offset-u.offset <= greetCatchUp &&
		(u.offset == s.offset || len(s.history) > 0 && s.history[0].offset <= u.offset+1) {
		return u
	}
	return s.snapshot()
}

// snapshot is the current state as a snapshot update, made (and encoded) once per state however many
// subscribers get it. Called with mu held.
func (s *series) snapshot() *update {
	if u := s.snap; u != nil && u.epoch == s.epoch && u.offset == s.offset {
		return u
	}
	s.snap = &update{epoch: s.epoch, offset: s.offset, snapshot: true, beginMs: s.beginMs, endMs: s.endMs,
		doc: s.doc, at: s.hub.cfg.Now()}
	return s.snap
}

// resnapshot sends a fresh snapshot to a subscription that fell behind on a slow connection.
func (s *series) resnapshot(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[sub]; !ok || s.doc == nil {
		return
	}
	s.hub.metrics.slowSnapshots.Inc()
	// Of the current state: appends after it could overflow the queue again.
	sub.conn.enqueueSnapshot(sub, s.snapshot())
}

// remove detaches sub.
func (s *series) remove(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, sub)
	if len(s.subs) == 0 {
		s.idleSince = s.hub.cfg.Now()
	}
}

// run polls while this instance leads the series (always without Redis; while it holds the series'
// poller lease with Redis), until ctx ends or the series ends (complete, a final error, linger passed).
func (s *series) run(ctx context.Context) {
	defer close(s.done)
	b := s.hub.broker
	b.join(ctx, s)
	defer b.leave(s)
	var backoff time.Duration
	nextPoll := time.Now()
	for {
		wait := b.checkEvery()
		if b.lead(ctx, s) && !time.Now().Before(nextPoll) {
			period, end := s.poll(ctx)
			if end {
				return
			}
			if s.isFailing() {
				backoff = min(max(2*backoff, s.hub.cfg.PollMin), 30*time.Second)
				period = backoff
			} else {
				backoff = 0
			}
			// Up to a tenth more, at random: series started together drift apart instead of polling
			// (and fanning out) in the same instant forever.
			nextPoll = time.Now().Add(period + rand.N(period/10+1))
		}
		if s.isClosed() || s.lingerPassed() {
			return
		}
		wait = max(min(wait, time.Until(nextPoll)), time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *series) isFailing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failing
}

// lingerPassed removes the series from the hub when nobody has subscribed for Linger.
func (s *series) lingerPassed() bool {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.subs) > 0 || h.cfg.Now().Sub(s.idleSince) < h.cfg.Linger {
		return false
	}
	s.closed = true
	delete(h.series, s.params)
	return true
}

// request is the /channels/curve request of p at now.
func (p Params) request(nowMs int64) curve.Request {
	r := curve.Request{Name: p.ChannelName, Backend: p.Backend, NumBins: p.NumBins,
		RawIfSparse: p.RawIfSparse, RemoveEmpty: p.RemoveEmpty}
	switch {
	case p.WindowMs > 0:
		r.BeginMs, r.EndMs = nowMs-p.WindowMs, nowMs
	case p.HasEnd:
		r.BeginMs, r.EndMs = p.BeginMs, min(p.EndMs, nowMs)
	default:
		r.BeginMs, r.EndMs = p.BeginMs, nowMs
	}
	if p.IsString != 0 {
		v := p.IsString == 2
		r.IsString = &v
	}
	return r
}

// poll computes the curve of the window at now and sends what changed. It returns the period until the
// next poll, and end when the series is over (complete, or a final error).
func (s *series) poll(ctx context.Context) (period time.Duration, end bool) {
	h := s.hub
	start := h.cfg.Now()
	q, cv, err := s.compute(ctx, start)
	h.metrics.polls.Inc()
	h.metrics.pollSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() != nil {
			return 0, true
		}
		return s.fail(err)
	}
	done := s.params.completeBy(q, start)
	s.publish(ctx, cv.Doc(), q.BeginMs, q.EndMs, done)
	if done {
		ev := event{kind: eventComplete}
		s.hub.broker.publishEvent(s, ev)
		s.handleEvent(ev)
		return 0, true
	}
	return h.period(q), false
}

// completeBy says whether an absolute window is over at now: its end lies further in the past than the
// settle time (the longer of 60 s and two bins).
func (p Params) completeBy(q curve.Query, now time.Time) bool {
	return p.HasEnd && p.EndMs*int64(time.Millisecond) < now.Add(-q.SettleTime(time.Minute)).UnixNano()
}

func (s *series) compute(ctx context.Context, now time.Time) (curve.Query, *curve.Curve, error) {
	svc := s.hub.curves
	q, err := svc.Resolve(ctx, s.params.request(now.UnixMilli()))
	if err != nil {
		return q, nil, err
	}
	cv, _, err := svc.Fetch(ctx, q)
	return q, cv, err
}

// period is the poll period of q: its bin width within [PollMin, PollMax]; PollMin for raw.
func (h *Hub) period(q curve.Query) time.Duration {
	if q.NumBins <= 0 {
		return h.cfg.PollMin
	}
	w := time.Duration(daqbuf.WidthForCount(q.Range(), int(q.NumBins)))
	return min(max(w, h.cfg.PollMin), h.cfg.PollMax)
}

// fail reports a failed poll: a request the contract refuses (400, 404) ends the series for every
// subscriber; a passing upstream failure is reported once per streak and retried with backoff.
func (s *series) fail(err error) (time.Duration, bool) {
	status, detail, ok := curve.ErrorStatus(err)
	if !ok {
		status, detail = 500, "Internal Server Error"
		s.hub.log.Error("stream: poll failed", slog.String("error", err.Error()))
	}
	ev := event{kind: eventError, status: status, detail: detail, final: status == 400 || status == 404}
	s.hub.broker.publishEvent(s, ev)
	s.handleEvent(ev)
	return s.hub.cfg.PollMin, ev.final
}

// event is what ends a series or interrupts it, besides updates.
type event struct {
	kind   uint8 // eventError or eventComplete
	status int
	detail string
	final  bool
}

const (
	eventError uint8 = iota + 1
	eventComplete
)

// handleEvent delivers an event to the subscribers: complete or a final error ends the series; a passing
// error is reported once per streak of failures.
func (s *series) handleEvent(ev event) {
	switch {
	case ev.kind == eventComplete:
		s.end(func(*subscription) (string, body) { return typeComplete, body{} })
	case ev.final:
		s.end(func(sub *subscription) (string, body) {
			return typeError, errorBody(sub.conn.format, ev.status, ev.detail, true)
		})
	default:
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.failing {
			for sub := range s.subs {
				sub.conn.enqueueControl(typeError, sub.id, true, errorBody(sub.conn.format, ev.status, ev.detail, false))
			}
		}
		s.failing = true
	}
}

// end sends every subscriber its last message (complete, or a final error) and removes the series
// from the hub, so a later subscribe with the same parameters starts a new one.
func (s *series) end(last func(sub *subscription) (string, body)) {
	s.mu.Lock()
	for sub := range s.subs {
		typ, b := last(sub)
		sub.conn.endSubscription(sub, typ, b)
	}
	s.subs = map[*subscription]struct{}{}
	s.closed = true
	s.mu.Unlock()
	s.hub.detach(s) // after unlocking: the hub's lock is always taken before a series' lock
}

// publish moves the series to doc for the window [beginMs, endMs]: a snapshot when it is the first, or
// when an append could not carry the change cheaply; else an append, unless nothing changed. The
// update goes to every subscriber here and, through the broker, to the other instances.
//
// final: the last update of an absolute window; it is sent even when no point changed, so the client's last
// message names the whole window.
func (s *series) publish(ctx context.Context, doc *curve.Doc, beginMs, endMs int64, final bool) {
	s.mu.Lock()
	s.failing = false
	u := s.next(doc, beginMs, endMs, s.hub.cfg.Now(), final)
	if u != nil {
		s.commit(u, doc)
	}
	s.mu.Unlock()
	if u != nil {
		s.hub.broker.publish(ctx, s, u, doc)
	}
}

// commit makes u, which brings the series to doc, the series' state and sends it to every subscriber;
// those still waiting for their first message are greeted. Called with mu held.
func (s *series) commit(u *update, doc *curve.Doc) {
	if u.epoch != s.epoch {
		s.history = nil
	}
	s.epoch, s.offset, s.doc, s.beginMs, s.endMs = u.epoch, u.offset, doc, u.beginMs, u.endMs
	s.history = append(s.history, u)
	if u.snapshot {
		s.snap = u
	}
	s.trimHistory(s.hub.cfg.Now())
	for sub := range s.subs {
		if !sub.started {
			s.greet(sub)
			continue
		}
		sub.conn.enqueueUpdate(sub, u)
	}
	// What greetings no longer use: the snapshot once it is too old (its curve and encoding), and
	// the encoding of the update that left the catch-up range.
	if s.snap != nil && s.offset-s.snap.offset > greetCatchUp {
		s.snap = nil
	}
	if n := len(s.history); n > greetCatchUp+1 {
		s.history[n-greetCatchUp-2].forget()
	}
}

// next is the update that brings subscribers from the current state to doc, or nil for none.
func (s *series) next(doc *curve.Doc, beginMs, endMs int64, now time.Time, final bool) *update {
	u := &update{epoch: s.epoch, offset: s.offset + 1, beginMs: beginMs, endMs: endMs, at: now}
	if s.doc == nil || !sameShape(s.doc, doc) || doc.Empty {
		if s.doc != nil && doc.Empty && s.doc.Empty && !(final && (beginMs != s.beginMs || endMs != s.endMs)) {
			return nil
		}
		u.snapshot, u.doc = true, doc
		return u
	}
	d, changed := diff(s.doc, doc)
	if !changed && !(final && (beginMs != s.beginMs || endMs != s.endMs)) {
		return nil
	}
	// An append is only worth it when it is small: after a change of bin width nearly every point
	// changes, and a snapshot says so plainly.
	if n := d.add.Len(); n > 10 && 2*n > doc.Len() {
		u.snapshot, u.doc = true, doc
		return u
	}
	u.delta = d
	return u
}

// trimHistory drops updates older than History, and a snapshot that would come first: it holds a
// whole curve, and the one resume it serves (from the offset just before it) is answered as well by a
// snapshot of the current state (the first snapshot of an epoch serves none: offsets start at it).
// Called with mu held.
func (s *series) trimHistory(now time.Time) {
	cut := 0
	for cut < len(s.history)-1 && now.Sub(s.history[cut].at) > s.hub.cfg.History {
		cut++
	}
	for cut < len(s.history) && s.history[cut].snapshot {
		cut++
	}
	if cut > 0 {
		s.history = append(s.history[:0:0], s.history[cut:]...)
	}
}
