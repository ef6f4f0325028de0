// The viewer shows the model's state: a real exec model (Python) that fails
// every frame makes the page's "model" badge say failing, with the model's
// error, while the stream stays live; a working model says ok. Headless
// Chromium against the real server, as test_viewer.mjs.
//
// Run: NODE_PATH=<repo>/node_modules FRAMECAST=<build>/framecast \
//      FC_SOURCE_DIR=<repo> node test_viewer_model.mjs
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline, startServer, stopServer, launchChromium } from './fc.mjs';

const MODEL = `
import json, os, struct, sys
H = struct.Struct("<IIqqIIIIII")
while True:
    head = sys.stdin.buffer.read(H.size)
    if len(head) < H.size:
        break
    f = H.unpack(head)
    sys.stdin.buffer.read(f[7])
    answer = {"frame": f[2], "error": "no weights loaded"} if os.environ.get("FAIL") \\
        else {"frame": f[2], "detections": []}
    os.write(3, json.dumps(answer).encode() + b"\\n")
`;

let dir;
let browser;
const servers = [];

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fc-viewer-model-'));
  writeFileSync(path.join(dir, 'model.py'), MODEL);
  browser = await launchChromium();
});

after(async () => {
  try {
    if (browser) await deadline(browser.close(), 10000, 'Chromium to close');
  } finally {
    for (const s of servers) {
      if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

/** The page's model badge and error text, and its data-* state, once cond holds. */
async function watch(env, cond, what) {
  const server = await startServer(['--source', 'synthetic:size=160x120,fps=10', '--predictor',
    `exec:cmd=${env}/usr/bin/python3 ${path.join(dir, 'model.py')}`]);
  servers.push(server);
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`, { timeout: 15000 });
    const end = Date.now() + 30000;
    for (;;) {
      const seen = await page.evaluate(() => ({
        badge: document.getElementById('fc-model').textContent,
        error: document.getElementById('fc-error').textContent,
        predictorState: document.getElementById('fc-stats').dataset.predictorState,
        state: document.getElementById('fc-stats').dataset.state,
      }));
      if (cond(seen)) return seen;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the page shows ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await page.close();
    await stopServer(server);
  }
}

test('a model failing every frame shows as failing, with its error', async () => {
  const seen = await watch('FAIL=1 ', (s) => s.predictorState === 'failing', 'the model badge to say failing');
  assert.equal(seen.badge, 'failing');
  assert.equal(seen.state, 'live', 'the stream itself is live');
  assert.equal(seen.error, 'model failing: model: no weights loaded');
});

test('a working model shows as ok', async () => {
  const seen = await watch('', (s) => s.predictorState === 'ok', 'the model badge to say ok');
  assert.equal(seen.badge, 'ok');
  assert.equal(seen.error, '');
});
