// The live viewer (web/) in headless Chromium against the real server: the
// page fetches /api/streams, subscribes with ?preview=1, draws previews with
// the boxes of the result that has the same seq, parses the preview header
// exactly as the C unit test does (tests/vectors/preview_header.json), and
// reconnects by itself when the server restarts on the same port.
//
// Run: NODE_PATH=<repo>/node_modules FRAMECAST=<build>/framecast \
//      FC_SOURCE_DIR=<repo> FC_BUILD_DIR=<build> node test_viewer.mjs
// Needs Debian's chromium at /usr/bin/chromium (never downloads a browser).
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline, startProxy, startServer as spawnServer, stopServer, launchChromium } from './fc.mjs';

const SOURCE_DIR = process.env.FC_SOURCE_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD_DIR = process.env.FC_BUILD_DIR ?? path.join(SOURCE_DIR, 'build', 'debug');
// Default flags otherwise: a newcomer who opens the page must see video,
// so previews are on by default (made only while the page watches).
// Three seconds of history (60 results at 20 fps): a quick reconnection gets
// back everything it missed, even on a loaded machine; a longer outage
// loses some, and the page says which.
const SERVER_ARGS = [
  '--source', 'synthetic:size=640x360,fps=20,objects=3',
  '--predictor', 'motion',
  '--history', 'count:60',
];

let server; // { proc, port, stderr }
let proxy; // the page reaches the server through it: { port, cut, refuse, close }
let browser;
let page;
const pageErrors = [];
const consoleLines = [];
let failed = false;

/** A test that records its failure, so the page console is printed at the end. */
function step(name, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

/** framecast with the viewer's stream on listen (HOST:PORT). */
function startServer(listen) {
  return spawnServer(SERVER_ARGS, listen);
}

function killServer(srv) {
  if (srv && srv.proc.exitCode === null && srv.proc.signalCode === null) srv.proc.kill('SIGKILL');
}

/** The page's counters (the data-* attributes of #fc-stats), parsed. */
async function stats() {
  const d = await page.evaluate(() => ({ ...document.getElementById('fc-stats').dataset }));
  return {
    ...d,
    results: Number(d.results),
    framesDrawn: Number(d.framesDrawn),
    rate: Number(d.rate),
    losses: Number(d.losses),
    lost: d.lost,
    e2eMs: d.e2eMs === '' ? NaN : Number(d.e2eMs),
    publishMs: d.publishMs === '' ? NaN : Number(d.publishMs),
    drawnBoxes: JSON.parse(d.drawnBoxes),
    resultBoxes: JSON.parse(d.resultBoxes),
  };
}

/**
 * Polls the page's counters until cond(stats) is true or ms pass; each
 * sample also goes to onSample (which may throw to fail at once).
 */
async function waitStats(cond, ms, what, onSample = () => {}) {
  const end = Date.now() + ms;
  let s;
  for (;;) {
    s = await stats();
    onSample(s);
    if (cond(s)) return s;
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}; page counters: ${JSON.stringify(s)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Asserts that the boxes drawn for the last frame are its result's boxes. */
function checkBoxes(s) {
  const { drawnBoxes: drawn, resultBoxes: result } = s;
  assert.ok(drawn && result, `no drawn frame yet: ${JSON.stringify(s)}`);
  assert.equal(drawn.seq, result.seq, 'drawn and result boxes are of different frames');
  assert.equal(String(drawn.seq), s.lastSeqDrawn);
  assert.ok(Array.isArray(result.boxes), `seq ${drawn.seq}: drawn without its result (it came before the preview)`);
  assert.equal(drawn.boxes.length, result.boxes.length, `seq ${drawn.seq}: box count`);
  drawn.boxes.forEach((d, i) => {
    const r = result.boxes[i];
    assert.equal(d.label, r.label);
    for (let k = 0; k < 4; k++) {
      assert.ok(Math.abs(d.box[k] - r.box[k]) <= 0.5,
        `seq ${drawn.seq} box ${i}: drawn [${d.box}] vs result [${r.box}] (source pixels)`);
    }
    assert.ok(r.box[0] >= 0 && r.box[1] >= 0 && r.box[0] + r.box[2] <= 640 && r.box[1] + r.box[3] <= 360,
      `seq ${drawn.seq}: box [${r.box}] is outside the 640x360 source`);
  });
}

/**
 * Waits until framesDrawn reaches atLeast and `withBoxes` distinct drawn
 * frames with boxes were seen, checking every sampled frame's boxes.
 */
async function waitFramesWithBoxes(atLeast, withBoxes, ms, what) {
  const seen = new Set();
  return waitStats((s) => s.framesDrawn >= atLeast && seen.size >= withBoxes, ms, what, (s) => {
    if (!s.drawnBoxes || s.drawnBoxes.boxes.length === 0 || seen.has(s.drawnBoxes.seq)) return;
    checkBoxes(s);
    seen.add(s.drawnBoxes.seq);
  });
}

const OUT_DIR = path.join(BUILD_DIR, 'test-output');

before(async () => {
  server = await startServer('127.0.0.1:0');
  proxy = await startProxy(server.port);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  await page.goto(`http://127.0.0.1:${proxy.port}/`, { timeout: 15000 });
});

after(async () => {
  // Cleanup must not hang or hide the failure that brought us here.
  if (failed && page) {
    try {
      mkdirSync(OUT_DIR, { recursive: true });
      await deadline(page.screenshot({ path: path.join(OUT_DIR, 'viewer-failure.png') }), 10000, 'a screenshot');
      console.error(`page at the failure: ${path.join(OUT_DIR, 'viewer-failure.png')}`);
    } catch (e) {
      console.error(String(e));
    }
  }
  try {
    if (browser) await deadline(browser.close(), 10000, 'Chromium to close');
  } catch (e) {
    console.error(String(e));
  }
  if (proxy) proxy.close();
  if (server) {
    try {
      await stopServer(server);
    } finally {
      killServer(server);
    }
  }
  if (failed || pageErrors.length) {
    console.error(`page console:\n${consoleLines.slice(-40).join('\n')}`);
    if (server) console.error(`framecast stderr:\n${server.stderr}`);
  }
});

step('the page is served with its assets, lists the stream and selects it', async () => {
  const base = `http://127.0.0.1:${server.port}`;
  for (const [p, type] of [['/', 'text/html'], ['/app.js', 'javascript'], ['/style.css', 'text/css'],
    ['/api/streams', 'application/json']]) {
    const res = await fetch(base + p);
    assert.equal(res.status, 200, `GET ${p}`);
    assert.ok(res.headers.get('content-type').includes(type), `GET ${p}: Content-Type ${res.headers.get('content-type')}`);
  }
  const { streams } = await (await fetch(`${base}/api/streams`)).json();
  assert.equal(streams.length, 1);
  assert.deepEqual([streams[0].name, streams[0].width, streams[0].height, streams[0].preview], ['demo', 640, 360, true]);
  const button = page.locator('#fc-streams button', { hasText: 'demo' });
  await button.waitFor({ timeout: 10000 });
  assert.equal(await button.getAttribute('aria-pressed'), 'true');
});

step('previews are drawn with the boxes of the result with the same seq', async () => {
  const s = await waitFramesWithBoxes(10, 10, 20000, '10 preview frames drawn with boxes');
  assert.equal(s.conn, 'open');
  assert.equal(s.state, 'live');
  assert.ok(s.rate > 0, `results/s ${s.rate}`);
  assert.equal(s.losses, 0, 'a client this fast loses nothing');
  assert.ok(s.results >= s.framesDrawn, `${s.results} results for ${s.framesDrawn} previews`);
  // Same clock on both ends; Date.now() has 1 ms steps, so allow that much.
  assert.ok(s.publishMs > -1.5 && s.publishMs < 5000, `publish-to-browser ${s.publishMs} ms`);
  assert.ok(s.e2eMs >= s.publishMs - 1.5 && s.e2eMs < 5000, `end-to-end ${s.e2eMs} ms`);
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');

  // The canvas shows the JPEG, not just boxes on black: count the distinct
  // colours in a coarse grid over the drawn image.
  const colours = await page.evaluate(() => {
    const c = document.getElementById('fc-canvas');
    const img = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let y = 0; y < c.height; y += 7) {
      for (let x = 0; x < c.width; x += 7) {
        const i = (y * c.width + x) * 4;
        seen.add((img[i] >> 3) << 10 | (img[i + 1] >> 3) << 5 | img[i + 2] >> 3);
      }
    }
    return seen.size;
  });
  assert.ok(colours > 20, `the canvas has only ${colours} distinct colours: no image drawn`);

  mkdirSync(OUT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(OUT_DIR, 'viewer.png') });
});

step('parsePreviewHeader in the page agrees with the shared vectors', async () => {
  const vectors = JSON.parse(readFileSync(path.join(SOURCE_DIR, 'tests', 'vectors', 'preview_header.json'), 'utf8'));
  assert.ok(vectors.length > 0);
  const parsed = await page.evaluate((hexes) => hexes.map((hex) => {
    const bytes = new Uint8Array(hex.match(/../g).map((b) => parseInt(b, 16)));
    const h = window.framecast.parsePreviewHeader(bytes.buffer);
    return { seq: h.seq, capture_us: h.captureUs, width: h.width, height: h.height, stream: h.stream, header_len: h.headerLen };
  }), vectors.map((v) => v.hex));
  vectors.forEach((v, i) => assert.deepEqual(parsed[i], v.expect, `vector ${i}`));

  // Bad magic and a header_len beyond the buffer are refused.
  const errors = await page.evaluate((hex) => {
    const bytes = new Uint8Array(hex.match(/../g).map((b) => parseInt(b, 16)));
    const attempt = (b) => {
      try {
        window.framecast.parsePreviewHeader(b.buffer);
        return null;
      } catch (e) {
        return e.message;
      }
    };
    const badMagic = bytes.slice();
    badMagic[3] = 0x32; // "FCP2"
    return [attempt(badMagic), attempt(bytes.slice(0, 34)), attempt(bytes.slice(0, 20))];
  }, vectors[0].hex);
  assert.match(errors[0] ?? '', /magic/);
  assert.match(errors[1] ?? '', /beyond/);
  assert.match(errors[2] ?? '', /shorter/);
});

step('a dropped connection resumes where it left off: nothing lost', async () => {
  const before = await stats();
  proxy.cut();
  await waitStats((s) => s.conn === 'reconnecting', 10000, 'data-conn=reconnecting');
  const s = await waitStats((x) => x.conn === 'open' && x.results >= before.results + 30, 20000,
    '30 more results after the reconnection');
  assert.equal(s.losses, 0, `the resume lost results: ${s.lost}`);
  assert.equal(s.lost, '');
});

step('a longer outage than the history loses results, and the page says which', async () => {
  proxy.refuse(true);
  proxy.cut();
  await waitStats((s) => s.conn === 'reconnecting', 10000, 'data-conn=reconnecting');
  const gone = await stats();
  const t0 = Date.now();
  // Six seconds away: twice what the server keeps (60 results at 20 fps).
  await waitStats((s) => s.results === gone.results && Date.now() - t0 > 6000, 15000, 'six seconds');
  proxy.refuse(false);
  const s = await waitStats((x) => x.conn === 'open' && x.lost !== '', 20000, 'the lost range shown');
  const m = /^(\d+)–(\d+)$/.exec(s.lost);
  assert.ok(m, `data-lost: ${s.lost}`);
  assert.equal(s.losses, Number(m[2]) - Number(m[1]) + 1, 'losses count the range');
  assert.ok(s.losses >= 30, `a six-second outage at 20 fps loses more than ${s.losses}`);
  const shown = await page.locator('#fc-losses').textContent();
  assert.ok(shown.includes(s.lost), `the stats bar shows the range: ${shown}`);
});

step('the page reconnects when the server restarts on the same port', async () => {
  const port = server.port;
  const before = await stats();
  await stopServer(server);
  await waitStats((s) => s.conn === 'reconnecting', 10000, 'data-conn=reconnecting');
  const shown = await page.locator('#fc-conn').textContent();
  assert.equal(shown.trim(), 'reconnecting', 'the status bar shows the connection state');

  server = await startServer(`127.0.0.1:${port}`);
  assert.equal(server.port, port);
  await waitStats((s) => s.conn === 'open', 15000, 'data-conn=open after the restart');
  const s = await waitFramesWithBoxes(before.framesDrawn + 10, 10, 20000, '10 more frames drawn with boxes after the restart');
  assert.equal(s.state, 'live');
  // seq starts again at 1 on the new server: that is not a loss.
  assert.equal(s.losses, before.losses);
  assert.ok(s.rate > 0);
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
});
