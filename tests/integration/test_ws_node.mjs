// framecast against Node's `ws` client, an independent WebSocket peer:
// messages, ping/pong, a clean close, and the close codes the server sends
// for bad frames written straight to the socket under the client.
//
// Run: NODE_PATH=<repo>/node_modules FRAMECAST=<build>/framecast node test_ws_node.mjs
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline, startServer, stopServer } from './fc.mjs';

// NODE_PATH is not consulted by ESM imports; require() honours it.
const require = createRequire(import.meta.url);
const WebSocket = require('ws');

let server; // { proc, port, stderr }

function connect() {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/demo`);
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => {}); // errors surface as the close code
  return { ws, opened: deadline(opened, 10000, 'the WebSocket to open'), closed };
}

/** A masked client frame (or unmasked when mask is false). */
function frame(opcode, payload, { fin = true, mask = true } = {}) {
  assert.ok(payload.length < 126);
  const head = Buffer.from([(fin ? 0x80 : 0) | opcode, (mask ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
  return Buffer.concat([head, key, body]);
}

before(async () => {
  server = await startServer(['--source', 'synthetic:size=64x64,fps=30']);
});

after(async () => {
  if (server) await stopServer(server);
});

test('receives at least 30 messages with consecutive seq', async () => {
  const { ws, opened } = connect();
  const msgs = [];
  let first = true;
  // Listen before 'open' settles: the first frame may come in the same
  // segment as the 101 and be emitted before an await resumes.
  const got30 = deadline(new Promise((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      try {
        assert.equal(isBinary, false, 'messages are text frames');
        const m = JSON.parse(data.toString('utf8'));
        assert.equal(m.stream, 'demo');
        if (first) { // a subscriber gets the stream's current status first
          assert.deepEqual([m.type, m.state], ['status', 'live']);
          first = false;
        }
        if (m.type !== 'result') return;
        msgs.push(m);
        if (msgs.length === 30) resolve();
      } catch (e) {
        reject(e);
      }
    });
  }), 20000, '30 messages');
  await opened;
  await got30;
  ws.close(1000);
  for (const m of msgs) {
    assert.equal(m.type, 'result');
    assert.equal(m.stream, 'demo');
    assert.ok(m.publish_us >= m.capture_us, `published before captured: ${JSON.stringify(m)}`);
    assert.ok(Array.isArray(m.detections));
    assert.equal(typeof m.frame.index, 'number');
  }
  const seqs = msgs.map((m) => m.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'seq must be consecutive');
});

test('ping() gets a pong with the same payload', async () => {
  const { ws, opened } = connect();
  await opened;
  const payload = Buffer.from('node-ping-1234');
  const pong = deadline(new Promise((resolve) => ws.once('pong', resolve)), 10000, 'the pong');
  ws.ping(payload);
  assert.deepEqual(await pong, payload);
  ws.close(1000);
});

test('close(1000) completes cleanly', async () => {
  const { ws, opened, closed } = connect();
  await opened;
  await deadline(new Promise((resolve) => ws.once('message', resolve)), 10000, 'a message');
  ws.close(1000, 'done');
  const { code } = await deadline(closed, 10000, 'the close handshake');
  assert.equal(code, 1000);
  assert.equal(ws.readyState, WebSocket.CLOSED);
});

test('an unmasked frame makes the server close with 1002', async () => {
  const { ws, opened, closed } = connect();
  await opened;
  ws._socket.write(frame(0x1, Buffer.from('not masked'), { mask: false }));
  const { code } = await deadline(closed, 10000, 'the server to close');
  assert.equal(code, 1002);
});

test('an invalid UTF-8 text frame makes the server close with 1007', async () => {
  const { ws, opened, closed } = connect();
  await opened;
  ws._socket.write(frame(0x1, Buffer.from([0x6f, 0x6b, 0xc3, 0x28])));
  const { code } = await deadline(closed, 10000, 'the server to close');
  assert.equal(code, 1007);
});
