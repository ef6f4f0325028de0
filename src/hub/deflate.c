/* permessage-deflate (see deflate.h). */
#include "hub/deflate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* --- Negotiation ------------------------------------------------------------ */

static fc_http_slice trim(fc_http_slice s) {
    while (s.len && (*s.p == ' ' || *s.p == '\t')) s.p++, s.len--;
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t')) s.len--;
    return s;
}

/* Splits s at the first sep: *head is before it (trimmed), s after it.
 * Returns 0 once s is exhausted. */
static int next_part(fc_http_slice *s, char sep, fc_http_slice *head) {
    if (!s->p) return 0;
    const char *at = memchr(s->p, sep, s->len);
    size_t n = at ? (size_t)(at - s->p) : s->len;
    *head = trim((fc_http_slice){s->p, n});
    if (at) {
        s->p = at + 1;
        s->len -= n + 1;
    } else {
        s->p = NULL;
        s->len = 0;
    }
    return 1;
}

/* A window-bits value: 8..15, bare or quoted. Returns it, or -1. */
static int window_bits(fc_http_slice v) {
    if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"') v.p++, v.len -= 2;
    if (v.len < 1 || v.len > 2) return -1;
    int n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return -1;
        n = n * 10 + (v.p[i] - '0');
    }
    return n >= 8 && n <= 15 ? n : -1;
}

/* One offer's parameters; 1 when framecast can accept it. */
static int acceptable(fc_http_slice params, fc_ws_deflate *out) {
    enum { SNCT = 1, CNCT = 2, SMWB = 4, CMWB = 8 };
    unsigned seen = 0;
    fc_http_slice p;
    *out = (fc_ws_deflate){.on = 1};
    while (next_part(&params, ';', &p)) {
        fc_http_slice name = p, value = {NULL, 0};
        const char *eq = memchr(p.p, '=', p.len);
        if (eq) {
            name = trim((fc_http_slice){p.p, (size_t)(eq - p.p)});
            value = trim((fc_http_slice){eq + 1, p.len - (size_t)(eq - p.p) - 1});
        }
        unsigned bit = fc_http_slice_ieq(name, "server_no_context_takeover")   ? SNCT
                       : fc_http_slice_ieq(name, "client_no_context_takeover") ? CNCT
                       : fc_http_slice_ieq(name, "server_max_window_bits")     ? SMWB
                       : fc_http_slice_ieq(name, "client_max_window_bits")     ? CMWB
                                                                               : 0;
        if (!bit || (seen & bit)) return 0; /* unknown or repeated */
        seen |= bit;
        if ((bit == SNCT || bit == CNCT) && eq) return 0;
        /* One compression serves every client: its window is 15 bits. */
        if (bit == SMWB && window_bits(value) != 15) return 0;
        if (bit == CMWB && eq && window_bits(value) < 0) return 0;
        if (bit == CNCT) out->client_no_context = 1;
    }
    return 1;
}

int fc_ws_deflate_accept(const fc_http_request *req, fc_ws_deflate *out, char *resp, size_t cap) {
    *out = (fc_ws_deflate){0};
    for (int h = 0; h < req->nheaders; h++) {
        if (!fc_http_slice_ieq(req->headers[h].name, "Sec-WebSocket-Extensions")) continue;
        fc_http_slice offers = req->headers[h].value, offer;
        while (next_part(&offers, ',', &offer)) {
            fc_http_slice name;
            if (!next_part(&offer, ';', &name) || !fc_http_slice_ieq(name, "permessage-deflate"))
                continue;
            fc_ws_deflate d;
            if (!acceptable(offer, &d)) continue;
            *out = d;
            snprintf(resp, cap, "permessage-deflate; server_no_context_takeover%s",
                     d.client_no_context ? "; client_no_context_takeover" : "");
            return 1;
        }
    }
    return 0;
}

/* --- Compressing once ----------------------------------------------------------- */

struct fc_deflater {
    z_stream z;
};

fc_deflater *fc_deflater_new(int level) {
    fc_deflater *d = calloc(1, sizeof *d);
    /* Raw deflate (no zlib header), a 15-bit window. */
    if (d && deflateInit2(&d->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(d);
        return NULL;
    }
    return d;
}

void fc_deflater_free(fc_deflater *d) {
    if (!d) return;
    deflateEnd(&d->z);
    free(d);
}

/* The payload of an unmasked frame: its offset and length. */
static size_t payload_of(const fc_buf *msg, size_t *len) {
    uint8_t l = msg->data[1] & 0x7F;
    size_t off = l == 126 ? 4 : l == 127 ? 10 : 2;
    *len = msg->len - off;
    return off;
}

void fc_deflater_twin(fc_deflater *d, fc_buf *msg, size_t min_len) {
    size_t len, off = payload_of(msg, &len);
    if (len < min_len || msg->deflated) return;
    uLong bound = deflateBound(&d->z, (uLong)len) + 16;
    fc_buf *b = fc_buf_new(10 + bound);
    if (!b) return;
    deflateReset(&d->z); /* no context: server_no_context_takeover */
    d->z.next_in = msg->data + off;
    d->z.avail_in = (uInt)len;
    d->z.next_out = b->storage + 10;
    d->z.avail_out = (uInt)bound;
    int rc = deflate(&d->z, Z_SYNC_FLUSH);
    size_t out = bound - d->z.avail_out;
    /* RFC 7692 7.2.1: the flush's empty block ends in 00 00 ff ff; it goes. */
    if (rc != Z_OK || d->z.avail_in || out < 4 ||
        memcmp(b->storage + 10 + out - 4, "\x00\x00\xff\xff", 4) != 0 || out - 4 >= len) {
        fc_buf_unref(b); /* it did not shrink (or could not be made) */
        return;
    }
    out -= 4;
    uint8_t hdr[10];
    size_t h = fc_ws_header(hdr, (msg->data[0] & 0x0F) | FC_WS_RSV1, 1, out);
    b->data = b->storage + 10 - h;
    memcpy(b->data, hdr, h);
    b->len = h + out;
    msg->deflated = b;
}

/* --- Inflating a client's messages ------------------------------------------------ */

struct fc_inflater {
    z_stream z;
};

fc_inflater *fc_inflater_new(void) {
    fc_inflater *inf = calloc(1, sizeof *inf);
    if (inf && inflateInit2(&inf->z, -15) != Z_OK) {
        free(inf);
        return NULL;
    }
    return inf;
}

void fc_inflater_free(fc_inflater *inf) {
    if (!inf) return;
    inflateEnd(&inf->z);
    free(inf);
}

/* Inflates what is in inf->z's input; 0 or a close code. */
static int drain(fc_inflater *inf, uint64_t *total, uint64_t max, fc_utf8_state *utf8,
                 uint8_t *scratch, size_t cap) {
    for (;;) {
        inf->z.next_out = scratch;
        inf->z.avail_out = (uInt)cap;
        int rc = inflate(&inf->z, Z_SYNC_FLUSH);
        size_t got = cap - inf->z.avail_out;
        *total += got;
        if (*total > max) return FC_WS_TOO_BIG;
        if (utf8 && fc_utf8_feed(utf8, scratch, got)) return FC_WS_INVALID_DATA;
        if (rc == Z_STREAM_END)
            inflateReset(&inf->z); /* a final block: what follows starts anew */
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return FC_WS_INVALID_DATA;
        if (inf->z.avail_in == 0 && inf->z.avail_out != 0) return 0;
        if (rc == Z_BUF_ERROR && got == 0) return 0;
    }
}

int fc_inflate(fc_inflater *inf, const uint8_t *in, size_t len, int fin, uint64_t *total,
               uint64_t max, fc_utf8_state *utf8, int reset, uint8_t *scratch, size_t cap) {
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    inf->z.next_in = (Bytef *)in;
    inf->z.avail_in = (uInt)len;
    int rc = drain(inf, total, max, utf8, scratch, cap);
    if (!rc && fin) { /* the tail the sender removed */
        inf->z.next_in = (Bytef *)tail;
        inf->z.avail_in = sizeof tail;
        rc = drain(inf, total, max, utf8, scratch, cap);
        if (!rc && utf8 && *utf8) rc = FC_WS_INVALID_DATA; /* ends inside a character */
    }
    if (rc || (fin && reset)) inflateReset(&inf->z);
    return rc;
}
