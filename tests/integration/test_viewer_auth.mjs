// The viewer in headless Chromium with authentication on and under the
// server's Content-Security-Policy (Playwright does not bypass it): the page
// takes its token from its own URL and passes it on to /api/streams and to
// the WebSocket; the browser reports no CSP violation while the page draws
// the stream, and does report one for an inline script (so the check can
// fail); without a token the page says one is needed; a token that expires
// closes the connection with 4401 and the page says so. Tokens are minted
// with `framecast token`.
//
// Run: NODE_PATH=<repo>/node_modules FRAMECAST=<build>/framecast node test_viewer_auth.mjs
// Needs Debian's chromium at /usr/bin/chromium (never downloads a browser).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FRAMECAST, deadline, startServer, stopServer, launchChromium } from './fc.mjs';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'fc-viewer-auth-'));
const secretFile = path.join(tmp, 'secret');

let server;
let browser;
const pages = [];
let failed = false;

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

/** `framecast token` with these arguments after the secret file. */
function mint(...args) {
  return execFileSync(FRAMECAST, ['token', '--secret-file', secretFile, ...args], { encoding: 'utf8' }).trim();
}

/** A page that records errors, console lines, CSP violations and WebSocket URLs. */
async function newPage() {
  const page = await browser.newPage({ viewport: { width: 960, height: 600 } });
  const rec = { page, errors: [], console: [], sockets: [] };
  page.on('pageerror', (e) => rec.errors.push(String(e)));
  page.on('console', (m) => rec.console.push(`${m.type()}: ${m.text()}`));
  page.on('websocket', (ws) => rec.sockets.push(ws.url()));
  // Runs before the page's own script; the browser fires the event for
  // every violation of the policy.
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  pages.push(rec);
  return rec;
}

async function stats(page) {
  return page.evaluate(() => ({ ...document.getElementById('fc-stats').dataset }));
}

async function waitStats(page, cond, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const s = await stats(page);
    if (cond(s)) return s;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; page counters: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function cspReport(rec) {
  const events = await rec.page.evaluate(() => window.cspViolations);
  const lines = rec.console.filter((l) => /Content Security Policy/i.test(l));
  return [...events, ...lines];
}

async function metrics() {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`, {
    headers: { Authorization: `Bearer ${mint('--streams', '*', '--ttl', '1m')}` },
  });
  assert.equal(res.status, 200);
  const out = {};
  for (const line of (await res.text()).split('\n')) {
    if (line && !line.startsWith('#')) {
      const i = line.lastIndexOf(' ');
      out[line.slice(0, i)] = Number(line.slice(i + 1));
    }
  }
  return out;
}

before(async () => {
  writeFileSync(secretFile, execFileSync('openssl', ['rand', '-hex', '32']));
  chmodSync(secretFile, 0o600);
  server = await startServer(['--source', 'synthetic:size=320x180,fps=15,objects=2', '--predictor', 'motion',
    '--auth-secret-file', secretFile, '--auth-leeway', '0s']);
  browser = await launchChromium();
});

after(async () => {
  try {
    if (browser) await deadline(browser.close(), 10000, 'Chromium to close');
  } catch (e) {
    console.error(String(e));
  }
  if (server) {
    try {
      await stopServer(server);
    } finally {
      if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
    }
  }
  if (failed) {
    for (const rec of pages) console.error(`page console:\n${rec.console.slice(-30).join('\n')}`);
    if (server) console.error(`framecast stderr:\n${server.stderr}`);
  }
  rmSync(tmp, { recursive: true, force: true });
});

step('with ?token= in its URL the page draws the stream, under its CSP, without a violation', async () => {
  const token = mint('--streams', 'demo', '--ttl', '1h');
  const rec = await newPage();
  const res = await rec.page.goto(`http://127.0.0.1:${server.port}/?token=${token}`, { timeout: 15000 });
  const csp = res.headers()['content-security-policy'];
  assert.ok(csp && csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), `CSP: ${csp}`);
  const s = await waitStats(rec.page, (x) => x.conn === 'open' && Number(x.results) >= 10 && Number(x.framesDrawn) >= 3,
    20000, '10 results and 3 previews drawn');
  assert.equal(s.authError, '');
  // The token went on to the WebSocket (in its query: a browser cannot set
  // headers on one) and to the API (the stream list came).
  assert.ok(rec.sockets.length >= 1);
  const url = new URL(rec.sockets[0]);
  assert.equal(url.pathname, '/ws/demo');
  assert.equal(url.searchParams.get('token'), token);
  const names = await rec.page.locator('#fc-streams button').allTextContents();
  assert.deepEqual(names, ['demo']);
  const m = await metrics();
  assert.equal(m['framecast_connections_refused_total{reason="unauthorized"}'], 0);
  assert.ok(m['framecast_clients{stream="demo"}'] >= 1);
  assert.deepEqual(await cspReport(rec), [], 'CSP violations');
  assert.deepEqual(rec.errors, [], 'uncaught errors in the page');
});

step('the policy is enforced: an inline script is refused, and reported', async () => {
  const rec = pages[0];
  const ran = await rec.page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.inlineRan = true;';
    document.head.append(s);
    return window.inlineRan === true;
  });
  assert.equal(ran, false, 'an inline script ran');
  const end = Date.now() + 5000;
  let report = [];
  while (!report.some((v) => v.includes('script-src')) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    report = await cspReport(rec);
  }
  assert.ok(report.some((v) => v.includes('script-src')), `no violation reported: ${JSON.stringify(report)}`);
  await rec.page.close();
});

step('without a token the page says one is needed and never connects', async () => {
  const before = await metrics();
  const rec = await newPage();
  await rec.page.goto(`http://127.0.0.1:${server.port}/`, { timeout: 15000 });
  const s = await waitStats(rec.page, (x) => (x.authError || '').includes('token is required'), 10000, 'the page to ask for a token');
  assert.match(s.authError, /\?token=/);
  assert.notEqual(s.conn, 'open');
  const shown = await rec.page.locator('#fc-error').textContent();
  assert.ok(shown.includes('token is required'), `the status bar shows: ${shown}`);
  const m = await metrics();
  assert.ok(m['framecast_connections_refused_total{reason="unauthorized"}'] > before['framecast_connections_refused_total{reason="unauthorized"}']);
  assert.deepEqual(await cspReport(rec), []);
  await rec.page.close();
});

step('a token that expires closes the connection (4401) and the page says so', async () => {
  // Long enough for a page on a busy machine to open before it expires.
  const token = mint('--streams', 'demo', '--ttl', '10s');
  const rec = await newPage();
  await rec.page.goto(`http://127.0.0.1:${server.port}/?token=${token}`, { timeout: 15000 });
  await waitStats(rec.page, (x) => x.conn === 'open' && Number(x.results) >= 1, 10000, 'the connection to open');
  const s = await waitStats(rec.page, (x) => (x.authError || '').includes('expired'), 25000, 'the page to say the token expired');
  assert.notEqual(s.conn, 'open');
  const m = await metrics();
  assert.ok(m['framecast_clients_closed_total{stream="demo",reason="token_expired"}'] >= 1);
  assert.deepEqual(await cspReport(rec), []);
  assert.deepEqual(rec.errors, []);
  await rec.page.close();
});
