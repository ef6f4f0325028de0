// framecast live viewer: lists the server's streams (GET /api/streams),
// subscribes to one at /ws/<name>?preview=1, and draws each preview JPEG with
// the boxes of the result that has the same seq (the result comes first). A
// stream without previews gets its boxes drawn on a dark canvas per result.
// The page's own counters are mirrored as data-* attributes on #fc-stats so a
// test can read what the page saw and drew. No build step, no external fetch,
// nothing inline: the server's Content-Security-Policy allows only this
// script, style.css and connections to the same host. The connection itself
// (reconnecting, resuming, previews' headers) is framecast.js, the module
// any page can build on.
//
// With authentication on, the page takes its token from its own URL
// (/?token=JWT) and passes it on: in the Authorization header of its API
// calls, and as ?token= on the WebSocket (a browser cannot set headers on
// one).
import { FramecastStream, parsePreviewHeader } from './framecast.js';

// For the tests, which check the page's parser against the shared vectors.
window.framecast = { parsePreviewHeader };

const RATE_WINDOW_MS = 2000;    // results/s is measured over this window
const PREVIEW_IDLE_MS = 2000;   // no preview this long: draw results directly

const $ = (id) => document.getElementById(id);
const el = {
  streams: $('fc-streams'), info: $('fc-info'), canvas: $('fc-canvas'), note: $('fc-note'),
  stats: $('fc-stats'), conn: $('fc-conn'), state: $('fc-state'), rate: $('fc-rate'), e2e: $('fc-e2e'),
  publish: $('fc-publish'), losses: $('fc-losses'), seq: $('fc-seq'), frames: $('fc-frames'), error: $('fc-error'),
  model: $('fc-model'),
};

const TOKEN = new URLSearchParams(location.search).get('token');

const st = {
  streams: [], name: null, sub: null, conn: 'connecting', openedAt: 0, lastPreviewAt: 0,
  streamState: '', streamError: '', authError: '',
};

/* Counters of the selected stream; a stream switch starts them afresh. */
function resetCounters() {
  Object.assign(st, {
    lastSeq: null, resultCount: 0, losses: 0, lost: [], arrivals: [],
    e2eMs: null, publishMs: null, framesDrawn: 0, lastSeqDrawn: null,
    drawnBoxes: null, resultBoxes: null, pending: null, decoding: false,
    streamState: '', streamError: '', predictorState: '', predictorError: '',
  });
}

function selected() { return st.streams.find((s) => s.name === st.name) || null; }

async function refreshStreams() {
  try {
    const headers = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
    const res = await fetch('/api/streams', { cache: 'no-store', headers });
    if (res.status === 401 || res.status === 403) {
      // Say why nothing comes: the server names what is wrong with the token.
      const why = (await res.json().catch(() => ({}))).error || `HTTP ${res.status}`;
      st.authError = TOKEN ? why : `${why}: open this page as /?token=...`;
      updateStats();
      return;
    }
    if (!res.ok) throw new Error(`GET /api/streams: ${res.status}`);
    st.authError = '';
    st.streams = (await res.json()).streams || [];
  } catch (e) {
    console.warn(e.message);
  }
  renderStreams();
}

function renderStreams() {
  el.streams.replaceChildren(...st.streams.map((s) => {
    const b = document.createElement('button');
    const dot = document.createElement('span');
    dot.className = `dot s-${s.name === st.name && st.streamState ? st.streamState : s.state}`;
    b.append(dot, s.name);
    b.setAttribute('aria-pressed', String(s.name === st.name));
    b.title = s.source || '';
    b.onclick = () => select(s.name);
    return b;
  }));
  const s = selected();
  el.info.textContent = s
    ? `${s.source} · ${s.width}×${s.height} @ ${s.fps} fps · ${s.predictor} · ${s.clients} client${s.clients === 1 ? '' : 's'}`
    : '';
}

function select(name) {
  if (name === st.name && st.sub) return;
  st.name = name;
  const url = new URL(location.href);
  url.searchParams.set('stream', name);
  history.replaceState(null, '', url);
  resetCounters();
  st.conn = 'connecting';
  connect();
  renderStreams();
  clearCanvas();
  updateStats();
}

/* Subscribes to the selected stream with previews. framecast.js reconnects
 * and resumes where it left off (the server sends what was missed, or a
 * reset saying what is lost); a first connection asks for the newest
 * result at once. */
function connect() {
  if (st.sub) st.sub.close();
  const sub = new FramecastStream(st.name, { preview: true, token: TOKEN });
  st.sub = sub;
  const mine = (fn) => (ev) => { if (st.sub === sub) fn(ev.detail); };
  let opened = false;
  sub.addEventListener('connection', mine((c) => {
    if (c.state === 'open') {
      opened = true;
      st.authError = '';
      st.conn = 'open';
      st.openedAt = performance.now();
      st.lastPreviewAt = 0;
      st.arrivals = [];
      refreshStreams();
    } else if (c.state === 'reconnecting') {
      // 4401: the token expired (docs/protocol.md); reconnecting with it
      // will be refused, so say what would help. A handshake refused with
      // 401 or 403 shows only as a close here: the API says why.
      if (c.code === 4401) st.authError = 'the token has expired: open this page with a new ?token=';
      else if (!opened) refreshStreams();
      opened = false;
      st.conn = 'reconnecting';
    } else {
      return;
    }
    updateStats();
  }));
  sub.addEventListener('status', mine((m) => {
    st.streamState = m.state;
    st.streamError = m.error || '';
    // The model's own state: ok, failing, restarting or failed, with why.
    st.predictorState = m.predictor_state || '';
    st.predictorError = m.predictor_error || '';
    renderStreams();
    updateStats();
  }));
  sub.addEventListener('gap', mine((g) => noteLost(g.from, g.to)));
  sub.addEventListener('reset', mine((m) => {
    // Another numbering (the server restarted): seq starts over.
    if (m.reason === 'epoch' && m.lastSeq !== null) {
      st.lost.push(`after ${m.lastSeq} (restart)`);
      if (st.lost.length > 5) st.lost.shift();
    }
    updateStats();
  }));
  sub.addEventListener('result', mine(onResult));
  sub.addEventListener('preview', mine(onPreview));
  sub.start();
}

function onResult(m) {
  const now = Date.now();
  st.lastSeq = m.seq;
  st.resultCount++;
  st.arrivals.push(performance.now());
  st.e2eMs = (now * 1000 - m.capture_us) / 1000;
  st.publishMs = (now * 1000 - m.publish_us) / 1000;
  if (!previewsFlowing()) draw(null, m, m.seq);
  else updateStats();
}

/* Results that will never come, shown in the stats (the last few ranges). */
function noteLost(from, to) {
  st.losses += to - from + 1;
  st.lost.push(from === to ? `${from}` : `${from}–${to}`);
  if (st.lost.length > 5) st.lost.shift();
}

/* Previews are drawn when the stream has them and one came lately (or the
 * connection is young enough for the first one to be on its way). */
function previewsFlowing() {
  const s = selected();
  if (s && s.preview === false) return false;
  const since = st.lastPreviewAt || st.openedAt;
  return performance.now() - since < PREVIEW_IDLE_MS;
}

function onPreview(p) {
  if (p.stream !== st.name) return;
  st.lastPreviewAt = performance.now();
  st.pending = p; // a newer preview replaces one not yet decoded
  if (!st.decoding) decodeNext();
}

async function decodeNext() {
  const p = st.pending;
  st.pending = null;
  if (!p) return;
  st.decoding = true;
  const sub = st.sub;
  try {
    const bmp = await p.decode();
    // The result came first (same seq); it may have been kept in vain.
    if (sub === st.sub) draw(bmp, p.result ?? sub.results.get(p.seq) ?? null, p.seq);
    bmp.close();
  } catch (e) {
    console.warn(`preview seq ${p.seq}: cannot decode the JPEG: ${e.message}`);
  } finally {
    st.decoding = false;
    if (st.pending) decodeNext();
  }
}

/* Sizes the canvas to its box in device pixels; returns the 2D context. */
function context() {
  const c = el.canvas;
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(c.clientWidth * dpr));
  const h = Math.max(1, Math.round(c.clientHeight * dpr));
  if (c.width !== w || c.height !== h) {
    c.width = w;
    c.height = h;
  }
  return c.getContext('2d');
}

function clearCanvas() {
  const ctx = context();
  ctx.fillStyle = '#07090c';
  ctx.fillRect(0, 0, el.canvas.width, el.canvas.height);
}

function colorFor(label) {
  let h = 0;
  for (const ch of String(label)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return `hsl(${(h + 190) % 360} 90% 60%)`;
}

/* Draws one frame: the preview (or a dark frame) letterboxed into the
 * canvas, then the result's boxes scaled from source pixels. */
function draw(bmp, result, seq) {
  const ctx = context();
  const cw = el.canvas.width, ch = el.canvas.height;
  const s = selected();
  const fw = (result && result.frame.width) || (s && s.width) || (bmp && bmp.width) || cw;
  const fh = (result && result.frame.height) || (s && s.height) || (bmp && bmp.height) || ch;
  const k = Math.min(cw / fw, ch / fh);
  const dw = fw * k, dh = fh * k, ox = (cw - dw) / 2, oy = (ch - dh) / 2;
  const sx = dw / fw, sy = dh / fh;
  ctx.fillStyle = '#07090c';
  ctx.fillRect(0, 0, cw, ch);
  if (bmp) ctx.drawImage(bmp, ox, oy, dw, dh);
  else {
    ctx.fillStyle = '#151a21';
    ctx.fillRect(ox, oy, dw, dh);
  }
  const dpr = window.devicePixelRatio || 1;
  ctx.lineWidth = 2 * dpr;
  ctx.font = `${Math.round(12 * dpr)}px system-ui, sans-serif`;
  ctx.textBaseline = 'bottom';
  const drawn = [];
  for (const d of (result && result.detections) || []) {
    const [x, y, w, h] = d.box;
    const rx = ox + x * sx, ry = oy + y * sy, rw = w * sx, rh = h * sy;
    const color = colorFor(d.label);
    ctx.strokeStyle = color;
    ctx.strokeRect(rx, ry, rw, rh);
    const text = `${d.label} ${Number(d.score).toFixed(2)}`;
    const tw = ctx.measureText(text).width + 8 * dpr, th = 16 * dpr;
    const ty = ry - th < oy ? ry + th : ry; // inside the box when at the top edge
    ctx.fillStyle = color;
    ctx.fillRect(rx - ctx.lineWidth / 2, ty - th, tw, th);
    ctx.fillStyle = '#07090c';
    ctx.fillText(text, rx + 4 * dpr, ty - 2 * dpr);
    // What was drawn, mapped back to source pixels, for the test to compare.
    drawn.push({ label: d.label, score: d.score, box: [(rx - ox) / sx, (ry - oy) / sy, rw / sx, rh / sy] });
  }
  st.framesDrawn += bmp ? 1 : 0;
  st.lastSeqDrawn = seq;
  st.drawnBoxes = { seq, boxes: drawn };
  st.resultBoxes = { seq, boxes: result ? result.detections.map((d) => ({ label: d.label, score: d.score, box: d.box })) : null };
  updateStats();
}

function rate() {
  const now = performance.now();
  while (st.arrivals.length && st.arrivals[0] < now - RATE_WINDOW_MS) st.arrivals.shift();
  const span = Math.min(RATE_WINDOW_MS, now - st.openedAt);
  return st.conn === 'open' && span > 250 ? st.arrivals.length / (span / 1000) : 0;
}

// Date.now() has 1 ms steps: below that the figure is noise, not a value.
const ms = (v) => (v === null ? '–' : v < 1 ? '< 1 ms' : `${v.toFixed(1)} ms`);

function setBadge(node, value) {
  node.textContent = value || '–';
  node.className = `badge s-${value}`;
}

function updateStats() {
  const r = rate();
  const d = el.stats.dataset;
  d.conn = st.conn;
  d.authError = st.authError;
  d.state = st.streamState;
  d.predictorState = st.predictorState;
  d.results = String(st.resultCount);
  d.framesDrawn = String(st.framesDrawn);
  d.rate = r.toFixed(2);
  d.losses = String(st.losses);
  d.lost = st.lost.join(' ');
  d.e2eMs = st.e2eMs === null ? '' : st.e2eMs.toFixed(1);
  d.publishMs = st.publishMs === null ? '' : st.publishMs.toFixed(1);
  d.lastSeqDrawn = st.lastSeqDrawn === null ? '' : String(st.lastSeqDrawn);
  d.drawnBoxes = JSON.stringify(st.drawnBoxes);
  d.resultBoxes = JSON.stringify(st.resultBoxes);

  setBadge(el.conn, st.conn);
  setBadge(el.state, st.streamState);
  setBadge(el.model, st.predictorState);
  el.model.title = st.predictorError;
  el.rate.textContent = r.toFixed(1);
  el.e2e.textContent = ms(st.e2eMs);
  el.publish.textContent = ms(st.publishMs);
  el.losses.textContent = st.lost.length ? `${st.losses} (${st.lost.join(', ')})` : String(st.losses);
  el.seq.textContent = st.lastSeq === null ? '–' : String(st.lastSeq);
  el.frames.textContent = String(st.framesDrawn);
  // The stream's error first; the model's when the stream itself is fine.
  el.error.textContent = st.authError || st.streamError
    || (st.predictorError && st.predictorState !== 'ok' ? `model ${st.predictorState}: ${st.predictorError}` : '');
  // Over the canvas: why no new frame is coming, if that is the case.
  let note = '';
  if (st.conn !== 'open') note = `${st.conn}…`;
  else if (st.streamState && st.streamState !== 'live') note = `stream ${st.streamState}`;
  else if (st.lastSeqDrawn === null) note = 'waiting for the first frame…';
  el.note.textContent = note;
  el.note.hidden = !note;
}

async function main() {
  resetCounters();
  await refreshStreams();
  const wanted = new URLSearchParams(location.search).get('stream');
  // Without a list (the server is down) the wanted or the default stream
  // is tried anyway; the reconnect loop waits for the server.
  const name = st.streams.some((s) => s.name === wanted) ? wanted
    : (st.streams[0] && st.streams[0].name) || wanted || 'demo';
  select(name);
  setInterval(updateStats, 250);
  window.addEventListener('resize', () => { if (!st.framesDrawn) clearCanvas(); });
}

main();
