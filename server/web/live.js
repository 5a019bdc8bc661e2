// /live: watch curves move as the stream brings them. Uses only stream.js and the REST search route.
// State lives in the location hash (#w=<window ms>&bins=<n>&c=<channel>&b=<backend>…), so a reload
// comes back to the same curves (and resumes their streams from the server's history).
import { connect } from "./stream.js";

const WINDOWS = [60000, 600000, 3600000, 43200000, 86400000, 604800000];
const BINS = [100, 200, 500, 1000, 2000];
const PALETTE = ["#4cc3ff", "#ffb547", "#7ee787", "#ff7ab6", "#b58cff", "#ff8a4c", "#56d4c8", "#e6e66a"];
const AUTO_APPLY_MS = 60000; // the Data Board frontend's shortest Auto Apply period

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");

const view = { windowMs: 600000, bins: 500, curves: [] };
let lastUpdateAt = 0; // local time of the last applied snapshot or append
const client = connect(); // the /stream beside stream.js (ws:// or wss://, behind a prefix too)

// --- curves -------------------------------------------------------------------------------------------

function subscribeParams(e) {
  return {
    channel_name: e.channel_name,
    backend: e.backend,
    window_ms: view.windowMs,
    num_bins: view.bins,
    useEventsIfBinCountTooLarge: true,
    removeEmptyBins: true,
  };
}

function startStream(e) {
  e.curve = null;
  e.info = null;
  e.plot = null;
  e.error = null;
  e.firstDataAt = 0;
  e.fullBytes = 0;
  e.sub = client.subscribe(subscribeParams(e), (curve, info) => onUpdate(e, curve, info));
}

function addChannel(name, backend = "sf-databuffer", unit = "") {
  name = String(name).trim();
  if (!name) return null;
  let e = view.curves.find((c) => c.channel_name === name && c.backend === backend);
  if (e) return e;
  const used = new Set(view.curves.map((c) => c.color));
  const color = PALETTE.find((p) => !used.has(p)) || PALETTE[view.curves.length % PALETTE.length];
  e = { channel_name: name, backend, unit, color };
  view.curves.push(e);
  startStream(e);
  renderLegend();
  saveHash();
  requestDraw();
  return e;
}

function removeChannel(e) {
  e.sub.unsubscribe();
  view.curves = view.curves.filter((c) => c !== e);
  renderLegend();
  saveHash();
  requestDraw();
}

function restartAll() {
  for (const e of view.curves) {
    e.sub.unsubscribe();
    startStream(e);
  }
  renderLegend();
  saveHash();
  requestDraw();
}

function onUpdate(e, curve, info) {
  e.curve = curve;
  e.info = info;
  e.error = null;
  e.plot = toPlot(curve, e.channel_name);
  const now = Date.now();
  if (!e.firstDataAt) e.firstDataAt = now;
  // What one whole-window download of this curve costs: the REST answer is {"curve": <this>}.
  if (info.type === "snapshot" || !e.fullBytes) e.fullBytes = JSON.stringify(curve).length + 11;
  lastUpdateAt = now;
  updateLegendEntry(e);
  requestDraw();
}

client.on("error", (err, sub) => {
  const e = view.curves.find((c) => c.sub === sub);
  if (!e) return;
  e.error = err;
  updateLegendEntry(e);
});

// Plot arrays from a curve object: times in ms (keys are ns; waveform keys "<ns>_<i>"), values, and
// for binned data the min and max.
function toPlot(curve, name) {
  const values = curve[name] || {};
  const mins = curve[name + "_min"];
  const maxs = curve[name + "_max"];
  const meta = curve[name + "_meta"] || {};
  const keys = Object.keys(values);
  const n = keys.length;
  const p = { n, t: new Float64Array(n), v: new Float64Array(n), lo: null, hi: null,
    raw: meta.raw === true, dt: (meta.interval_avg || 0) / 1e6 };
  const banded = !p.raw && mins && maxs;
  if (banded) {
    p.lo = new Float64Array(n);
    p.hi = new Float64Array(n);
  }
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    const u = k.indexOf("_");
    p.t[i] = Number(u < 0 ? k : k.slice(0, u)) / 1e6;
    p.v[i] = values[k];
    if (banded) {
      p.lo[i] = k in mins ? mins[k] : values[k];
      p.hi[i] = k in maxs ? maxs[k] : values[k];
    }
  }
  return p;
}

// --- legend -------------------------------------------------------------------------------------------

function renderLegend() {
  const ul = $("legend");
  ul.replaceChildren();
  for (const e of view.curves) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = e.color;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = e.channel_name;
    name.title = `${e.channel_name} (${e.backend})`;
    const value = document.createElement("span");
    value.className = "value";
    const sub = document.createElement("span");
    sub.className = "sub";
    const rm = document.createElement("button");
    rm.className = "remove";
    rm.type = "button";
    rm.textContent = "×";
    rm.title = `Remove ${e.channel_name}`;
    rm.setAttribute("aria-label", rm.title);
    rm.addEventListener("click", () => removeChannel(e));
    li.append(sw, name, value, rm, sub);
    e.li = li;
    e.liValue = value;
    e.liSub = sub;
    ul.append(li);
    updateLegendEntry(e);
  }
  $("empty").hidden = view.curves.length > 0;
}

function updateLegendEntry(e) {
  if (!e.li) return;
  let text = e.backend;
  let cls = "";
  if (e.error) {
    text = `error ${e.error.status}: ${e.error.detail}${e.error.final ? "" : " (retrying)"}`;
    cls = "error";
  } else if (!e.plot) {
    text += " · waiting for data…";
    cls = "pending";
  } else {
    text += e.plot.raw ? ` · raw events · ${e.plot.n} points` : ` · binned · ${e.plot.n} bins`;
  }
  e.li.className = cls;
  e.liSub.textContent = text;
  e.liSub.title = text;
  const last = e.plot && e.plot.n > 0 ? e.plot.v[e.plot.n - 1] : null;
  e.liValue.textContent = last === null ? "—" : formatValue(last) + (e.unit ? ` ${e.unit}` : "");
  e.liValue.style.color = last === null ? "" : e.color;
}

function formatValue(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e7 || a < 1e-3)) return v.toExponential(3);
  return Number(v.toPrecision(6)).toString();
}

// --- plot ---------------------------------------------------------------------------------------------

let drawPending = false;
function requestDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
  });
}
new ResizeObserver(requestDraw).observe(canvas.parentElement);

const TIME_STEPS = [1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5];
const AXIS = "#9fb0c2";
const GRID = "#232d3a";
const FRAME = "#2f3b4b";
const MONO = getComputedStyle(document.documentElement).getPropertyValue("--mono") || "monospace";

function pad2(n) {
  return n < 10 ? "0" + n : String(n);
}
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function timeLabel(d, withSeconds) {
  const hm = pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  return withSeconds ? hm + ":" + pad2(d.getSeconds()) : hm;
}

function dateLabel(d) {
  return `${DAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]}`;
}

// Ticks of [begin, end] at a round local-time step, about one per 120 px.
function timeTicks(begin, end, width) {
  const want = Math.max(2, Math.floor(width / 120));
  const step = TIME_STEPS.find((s) => (end - begin) / s <= want) || 864e5 * Math.ceil((end - begin) / want / 864e5);
  const ticks = [];
  let t = begin;
  while (t <= end && ticks.length < 100) {
    const off = new Date(t).getTimezoneOffset() * 60000; // local = UTC - off
    const aligned = Math.ceil((t - off) / step) * step + off;
    if (aligned > end) break;
    if (!ticks.length || aligned > ticks[ticks.length - 1]) ticks.push(aligned);
    t = aligned + step;
  }
  return { ticks, step };
}

function niceStep(range, count) {
  const raw = range / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

function axisLabel(v, step) {
  const a = Math.max(Math.abs(v), step);
  if (a >= 1e7 || step < 1e-4) return v.toExponential(1);
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return (Math.abs(v) < step / 2 ? 0 : v).toFixed(step >= 1 && Number.isInteger(step) ? 0 : decimals);
}

function windowRange() {
  let end = 0;
  for (const e of view.curves) if (e.info && e.info.end_time > end) end = e.info.end_time;
  if (!end) end = Date.now();
  return [end - view.windowMs, end];
}

function draw() {
  const box = canvas.parentElement.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.floor(box.width - 2));
  const h = Math.max(1, Math.floor(box.height - 2));
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const curves = view.curves;
  if (!curves.length) return;

  const narrow = w < 520;
  const left = narrow ? 58 : 74;
  const right = narrow ? 10 : 18;
  const top = 8;
  const bottom = 44;
  const gap = 12;
  const plotW = Math.max(10, w - left - right);
  const stripH = Math.max(30, (h - top - bottom - gap * (curves.length - 1)) / curves.length);
  const [begin, end] = windowRange();
  const xOf = (t) => left + ((t - begin) / (end - begin)) * plotW;
  const { ticks, step } = timeTicks(begin, end, plotW);

  ctx.font = `${narrow ? 11 : 12.5}px ${MONO}`;
  curves.forEach((e, i) => {
    const y0 = top + i * (stripH + gap);
    drawStrip(e, left, y0, plotW, stripH, xOf, begin, end, ticks, narrow);
    drawStripLabel(e, left, y0, narrow);
  });

  // Time axis under the last strip, in local time; the date under the first tick and at day changes.
  const axisY = top + curves.length * stripH + (curves.length - 1) * gap;
  ctx.fillStyle = AXIS;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  let prevDay = "";
  for (const t of ticks) {
    const d = new Date(t);
    const label = timeLabel(d, step < 6e4);
    const day = dateLabel(d);
    // labels near the ends stay inside the canvas
    const half = Math.max(ctx.measureText(label).width, day !== prevDay ? ctx.measureText(day).width : 0) / 2;
    const x = Math.min(Math.max(xOf(t), half + 2), w - half - 2);
    ctx.fillText(label, x, axisY + 7);
    if (day !== prevDay) {
      ctx.fillStyle = "#7f90a3";
      ctx.fillText(day, x, axisY + 24);
      ctx.fillStyle = AXIS;
      prevDay = day;
    }
  }
}

// The channel's name inside its strip, top left, over the data.
function drawStripLabel(e, left, y0, narrow) {
  ctx.save();
  ctx.font = `600 ${narrow ? 12 : 13}px ${MONO}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  const label = e.channel_name + (e.unit ? ` [${e.unit}]` : "");
  const lw = ctx.measureText(label).width;
  ctx.fillStyle = "rgba(18, 24, 33, 0.92)";
  ctx.fillRect(left + 6, y0 + 5, lw + 10, 19);
  ctx.fillStyle = e.color;
  ctx.fillText(label, left + 11, y0 + 8);
  ctx.restore();

}

function drawStrip(e, left, y0, plotW, stripH, xOf, begin, end, ticks, narrow) {
  const p = e.plot;
  // y range over the visible points (min/max band included)
  let lo = Infinity;
  let hi = -Infinity;
  if (p) {
    for (let i = 0; i < p.n; i++) {
      if (p.t[i] < begin - 1 || p.t[i] > end + 1) continue;
      const a = p.lo ? p.lo[i] : p.v[i];
      const b = p.hi ? p.hi[i] : p.v[i];
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  } else if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    const d = Math.abs(hi) * 0.05 || 1;
    lo -= d;
    hi += d;
  } else {
    const padding = (hi - lo) * 0.08;
    lo -= padding;
    hi += padding;
  }
  const yOf = (v) => y0 + stripH - ((v - lo) / (hi - lo)) * stripH;

  // frame and grid
  ctx.strokeStyle = GRID;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const t of ticks) {
    const x = Math.round(xOf(t)) + 0.5;
    ctx.moveTo(x, y0);
    ctx.lineTo(x, y0 + stripH);
  }
  const ystep = niceStep(hi - lo, Math.max(2, Math.floor(stripH / 38)));
  ctx.fillStyle = AXIS;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let v = Math.ceil(lo / ystep) * ystep; v <= hi; v += ystep) {
    const y = Math.round(yOf(v)) + 0.5;
    ctx.moveTo(left, y);
    ctx.lineTo(left + plotW, y);
    if (y > y0 + 7 && y < y0 + stripH - 5) ctx.fillText(axisLabel(v, ystep), left - 8, y);
  }
  ctx.stroke();
  ctx.strokeStyle = FRAME;
  ctx.strokeRect(left + 0.5, y0 + 0.5, plotW - 1, stripH - 1);

  if (!p || p.n === 0) {
    ctx.fillStyle = AXIS;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(e.error ? `error ${e.error.status}` : p ? "no data in this window" : "waiting for data…",
      left + plotW / 2, y0 + stripH / 2);
    return;
  }

  ctx.save();
  ctx.beginPath();
  ctx.rect(left, y0, plotW, stripH);
  ctx.clip();
  const gapMs = p.dt > 0 ? p.dt * 3 : Infinity; // binned: a gap of empty bins breaks the line
  // min/max band of binned data
  if (p.lo) {
    ctx.fillStyle = e.color + "40";
    let i = 0;
    while (i < p.n) {
      let j = i;
      while (j + 1 < p.n && p.t[j + 1] - p.t[j] <= gapMs) j++;
      ctx.beginPath();
      for (let k = i; k <= j; k++) ctx.lineTo(xOf(p.t[k]), yOf(p.hi[k]));
      for (let k = j; k >= i; k--) ctx.lineTo(xOf(p.t[k]), yOf(p.lo[k]));
      ctx.closePath();
      ctx.fill();
      i = j + 1;
    }
  }
  // the value line
  ctx.strokeStyle = e.color;
  ctx.lineWidth = 1.75;
  ctx.lineJoin = "round";
  ctx.beginPath();
  for (let i = 0; i < p.n; i++) {
    const x = xOf(p.t[i]);
    const y = yOf(p.v[i]);
    if (i === 0 || p.t[i] - p.t[i - 1] > gapMs) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  }
  ctx.stroke();
  if (p.n < plotW / 8) { // few points: show them
    ctx.fillStyle = e.color;
    for (let i = 0; i < p.n; i++) {
      ctx.beginPath();
      ctx.arc(xOf(p.t[i]), yOf(p.v[i]), 2.2, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  // the newest point
  const lx = xOf(p.t[p.n - 1]);
  const ly = yOf(p.v[p.n - 1]);
  ctx.beginPath();
  ctx.arc(lx, ly, 4, 0, 2 * Math.PI);
  ctx.fillStyle = e.color;
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#0b0f14";
  ctx.stroke();
  ctx.restore();
}

// --- controls -----------------------------------------------------------------------------------------

function renderWindowButtons() {
  for (const b of $("windows").querySelectorAll("button")) {
    b.setAttribute("aria-checked", String(Number(b.dataset.ms) === view.windowMs));
  }
}

$("windows").addEventListener("click", (ev) => {
  const b = ev.target.closest("button");
  if (!b) return;
  const ms = Number(b.dataset.ms);
  if (ms === view.windowMs) return;
  view.windowMs = ms;
  renderWindowButtons();
  restartAll();
});

$("bins").addEventListener("change", () => {
  view.bins = Number($("bins").value);
  restartAll();
});

// Search: the REST route, relative to this page (so /api/live searches /api/channels/search).
const q = $("q");
const results = $("results");
let searchTimer = 0;
let searchAbort = null;
let found = [];
let selected = -1;

function closeResults() {
  results.hidden = true;
  q.setAttribute("aria-expanded", "false");
  selected = -1;
}

function showNote(text) {
  const li = document.createElement("li");
  li.className = "note";
  li.textContent = text;
  results.replaceChildren(li);
  results.hidden = false;
  q.setAttribute("aria-expanded", "true");
}

function renderResults() {
  results.replaceChildren();
  const shown = found.slice(0, 60);
  shown.forEach((ch, i) => {
    const li = document.createElement("li");
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(i === selected));
    if (view.curves.some((c) => c.channel_name === ch.name && c.backend === ch.backend)) li.className = "plotted";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = ch.name;
    const meta = document.createElement("span");
    meta.className = "meta";
    const shape = Array.isArray(ch.shape) && ch.shape.length ? `[${ch.shape.join("×")}]` : "";
    meta.textContent = [ch.backend, ch.type + shape, ch.unit].filter(Boolean).join(" · ");
    li.append(name, meta);
    li.addEventListener("mousedown", (ev) => ev.preventDefault()); // keep the input's focus
    li.addEventListener("click", () => pick(ch));
    results.append(li);
  });
  if (found.length > shown.length) {
    const li = document.createElement("li");
    li.className = "note";
    li.textContent = `${found.length - shown.length} more: refine the search`;
    results.append(li);
  }
  if (!found.length) return showNote("No channel matches.");
  results.hidden = false;
  q.setAttribute("aria-expanded", "true");
}

function pick(ch) {
  addChannel(ch.name, ch.backend, ch.unit || "");
  q.value = "";
  closeResults();
}

async function search(text) {
  if (searchAbort) searchAbort.abort();
  searchAbort = new AbortController();
  try {
    const res = await fetch(`channels/search?search_text=${encodeURIComponent(text)}`, { signal: searchAbort.signal });
    const body = await res.json().catch(() => ({}));
    if (q.value.trim() !== text) return;
    if (!res.ok) return showNote(`Search failed: ${body.detail || res.status}`);
    found = Array.isArray(body.channels) ? body.channels : [];
    selected = found.length ? 0 : -1;
    renderResults();
  } catch (err) {
    if (err.name !== "AbortError") showNote("Search failed: the server is not reachable.");
  }
}

q.addEventListener("input", () => {
  clearTimeout(searchTimer);
  const text = q.value.trim();
  if (!text) return closeResults();
  searchTimer = setTimeout(() => search(text), 250);
});

q.addEventListener("keydown", (ev) => {
  const n = Math.min(found.length, 60);
  if (ev.key === "ArrowDown" && n) {
    selected = (selected + 1) % n;
    renderResults();
    ev.preventDefault();
  } else if (ev.key === "ArrowUp" && n) {
    selected = (selected - 1 + n) % n;
    renderResults();
    ev.preventDefault();
  } else if (ev.key === "Enter") {
    if (!results.hidden && selected >= 0 && found[selected]) pick(found[selected]);
    ev.preventDefault();
  } else if (ev.key === "Escape") {
    closeResults();
  }
});
q.addEventListener("blur", closeResults);
q.addEventListener("focus", () => {
  if (q.value.trim() && found.length) renderResults();
});

// --- status line --------------------------------------------------------------------------------------

const rateSamples = []; // [local ms, messages so far], one a second

function formatBytes(n) {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function formatAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

function setText(id, text, cls = "") {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
  const want = "v" + (cls ? " " + cls : "");
  if (el.className !== want) el.className = want;
}

function updateConnection() {
  const el = $("conn");
  const state = client.state;
  el.dataset.state = state;
  let text = { connecting: "Connecting…", open: "Connected · live", closed: "Closed" }[state] || state;
  if (state === "reconnecting") {
    const wait = Math.max(0, Math.ceil((client.retryAt - Date.now()) / 1000));
    text = wait > 0 ? `Reconnecting in ${wait} s…` : "Reconnecting…";
  }
  $("conn-text").textContent = text;
  // While the stream is down the curves stop moving: say so over the plot, and dim it.
  const down = state !== "open" && view.curves.length > 0;
  const banner = $("banner");
  banner.hidden = !down;
  canvas.parentElement.classList.toggle("stale", down);
  if (down) {
    const asOf = lastUpdateAt ? ` · curves as of ${timeLabel(new Date(lastUpdateAt), true)}` : "";
    banner.textContent = `Stream ${state === "closed" ? "closed" : "interrupted"}${asOf}`;
  }
}

function updateStatus() {
  updateConnection();
  const now = Date.now();
  if (lastUpdateAt) {
    const age = now - lastUpdateAt;
    setText("st-last", `${timeLabel(new Date(lastUpdateAt), true)} (${formatAge(age)})`,
      age > 120000 ? "bad" : age > 30000 ? "warn" : "");
  } else {
    setText("st-last", "—");
  }
  rateSamples.push([now, client.stats.messages]);
  while (rateSamples.length > 2 && now - rateSamples[0][0] > 10000) rateSamples.shift();
  const [t0, m0] = rateSamples[0];
  const rate = now > t0 ? ((client.stats.messages - m0) * 1000) / (now - t0) : 0;
  setText("st-rate", rate.toFixed(1));
  setText("st-recv", `${formatBytes(client.stats.bytes)} · ${client.stats.messages} msgs`);
  let reloads = 0;
  let bytes = 0;
  for (const e of view.curves) {
    if (!e.firstDataAt) continue;
    const n = Math.floor((now - e.firstDataAt) / AUTO_APPLY_MS);
    reloads += n;
    bytes += n * e.fullBytes;
  }
  setText("st-saved", reloads ? `${reloads} whole-window reloads ≈ ${formatBytes(bytes)}` : "none yet (one per curve per minute)");
}

// Server-wide figures from /metrics when it is reachable (it may be closed by a token or another port).
let metricsOK = true;
async function updateServer() {
  if (!metricsOK) return;
  try {
    const res = await fetch("metrics", { headers: { Accept: "text/plain" } });
    if (!res.ok) throw new Error(String(res.status));
    const text = await res.text();
    const metric = (name) => {
      const m = text.match(new RegExp(`^${name} ([0-9.e+]+)$`, "m"));
      return m ? Number(m[1]) : NaN;
    };
    const subs = metric("databoard_stream_subscriptions");
    const series = metric("databoard_stream_series");
    const polls = metric("databoard_stream_polls_total");
    if (Number.isNaN(subs) || Number.isNaN(series)) throw new Error("no stream figures");
    const shared = Math.max(0, subs - series);
    setText("st-server", `${subs} subscriptions → ${series} polled series (${shared} shared) · ${polls} polls`);
  } catch (_) {
    metricsOK = false;
    setText("st-server", "not available (/metrics not reachable)");
  }
}

client.on("state", () => {
  updateConnection();
  renderLegendStates();
});

function renderLegendStates() {
  for (const e of view.curves) updateLegendEntry(e);
}

// --- location hash ------------------------------------------------------------------------------------

function saveHash() {
  const p = new URLSearchParams();
  p.set("w", String(view.windowMs));
  p.set("bins", String(view.bins));
  for (const e of view.curves) {
    p.append("c", e.channel_name);
    p.append("b", e.backend);
  }
  history.replaceState(null, "", "#" + p.toString());
}

function loadHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const w = Number(p.get("w"));
  if (WINDOWS.includes(w)) view.windowMs = w;
  const bins = Number(p.get("bins"));
  if (BINS.includes(bins)) view.bins = bins;
  $("bins").value = String(view.bins);
  renderWindowButtons();
  const names = p.getAll("c");
  const backends = p.getAll("b");
  names.forEach((n, i) => addChannel(n, backends[i] || "sf-databuffer"));
  renderLegend();
}

// --- start --------------------------------------------------------------------------------------------

loadHash();
updateStatus();
setInterval(updateStatus, 1000);
setTimeout(updateServer, 3000); // once the page's own subscriptions are counted
setInterval(updateServer, 15000);
requestDraw();

// For tests and the console: the client, the curves as stream.js handed them over, and the controls.
window.__live = {
  client,
  add: (name, backend) => Boolean(addChannel(name, backend)),
  remove: (name) => {
    const e = view.curves.find((c) => c.channel_name === name);
    if (e) removeChannel(e);
    return Boolean(e);
  },
  setWindow: (ms) => {
    const b = $("windows").querySelector(`button[data-ms="${ms}"]`);
    if (b) b.click();
    return Boolean(b);
  },
  curves: () => view.curves.map((e) => ({
    channel_name: e.channel_name,
    backend: e.backend,
    window_ms: view.windowMs,
    num_bins: view.bins,
    status: e.sub.status,
    messages: e.sub.messages,
    error: e.error,
    info: e.info,
    curve: e.curve,
  })),
};
