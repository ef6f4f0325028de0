// framecast.js: a browser client for framecast streams, as an ES module
// with no build step and no dependency. The server serves it at
// GET /framecast.js (to pages of any origin); the viewer page is built on it.
//
//   import { FramecastStream } from 'http://HOST:PORT/framecast.js';
//   const s = new FramecastStream('door', { preview: true });
//   s.addEventListener('result', (e) => console.log(e.detail.detections));
//   s.start();
//
// A FramecastStream subscribes to ws://HOST:PORT/ws/<stream> on the server
// it was loaded from (or `server`), reconnects with a backoff (0.5 s
// doubling to 5 s) when the connection drops, and resumes where it left off
// (?since=SEQ&epoch=E: the server sends what was missed, or a reset saying
// what is lost; docs/protocol.md). Everything arrives as events, each a
// CustomEvent whose `detail` is:
//
//   'result'      the result message, as the server sent it (parsed JSON)
//   'preview'     { seq, captureUs, width, height, stream, jpeg (a Blob),
//                   result (the result with the same seq, or null),
//                   decode() (a Promise of an ImageBitmap) }
//   'status'      the status message (state, predictor_state, error...)
//   'gap'         { from, to }: results from..to will never come (a slow
//                 connection's dropped messages, or an outage longer than
//                 the server's history)
//   'reset'       the reset message plus { lastSeq }: the client's last seq
//                 before it (reason 'epoch': the server restarted and seq
//                 starts over; that is no loss framecast can count)
//   'connection'  { state: 'connecting' | 'open' | 'reconnecting' | 'closed',
//                   code, reason (of the close), retryMs, attempt }
//
// Nothing here touches the page: draw what the events carry.

const PREVIEW_FIXED = 32; // preview header bytes before the stream name
const KEEP_RESULTS = 120; // results kept by seq, for previews to find

/**
 * Parses the header of a binary preview message (docs/protocol.md):
 * 0 "FCP1", 4 u16 header_len, 6 u16 name_len, 8 u64 seq, 16 i64 capture_us,
 * 24 u32 width, 28 u32 height, 32 name (UTF-8); the JPEG starts at
 * header_len. Little-endian. Throws on anything that is not such a header.
 */
export function parsePreviewHeader(buf) {
  const bytes = ArrayBuffer.isView(buf)
    ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    : new Uint8Array(buf);
  if (bytes.length < PREVIEW_FIXED) {
    throw new Error(`preview: ${bytes.length} bytes, shorter than the ${PREVIEW_FIXED}-byte header`);
  }
  if (bytes[0] !== 0x46 || bytes[1] !== 0x43 || bytes[2] !== 0x50 || bytes[3] !== 0x31) {
    throw new Error('preview: bad magic (expected "FCP1")');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = dv.getUint16(4, true);
  const nameLen = dv.getUint16(6, true);
  if (headerLen > bytes.length) {
    throw new Error(`preview: header_len ${headerLen} is beyond the ${bytes.length}-byte message`);
  }
  if (headerLen !== PREVIEW_FIXED + nameLen) {
    throw new Error(`preview: header_len ${headerLen} is not ${PREVIEW_FIXED} + name_len ${nameLen}`);
  }
  return {
    seq: Number(dv.getBigUint64(8, true)),
    captureUs: Number(dv.getBigInt64(16, true)),
    width: dv.getUint32(24, true),
    height: dv.getUint32(28, true),
    stream: new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREVIEW_FIXED, headerLen)),
    headerLen,
  };
}

/** The ws:// or wss:// base of the server this module was loaded from. */
function defaultServer() {
  const u = new URL('/', import.meta.url);
  return `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}`;
}

export class FramecastStream extends EventTarget {
  /**
   * stream: the stream's name. Options:
   *   server     'ws://host:port' (default: where this module came from)
   *   preview    true: also receive JPEG previews ('preview' events)
   *   token      a JSON Web Token, sent as ?token= (docs/security.md)
   *   last       true (default): a first connection gets the newest result at once
   *   backoffMinMs, backoffMaxMs: the reconnect backoff (500, 5000)
   */
  constructor(stream, options = {}) {
    super();
    this.stream = stream;
    this.server = (options.server ?? defaultServer()).replace(/\/+$/, '');
    this.preview = Boolean(options.preview);
    this.token = options.token ?? null;
    this.last = options.last ?? true;
    this.backoffMinMs = options.backoffMinMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 5000;
    /** The last result's seq and epoch: where a reconnection resumes. */
    this.lastSeq = null;
    this.epoch = null;
    /** 'idle', 'connecting', 'open', 'reconnecting' or 'closed'. */
    this.state = 'idle';
    this.ws = null;
    this.attempt = 0;
    this.results = new Map();
    this.backoff = this.backoffMinMs;
    this.timer = 0;
  }

  /** Connects; reconnects by itself until close(). Returns this. */
  start() {
    if (this.state === 'idle' || this.state === 'closed') this.connect();
    return this;
  }

  /** Closes the connection and stops reconnecting. */
  close() {
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
    this.setState('closed', {});
  }

  /** The URL a connection now would use (with since/epoch once there is history). */
  url() {
    const q = new URLSearchParams();
    if (this.preview) q.set('preview', '1');
    if (this.lastSeq !== null && this.epoch) {
      q.set('since', String(this.lastSeq));
      q.set('epoch', this.epoch);
    } else if (this.last) {
      q.set('last', '1');
    }
    if (this.token) q.set('token', this.token);
    const qs = q.toString();
    return `${this.server}/ws/${encodeURIComponent(this.stream)}${qs ? `?${qs}` : ''}`;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state, extra) {
    this.state = state;
    this.emit('connection', { state, attempt: this.attempt, ...extra });
  }

  connect() {
    clearTimeout(this.timer);
    this.attempt++;
    const ws = new WebSocket(this.url());
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.setState('connecting', {});
    ws.onopen = () => {
      this.backoff = this.backoffMinMs;
      this.attempt = 0;
      this.setState('open', {});
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') this.onText(ev.data);
      else this.onPreview(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const retryMs = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.backoffMaxMs);
      this.timer = setTimeout(() => this.connect(), retryMs);
      // 4401: the token expired; the same token will be refused (401) until
      // `token` is set to a new one.
      this.setState('reconnecting', { code: ev.code, reason: ev.reason, retryMs });
    };
  }

  onText(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return; // not framecast's: nothing to say to the page
    }
    if (m.type === 'status') {
      this.emit('status', m);
    } else if (m.type === 'reset') {
      this.onReset(m);
    } else if (m.type === 'result') {
      if (this.lastSeq !== null && m.epoch === this.epoch && m.seq > this.lastSeq + 1) {
        this.emit('gap', { from: this.lastSeq + 1, to: m.seq - 1 });
      }
      this.lastSeq = m.seq;
      this.epoch = m.epoch;
      this.results.set(m.seq, m);
      while (this.results.size > KEEP_RESULTS) this.results.delete(this.results.keys().next().value);
      this.emit('result', m);
    }
  }

  /* A resume that could not give everything back. */
  onReset(m) {
    const lastSeq = this.lastSeq;
    if (m.reason === 'epoch' || m.reason === 'future') {
      // Another numbering: the old seq says nothing about the new one.
      this.lastSeq = null;
      this.results.clear();
    } else {
      // expired, overrun: what follows starts at oldest_seq.
      if (lastSeq !== null && m.oldest_seq > lastSeq + 1) this.emit('gap', { from: lastSeq + 1, to: m.oldest_seq - 1 });
      this.lastSeq = m.oldest_seq - 1;
    }
    this.epoch = m.epoch;
    this.emit('reset', { ...m, lastSeq });
  }

  onPreview(buf) {
    let h;
    try {
      h = parsePreviewHeader(buf);
    } catch (e) {
      console.warn(e.message);
      return;
    }
    const jpeg = new Blob([new Uint8Array(buf, h.headerLen)], { type: 'image/jpeg' });
    this.emit('preview', {
      seq: h.seq,
      captureUs: h.captureUs,
      width: h.width,
      height: h.height,
      stream: h.stream,
      jpeg,
      result: this.results.get(h.seq) ?? null,
      decode: () => createImageBitmap(jpeg),
    });
  }
}
