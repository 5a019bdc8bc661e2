// stream.js: the browser client of databoard's live stream (/stream, protocol v1, docs/streaming.md).
// A dependency-free ES module, served by databoard at /stream.js.
//
//   import { connect } from "./stream.js";
//   const client = connect();                      // the /stream beside this module (ws:// or wss://)
//   client.on("state", (state) => ...);            // "connecting" | "open" | "reconnecting" | "closed"
//   const sub = client.subscribe(
//     { channel_name: "SIM-F64:SINE", backend: "sf-databuffer", window_ms: 600000, num_bins: 1000,
//       useEventsIfBinCountTooLarge: true, removeEmptyBins: true },
//     (curve, info) => plot(curve));               // curve: the object inside {"curve": ...} of /channels/curve
//   sub.unsubscribe();
//
// One WebSocket per client, JSON frames. After a drop it reconnects with exponential backoff and jitter
// and subscribes again with the epoch and offset of the last message it applied, so the server resumes
// from its history (or sends a fresh snapshot); either way the curve ends exact.

const DEFAULT_BACKEND = "sf-databuffer";

// Reconnect delays: attempt n waits a random time in [d/2, d] with d = min(maxDelay, minDelay·2^n).
const DEFAULTS = Object.freeze({
  minDelay: 500, // ms
  maxDelay: 30000, // ms
  // No frame for this long on an open socket (the server sends a heartbeat after 20 s of silence):
  // the connection is taken as dead and replaced.
  idleTimeout: 50000, // ms
});

/** The connection states, in the order a client usually goes through them. */
export const STATES = Object.freeze(["connecting", "open", "reconnecting", "closed"]);

/**
 * The default stream address: "stream" beside this module's own URL, with http(s) turned into ws(s).
 * Loaded from https://host/api/stream.js it is wss://host/api/stream, so it works behind a proxy that
 * serves databoard under a path prefix. A bundler that copies this file elsewhere changes
 * import.meta.url: pass the address to connect() then.
 */
export function defaultStreamURL() {
  return toWebSocketURL(new URL("stream", import.meta.url).href);
}

/** Resolves url (absolute, or relative to the page) and turns http(s) into ws(s). */
export function toWebSocketURL(url) {
  const base = typeof location !== "undefined" ? location.href : import.meta.url;
  const u = new URL(String(url), base);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TypeError(`stream.js: not a WebSocket address: ${url}`);
  }
  u.hash = "";
  return u.href;
}

/**
 * Opens a client on url (ws://…/stream or wss://…/stream; http(s) and page-relative addresses are
 * accepted and converted; default defaultStreamURL()). options: minDelay, maxDelay, idleTimeout (ms),
 * WebSocket (a constructor, for tests).
 */
export function connect(url, options = {}) {
  return new StreamClient(url == null || url === "" ? defaultStreamURL() : toWebSocketURL(url), options);
}

// --- point times ----------------------------------------------------------------------------------

// A point's time is its key as an integer, or for waveform keys "<ts_ns>_<index>" the part before "_".
// Nanosecond times exceed 2^53, so they stay decimal strings and compare by length, then by text
// (exact for non-negative integers without leading zeros, which is what the server writes).
function keyTime(key) {
  const i = key.indexOf("_");
  return i < 0 ? key : key.slice(0, i);
}

function cmpTime(a, b) {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

// --- one map of points, kept in ascending time order ------------------------------------------------

class PointList {
  constructor() {
    this.keys = [];
    this.times = [];
    this.vals = [];
  }

  get length() {
    return this.keys.length;
  }

  // Index of the first point whose time is at or after t.
  lowerBound(t) {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmpTime(this.times[mid], t) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Drops every point before trimBefore and, when replaceFrom is set, every point at or after it.
  cut(trimBefore, replaceFrom) {
    if (replaceFrom != null) {
      const end = this.lowerBound(replaceFrom);
      this.keys.length = end;
      this.times.length = end;
      this.vals.length = end;
    }
    const start = this.lowerBound(trimBefore);
    if (start > 0) {
      this.keys.splice(0, start);
      this.times.splice(0, start);
      this.vals.splice(0, start);
    }
  }

  // Adds the entries of obj (a JSON object, in its key order). The server sends new points after the
  // ones the client keeps; a point that is not (never seen so far) is put in its place by time.
  addAll(obj) {
    for (const key of Object.keys(obj)) {
      const t = keyTime(key);
      const n = this.times.length;
      if (n === 0 || cmpTime(this.times[n - 1], t) <= 0) {
        this.keys.push(key);
        this.times.push(t);
        this.vals.push(obj[key]);
        continue;
      }
      let i = this.lowerBound(t);
      while (i < n && cmpTime(this.times[i], t) === 0) i++; // after the points of the same time
      this.keys.splice(i, 0, key);
      this.times.splice(i, 0, t);
      this.vals.splice(i, 0, obj[key]);
    }
  }

  toObject() {
    const o = {};
    for (let i = 0; i < this.keys.length; i++) o[this.keys[i]] = this.vals[i];
    return o;
  }
}

// --- one subscription's curve -----------------------------------------------------------------------

const META_SCALARS = ["raw", "waveform", "interval_avg", "interval_stddev"];

// CurveState holds a curve as the protocol's client does (docs/streaming.md, "append"): every map of
// points (value, _min, _max, _meta.pointMeta) and the meta's scalars.
class CurveState {
  constructor(name) {
    this.name = name;
    this.reset();
  }

  reset() {
    this.maps = new Map(); // map name -> PointList, in the order the server first sent them
    this.metaName = null; // "<name>_meta" once seen
    this.pointMeta = new PointList();
    this.scalars = {};
    this.empty = true; // the snapshot was {"<name>": {}} and nothing was added since
  }

  // Adds every map of curve (a snapshot's or an append's) and takes the meta's scalars from it.
  add(curve) {
    for (const name of Object.keys(curve)) {
      const m = curve[name];
      if (m === null || typeof m !== "object") continue;
      if (name.endsWith("_meta") && m.pointMeta !== undefined) {
        this.metaName = name;
        for (const s of META_SCALARS) if (s in m) this.scalars[s] = m[s];
        this.pointMeta.addAll(m.pointMeta || {});
        this.empty = false;
        continue;
      }
      let list = this.maps.get(name);
      if (!list) {
        list = new PointList();
        this.maps.set(name, list);
      }
      list.addAll(m);
      if (list.length > 0) this.empty = false;
    }
  }

  snapshot(curve) {
    this.reset();
    this.add(curve || {});
  }

  append(msg) {
    const replace = typeof msg.replace_from === "string" ? msg.replace_from : null;
    const trim = typeof msg.trim_before === "string" ? msg.trim_before : "0";
    for (const list of this.maps.values()) list.cut(trim, replace);
    this.pointMeta.cut(trim, replace);
    this.add(msg.curve || {});
  }

  // The curve in exactly the shape of /channels/curve's "curve" object.
  toCurve() {
    const out = {};
    if (this.empty || this.metaName === null) {
      out[this.name] = this.maps.has(this.name) ? this.maps.get(this.name).toObject() : {};
      return out;
    }
    for (const [name, list] of this.maps) out[name] = list.toObject();
    const meta = {};
    for (const s of META_SCALARS) if (s in this.scalars) meta[s] = this.scalars[s];
    meta.pointMeta = this.pointMeta.toObject();
    out[this.metaName] = meta;
    return out;
  }

  // Points of the value map (for a status figure without building the object).
  get points() {
    const list = this.maps.get(this.name);
    return list ? list.length : 0;
  }
}

// --- subscriptions ------------------------------------------------------------------------------------

const PARAM_KEYS = [
  "channel_name", "backend", "window_ms", "begin_time", "end_time", "num_bins",
  "useEventsIfBinCountTooLarge", "removeEmptyBins", "isString",
];

function subscribeFields(params) {
  if (!params || typeof params.channel_name !== "string" || params.channel_name === "") {
    throw new TypeError("stream.js: subscribe needs a channel_name");
  }
  if (params.window_ms == null && params.begin_time == null) {
    throw new TypeError("stream.js: subscribe needs window_ms or begin_time");
  }
  const out = { backend: DEFAULT_BACKEND };
  for (const k of PARAM_KEYS) if (params[k] !== undefined && params[k] !== null) out[k] = params[k];
  return out;
}

/** A subscription handle: subscribe() returns one. */
class Subscription {
  constructor(client, id, params, onUpdate) {
    this.client = client;
    this.id = id;
    this.params = Object.freeze(params);
    this.onUpdate = onUpdate;
    // "pending" (no message yet) | "live" | "complete" | "error" | "unsubscribed"
    this.status = "pending";
    this.error = null; // the last error message {status, detail, final}, or null
    this.curve = null; // the last curve handed to onUpdate
    this.info = null; // and its info
    this.resume = null; // {epoch, offset} of the last applied message
    this.recovered = false; // resumed from history on the current connection
    this.messages = 0; // snapshots and appends applied
    this.state = new CurveState(params.channel_name);
  }

  /** Ends the subscription (the server is told when connected). Idempotent. */
  unsubscribe() {
    this.client._unsubscribe(this);
  }
}

// --- the client ---------------------------------------------------------------------------------------

class StreamClient {
  constructor(url, options) {
    this.url = url;
    this.options = { ...DEFAULTS, ...options };
    this.WebSocket = this.options.WebSocket || globalThis.WebSocket;
    this.state = "connecting";
    this.subs = new Map(); // id -> Subscription (active ones: pending or live)
    this.listeners = new Map(); // event -> Set of functions
    this.seq = 0;
    this.attempt = 0;
    this.ws = null;
    this.retryTimer = null;
    this.retryAt = 0; // when the next attempt starts (ms since the epoch), while reconnecting
    this.closedByUser = false;
    // Counters for status lines. bytes: UTF-16 length of the frames, close to their size in bytes.
    this.stats = { messages: 0, bytes: 0, snapshots: 0, appends: 0, heartbeats: 0, connects: 0, lastMessageAt: 0 };
    this.watchdog = setInterval(() => this._checkIdle(), 5000);
    this._open();
  }

  /**
   * Listens to an event; returns a function that stops listening. Events:
   *   "state"    (state, {attempt, delay, code, reason}): the connection state changed;
   *   "error"    ({id, status, detail, final}, subscription|null): an error message from the server;
   *   "complete" (subscription): an absolute window is complete, nothing more will come;
   *   "resumed"  (subscription): a subscription continued from the server's history after a reconnect;
   *   "message"  (message): every decoded server message, after it was applied.
   */
  on(event, fn) {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  _emit(event, ...args) {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (e) {
        setTimeout(() => { throw e; }); // a listener's bug must not break the stream
      }
    }
  }

  _setState(state, detail = {}) {
    if (this.state === state && state !== "reconnecting") return;
    this.state = state;
    this._emit("state", state, detail);
  }

  /**
   * Subscribes to a curve. params: channel_name, backend (default "sf-databuffer"), window_ms (rolling)
   * or begin_time with optional end_time (ms), num_bins, useEventsIfBinCountTooLarge, removeEmptyBins,
   * isString. onUpdate(curve, info) is called after every snapshot or append applied, with the whole
   * curve (a new object each time) and info {type, recovered, begin_time, end_time, state, epoch,
   * offset}.
   */
  subscribe(params, onUpdate) {
    if (this.state === "closed") throw new Error("stream.js: the client is closed");
    if (typeof onUpdate !== "function") throw new TypeError("stream.js: subscribe needs an onUpdate function");
    const sub = new Subscription(this, `s${++this.seq}`, subscribeFields(params), onUpdate);
    this.subs.set(sub.id, sub);
    this._sendSubscribe(sub);
    return sub;
  }

  /** Closes the connection for good; subscriptions end. */
  close() {
    if (this.state === "closed") return;
    this.closedByUser = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    for (const sub of this.subs.values()) sub.status = "unsubscribed";
    this.subs.clear();
    if (this.ws) {
      try {
        this.ws.close(1000, "client closed");
      } catch (_) { /* already closing */ }
    }
    this._setState("closed");
  }

  _unsubscribe(sub) {
    if (this.subs.get(sub.id) !== sub) return;
    this.subs.delete(sub.id);
    sub.status = "unsubscribed";
    this._send({ type: "unsubscribe", id: sub.id });
  }

  _send(msg) {
    if (!this.ws || this.ws.readyState !== 1) return false; // sent again on (re)connect
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  _sendSubscribe(sub) {
    const msg = { type: "subscribe", id: sub.id, ...sub.params };
    if (sub.resume) msg.resume = { epoch: sub.resume.epoch, offset: sub.resume.offset };
    sub.recovered = false;
    this._send(msg);
  }

  _open() {
    if (this.closedByUser) return;
    let ws;
    try {
      ws = new this.WebSocket(this.url, "databoard.v1.json");
    } catch (e) {
      this._scheduleRetry({ reason: String(e && e.message || e) });
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.stats.connects++;
      this.stats.lastMessageAt = Date.now();
      this._setState("open");
      for (const sub of this.subs.values()) this._sendSubscribe(sub);
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this._onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.closedByUser) this._scheduleRetry({ code: ev.code, reason: ev.reason });
    };
    // onerror is always followed by onclose, which reconnects; nothing to do here.
    ws.onerror = () => {};
  }

  _scheduleRetry(detail) {
    const { minDelay, maxDelay } = this.options;
    const ceiling = Math.min(maxDelay, minDelay * 2 ** Math.min(this.attempt, 30));
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    this.attempt++;
    this.retryAt = Date.now() + delay;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this._open(), delay);
    this._setState("reconnecting", { ...detail, attempt: this.attempt, delay });
  }

  // An open socket that has been silent for longer than idleTimeout is dead (a proxy or network that
  // dropped it without a close); closing it makes onclose reconnect.
  _checkIdle() {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return;
    if (Date.now() - this.stats.lastMessageAt > this.options.idleTimeout) {
      this.ws = null;
      try {
        ws.close(4001, "idle");
      } catch (_) { /* closing anyway */ }
      this._scheduleRetry({ reason: "no message within the idle timeout" });
    }
  }

  _onFrame(data) {
    if (typeof data !== "string") return; // JSON was negotiated; a binary frame is not ours
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (_) {
      return;
    }
    this.stats.messages++;
    this.stats.bytes += data.length;
    this.stats.lastMessageAt = Date.now();
    this.attempt = 0; // the server answers: the next drop starts with the shortest delay again
    const sub = typeof msg.id === "string" ? this.subs.get(msg.id) : undefined;
    switch (msg.type) {
      case "snapshot":
        if (sub) this._apply(sub, msg, () => sub.state.snapshot(msg.curve));
        this.stats.snapshots++;
        break;
      case "append":
        if (sub) this._apply(sub, msg, () => sub.state.append(msg));
        this.stats.appends++;
        break;
      case "resumed":
        if (sub) {
          sub.recovered = true;
          sub.resume = { epoch: msg.epoch, offset: msg.offset };
          sub.status = "live";
          this._emit("resumed", sub);
        }
        break;
      case "error": {
        const err = { id: msg.id, status: msg.status, detail: msg.detail, final: msg.final === true };
        if (sub) {
          sub.error = err;
          if (err.final) {
            sub.status = "error";
            this.subs.delete(sub.id);
          }
        }
        this._emit("error", err, sub || null);
        break;
      }
      case "complete":
        if (sub) {
          sub.status = "complete";
          this.subs.delete(sub.id);
          this._emit("complete", sub);
        }
        break;
      case "heartbeat":
        this.stats.heartbeats++;
        break;
      default: // unsubscribed, pong, and types a later protocol version may add
        break;
    }
    this._emit("message", msg);
  }

  _apply(sub, msg, change) {
    change();
    sub.resume = { epoch: msg.epoch, offset: msg.offset };
    sub.status = "live";
    sub.error = null;
    sub.messages++;
    if (msg.type === "snapshot") sub.recovered = msg.recovered === true;
    const curve = sub.state.toCurve();
    const info = {
      type: msg.type,
      recovered: sub.recovered,
      begin_time: msg.begin_time,
      end_time: msg.end_time,
      state: this.state,
      epoch: msg.epoch,
      offset: msg.offset,
    };
    sub.curve = curve;
    sub.info = info;
    try {
      sub.onUpdate(curve, info);
    } catch (e) {
      setTimeout(() => { throw e; }); // reported on the console, the stream goes on
    }
  }
}
