// framecast over TLS with Node's `ws` (wss://, the test's certificate as its
// only authority) and the live viewer in Chromium over https:// (a
// self-signed certificate: Chromium is told to accept it). The certificate
// is made for the run by the openssl command.
//
// Run: NODE_PATH=<repo>/node_modules FRAMECAST=<build>/framecast node test_tls_node.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline, startServer, stopServer, launchChromium } from './fc.mjs';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

let server;
let dir;
let cert;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fc-tls-'));
  cert = path.join(dir, 'c.pem');
  const key = path.join(dir, 'k.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
  { stdio: 'ignore' });
  server = await startServer(['--source', 'synthetic:size=640x360,fps=20,objects=3', '--predictor', 'motion',
    '--tls-cert', cert, '--tls-key', key]);
});

after(async () => {
  if (server) await stopServer(server);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a ws client over wss:// receives consecutive results', async () => {
  const ws = new WebSocket(`wss://localhost:${server.port}/ws/demo`, { ca: readFileSync(cert) });
  const seqs = [];
  await deadline(new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString('utf8'));
      if (m.type !== 'result') return;
      seqs.push(m.seq);
      if (seqs.length === 40) resolve();
    });
  }), 20000, '40 results over wss://');
  ws.close(1000);
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'consecutive seq');
});

test('the viewer works over https://', async () => {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`https://127.0.0.1:${server.port}/`, { timeout: 15000 });
    const end = Date.now() + 20000;
    let d;
    for (;;) {
      d = await page.evaluate(() => ({ ...document.getElementById('fc-stats').dataset }));
      if (d.conn === 'open' && Number(d.framesDrawn) >= 5) break;
      if (Date.now() > end) throw new Error(`no frames over https:// in 20 s: ${JSON.stringify(d)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(Number(d.losses), 0);
    // The canvas shows the JPEG: many distinct colours.
    const colours = await page.evaluate(() => {
      const c = document.getElementById('fc-canvas');
      const img = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < img.length; i += 4 * 37) seen.add((img[i] >> 3) << 10 | (img[i + 1] >> 3) << 5 | img[i + 2] >> 3);
      return seen.size;
    });
    assert.ok(colours > 20, `only ${colours} colours: no image drawn`);
    assert.deepEqual(errors, []);
  } finally {
    await deadline(browser.close(), 10000, 'Chromium to close');
  }
});
