/* libFuzzer target for permessage-deflate (src/hub/deflate.c).
 *
 * The first byte picks what the rest is:
 *   0: a Sec-WebSocket-Extensions value: the offer parser sees anything; an
 *      accepted offer's answer is one of the two framecast gives;
 *   1: a client's compressed message, in chunks (the second byte sets
 *      their size), inflated within a 4 KiB limit, as text or binary, with
 *      or without context: the count never runs past the limit by more
 *      than one scratch buffer, whatever the input;
 *   2: a message to compress: its twin, inflated by zlib here, is the
 *      message again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hub/deflate.h"
#include "hub/http.h"
#include "hub/ws.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

#define LIMIT 4096
#define CAP   1024

static void offer(const uint8_t *data, size_t len) {
    char req[4096];
    if (len > 3000 || memchr(data, '\r', len) || memchr(data, '\n', len)) return;
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nSec-WebSocket-Extensions: %.*s\r\n\r\n",
                     (int)len, (const char *)data);
    fc_http_request r;
    if (fc_http_parse_request(req, (size_t)n, &r) <= 0) return;
    fc_ws_deflate d;
    char answer[128];
    int on = fc_ws_deflate_accept(&r, &d, answer, sizeof answer);
    CHECK(on == d.on);
    if (on)
        CHECK(strcmp(answer, d.client_no_context
                                 ? "permessage-deflate; server_no_context_takeover; "
                                   "client_no_context_takeover"
                                 : "permessage-deflate; server_no_context_takeover") == 0);
}

static void inflate_client(const uint8_t *data, size_t len) {
    if (len < 1) return;
    unsigned flags = data[0];
    size_t chunk = (flags & 0x3F) + 1;
    int text = flags & 0x40, keep = flags & 0x80;
    data++, len--;
    fc_inflater *inf = fc_inflater_new();
    static uint8_t scratch[CAP];
    uint64_t total = 0;
    fc_utf8_state u = 0;
    for (size_t at = 0; at < len || at == 0;) {
        size_t n = len - at < chunk ? len - at : chunk;
        int fin = at + n == len;
        int rc = fc_inflate(inf, data + at, n, fin, &total, LIMIT, text ? &u : NULL, !keep, scratch,
                            CAP);
        CHECK(total <= LIMIT + CAP);
        CHECK(rc == 0 || rc == FC_WS_TOO_BIG || rc == FC_WS_INVALID_DATA);
        if (rc == FC_WS_TOO_BIG) CHECK(total > LIMIT);
        if (rc) break;
        at += n;
        if (fin) {
            total = 0;
            u = 0;
            break;
        }
    }
    fc_inflater_free(inf);
}

static void round_trip(const uint8_t *data, size_t len) {
    static fc_deflater *d;
    if (!d) d = fc_deflater_new(6);
    fc_buf *m = fc_buf_new(len + 10);
    size_t h = fc_ws_header(m->data, FC_WS_TEXT, 1, len);
    memcpy(m->data + h, data, len);
    m->len = h + len;
    fc_deflater_twin(d, m, 1);
    if (m->deflated) {
        const fc_buf *t = m->deflated;
        CHECK(t->data[0] == (0x80 | FC_WS_RSV1 | FC_WS_TEXT));
        CHECK(t->len < m->len + 10);
        size_t l = t->data[1] & 0x7F, off = l == 126 ? 4 : l == 127 ? 10 : 2;
        uint8_t *in = malloc(t->len - off + 4), *out = malloc(len + 1);
        memcpy(in, t->data + off, t->len - off);
        memcpy(in + t->len - off, "\x00\x00\xff\xff", 4);
        z_stream z = {0};
        CHECK(inflateInit2(&z, -15) == Z_OK);
        z.next_in = in;
        z.avail_in = (uInt)(t->len - off + 4);
        z.next_out = out;
        z.avail_out = (uInt)len + 1;
        int rc = inflate(&z, Z_SYNC_FLUSH);
        CHECK(rc == Z_OK || rc == Z_STREAM_END);
        CHECK(z.total_out == len && memcmp(out, data, len) == 0);
        inflateEnd(&z);
        free(in);
        free(out);
    }
    fc_buf_unref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    if (len < 1) return 0;
    switch (data[0] % 3) {
    case 0:
        offer(data + 1, len - 1);
        break;
    case 1:
        inflate_client(data + 1, len - 1);
        break;
    default:
        round_trip(data + 1, len - 1);
        break;
    }
    return 0;
}
