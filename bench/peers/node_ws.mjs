// Benchmark peer: Node's `ws` (the version pinned in package.json), broadcasting
// with the loop from ws's README ("Server broadcast"): send to every client
// whose readyState is OPEN. The JSON is turned into a Buffer once per message
// and sent as a text frame, so each client costs a frame header and a write.
//
// Publishes the same JSON framecast publishes with --predictor fake:count=N on
// a 64x64 synthetic source, at ws://127.0.0.1:PORT/ws/demo.
//
// usage: node bench/peers/node_ws.mjs [--port P] [--rate R] [--size BYTES]
//   --rate 0 publishes as fast as possible, yielding with setImmediate().
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Resolve `ws` from the repository's node_modules whatever the cwd is.
const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const { WebSocketServer, WebSocket } = require('ws');

const WIDTH = 64, HEIGHT = 64;

function parseArgs(argv) {
  const a = { port: 0, rate: 30, size: 300 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in a) || i + 1 >= argv.length) {
      console.error(`node_ws.mjs: '${argv[i]}' is not valid (expected --port P, --rate R, --size BYTES)`);
      process.exit(2);
    }
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v < 0) {
      console.error(`node_ws.mjs: --${k}: '${argv[i]}' is not valid (expected a number >= 0)`);
      process.exit(2);
    }
    a[k] = v;
  }
  return a;
}

// CLOCK_REALTIME in microseconds. Date.now() has millisecond resolution, so
// anchor the monotonic hrtime to the instant Date.now() ticks over (found by
// spinning at most a few milliseconds): good to a few microseconds.
const realtimeUs = (() => {
  const t0 = Date.now();
  let t;
  while ((t = Date.now()) === t0);
  const offset = BigInt(t) * 1000n - process.hrtime.bigint() / 1000n;
  return () => Number(process.hrtime.bigint() / 1000n + offset);
})();
const monoS = () => Number(process.hrtime.bigint()) / 1e9;

// Same fields and formatting as framecast's fake predictor.
const DET = Array.from({ length: 97 }, (_, k) =>
  `{"label":"object","score":${(0.5 + (k % 50) / 100).toFixed(2)},"box":[` +
  `${Math.floor(k * WIDTH / 97)},${Math.floor(k * HEIGHT / 97)},${WIDTH / 8},${HEIGHT / 8}]}`);

function message(seq, nowUs, count) {
  const index = seq - 1;
  const dets = [];
  for (let i = 0; i < count; i++) dets.push(DET[(index + i) % 97]);
  return `{"type":"result","stream":"demo","seq":${seq},"capture_us":${nowUs},"publish_us":${nowUs},` +
    `"frame":{"index":${index},"width":${WIDTH},"height":${HEIGHT},"pts_us":${index * 33333}},` +
    `"model":"fake","infer_us":0,"detections":[${dets.join(',')}]}`;
}

function detectionsForSize(size) {
  let best = 0, bestErr = Infinity;
  for (let n = 0; n < 4096; n++) {
    const err = Math.abs(Buffer.byteLength(message(100000, 1700000000000000, n)) - size);
    if (err > bestErr) break;
    best = n; bestErr = err;
  }
  return best;
}

const args = parseArgs(process.argv.slice(2));
const count = detectionsForSize(args.size);
// backlog as framecast's listen(); perMessageDeflate is off by default in ws 8.
const wss = new WebSocketServer({ host: '127.0.0.1', port: args.port, path: '/ws/demo', backlog: 1024 });
wss.on('connection', (ws) => {
  ws.on('error', () => {}); // a client resetting must not kill the server
  ws.on('message', () => {}); // discard
});

let seq = 0, skipped = 0, stopped = false, start = 0;
const period = args.rate > 0 ? 1 / args.rate : 0;

function publish() {
  // Stamp publish_us right before the fan-out: latency includes it.
  seq++;
  const buf = Buffer.from(message(seq, realtimeUs(), count));
  for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(buf, { binary: false });
}

function tick() {
  if (stopped) return;
  if (!period) {
    publish();
    setImmediate(tick);
    return;
  }
  // Paced against the start (no drift); more than a second behind, the missed
  // slots are skipped (as framecast's latest-frame slot drops frames).
  let now = monoS();
  let due = start + (seq + skipped) * period;
  if (now - due > 1.0) {
    const missed = Math.floor((now - due) / period);
    skipped += missed;
    due += missed * period;
  }
  if (now < due) {
    setTimeout(tick, Math.max(0, (due - now) * 1000));
    return;
  }
  publish();
  now = monoS();
  const next = start + (seq + skipped) * period;
  if (now >= next) setImmediate(tick);
  else setTimeout(tick, (next - now) * 1000);
}

wss.on('listening', () => {
  process.stdout.write(`listening on http://127.0.0.1:${wss.address().port}/\n`, () => {
    start = monoS();
    tick();
  });
});
wss.on('error', (e) => {
  console.error(`node_ws.mjs: ${e.message}`);
  process.exit(1);
});

function stop() {
  if (stopped) return;
  stopped = true;
  // A benchmark server: exit at once, no closing handshakes (as the Python peers).
  process.stderr.write(`published ${seq} messages, skipped ${skipped} slots\n`, () => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
