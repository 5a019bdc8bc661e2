package stream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// statusSlowConsumer closes a connection whose writes block longer than WriteTimeout.
const statusSlowConsumer websocket.StatusCode = 4000

// maxFrameBytes is the largest client frame read at all: beyond it the library closes the connection.
// Frames between maxClientMessage and this are read, dropped and answered with an error.
const maxFrameBytes = 1 << 20

// subscription is one id on one connection, attached to a series.
type subscription struct {
	id     string
	conn   *conn
	series *series // set by series.add

	started bool         // guarded by series.mu: its first message (snapshot or resumed) is queued
	resume  *resumePoint // guarded by series.mu: the resume to answer when the series gets its curve

	behind bool // guarded by conn.qmu: appends were dropped; a fresh snapshot is due
	ended  bool // guarded by conn.qmu: no message may follow its last
}

// outItem is one queued message.
type outItem struct {
	typ    string
	id     string
	hasID  bool
	body   body
	sub    *subscription // for appends: conflated when the queue overflows
	append bool
	size   int
}

// conn is one WebSocket: a reader (this goroutine) that handles client messages, and a writer that
// owns the socket's writes and drains a byte-bounded queue (STYLE: centrifuge's writer).
type conn struct {
	hub    *Hub
	ws     *websocket.Conn
	batch  *frameBatcher // under ws's writes: the writer gathers a drained queue into one socket write
	format format
	log    *slog.Logger

	subs map[string]*subscription // the reader's only

	qmu     sync.Mutex
	queue   []outItem
	qbytes  int
	behind  []*subscription // waiting for a fresh snapshot, oldest first
	closed  bool
	writing bool // a writer goroutine is draining the queue

	// writers counts writer goroutines; heartbeat sends a heartbeat after Heartbeat without a write. An
	// idle connection has no writer goroutine at all, only its reader: it costs a few KiB.
	writers   sync.WaitGroup
	heartbeat *time.Timer
	head      []byte // the writer's buffer for a message's type and id
}

func newConn(h *Hub, ws *websocket.Conn, batch *frameBatcher) *conn {
	c := &conn{hub: h, ws: ws, batch: batch, log: h.log, subs: map[string]*subscription{}}
	if ws.Subprotocol() == subprotocolMsgpack {
		c.format = formatMsgpack
	}
	return c
}

// start arms the heartbeat; stop ends the writing side and waits for its goroutine.
func (c *conn) start() {
	c.heartbeat = time.AfterFunc(c.hub.cfg.Heartbeat, func() {
		c.enqueueControl(typeHeartbeat, "", false, heartbeatBody(c.format, c.hub.cfg.Now().UnixMilli()))
	})
}

// signal starts a writer goroutine when none runs. Called with qmu held, after a push.
func (c *conn) signal() {
	if c.writing || c.closed {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.drain()
}

// push queues it. Called with qmu held.
func (c *conn) push(it outItem) {
	c.queue = append(c.queue, it)
	c.qbytes += it.size
}

// enqueueUpdate queues a series update for sub. When the queue is full, every subscription with appends
// waiting falls behind: its appends are dropped and it gets one fresh snapshot once there is room again.
// Called with the series' lock held; never blocks.
func (c *conn) enqueueUpdate(sub *subscription, u *update) {
	b := u.body(c.format)
	it := outItem{typ: u.typ(), id: sub.id, hasID: true, body: b, sub: sub, append: !u.snapshot, size: len(b.b) + 64}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed || sub.ended || sub.behind {
		return
	}
	if c.qbytes+it.size > c.hub.cfg.SendQueueBytes && len(c.queue) > 0 {
		c.overflow(sub)
		return
	}
	c.push(it)
	c.signal()
}

// overflow marks sub and every subscription with appends in the queue as behind, and drops those
// appends. Called with qmu held.
func (c *conn) overflow(sub *subscription) {
	markBehind := func(s *subscription) {
		if !s.behind {
			s.behind = true
			c.behind = append(c.behind, s) // in queue order: the longest waiting gets its snapshot first
		}
	}
	kept := c.queue[:0]
	for _, it := range c.queue {
		if it.append && it.sub != nil {
			markBehind(it.sub)
			c.qbytes -= it.size
			continue
		}
		kept = append(kept, it)
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	markBehind(sub)
}

// enqueueSnapshot queues a snapshot for sub whatever the queue holds (it is what conflation produces).
// Called with the series' lock held.
func (c *conn) enqueueSnapshot(sub *subscription, u *update) {
	b := u.body(c.format)
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed || sub.ended {
		return
	}
	sub.behind = false
	c.push(outItem{typ: typeSnapshot, id: sub.id, hasID: true, body: b, sub: sub, size: len(b.b) + 64})
	c.signal()
}

// enqueueControl queues a small message that is not an update. A client that keeps asking (pings)
// without reading is cut off once such messages fill twice the queue's bound.
func (c *conn) enqueueControl(typ, id string, hasID bool, b body) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed {
		return
	}
	if c.qbytes > 2*c.hub.cfg.SendQueueBytes {
		c.closed = true
		c.hub.metrics.slowCloses.Inc()
		go c.ws.Close(statusSlowConsumer, "slow consumer")
		return
	}
	c.push(outItem{typ: typ, id: id, hasID: hasID, body: b, size: len(b.b) + 64})
	c.signal()
}

// endSubscription queues sub's last message; nothing for it follows.
func (c *conn) endSubscription(sub *subscription, typ string, b body) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed || sub.ended {
		return
	}
	sub.ended = true
	c.push(outItem{typ: typ, id: sub.id, hasID: true, body: b, size: len(b.b) + 64})
	c.signal()
}

// next returns the next message to write, or a subscription due for a fresh snapshot; ok false and no
// resnap when there is nothing: the writer then stops (under the same lock, so a push after this starts
// a new one).
func (c *conn) next() (it outItem, resnap *subscription, ok bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed {
		c.writing = false
		return outItem{}, nil, false
	}
	if len(c.behind) > 0 && c.qbytes <= c.hub.cfg.SendQueueBytes/2 {
		resnap, c.behind = c.behind[0], c.behind[1:]
		return outItem{}, resnap, false
	}
	if len(c.queue) == 0 {
		c.writing = false
		return outItem{}, nil, false
	}
	it = c.queue[0]
	c.queue[0] = outItem{}
	c.queue = c.queue[1:]
	c.qbytes -= it.size
	return it, nil, true
}

// drain writes queued messages until the queue is empty or a write fails. The messages it takes one
// after another are gathered and written in one system call (frameBatcher) before the writer waits
// for anything (a fresh snapshot's series lock) or stops.
func (c *conn) drain() {
	defer c.writers.Done()
	msgType := websocket.MessageText
	if c.format == formatMsgpack {
		msgType = websocket.MessageBinary
	}
	gathered := false
	for {
		it, resnap, ok := c.next()
		if gathered && (resnap != nil || !ok) {
			gathered = false
			if err := c.batch.end(); err != nil {
				c.writeFailed(err)
				return
			}
			c.heartbeat.Reset(c.hub.cfg.Heartbeat)
		}
		switch {
		case resnap != nil:
			if s := resnap.series; s != nil {
				s.resnapshot(resnap)
			}
			continue
		case !ok:
			return
		}
		// The head (type and id) is this connection's; the body is shared by every subscriber and is
		// written as it is, never copied per connection.
		c.head = frameHead(c.head[:0], c.format, it.typ, it.id, it.hasID, it.body)
		c.batch.hold()
		n, err := c.write(msgType, c.head, it.body.b, c.format == formatJSON)
		c.batch.release()
		if err != nil {
			return
		}
		gathered = true
		c.hub.metrics.messages.Inc()
		c.hub.metrics.bytes.Add(float64(n))
	}
}

// writeFailed ends the connection after a failed write. A write that took longer than WriteTimeout
// (the socket's deadline) is a slow consumer's.
func (c *conn) writeFailed(err error) {
	c.qmu.Lock()
	c.closed, c.writing = true, false
	c.qmu.Unlock()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.hub.metrics.slowCloses.Inc()
		c.log.Info("stream: closing a slow consumer", slog.Duration("write_timeout", c.hub.cfg.WriteTimeout),
			slog.String("error", err.Error()))
	}
	// The reader sees it and ends the connection. No close frame: a write that timed out may have
	// left part of a frame on the socket.
	_ = c.ws.CloseNow()
}

// write sends one message, head then body (then the closing brace of a JSON object), and returns the
// bytes written. Inside a batch the library only gathers the bytes, unless the batch is full: every
// socket write has a deadline of at least WriteTimeout (frameBatcher.write), and a write past it
// closes the client as a slow consumer. No context deadline per message: its timer cost ~10 % of the
// server's CPU at 2 000 connections and bounded nothing that the socket's deadline does not. A
// connection that ends meanwhile is closed under it (CloseNow), which fails the write at once.
func (c *conn) write(typ websocket.MessageType, head, body []byte, closeBrace bool) (int, error) {
	n, err := c.writeMessage(context.Background(), typ, head, body, closeBrace)
	if err != nil {
		c.writeFailed(err)
	}
	return n, err
}

func (c *conn) writeMessage(ctx context.Context, typ websocket.MessageType, head, body []byte, closeBrace bool) (int, error) {
	if len(body) < 4096 {
		// Small messages (appends, control) go out as one frame from one buffer.
		msg := append(head, body...)
		if closeBrace {
			msg = append(msg, '}')
		}
		return len(msg), c.ws.Write(ctx, typ, msg)
	}
	w, err := c.ws.Writer(ctx, typ)
	if err != nil {
		return 0, err
	}
	n := len(head) + len(body)
	if _, err := w.Write(head); err != nil {
		return 0, err
	}
	if _, err := w.Write(body); err != nil {
		return 0, err
	}
	if closeBrace {
		n++
		if _, err := w.Write([]byte{'}'}); err != nil {
			return 0, err
		}
	}
	return n, w.Close()
}

// readLoop handles client messages until the connection ends.
func (c *conn) readLoop(ctx context.Context) {
	c.ws.SetReadLimit(maxFrameBytes)
	for {
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			return
		}
		// Read per message, no buffer kept per connection: most connections send a few small messages
		// in their life, and an idle one should cost as little as possible.
		data, err := io.ReadAll(io.LimitReader(r, maxClientMessage+1))
		if err != nil {
			return
		}
		if len(data) > maxClientMessage {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
			c.refuse(badMessage("message larger than " + strconv.Itoa(maxClientMessage) + " bytes"))
			continue
		}
		c.handle(ctx, typ, data)
	}
}

func (c *conn) refuse(e *protocolError) {
	c.enqueueControl(typeError, e.id, e.hasID, errorBody(c.format, e.status, e.detail, true))
}

// handle decodes and acts on one client message.
func (c *conn) handle(ctx context.Context, typ websocket.MessageType, data []byte) {
	switch {
	case c.format == formatJSON && typ != websocket.MessageText:
		c.refuse(badMessage("binary frame on a JSON connection: send JSON text frames, or offer the subprotocol " + subprotocolMsgpack))
		return
	case c.format == formatMsgpack && typ != websocket.MessageBinary:
		c.refuse(badMessage("text frame on a MessagePack connection: send MessagePack binary frames"))
		return
	case c.format == formatMsgpack:
		js, err := decodeMsgpackMessage(data)
		if err != nil {
			c.refuse(badMessage("message is not a MessagePack map"))
			return
		}
		data = js
	}
	m, perr := parseClientMessage(data)
	if perr != nil {
		c.refuse(perr)
		return
	}
	switch m.typ {
	case typePing:
		c.enqueueControl(typePong, "", false, pongBody(c.format, m.data, m.hasData))
	case typeUnsubscribe:
		c.unsubscribe(m.id)
	case typeSubscribe:
		c.subscribe(m)
	}
}

// active returns the subscription with id that has not ended, forgetting ended ones.
func (c *conn) active(id string) *subscription {
	sub, ok := c.subs[id]
	if !ok {
		return nil
	}
	c.qmu.Lock()
	ended := sub.ended
	c.qmu.Unlock()
	if ended {
		delete(c.subs, id)
		c.hub.metrics.subscriptions.Dec()
		return nil
	}
	return sub
}

func (c *conn) subscribe(m clientMessage) {
	if c.active(m.id) != nil {
		c.enqueueControl(typeError, m.id, true, errorBody(c.format, 409, "a subscription with this id is active", false))
		return
	}
	if len(c.subs) >= c.hub.cfg.MaxSubscriptions {
		for id := range c.subs {
			c.active(id) // drop ended ones before counting
		}
		if len(c.subs) >= c.hub.cfg.MaxSubscriptions {
			c.enqueueControl(typeError, m.id, true, errorBody(c.format, 429,
				"too many subscriptions on this connection (at most "+strconv.Itoa(c.hub.cfg.MaxSubscriptions)+")", true))
			return
		}
	}
	sub := &subscription{id: m.id, conn: c}
	c.subs[m.id] = sub
	c.hub.metrics.subscriptions.Inc()
	c.hub.attach(sub, m.params, m.resume)
}

func (c *conn) unsubscribe(id string) {
	if sub := c.active(id); sub != nil {
		c.detach(sub)
		delete(c.subs, id)
	}
	c.enqueueControl(typeUnsubscribed, id, true, body{})
}

// detach removes sub from its series; no message for it is queued after.
func (c *conn) detach(sub *subscription) {
	if s := sub.series; s != nil {
		s.remove(sub)
	}
	c.qmu.Lock()
	sub.ended = true
	c.qmu.Unlock()
	c.hub.metrics.subscriptions.Dec()
}

// close stops the writing side, detaches every subscription and drops the queue. Called once the
// reader ended.
func (c *conn) close() {
	c.heartbeat.Stop()
	c.qmu.Lock()
	c.closed = true
	c.qmu.Unlock()
	_ = c.ws.CloseNow() // a writer blocked in a write returns at once
	c.writers.Wait()
	for _, sub := range c.subs {
		c.detach(sub)
	}
	c.subs = nil
	c.qmu.Lock()
	c.closed = true
	c.queue, c.behind, c.qbytes = nil, nil, 0
	c.qmu.Unlock()
}
