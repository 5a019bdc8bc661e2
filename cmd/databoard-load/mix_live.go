package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// liveConn is a live user's one /stream connection (docs/streaming.md): a subscription per plot and channel of
// the open dashboard, a rolling window of Window with the frontend's flags, every message read and counted.
type liveConn struct {
	ws     *websocket.Conn
	done   chan struct{} // closed when the reader has returned
	closed atomic.Bool   // closed by the user, so a read error is not a drop

	mu      sync.Mutex
	pending map[string]time.Time // subscribe sent, waiting for its first snapshot or error
	active  []string             // subscribed ids
	since   time.Time            // when the active set was last changed
}

// streamURL is the /stream of databoard's base URL.
func streamURL(base string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/stream"
}

// subscribeAll subscribes to every plot and channel of the open dashboard, dialling first if needed.
func (u *user) subscribeAll(ctx, stopCtx context.Context) {
	if stopCtx.Err() != nil {
		return
	}
	if u.conn == nil && !u.dial(ctx) {
		return
	}
	c := u.conn
	now := time.Now()
	c.mu.Lock()
	u.m.stats.subscribed(len(c.active), c.since, now)
	c.active, c.since = c.active[:0], now
	c.mu.Unlock()
	u.eachCurve(func(p int, ch channelObj) {
		id := "p" + strconv.Itoa(p) + "/" + ch.Name
		msg, _ := json.Marshal(map[string]any{
			"type": "subscribe", "id": id, "channel_name": ch.Name, "backend": ch.Backend,
			"window_ms": u.m.cfg.Window.Milliseconds(), "num_bins": u.width,
			"useEventsIfBinCountTooLarge": true, "removeEmptyBins": true,
		})
		sent, ok := u.m.stats.admit(stopCtx)
		if !ok {
			return
		}
		c.mu.Lock()
		c.pending[id] = sent
		c.active = append(c.active, id)
		c.mu.Unlock()
		u.write(ctx, msg)
	})
}

// unsubscribeAll ends every subscription, keeping the connection.
func (u *user) unsubscribeAll(ctx context.Context) {
	c := u.conn
	if c == nil {
		return
	}
	now := time.Now()
	c.mu.Lock()
	u.m.stats.subscribed(len(c.active), c.since, now)
	ids := c.active
	c.active, c.since = nil, now
	c.mu.Unlock()
	for _, id := range ids {
		msg, _ := json.Marshal(map[string]string{"type": "unsubscribe", "id": id})
		u.write(ctx, msg)
	}
}

// closeLive closes the connection; subscription time counts up to now().
func (u *user) closeLive(now func() time.Time) {
	c := u.conn
	if c == nil {
		return
	}
	u.conn = nil
	c.closed.Store(true)
	c.mu.Lock()
	u.m.stats.subscribed(len(c.active), c.since, now())
	c.active = nil
	c.mu.Unlock()
	_ = c.ws.CloseNow()
	<-c.done
}

func (u *user) dial(ctx context.Context) bool {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, streamURL(u.m.cfg.URL), &websocket.DialOptions{HTTPClient: u.m.ws})
	if err != nil {
		if u.m.stats.win.contains(time.Now()) {
			u.m.stats.streamDialErrors.Add(1)
		}
		return false
	}
	ws.SetReadLimit(64 << 20)
	u.conn = &liveConn{ws: ws, done: make(chan struct{}), pending: map[string]time.Time{}, since: time.Now()}
	go u.read(ctx, u.conn)
	return true
}

func (u *user) write(ctx context.Context, msg []byte) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = u.conn.ws.Write(wctx, websocket.MessageText, msg) // a failed write shows as the reader's drop
}

// liveMessage is the part of a server message the mix reads (the stream mode decodes them in full).
type liveMessage struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Final  bool   `json:"final"`
}

// read counts every message of c until the connection ends; the first snapshot or error after a subscribe
// ends that subscribe's wait.
func (u *user) read(ctx context.Context, c *liveConn) {
	defer close(c.done)
	stats := u.m.stats
	for {
		_, b, err := c.ws.Read(ctx)
		now := time.Now()
		if err != nil {
			if !c.closed.Load() && ctx.Err() == nil && stats.win.contains(now) {
				stats.streamDropped.Add(1)
			}
			return
		}
		var msg liveMessage
		if json.Unmarshal(b, &msg) != nil {
			msg.Type = "undecodable"
		}
		stats.streamMessage(msg.Type, len(b), now)
		if msg.Type == "error" {
			stats.streamError(msg.Status, msg.Detail, msg.Final, now)
		}
		if msg.Type != "snapshot" && (msg.Type != "error" || !msg.Final) {
			continue
		}
		c.mu.Lock()
		sent, ok := c.pending[msg.ID]
		delete(c.pending, msg.ID)
		c.mu.Unlock()
		if !ok {
			continue
		}
		o := outcome{status: http.StatusOK, bytes: int64(len(b))}
		if msg.Type == "error" {
			o.status, o.detail = msg.Status, msg.Detail
		}
		stats.record(kindSubscribe, sent, now.Sub(sent), http.StatusOK, o)
	}
}
