// Shared helpers for the Node integration tests (the counterpart of fc.py):
// start the real framecast on a port, stop it requiring a clean exit, and
// wait for promises with deadlines.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';

// NODE_PATH is not consulted by ESM imports; require() honours it.
const require = createRequire(import.meta.url);

export const FRAMECAST = process.env.FRAMECAST ?? 'build/debug/framecast';

/** Starts framecast on listen (port 0: kernel-chosen); resolves with
 * { proc, port, stderr } once it prints the port it bound. */
export function startServer(args, listen = '127.0.0.1:0') {
  return new Promise((resolve, reject) => {
    const proc = spawn(FRAMECAST, ['--listen', listen, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const srv = { proc, port: null, stderr: '' };
    let out = '';
    const timer = setTimeout(() => reject(new Error('framecast did not print its port in 30 s')), 30000);
    proc.stderr.on('data', (d) => { srv.stderr += d; });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on https?:\/\/[^ ]*:(\d+)\//.exec(out);
      if (m && srv.port === null) {
        srv.port = Number(m[1]);
        clearTimeout(timer);
        resolve(srv);
      }
    });
    proc.on('exit', (code) => {
      if (srv.port === null) {
        clearTimeout(timer);
        reject(new Error(`framecast exited (${code}) before listening: ${srv.stderr}`));
      }
    });
  });
}

/** SIGTERM, then require exit status 0 within timeoutMs (a sanitizer report fails it). */
export function stopServer(srv, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const check = (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error(`framecast exited with ${code ?? sig}:\n${srv.stderr}`));
    };
    if (srv.proc.exitCode !== null || srv.proc.signalCode !== null) {
      check(srv.proc.exitCode, srv.proc.signalCode);
      return;
    }
    const timer = setTimeout(() => {
      srv.proc.kill('SIGKILL');
      reject(new Error(`framecast did not stop within ${timeoutMs} ms of SIGTERM`));
    }, timeoutMs);
    srv.proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      check(code, sig);
    });
    srv.proc.kill('SIGTERM');
  });
}

/** Rejects after ms with what was awaited, so nothing hangs. */
export function deadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's Chromium, headless, as every browser test runs it: no QUIC
 * (pages reach servers over TCP, through the tests' proxies), nothing
 * fetched in the background. Resolves with the playwright Browser. */
export function launchChromium() {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (scripts/bootstrap does)`);
  const { chromium } = require('playwright-core');
  return deadline(chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  }), 30000, 'Chromium to start');
}

/**
 * A TCP proxy on 127.0.0.1 to targetPort, so a test can cut a browser's
 * connections (cut) or refuse new ones for a while (refuse(true/false))
 * without touching the server. Resolves with { port, cut, refuse, close }.
 */
export function startProxy(targetPort) {
  const sockets = new Set();
  let refusing = false;
  const srv = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', done);
      s.on('close', done);
    }
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => resolve({
      port: srv.address().port,
      cut() { for (const s of sockets) s.destroy(); },
      refuse(on) { refusing = on; },
      close() {
        srv.close();
        for (const s of sockets) s.destroy();
      },
    }));
  });
}
