// web/framecast.js, the client module, in headless Chromium against the real
// server, on pages built only on it and served from another origin (a small
// local HTTP server), as a developer's own page would be:
//
// - GET /framecast.js is JavaScript that pages of any origin may import;
// - the page of docs/protocol.md, as it is there, draws previews with boxes
//   and shows the stream's state;
// - a page that records every event gets results in seq order, previews with
//   their header's fields, the result of the same seq and a decodable JPEG;
//   a cut connection reconnects and resumes with nothing lost or repeated;
//   an outage longer than the history is a 'gap' event naming exactly the
//   results lost (two adjoining ones when the catch-up is overrun too); a server restart is a 'reset' (epoch) and results go on;
// - parsePreviewHeader agrees with the shared vectors.
//
// Run: NODE_PATH=<repo>/node_modules FRAMECAST=<build>/framecast \
//      FC_SOURCE_DIR=<repo> node test_framecast_js.mjs
// Needs Debian's chromium at /usr/bin/chromium (never downloads a browser).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline, startProxy, startServer, stopServer, launchChromium } from './fc.mjs';

const SOURCE_DIR = process.env.FC_SOURCE_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// Three seconds of history (60 results at 20 fps): a quick reconnection
// gets everything back, even on a loaded machine; a six-second outage
// loses some.
const SERVER_ARGS = ['--stream', 'door=synthetic:size=640x360,fps=20,objects=3', '--predictor', 'motion',
  '--history', 'count:60'];

let server;
let proxy; // pages reach the server through it, so a test can cut them off
let pages; // the developer's site: { port, close }
let browser;
const pageErrors = [];
const consoleLines = [];

/** The page of docs/protocol.md, pointed at the server (through the proxy). */
function docsPage(port) {
  const text = readFileSync(path.join(SOURCE_DIR, 'docs', 'protocol.md'), 'utf8');
  const m = /<!-- checked: page\.html.*?-->\s*```html\n([\s\S]*?)```/.exec(text);
  assert.ok(m, 'docs/protocol.md no longer shows the framecast.js page');
  assert.ok(m[1].includes("from 'http://127.0.0.1:8080/framecast.js'"), 'the page imports from the server');
  return m[1].replaceAll('http://127.0.0.1:8080', `http://127.0.0.1:${port}`);
}

/** A page that keeps every event for the test to read (window.seen). */
function recordingPage(port) {
  return `<!doctype html>
<meta charset="utf-8">
<script type="module">
import { FramecastStream, parsePreviewHeader } from 'http://127.0.0.1:${port}/framecast.js';
const seen = { results: [], previews: [], statuses: [], gaps: [], resets: [], connections: [], urls: [] };
window.seen = seen;
window.parsePreviewHeader = parsePreviewHeader;
const s = new FramecastStream('door', { preview: true });
window.sub = s;
s.addEventListener('result', ({ detail: r }) => seen.results.push({ seq: r.seq, epoch: r.epoch, n: r.detections.length }));
s.addEventListener('preview', async ({ detail: p }) => {
  const entry = { seq: p.seq, width: p.width, height: p.height, stream: p.stream, captureUs: p.captureUs,
    resultSeq: p.result ? p.result.seq : null, resultCaptureUs: p.result ? p.result.capture_us : null };
  seen.previews.push(entry);
  const bmp = await p.decode();
  entry.decoded = [bmp.width, bmp.height];
  bmp.close();
});
s.addEventListener('status', ({ detail: m }) => seen.statuses.push(m.state));
s.addEventListener('gap', ({ detail: g }) => seen.gaps.push(g));
s.addEventListener('reset', ({ detail: m }) => seen.resets.push(m));
s.addEventListener('connection', ({ detail: c }) => {
  seen.connections.push(c.state);
  if (c.state === 'connecting') seen.urls.push(s.url());
});
s.start();
</script>`;
}

/** The developer's web server: serves named pages, another origin than framecast's. */
function startPages(routes) {
  const srv = http.createServer((req, res) => {
    const body = routes[req.url];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(body());
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => resolve({ port: srv.address().port, close: () => srv.close() }));
  });
}

async function newPage(url) {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  await page.goto(url, { timeout: 15000 });
  return page;
}

/** Polls fn in the page until cond holds of its value, or fails after ms. */
async function waitPage(page, fn, cond, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await page.evaluate(fn);
    if (cond(v)) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(v).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Results the server has published on its stream so far. */
async function published() {
  const res = await fetch(`http://127.0.0.1:${server.port}/api/streams`);
  return (await res.json()).streams[0].results;
}

/** Polls the async cond until it holds, or fails after ms. */
async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Results of one epoch have consecutive seqs: nothing lost, nothing twice. */
function assertContiguous(results, what) {
  for (let i = 1; i < results.length; i++) {
    if (results[i].epoch !== results[i - 1].epoch) continue;
    assert.equal(results[i].seq, results[i - 1].seq + 1, `${what}: seq ${results[i - 1].seq} then ${results[i].seq}`);
  }
}

before(async () => {
  server = await startServer(SERVER_ARGS);
  proxy = await startProxy(server.port);
  pages = await startPages({ '/docs.html': () => docsPage(proxy.port), '/record.html': () => recordingPage(proxy.port) });
  browser = await launchChromium();
});

after(async () => {
  try {
    if (browser) await deadline(browser.close(), 10000, 'Chromium to close');
  } catch (e) {
    console.error(String(e));
  }
  if (pages) pages.close();
  if (proxy) proxy.close();
  if (server) {
    try {
      await stopServer(server);
    } finally {
      if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
    }
  }
  if (pageErrors.length) console.error(`page errors:\n${pageErrors.join('\n')}`);
  console.error(`page console (last lines):\n${consoleLines.slice(-30).join('\n')}`);
});

test('GET /framecast.js is a module any origin may import', async () => {
  const res = await fetch(`http://127.0.0.1:${server.port}/framecast.js`, { headers: { Origin: 'http://example.com' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/javascript/);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.equal(await res.text(), readFileSync(path.join(SOURCE_DIR, 'web', 'framecast.js'), 'utf8'));
  // The viewer's own files stay same-origin.
  const app = await fetch(`http://127.0.0.1:${server.port}/app.js`);
  assert.equal(app.headers.get('access-control-allow-origin'), null);
});

test('the page of docs/protocol.md draws previews with boxes and shows the state', async () => {
  const page = await newPage(`http://127.0.0.1:${pages.port}/docs.html`);
  await waitPage(page, () => document.getElementById('status').textContent, (t) => t === 'stream live', 15000,
    'the status line to say "stream live"');
  // The canvas holds the JPEG (many colours) and lime boxes (the motion
  // predictor finds the synthetic source's moving objects).
  const drawn = await waitPage(page, () => {
    const c = document.getElementById('view');
    const img = c.getContext('2d', { willReadFrequently: true }).getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let lime = 0;
    for (let i = 0; i < img.length; i += 4) {
      colours.add((img[i] >> 4) << 8 | (img[i + 1] >> 4) << 4 | img[i + 2] >> 4);
      if (img[i] <= 16 && img[i + 1] >= 240 && img[i + 2] <= 16) lime++;
    }
    return { colours: colours.size, lime };
  }, (d) => d.colours > 20 && d.lime > 50, 20000, 'a preview drawn with lime boxes');
  assert.ok(drawn.lime > 50);
  await page.close();
  assert.deepEqual(pageErrors, []);
});

test('results, previews, reconnects, gaps and resets reach a page built on framecast.js', async () => {
  const page = await newPage(`http://127.0.0.1:${pages.port}/record.html`);
  const seen = () => window.seen;

  // Results in order; previews with their header, their result and a JPEG.
  let s = await waitPage(page, seen, (v) => v.results.length >= 20 && v.previews.filter((p) => p.decoded).length >= 10,
    20000, '20 results and 10 decoded previews');
  assert.deepEqual(s.connections.slice(0, 2), ['connecting', 'open']);
  assert.equal(s.statuses[0], 'live');
  assert.match(s.urls[0], new RegExp(`^ws://127\\.0\\.0\\.1:${proxy.port}/ws/door\\?preview=1&last=1$`),
    'the server is where the module came from');
  assertContiguous(s.results, 'live');
  assert.ok(s.results.some((r) => r.n > 0), 'motion found something');
  for (const p of s.previews.filter((x) => x.decoded)) {
    assert.deepEqual([p.stream, p.width, p.height], ['door', 640, 360]);
    assert.deepEqual(p.decoded, [640, 360], `preview ${p.seq}: the JPEG decodes at its header's size`);
    assert.equal(p.resultSeq, p.seq, `preview ${p.seq} carries the result with its seq`);
    assert.equal(p.resultCaptureUs, p.captureUs, `preview ${p.seq}: same frame as its result`);
  }

  // A cut connection resumes: since and epoch in the URL, nothing lost.
  let n = s.results.length;
  proxy.cut();
  s = await waitPage(page, seen, (v) => v.connections.filter((c) => c === 'open').length === 2 && v.results.length >= n + 30,
    20000, '30 more results after the reconnection');
  const resumed = /since=(\d+)&epoch=([0-9a-f]{16})/.exec(s.urls[1]);
  assert.ok(resumed, `the reconnection resumes: ${s.urls[1]}`);
  const at = s.results.findIndex((r) => r.seq === Number(resumed[1]));
  assert.ok(at >= n - 1, `it resumes after its last result: ${s.urls[1]}`);
  assert.equal(s.results[at].epoch, resumed[2]);
  assert.deepEqual(s.gaps, [], 'a quick reconnection loses nothing');
  assertContiguous(s.results, 'across the reconnection');

  // Away while the server publishes twice what its history keeps: a gap
  // says exactly what was lost (two adjoining ones when the catch-up is
  // overrun too, on a loaded machine), and results go on after it.
  n = s.results.length;
  proxy.refuse(true);
  proxy.cut();
  s = await waitPage(page, seen, (v) => v.connections.at(-1) === 'reconnecting', 10000, 'the page to notice');
  const received = s.results.at(-1).seq;
  await waitFor(async () => (await published()) >= received + 120, 30000, '120 results published meanwhile');
  proxy.refuse(false);
  s = await waitPage(page, seen, (v) => v.gaps.length >= 1 && v.results.length >= n + 10, 20000, 'a gap, then results');
  assert.ok(s.gaps.length <= 2, JSON.stringify(s.gaps));
  assert.deepEqual(s.resets.map((r) => r.reason), ['expired', 'overrun'].slice(0, s.gaps.length));
  s.gaps.forEach((g, i) => assert.equal(g.to, s.resets[i].oldest_seq - 1, `gap ${i} ends before oldest_seq`));
  if (s.gaps.length === 2) assert.equal(s.gaps[1].from, s.gaps[0].to + 1, 'the gaps adjoin');
  const gap = { from: s.gaps[0].from, to: s.gaps.at(-1).to };
  assert.ok(gap.to - gap.from + 1 >= 60, `120 results published, 60 kept: ${gap.to - gap.from + 1} lost`);
  const cut = s.results.findIndex((r) => r.seq === gap.from - 1);
  assert.ok(cut >= n - 1, 'the gap starts after the last result received');
  assert.equal(s.results[cut + 1].seq, gap.to + 1, 'results go on right after the gap');
  assertContiguous(s.results.slice(cut + 1), 'after the gap');

  // The server restarts on the same port: a reset (epoch), and results go on.
  n = s.results.length;
  const port = server.port;
  await stopServer(server);
  server = await startServer(SERVER_ARGS, `127.0.0.1:${port}`);
  const resetsBefore = s.resets.length;
  s = await waitPage(page, seen, (v) => v.resets.length === resetsBefore + 1 && v.results.length >= n + 10, 30000,
    'a reset and results from the new server');
  const restartReset = s.resets.at(-1);
  assert.equal(restartReset.reason, 'epoch');
  const first = s.results.findIndex((r) => r.epoch !== s.results[0].epoch);
  assert.ok(first >= n, 'a new numbering');
  assert.equal(restartReset.lastSeq, s.results[first - 1].seq, 'the reset names the last result received');
  const fresh = s.results.slice(first);
  assert.ok(fresh[0].seq <= 20, `the new server's seq starts over: ${fresh[0].seq}`);
  assertContiguous(fresh, 'after the restart');
  assert.equal(s.gaps.length, s.resets.length - 1, 'a restart is no gap');
  await page.close();
  assert.deepEqual(pageErrors, []);
});

test('parsePreviewHeader agrees with the shared vectors', async () => {
  const page = await newPage(`http://127.0.0.1:${pages.port}/record.html`);
  await waitPage(page, () => typeof window.parsePreviewHeader, (t) => t === 'function', 10000, 'the module');
  const vectors = JSON.parse(readFileSync(path.join(SOURCE_DIR, 'tests', 'vectors', 'preview_header.json'), 'utf8'));
  const parsed = await page.evaluate((hexes) => hexes.map((hex) => {
    const h = window.parsePreviewHeader(new Uint8Array(hex.match(/../g).map((b) => parseInt(b, 16))).buffer);
    return { seq: h.seq, capture_us: h.captureUs, width: h.width, height: h.height, stream: h.stream, header_len: h.headerLen };
  }), vectors.map((v) => v.hex));
  vectors.forEach((v, i) => assert.deepEqual(parsed[i], v.expect, `vector ${i}`));
  await page.evaluate(() => window.sub.close());
  await page.close();
});
