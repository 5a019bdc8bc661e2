package stream

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/databoard/databoard/daqbuf/curve"
)

// redisBroker shares series streams between instances through Redis (docs/streaming.md, "Scale-out"):
//
//	<prefix>{stream}:lease:<series>  the poller lease: the holder's token, PX LeaseTTL, renewed at a third
//	<prefix>{stream}:log:<series>    a Redis Stream of the series' updates and events, capped at about
//	                                 STREAM_HISTORY of updates: the fan-out to every instance (XREAD) and
//	                                 the history any instance resumes from (XRANGE)
//	<prefix>{stream}:state:<series>  the latest curve, epoch and offset, for an instance that joins
//
// All keys share one hash tag, so one XREAD reads every followed log on a Cluster too.
type redisBroker struct {
	h       *Hub
	client  redis.UniversalClient
	prefix  string
	ttl     time.Duration
	token   string
	renew   *redis.Script
	release *redis.Script
	maxLen  int64
	keep    time.Duration // lifetime of a log or state nobody writes to any more

	mu      sync.Mutex
	follows map[*series]*following
	running bool
	wake    chan struct{}
}

// following is one series this instance takes part in.
type following struct {
	id     string
	ready  bool        // loaded: the log is read from lastID on (guarded by the broker's mu)
	lastID string      // the last log entry delivered
	held   atomic.Bool // this instance holds the poller lease
	stop   context.CancelFunc
}

const (
	renewScript   = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`
	releaseScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`
)

// redisTimeout bounds one Redis call of the broker.
const redisTimeout = 2 * time.Second

func newRedisBroker(h *Hub, client redis.UniversalClient, prefix string, ttl time.Duration) *redisBroker {
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	// The log keeps about STREAM_HISTORY of updates at the fastest poll period, and at least 100.
	maxLen := max(int64(h.cfg.History/h.cfg.PollMin)+10, 100)
	return &redisBroker{h: h, client: client, prefix: prefix + "{stream}:", ttl: ttl,
		token: hex.EncodeToString(tok[:]), renew: redis.NewScript(renewScript), release: redis.NewScript(releaseScript),
		maxLen: maxLen, keep: h.cfg.History + h.cfg.Linger, follows: map[*series]*following{},
		wake: make(chan struct{}, 1)}
}

// seriesID names a series in Redis: a digest of its parameters.
func seriesID(p Params) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%q\x00%q\x00%d\x00%d\x00%d\x00%t\x00%d\x00%t\x00%t\x00%d",
		p.ChannelName, p.Backend, p.WindowMs, p.BeginMs, p.EndMs, p.HasEnd, p.NumBins, p.RawIfSparse, p.RemoveEmpty, p.IsString))
	return hex.EncodeToString(sum[:16])
}

func (b *redisBroker) key(kind, id string) string { return b.prefix + kind + ":" + id }

// wireEntry is one log entry: an update or an event.
type wireEntry struct {
	Event      bool
	Epoch      string
	Offset     int64
	Snapshot   bool
	Begin, End int64
	AtMs       int64
	Doc        *curve.Doc // snapshot
	Trim       int64      // append
	Replace    int64
	HasReplace bool
	Add        *curve.Doc
	EventKind  uint8 // event
	Status     int
	Detail     string
	Final      bool
}

// wireState is the latest state of a series.
type wireState struct {
	Epoch      string
	Offset     int64
	Begin, End int64
	Doc        *curve.Doc
}

func encodeWire(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseArrayEncodedStructs(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeWire(b []byte, v any) error { return msgpack.Unmarshal(b, v) }

func (e *wireEntry) update() *update {
	u := &update{epoch: e.Epoch, offset: e.Offset, snapshot: e.Snapshot, beginMs: e.Begin, endMs: e.End,
		at: time.UnixMilli(e.AtMs), doc: e.Doc}
	if !e.Snapshot {
		u.delta = delta{trimBefore: e.Trim, replaceFrom: e.Replace, hasReplace: e.HasReplace, add: e.Add}
	}
	return u
}

func (b *redisBroker) checkEvery() time.Duration { return b.ttl / 3 }

// join loads the series' shared state and the log since, and starts following the log.
func (b *redisBroker) join(ctx context.Context, s *series) {
	f := &following{id: seriesID(s.params), lastID: "0-0"}
	b.mu.Lock()
	b.follows[s] = f
	if !b.running {
		b.running = true
		b.h.wg.Add(1)
		go func() { defer b.h.wg.Done(); b.followLoop(b.h.life) }()
	}
	b.mu.Unlock()
	if err := b.load(ctx, s, f); err != nil {
		b.h.log.Warn("stream: could not load a series' shared state; starting afresh", slog.String("error", err.Error()))
		b.setLastID(f, "$") // from now on; a gap is repaired from the state
	}
	// Only now is the log followed: entries before the loaded state must not reach s first.
	b.mu.Lock()
	f.ready = true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// load reads the state, then the log (entries written after the state was read are in it too), and
// brings s to the newest of them.
func (b *redisBroker) load(ctx context.Context, s *series, f *following) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	raw, err := b.client.Get(ctx, b.key("state", f.id)).Bytes()
	if errors.Is(err, redis.Nil) {
		raw, err = nil, nil
	}
	if err != nil {
		return err
	}
	msgs, err := b.client.XRange(ctx, b.key("log", f.id), "-", "+").Result()
	if err != nil {
		return err
	}
	var st wireState
	if raw != nil {
		if err := decodeWire(raw, &st); err != nil {
			return err
		}
	}
	entries := make([]wireEntry, 0, len(msgs))
	for _, m := range msgs {
		if e, ok := decodeMessage(m); ok {
			entries = append(entries, e)
		}
	}
	if len(msgs) > 0 {
		b.setLastID(f, msgs[len(msgs)-1].ID)
	}
	if raw != nil && st.Doc != nil {
		s.adopt(st, entries)
	}
	for i := range entries {
		if e := &entries[i]; !e.Event && e.Epoch == st.Epoch && e.Offset > st.Offset {
			b.apply(s, e)
		}
	}
	return nil
}

func decodeMessage(m redis.XMessage) (wireEntry, bool) {
	v, ok := m.Values["u"].(string)
	if !ok {
		return wireEntry{}, false
	}
	var e wireEntry
	if err := decodeWire([]byte(v), &e); err != nil {
		return wireEntry{}, false
	}
	return e, true
}

func (b *redisBroker) setLastID(f *following, id string) {
	b.mu.Lock()
	f.lastID = id
	b.mu.Unlock()
}

// leave stops following s and gives its lease up.
func (b *redisBroker) leave(s *series) {
	b.mu.Lock()
	f := b.follows[s]
	delete(b.follows, s)
	b.mu.Unlock()
	if f == nil {
		return
	}
	if f.stop != nil {
		f.stop()
	}
	if f.held.Swap(false) {
		b.h.metrics.leases.Dec()
		ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
		defer cancel()
		_ = b.release.Run(ctx, b.client, []string{b.key("lease", f.id)}, b.token).Err()
	}
}

func (b *redisBroker) get(s *series) *following {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.follows[s]
}

// lead takes the lease when it is free; a holder renews it in the background. When Redis cannot be
// reached this instance polls on its own (the stream keeps working, uncoordinated).
func (b *redisBroker) lead(ctx context.Context, s *series) bool {
	f := b.get(s)
	if f == nil || f.held.Load() {
		return true
	}
	cctx, cancel := context.WithTimeout(ctx, redisTimeout)
	got, err := b.client.SetNX(cctx, b.key("lease", f.id), b.token, b.ttl).Result()
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			b.h.log.Debug("stream: Redis unavailable, polling in process", slog.String("error", err.Error()))
		}
		return true
	}
	if !got {
		return false
	}
	f.held.Store(true)
	b.h.metrics.leases.Inc()
	rctx, stop := context.WithCancel(ctx)
	b.mu.Lock()
	f.stop = stop
	b.mu.Unlock()
	b.h.wg.Add(1)
	go func() { defer b.h.wg.Done(); b.keepLease(rctx, f) }()
	// The previous holder's last updates may not have reached this instance yet: read them before
	// polling, so the epoch and offsets go on where it stopped.
	if err := b.catchUp(ctx, s, f); err != nil {
		b.h.log.Debug("stream: catching up with the log", slog.String("error", err.Error()))
	}
	return true
}

// keepLease renews a held lease at a third of its lifetime until ctx ends or the lease is lost.
func (b *redisBroker) keepLease(ctx context.Context, f *following) {
	t := time.NewTicker(b.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, redisTimeout)
		n, err := b.renew.Run(cctx, b.client, []string{b.key("lease", f.id)}, b.token, b.ttl.Milliseconds()).Int64()
		cancel()
		if err == nil && n == 0 && f.held.Swap(false) {
			b.h.metrics.leases.Dec()
			return // another instance holds it now
		}
	}
}

func (b *redisBroker) catchUp(ctx context.Context, s *series, f *following) error {
	b.mu.Lock()
	from := f.lastID
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	msgs, err := b.client.XRange(ctx, b.key("log", f.id), "("+from, "+").Result()
	if err != nil {
		return err
	}
	b.deliver(s, f, msgs)
	return nil
}

// publish appends u to the series' log and stores the state it leads to.
func (b *redisBroker) publish(ctx context.Context, s *series, u *update, doc *curve.Doc) {
	f := b.get(s)
	if f == nil || !f.held.Load() {
		return
	}
	e := wireEntry{Epoch: u.epoch, Offset: u.offset, Snapshot: u.snapshot, Begin: u.beginMs, End: u.endMs,
		AtMs: u.at.UnixMilli(), Doc: u.doc}
	if !u.snapshot {
		e.Trim, e.Replace, e.HasReplace, e.Add = u.delta.trimBefore, u.delta.replaceFrom, u.delta.hasReplace, u.delta.add
	}
	st := wireState{Epoch: u.epoch, Offset: u.offset, Begin: u.beginMs, End: u.endMs, Doc: doc}
	b.write(ctx, f, &e, &st)
}

func (b *redisBroker) publishEvent(s *series, ev event) {
	f := b.get(s)
	if f == nil || !f.held.Load() {
		return
	}
	e := wireEntry{Event: true, EventKind: ev.kind, Status: ev.status, Detail: ev.detail, Final: ev.final,
		AtMs: b.h.cfg.Now().UnixMilli()}
	b.write(b.h.life, f, &e, nil)
}

func (b *redisBroker) write(ctx context.Context, f *following, e *wireEntry, st *wireState) {
	entry, err := encodeWire(e)
	if err != nil {
		b.h.log.Error("stream: encoding an update", slog.String("error", err.Error()))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	logKey := b.key("log", f.id)
	_, err = b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: logKey, MaxLen: b.maxLen, Approx: true, Values: []any{"u", entry}})
		p.PExpire(ctx, logKey, b.keep)
		if st != nil {
			if state, err := encodeWire(st); err == nil {
				p.Set(ctx, b.key("state", f.id), state, b.keep)
			}
		}
		return nil
	})
	if err != nil {
		b.h.log.Debug("stream: publishing an update", slog.String("error", err.Error()))
	}
}

// followLoop reads the logs of every followed series and delivers what other instances wrote.
func (b *redisBroker) followLoop(ctx context.Context) {
	for ctx.Err() == nil {
		streams, bySeries := b.followed()
		if len(streams) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-b.wake:
			}
			continue
		}
		res, err := b.client.XRead(ctx, &redis.XReadArgs{Streams: streams, Block: time.Second, Count: 512}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		for _, st := range res {
			for _, sf := range bySeries[st.Stream] {
				b.deliver(sf.s, sf.f, st.Messages)
			}
		}
	}
}

type seriesFollow struct {
	s *series
	f *following
}

// followed lists the XREAD arguments (keys, then ids) and the series behind each key.
func (b *redisBroker) followed() ([]string, map[string][]seriesFollow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	by := map[string][]seriesFollow{}
	var keys, ids []string
	for s, f := range b.follows {
		if !f.ready {
			continue
		}
		k := b.key("log", f.id)
		if _, ok := by[k]; !ok {
			keys, ids = append(keys, k), append(ids, f.lastID)
		}
		by[k] = append(by[k], seriesFollow{s, f})
	}
	return append(keys, ids...), by
}

func (b *redisBroker) deliver(s *series, f *following, msgs []redis.XMessage) {
	for _, m := range msgs {
		b.setLastID(f, m.ID)
		e, ok := decodeMessage(m)
		if !ok {
			continue
		}
		if e.Event {
			if !f.held.Load() { // the holder handled its own events
				s.handleEvent(event{kind: e.EventKind, status: e.Status, detail: e.Detail, final: e.Final})
			}
			continue
		}
		b.apply(s, &e)
	}
}

// apply brings s to a logged update; after a gap (entries trimmed, or missed while Redis was away) it
// reloads the shared state instead.
func (b *redisBroker) apply(s *series, e *wireEntry) {
	if s.applyRemote(e) {
		return
	}
	f := b.get(s)
	if f == nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.h.life, redisTimeout)
	defer cancel()
	raw, err := b.client.Get(ctx, b.key("state", f.id)).Bytes()
	var st wireState
	if err != nil || decodeWire(raw, &st) != nil || st.Doc == nil {
		return
	}
	s.resync(st)
}

// adopt gives a series that has no curve yet the shared state and the history of its epoch.
func (s *series) adopt(st wireState, entries []wireEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doc != nil {
		return
	}
	s.history = s.history[:0]
	for i := range entries {
		if e := &entries[i]; !e.Event && e.Epoch == st.Epoch && e.Offset <= st.Offset {
			if n := len(s.history); n > 0 && s.history[n-1].offset+1 != e.Offset {
				s.history = s.history[:0] // only consecutive offsets make a history
			}
			s.history = append(s.history, e.update())
		}
	}
	if n := len(s.history); n == 0 || s.history[n-1].offset != st.Offset {
		s.history = nil
	}
	s.trimHistory(s.hub.cfg.Now())
	s.epoch, s.offset, s.doc, s.beginMs, s.endMs = st.Epoch, st.Offset, st.Doc, st.Begin, st.End
	for sub := range s.subs {
		if !sub.started {
			s.greet(sub)
		}
	}
}

// applyRemote applies an update another instance logged. It returns false when the update does not
// follow on from this instance's state (a gap): the caller resyncs.
func (s *series) applyRemote(e *wireEntry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return true
	case e.Epoch == s.epoch && e.Offset <= s.offset && s.doc != nil:
		return true // this instance's own, or one it has
	case e.Snapshot:
		s.failing = false
		s.commit(e.update(), e.Doc)
		return true
	case e.Epoch == s.epoch && e.Offset == s.offset+1 && s.doc != nil:
		u := e.update()
		s.failing = false
		s.commit(u, apply(s.doc, u.delta))
		return true
	}
	return false
}

// resync moves s to the shared state as a snapshot (its history restarts there).
func (s *series) resync(st wireState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || (st.Epoch == s.epoch && st.Offset <= s.offset) {
		return
	}
	s.history = nil
	u := &update{epoch: st.Epoch, offset: st.Offset, snapshot: true, beginMs: st.Begin, endMs: st.End,
		doc: st.Doc, at: s.hub.cfg.Now()}
	s.commit(u, st.Doc)
}
