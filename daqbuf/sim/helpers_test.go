package sim_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/databoard/databoard/daqbuf/sim"
)

// t0 is the fixed "now" most tests run at: 2024-09-15T12:00:00Z.
func t0() time.Time { return time.Date(2024, 9, 15, 12, 0, 0, 0, time.UTC) }

const (
	acceptJSON    = "application/json"
	acceptJFramed = "application/json-framed"
	acceptCFramed = "application/cbor-framed"
)

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a simulator behind a real loopback HTTP server.
type env struct {
	sim   *sim.Sim
	srv   *httptest.Server
	clock *fakeClock
}

func newEnv(t *testing.T, cfg sim.Config) *env {
	t.Helper()
	clock := &fakeClock{t: t0()}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	s := sim.New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{sim: s, srv: srv, clock: clock}
}

// do performs a GET and returns the response with its body read, or the transport error.
func (e *env) do(t *testing.T, path string, q url.Values, accept string) (*http.Response, []byte, error) {
	t.Helper()
	u := e.srv.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// get is do that fails the test on transport errors.
func (e *env) get(t *testing.T, path string, q url.Values, accept string) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := e.do(t, path, q, accept)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp, body
}

// rangeQuery builds backend/channel/range parameters with RFC 3339 dates at ns precision.
func rangeQuery(backend, channel string, beg, end time.Time) url.Values {
	return url.Values{
		"backend":     {backend},
		"channelName": {channel},
		"begDate":     {beg.UTC().Format(time.RFC3339Nano)},
		"endDate":     {end.UTC().Format(time.RFC3339Nano)},
	}
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %q", resp.StatusCode, status, body)
	}
}

// splitASCIIFrames splits a json-framed body (§5.2), checking the 15-character length field and the
// trailing newline of every frame.
func splitASCIIFrames(t *testing.T, body []byte) [][]byte {
	t.Helper()
	var frames [][]byte
	r := bufio.NewReader(bytes.NewReader(body))
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return frames
		}
		if err != nil {
			t.Fatalf("frame header: %v (%q)", err, line)
		}
		if len(line) != 16 {
			t.Fatalf("header %q is not 15 chars + LF", line)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(line), 10, 32)
		if err != nil || n == 0 {
			t.Fatalf("bad length field %q", line)
		}
		payload := make([]byte, n+1)
		if _, err := io.ReadFull(r, payload); err != nil {
			t.Fatalf("frame payload: %v", err)
		}
		if payload[n] != '\n' {
			t.Fatalf("frame not terminated by LF: %q", payload)
		}
		frames = append(frames, payload[:n])
	}
}

// splitBinaryFrames splits a cbor-framed (or legacy json-framed) body (§5.3): u32 LE length, 12 zero
// bytes, payload, zero padding to a multiple of 8.
func splitBinaryFrames(t *testing.T, body []byte) [][]byte {
	t.Helper()
	var frames [][]byte
	for off := 0; off < len(body); {
		if len(body)-off < 16 {
			t.Fatalf("truncated header at %d", off)
		}
		n := int(binary.LittleEndian.Uint32(body[off:]))
		if !bytes.Equal(body[off+4:off+16], make([]byte, 12)) {
			t.Fatalf("reserved bytes not zero at %d", off)
		}
		pad := (8 - n%8) % 8
		if n == 0 || off+16+n+pad > len(body) {
			t.Fatalf("bad frame length %d at %d (body %d)", n, off, len(body))
		}
		frames = append(frames, body[off+16:off+16+n])
		if !bytes.Equal(body[off+16+n:off+16+n+pad], make([]byte, pad)) {
			t.Fatalf("padding not zero at %d", off)
		}
		off += 16 + n + pad
	}
	return frames
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func decodeCBOR(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dm, err := cbor.DecOptions{DefaultMapType: reflect.TypeOf(map[string]any{})}.DecMode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := dm.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode cbor: %v", err)
	}
	return m
}

// u64 reads an exact unsigned integer from a json.Number or a CBOR integer.
func u64(t *testing.T, v any) uint64 {
	t.Helper()
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseUint(string(x), 10, 64)
		if err != nil {
			t.Fatalf("not a u64: %v", x)
		}
		return n
	case uint64:
		return x
	case int64:
		if x >= 0 {
			return uint64(x)
		}
	}
	t.Fatalf("not a u64: %#v", v)
	return 0
}

func list(t *testing.T, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("not a list: %#v", v)
	}
	return l
}

// normValue turns a decoded JSON or CBOR value into the Event.Value representation of ch's type.
func normValue(t *testing.T, ch sim.Channel, v any, label string) any {
	t.Helper()
	if len(ch.Shape) > 0 {
		var out []any
		for _, e := range list(t, v) {
			out = append(out, normScalar(t, ch.Type, e, ""))
		}
		return out
	}
	return normScalar(t, ch.Type, v, label)
}

func normScalar(t *testing.T, typ string, v any, label string) any {
	t.Helper()
	switch typ {
	case "f64", "f32":
		switch x := v.(type) {
		case nil:
			return math.NaN()
		case json.Number:
			bits := 64
			if typ == "f32" {
				bits = 32
			}
			f, err := strconv.ParseFloat(string(x), bits)
			if err != nil {
				t.Fatalf("float %v: %v", x, err)
			}
			return f
		case float64:
			return x
		}
	case "i32":
		switch x := v.(type) {
		case json.Number:
			n, err := strconv.ParseInt(string(x), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		case int64:
			return x
		case uint64:
			return int64(x)
		}
	case "u64":
		return u64(t, v)
	case "bool", "string":
		return v
	case "enum":
		var ix int64
		switch x := v.(type) {
		case json.Number:
			ix, _ = x.Int64()
		case uint64:
			ix = int64(x)
		case int64:
			ix = x
		}
		return sim.EnumValue{Index: int16(ix), Label: label}
	}
	t.Fatalf("unexpected %s value %#v", typ, v)
	return nil
}

// eventsFromJSON rebuilds events from an anchored JSON object (§3.1, §4) with integer arithmetic.
func eventsFromJSON(t *testing.T, ch sim.Channel, obj map[string]any) []sim.Event {
	t.Helper()
	anchor := u64(t, obj["tsAnchor"])
	ms, ns, vals := list(t, obj["tsMs"]), list(t, obj["tsNs"]), list(t, obj["values"])
	if len(ms) != len(vals) || len(ns) != len(vals) {
		t.Fatalf("column lengths differ: %d %d %d", len(ms), len(ns), len(vals))
	}
	var offs, labels []any
	var pa uint64
	if p, ok := obj["pulseAnchor"]; ok {
		pa, offs = u64(t, p), list(t, obj["pulseOff"])
	}
	if ch.Pulsed != (offs != nil) {
		t.Fatalf("pulse columns present=%v for pulsed=%v", offs != nil, ch.Pulsed)
	}
	if vs, ok := obj["valuestrings"]; ok {
		labels = list(t, vs)
	}
	out := make([]sim.Event, len(vals))
	for i := range vals {
		n := u64(t, ns[i])
		if n >= 1e6 {
			t.Fatalf("tsNs %d out of range", n)
		}
		out[i].Ts = int64(anchor*1e9 + u64(t, ms[i])*1e6 + n)
		if offs != nil {
			out[i].Pulse = pa + u64(t, offs[i])
		}
		label := ""
		if labels != nil {
			label = labels[i].(string)
		}
		out[i].Value = normValue(t, ch, vals[i], label)
	}
	return out
}

// eventsFromCBOR rebuilds events from a CBOR data frame (§3.2).
func eventsFromCBOR(t *testing.T, ch sim.Channel, obj map[string]any) []sim.Event {
	t.Helper()
	if obj["scalar_type"] != ch.Type {
		t.Fatalf("scalar_type %v, want %s", obj["scalar_type"], ch.Type)
	}
	tss, vals := list(t, obj["tss"]), list(t, obj["values"])
	var pulses, labels []any
	if p, ok := obj["pulses"]; ok {
		pulses = list(t, p)
	}
	if ch.Pulsed != (pulses != nil) {
		t.Fatalf("pulses present=%v for pulsed=%v", pulses != nil, ch.Pulsed)
	}
	if vs, ok := obj["valuestrings"]; ok {
		labels = list(t, vs)
	}
	out := make([]sim.Event, len(vals))
	for i := range vals {
		out[i].Ts = int64(u64(t, tss[i]))
		if pulses != nil {
			out[i].Pulse = u64(t, pulses[i])
		}
		label := ""
		if labels != nil {
			label = labels[i].(string)
		}
		out[i].Value = normValue(t, ch, vals[i], label)
	}
	return out
}

// sameEvents compares events with NaN equal to NaN.
func sameEvents(t *testing.T, got, want []sim.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Ts != want[i].Ts || got[i].Pulse != want[i].Pulse || !sameValue(got[i].Value, want[i].Value) {
			t.Fatalf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func sameValue(a, b any) bool {
	fa, oka := a.(float64)
	fb, okb := b.(float64)
	if oka && okb {
		return fa == fb || math.IsNaN(fa) && math.IsNaN(fb)
	}
	la, oka := a.([]any)
	lb, okb := b.([]any)
	if oka && okb {
		if len(la) != len(lb) {
			return false
		}
		for i := range la {
			if !sameValue(la[i], lb[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// binsFromJSON rebuilds bins from a JSON bins object (§3.4).
func binsFromJSON(t *testing.T, obj map[string]any) []sim.Bin {
	t.Helper()
	anchor := u64(t, obj["tsAnchor"]) * 1e9
	cols := map[string][]any{}
	for _, k := range []string{"ts1Ms", "ts1Ns", "ts2Ms", "ts2Ns", "counts", "mins", "maxs", "avgs"} {
		cols[k] = list(t, obj[k])
		if len(cols[k]) != len(cols["ts1Ms"]) {
			t.Fatalf("column %s has %d entries, want %d", k, len(cols[k]), len(cols["ts1Ms"]))
		}
	}
	f32 := func(v any) float32 {
		if v == nil {
			return float32(math.NaN())
		}
		f, err := strconv.ParseFloat(string(v.(json.Number)), 32)
		if err != nil {
			t.Fatal(err)
		}
		return float32(f)
	}
	out := make([]sim.Bin, len(cols["ts1Ms"]))
	for i := range out {
		out[i] = sim.Bin{
			Ts1:   int64(anchor + u64(t, cols["ts1Ms"][i])*1e6 + u64(t, cols["ts1Ns"][i])),
			Ts2:   int64(anchor + u64(t, cols["ts2Ms"][i])*1e6 + u64(t, cols["ts2Ns"][i])),
			Count: u64(t, cols["counts"][i]),
			Min:   f32(cols["mins"][i]), Max: f32(cols["maxs"][i]), Avg: f32(cols["avgs"][i]),
		}
	}
	return out
}

// binsFromCBOR rebuilds bins from a CBOR bins frame.
func binsFromCBOR(t *testing.T, obj map[string]any) []sim.Bin {
	t.Helper()
	ts1, ts2, counts := list(t, obj["ts1s"]), list(t, obj["ts2s"]), list(t, obj["counts"])
	mins, maxs, avgs := list(t, obj["mins"]), list(t, obj["maxs"]), list(t, obj["avgs"])
	f32 := func(v any) float32 { return float32(v.(float64)) }
	out := make([]sim.Bin, len(ts1))
	for i := range out {
		out[i] = sim.Bin{
			Ts1: int64(u64(t, ts1[i])), Ts2: int64(u64(t, ts2[i])), Count: u64(t, counts[i]),
			Min: f32(mins[i]), Max: f32(maxs[i]), Avg: f32(avgs[i]),
		}
	}
	return out
}

func sameBins(t *testing.T, got, want []sim.Bin) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d bins, want %d", len(got), len(want))
	}
	eq := func(a, b float32) bool { return a == b || a != a && b != b }
	for i := range got {
		g, w := got[i], want[i]
		if g.Ts1 != w.Ts1 || g.Ts2 != w.Ts2 || g.Count != w.Count || !eq(g.Min, w.Min) || !eq(g.Max, w.Max) || !eq(g.Avg, w.Avg) {
			t.Fatalf("bin %d: got %+v, want %+v", i, g, w)
		}
	}
}

// mustChannel fetches a catalogue channel.
func mustChannel(t *testing.T, s *sim.Sim, backend, name string) sim.Channel {
	t.Helper()
	ch, ok := s.Channel(backend, name)
	if !ok {
		t.Fatalf("channel %s/%s missing", backend, name)
	}
	return ch
}

// isConnectionClosed reports a transport failure without a response.
func isConnectionClosed(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "connection reset"))
}

func fmtNs(ns int64) string { return fmt.Sprint(ns) }

func newBenchServer(b *testing.B, s *sim.Sim) string {
	b.Helper()
	srv := httptest.NewServer(s)
	b.Cleanup(srv.Close)
	return srv.URL
}
