package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// Bad client messages get the error message the protocol names; the connection stays up and the
// subscription that exists goes on.
func TestStreamBadInput(t *testing.T) {
	e := newTestEnv(t, withConfig(func(c *Config) { c.MaxSubscriptions = 2 }))
	c := e.dial(t)
	c.send(subscribeMsg("ok", "SIM-F64:SINE", map[string]any{"window_ms": 60_000}))
	c.readUntil(func(m message) bool { return m.str("type") == typeSnapshot })

	tests := []struct {
		name       string
		typ        websocket.MessageType
		msg        string
		wantStatus int64
		wantID     string
		wantFinal  bool
		wantDetail string
	}{
		{"malformed JSON", websocket.MessageText, `{"type":`, 400, "", true, "not a JSON object"},
		{"not an object", websocket.MessageText, `[1,2]`, 400, "", true, "not a JSON object"},
		{"unknown type", websocket.MessageText, `{"type":"subscribe2","id":"x"}`, 400, "x", true, "unknown message type"},
		{"missing type", websocket.MessageText, `{"id":"x"}`, 400, "x", true, "type is required"},
		{"missing id", websocket.MessageText, `{"type":"subscribe","channel_name":"SIM-F64:SINE","window_ms":1000}`, 400, "", true, "id is required"},
		{"id too long", websocket.MessageText, `{"type":"subscribe","id":"` + strings.Repeat("é", 129) + `","channel_name":"C","window_ms":1000}`, 400, strings.Repeat("é", 129), true, "id must be 1 to 128"},
		{"missing channel", websocket.MessageText, `{"type":"subscribe","id":"y","window_ms":1000}`, 400, "y", true, "channel_name is required"},
		{"ill-typed window", websocket.MessageText, `{"type":"subscribe","id":"y","channel_name":"C","window_ms":"600000"}`, 400, "y", true, "window_ms must be an integer"},
		{"fractional bins", websocket.MessageText, `{"type":"subscribe","id":"y","channel_name":"C","window_ms":1000,"num_bins":1.5}`, 400, "y", true, "num_bins must be an integer"},
		{"ill-typed flag", websocket.MessageText, `{"type":"subscribe","id":"y","channel_name":"C","window_ms":1000,"removeEmptyBins":"yes"}`, 400, "y", true, "removeEmptyBins must be true or false"},
		{"no window", websocket.MessageText, `{"type":"subscribe","id":"y","channel_name":"C"}`, 400, "y", true, "window_ms or begin_time is required"},
		{"both windows", websocket.MessageText, `{"type":"subscribe","id":"y","channel_name":"C","window_ms":1000,"begin_time":5}`, 400, "y", true, "either window_ms or begin_time"},
		{"negative window", websocket.MessageText, `{"type":"subscribe","id":"y","channel_name":"C","window_ms":-5}`, 400, "y", true, "window_ms must be positive"},
		{"begin after end", websocket.MessageText, `{"type":"subscribe","id":"y","channel_name":"C","begin_time":20,"end_time":10}`, 400, "y", true, "begin_time must not be after end_time"},
		{"bad resume", websocket.MessageText, `{"type":"subscribe","id":"y","channel_name":"C","window_ms":1000,"resume":{"epoch":"e","offset":5}}`, 400, "y", true, "resume"},
		{"duplicate id", websocket.MessageText, `{"type":"subscribe","id":"ok","channel_name":"SIM-F64:RAMP","window_ms":1000}`, 409, "ok", false, "active"},
		{"binary frame on JSON", websocket.MessageBinary, `{"type":"ping"}`, 400, "", true, "binary frame"},
		{"over 64 KiB", websocket.MessageText, `{"type":"ping","data":"` + strings.Repeat("a", 70_000) + `"}`, 400, "", true, "larger than 65536"},
	}
	for _, tt := range tests {
		c.sendRaw(tt.typ, []byte(tt.msg))
		m := c.readUntil(func(m message) bool { return m.str("type") == typeError })
		_, hasID := m.fields["id"]
		switch {
		case m.int("status") != tt.wantStatus:
			t.Errorf("%s: status %d, want %d: %s", tt.name, m.int("status"), tt.wantStatus, m.raw)
		case !strings.Contains(m.str("detail"), tt.wantDetail):
			t.Errorf("%s: detail %q, want it to contain %q", tt.name, m.str("detail"), tt.wantDetail)
		case tt.wantID != "" && m.str("id") != tt.wantID, tt.wantID == "" && hasID:
			t.Errorf("%s: id %q, want %q", tt.name, m.str("id"), tt.wantID)
		case string(m.fields["final"]) != map[bool]string{true: "true", false: "false"}[tt.wantFinal]:
			t.Errorf("%s: final %s, want %v", tt.name, m.fields["final"], tt.wantFinal)
		}
	}
	// Too many subscriptions: the third of at most two.
	c.send(subscribeMsg("two", "SIM-F64:RAMP", map[string]any{"window_ms": 60_000}))
	c.send(subscribeMsg("three", "SIM-F64:NOISE", map[string]any{"window_ms": 60_000}))
	m := c.readUntil(func(m message) bool { return m.str("type") == typeError && m.str("id") == "three" })
	if m.int("status") != 429 {
		t.Errorf("third subscription: %s", m.raw)
	}
	// An unknown channel ends that subscription only; the connection and "ok" go on.
	c.send(map[string]any{"type": "unsubscribe", "id": "two"})
	c.send(subscribeMsg("ghost", "NO-SUCH:CHANNEL", map[string]any{"window_ms": 60_000}))
	m = c.readUntil(func(m message) bool { return m.str("type") == typeError && m.str("id") == "ghost" })
	if m.int("status") != 404 || m.str("detail") != "Channel not found in backend" || string(m.fields["final"]) != "true" {
		t.Errorf("unknown channel: %s", m.raw)
	}
	c.readUntil(func(m message) bool { return m.str("type") == typeAppend && m.str("id") == "ok" })
	c.send(map[string]any{"type": "unsubscribe", "id": "ok"})
	c.readUntil(func(m message) bool { return m.str("type") == typeUnsubscribed && m.str("id") == "ok" })
	c.send(map[string]any{"type": "ping", "data": 7})
	if m := c.readUntil(func(m message) bool { return m.str("type") == typePong }); string(m.fields["data"]) != "7" {
		t.Errorf("pong: %s", m.raw)
	}
}

// A MessagePack connection carries the same messages, maps in the JSON key order.
func TestStreamMessagePack(t *testing.T) {
	e := newTestEnv(t)
	c := e.dial(t, subprotocolMsgpack)
	if !c.msgp {
		t.Fatal("subprotocol not negotiated")
	}
	sub := map[string]any{"type": "subscribe", "id": "m", "channel_name": "SIM-I32:COUNTER", "window_ms": 300_000}
	b, err := msgpack.Marshal(sub)
	if err != nil {
		t.Fatal(err)
	}
	c.sendRaw(websocket.MessageBinary, b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, frame, err := c.ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(msgpackKeys(t, frame), ","); got != "type,id,epoch,offset,recovered,begin_time,end_time,curve" {
		t.Errorf("snapshot key order %s", got)
	}
	js, _ := decodeMsgpackMessage(frame)
	var m message
	if err := json.Unmarshal(js, &m.fields); err != nil {
		t.Fatal(err)
	}
	m.raw = js
	c.apply(m)
	for i := 0; i < 3; i++ {
		m = c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	}
	e.checkExact(t, c.curves["m"], restQuery("SIM-I32:COUNTER", 0, false), m.int("begin_time"), m.int("end_time"), false)
	c.sendRaw(websocket.MessageText, []byte(`{"type":"ping"}`))
	if m := c.readUntil(func(m message) bool { return m.str("type") == typeError }); !strings.Contains(m.str("detail"), "text frame") {
		t.Errorf("text frame on MessagePack: %s", m.raw)
	}
}

// Disconnects with resume: inside the history the server answers resumed and the missed appends; with
// an unknown epoch or an offset outside the history, a snapshot with recovered false. The client ends
// exact either way, no point missing, none twice.
func TestStreamResume(t *testing.T) {
	e := newTestEnv(t, withConfig(func(c *Config) { c.History = time.Hour }))
	q := restQuery("SIM-F64:SINE", 300, false)
	extra := map[string]any{"window_ms": 600_000, "num_bins": 300}
	c := e.dial(t)
	c.send(subscribeMsg("r", "SIM-F64:SINE", extra))
	c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	for round := 0; round < 3; round++ {
		last := c.last["r"]
		state := c.curves["r"]
		_ = c.ws.CloseNow()
		// Let the series move on while the client is away.
		time.Sleep(300 * time.Millisecond)
		c = e.dial(t)
		c.curves["r"] = state
		c.last["r"] = last
		resume := map[string]any{"epoch": last.epoch, "offset": itoa(last.offset)}
		withResume := map[string]any{"resume": resume}
		for k, v := range extra {
			withResume[k] = v
		}
		c.send(subscribeMsg("r", "SIM-F64:SINE", withResume))
		m := c.readUntil(func(m message) bool { return m.str("type") == typeResumed || m.str("type") == typeSnapshot })
		if m.str("type") != typeResumed || m.str("epoch") != last.epoch || m.str("offset") != itoa(last.offset) ||
			string(m.fields["recovered"]) != "true" {
			t.Fatalf("round %d: resume inside the history answered %s", round, m.raw)
		}
		m = c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
		e.checkExact(t, c.curves["r"], q, m.int("begin_time"), m.int("end_time"), false)
	}
	// Outside the history: an epoch that never was.
	_ = c.ws.CloseNow()
	c = e.dial(t)
	bogus := map[string]any{"resume": map[string]any{"epoch": "nope", "offset": "3"}}
	for k, v := range extra {
		bogus[k] = v
	}
	c.send(subscribeMsg("r", "SIM-F64:SINE", bogus))
	m := c.readUntil(func(m message) bool { return m.str("type") != typeHeartbeat })
	if m.str("type") != typeSnapshot || string(m.fields["recovered"]) != "false" {
		t.Fatalf("resume outside the history answered %s", m.raw)
	}
	m = c.readUntil(func(m message) bool { return m.str("type") == typeAppend })
	e.checkExact(t, c.curves["r"], q, m.int("begin_time"), m.int("end_time"), false)
	if got := counterValue(t, e.reg, "databoard_stream_resumes_total"); got != 4 {
		t.Errorf("%v resumes counted, want 4", got)
	}
}

// msgpackKeys lists the keys of a MessagePack map in the order they were written.
func msgpackKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	n, err := dec.DecodeMapLen()
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, n)
	for i := range keys {
		if keys[i], err = dec.DecodeString(); err != nil {
			t.Fatal(err)
		}
		if err := dec.Skip(); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
