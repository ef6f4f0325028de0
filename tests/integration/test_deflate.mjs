// permessage-deflate with Node's `ws` (perMessageDeflate on) and Chromium's
// own WebSocket: both negotiate it and get, seq for seq, the very JSON a
// client without compression gets. A tap between client and server (a TCP
// proxy) counts the bytes: the compressed clients' share is well under the
// plain one's.
//
// Run: NODE_PATH=<repo>/node_modules FRAMECAST=<build>/framecast node test_deflate.mjs
import { createRequire } from 'node:module';
import net from 'node:net';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline, startServer, stopServer, launchChromium } from './fc.mjs';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

let server;

before(async () => {
  server = await startServer(['--source', 'synthetic:size=64x64,fps=30', '--predictor', 'fake:count=12']);
});

after(async () => {
  if (server) await stopServer(server);
});

/** A TCP relay to the server counting the bytes it sends back. */
function tap() {
  const counted = { bytes: 0 };
  const srv = net.createServer((client) => {
    const up = net.connect(server.port, '127.0.0.1');
    client.pipe(up);
    up.on('data', (d) => { counted.bytes += d.length; client.write(d); });
    up.on('end', () => client.end());
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ port: srv.address().port, counted, srv })));
}

/** n results from a Node ws client: { extensions (the server's answer),
 * bySeq: Map(seq -> text) }. */
async function collect(port, perMessageDeflate, n) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/demo`, { perMessageDeflate });
  const bySeq = new Map();
  let answer = null;
  ws.on('upgrade', (res) => { answer = res.headers['sec-websocket-extensions'] ?? ''; });
  await deadline(new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data, isBinary) => {
      assert.equal(isBinary, false);
      const text = data.toString('utf8');
      const m = JSON.parse(text);
      if (m.type !== 'result') return;
      bySeq.set(m.seq, text);
      if (bySeq.size === n) resolve();
    });
  }), 20000, `${n} results`);
  ws.close(1000);
  return { extensions: answer, bySeq };
}

function assertSame(a, b, min) {
  const common = [...a.keys()].filter((s) => b.has(s));
  assert.ok(common.length >= min, `only ${common.length} results in common`);
  for (const s of common) assert.equal(b.get(s), a.get(s), `seq ${s} differs`);
}

test('Node ws with perMessageDeflate gets byte-identical JSON, in fewer bytes', async () => {
  const plainTap = await tap();
  const packedTap = await tap();
  try {
    const [plain, packed] = await Promise.all([
      collect(plainTap.port, false, 60),
      collect(packedTap.port, { clientNoContextTakeover: true }, 60),
    ]);
    assert.equal(plain.extensions, '');
    assert.equal(packed.extensions, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    assertSame(plain.bySeq, packed.bySeq, 40);
    const ratio = packedTap.counted.bytes / plainTap.counted.bytes;
    assert.ok(ratio < 0.6, `compressed/plain bytes ${ratio.toFixed(3)}`);
  } finally {
    plainTap.srv.close();
    packedTap.srv.close();
  }
});

test("Chromium's WebSocket negotiates it and gets byte-identical JSON", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/`, { timeout: 15000 });
    // Node reads 120 results (4 s), so Chromium's 60 fall inside them even
    // when its socket opens a second or two later on a loaded machine.
    const plainRun = collect(server.port, false, 120);
    const got = await deadline(page.evaluate((port) => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/demo`);
      const bySeq = {};
      let n = 0;
      ws.onerror = () => reject(new Error('the WebSocket failed'));
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type !== 'result') return;
        bySeq[m.seq] = e.data;
        if (++n === 60) {
          ws.close(1000);
          resolve({ extensions: ws.extensions, bySeq });
        }
      };
    }), server.port), 30000, 'Chromium to receive 60 results');
    const plain = await plainRun;
    assert.match(got.extensions, /^permessage-deflate; server_no_context_takeover/);
    assertSame(plain.bySeq, new Map(Object.entries(got.bySeq).map(([k, v]) => [Number(k), v])), 40);
  } finally {
    await deadline(browser.close(), 10000, 'Chromium to close');
  }
});
