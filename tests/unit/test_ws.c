/* Tests for src/hub/ws.c (RFC 6455 codec) and src/hub/wsclient.c (client
 * handshake). Frames are built by hand here, not with the codec under test,
 * so an encoder bug cannot hide a parser bug. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub/http.h"
#include "hub/ws.h"
#include "hub/wsclient.h"

#define MAX_MESSAGE 65536

/* --- Helpers ------------------------------------------------------------- */

/* Everything the parser reported, in order. */
typedef struct rec {
    uint8_t *data; /* every data byte delivered, all messages concatenated */
    size_t len, cap;
    int ends;         /* on_data calls with fin = 1 */
    int msg_opcode;   /* opcode of the last data callback */
    int mixed;        /* a data callback's opcode changed inside a message */
    int in_msg;       /* a data chunk arrived since the last end */
    char events[512]; /* 'd' data (runs collapsed), 'e' end, 'P' ping, 'O' pong, 'C' close */
    size_t nevents;
    int nctl;
    int ctl_opcode[16];
    uint8_t ctl[16][FC_WS_MAX_CONTROL];
    size_t ctl_len[16];
} rec;

static void rec_event(rec *r, char e) {
    if (e == 'd' && r->nevents && r->events[r->nevents - 1] == 'd') return;
    assert_true(r->nevents + 1 < sizeof r->events);
    r->events[r->nevents++] = e;
    r->events[r->nevents] = 0;
}

static void on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    rec *r = ud;
    assert_true(opcode == FC_WS_TEXT || opcode == FC_WS_BINARY);
    if (r->in_msg && opcode != r->msg_opcode) r->mixed = 1;
    r->msg_opcode = opcode;
    if (len) {
        if (r->len + len > r->cap) {
            r->cap = (r->len + len) * 2;
            r->data = realloc(r->data, r->cap);
            assert_non_null(r->data);
        }
        memcpy(r->data + r->len, data, len);
        r->len += len;
        r->in_msg = 1;
        rec_event(r, 'd');
    }
    if (fin) {
        r->ends++;
        r->in_msg = 0;
        rec_event(r, 'e');
    }
}

static void on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    rec *r = ud;
    assert_true(len <= FC_WS_MAX_CONTROL);
    assert_true(r->nctl < 16);
    r->ctl_opcode[r->nctl] = opcode;
    memcpy(r->ctl[r->nctl], payload, len);
    r->ctl_len[r->nctl] = len;
    r->nctl++;
    rec_event(r, opcode == FC_WS_PING ? 'P' : opcode == FC_WS_PONG ? 'O' : 'C');
}

static const fc_ws_parser_cbs CBS = {on_data, on_control};

static void rec_reset(rec *r) {
    free(r->data);
    memset(r, 0, sizeof *r);
}

/* Bytes on the wire, as a peer would send them. */
typedef struct wire {
    uint8_t b[MAX_MESSAGE * 2 + 256];
    size_t len;
} wire;

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d}; /* the RFC 6455 5.7 example key */

/* Appends a frame whose first byte is b0 (FIN, RSV bits, opcode), masked with
 * MASK when masked. The length is written in the shortest form. */
static void put_raw(wire *w, uint8_t b0, int masked, const void *payload, size_t len) {
    uint8_t *o = w->b + w->len;
    size_t n = 0;
    o[n++] = b0;
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        o[n++] = (uint8_t)(m | len);
    } else if (len <= 0xFFFF) {
        o[n++] = m | 126;
        o[n++] = (uint8_t)(len >> 8);
        o[n++] = (uint8_t)len;
    } else {
        o[n++] = m | 127;
        for (int i = 7; i >= 0; i--) o[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(o + n, MASK, 4);
        n += 4;
    }
    assert_true(w->len + n + len <= sizeof w->b);
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++) o[n + i] = (uint8_t)(p[i] ^ (masked ? MASK[i & 3] : 0));
    w->len += n + len;
}

/* A masked frame as a client sends it. */
static void put(wire *w, int fin, int opcode, const void *payload, size_t len) {
    put_raw(w, (uint8_t)((fin ? 0x80 : 0) | opcode), 1, payload, len);
}

static void put_str(wire *w, int fin, int opcode, const char *s) {
    put(w, fin, opcode, s, strlen(s));
}

/* Feeds w[0..len) to p in chunks of step bytes (0: all at once), each chunk
 * copied into a buffer of exactly its size so over-reads are caught. Returns
 * the first non-zero result; *fed is the number of bytes fed until then. */
static int feed(fc_ws_parser *p, rec *r, const wire *w, size_t step, size_t *fed) {
    size_t off = 0;
    if (!step) step = w->len ? w->len : 1;
    while (off < w->len) {
        size_t n = w->len - off < step ? w->len - off : step;
        uint8_t *chunk = malloc(n);
        assert_non_null(chunk);
        memcpy(chunk, w->b + off, n);
        int rc = fc_ws_parse(p, chunk, n, &CBS, r);
        free(chunk);
        off += n;
        if (rc) {
            if (fed) *fed = off;
            return rc;
        }
    }
    if (fed) *fed = off;
    return 0;
}

/* Parses w with a fresh server-role parser. */
static int parse_server(rec *r, const wire *w, size_t step) {
    fc_ws_parser p;
    fc_ws_parser_init(&p, 1, MAX_MESSAGE);
    rec_reset(r);
    int rc = feed(&p, r, w, step, NULL);
    if (rc) assert_non_null(p.error);
    return rc;
}

static wire *wire_new(void) {
    wire *w = calloc(1, sizeof *w);
    assert_non_null(w);
    return w;
}

/* --- Handshake ----------------------------------------------------------- */

/* RFC 6455 1.3 and 4.2.2: the worked example. */
static void ws_accept_rfc_example(void **state) {
    (void)state;
    char out[FC_WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    fc_ws_accept(key, strlen(key), out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void ws_key_valid(void **state) {
    (void)state;
#define KV(s) fc_ws_key_valid(s, strlen(s))
    assert_int_equal(KV("dGhlIHNhbXBsZSBub25jZQ=="), 1); /* 16 bytes */
    assert_int_equal(KV("AAAAAAAAAAAAAAAAAAAAAA=="), 1); /* 16 zero bytes */
    assert_int_equal(KV("dGhlIHNhbXBsZSBub25j"), 0);     /* 15 bytes */
    assert_int_equal(KV("dGhlIHNhbXBsZSBub25jZQ"), 0);   /* no padding */
    assert_int_equal(KV("dGhlIHNhbXBsZSBub25jZQA="), 0); /* 17 bytes */
    assert_int_equal(KV("dGhlIHNhbXBsZSBub25jZQAA"), 0); /* 18 bytes */
    assert_int_equal(KV("dGhlIHNhbXBsZSBub25jZ!=="), 0); /* bad character */
    assert_int_equal(KV("dGhlIHNhbXBsZSBub2 jZQ=="), 0); /* space inside */
    assert_int_equal(KV(""), 0);
    assert_int_equal(KV("dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ=="), 0);
#undef KV
}

/* '=' is only padding: inside the key it is not base64. */
static void ws_key_valid_rejects_inner_padding(void **state) {
    (void)state;
    const char *key = "dGhlIHNh=XBsZSBub25jZQ==";
    assert_int_equal(fc_ws_key_valid(key, strlen(key)), 0);
}

#define GOOD_KEY "dGhlIHNhbXBsZSBub25jZQ=="

/* Parses a request head (which must be complete) and checks it. */
static int upgrade(const char *head, fc_ws_upgrade *u) {
    fc_http_request req;
    int n = fc_http_parse_request(head, strlen(head), &req);
    assert_int_equal(n, (int)strlen(head));
    int status = fc_ws_check_upgrade(&req, u);
    assert_int_equal(status, u->status);
    if (status != 101) assert_non_null(u->reason);
    return status;
}

#define REQ(method, version, upgrade_h, connection, ver, key)                                      \
    method " /stream?x=1 HTTP/" version "\r\nHost: example.com\r\n" upgrade_h connection ver key   \
           "\r\n"
#define UPG    "Upgrade: websocket\r\n"
#define CONN   "Connection: Upgrade\r\n"
#define VER13  "Sec-WebSocket-Version: 13\r\n"
#define KEYHDR "Sec-WebSocket-Key: " GOOD_KEY "\r\n"

static void ws_upgrade_good(void **state) {
    (void)state;
    fc_ws_upgrade u;
    assert_int_equal(upgrade(REQ("GET", "1.1", UPG, CONN, VER13, KEYHDR), &u), 101);
    assert_string_equal(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Header names and the Upgrade token are case-insensitive. */
    assert_int_equal(upgrade("GET / HTTP/1.1\r\nupgrade: WebSocket\r\nCONNECTION: upgrade\r\n"
                             "sec-websocket-version: 13\r\nsec-websocket-key: " GOOD_KEY "\r\n\r\n",
                             &u),
                     101);
    assert_string_equal(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void ws_upgrade_method(void **state) {
    (void)state;
    fc_ws_upgrade u;
    assert_int_equal(upgrade(REQ("POST", "1.1", UPG, CONN, VER13, KEYHDR), &u), 405);
    assert_int_equal(upgrade(REQ("HEAD", "1.1", UPG, CONN, VER13, KEYHDR), &u), 405);
    assert_int_equal(upgrade(REQ("get", "1.1", UPG, CONN, VER13, KEYHDR), &u), 405);
    assert_int_equal(upgrade(REQ("GETX", "1.1", UPG, CONN, VER13, KEYHDR), &u), 405);
}

/* RFC 9110 9.1: the method token is case-sensitive, so "GeT" is not GET. */
static void ws_upgrade_method_case_sensitive(void **state) {
    (void)state;
    fc_ws_upgrade u;
    assert_int_equal(upgrade(REQ("GeT", "1.1", UPG, CONN, VER13, KEYHDR), &u), 405);
    assert_int_equal(upgrade(REQ("GET", "1.1", UPG, CONN, VER13, KEYHDR), &u), 101);
}

static void ws_upgrade_version(void **state) {
    (void)state;
    fc_ws_upgrade u;
    assert_int_equal(upgrade(REQ("GET", "1.0", UPG, CONN, VER13, KEYHDR), &u), 400);
    assert_int_equal(upgrade(REQ("GET", "1.2", UPG, CONN, VER13, KEYHDR), &u), 101);
}

static void ws_upgrade_upgrade_header(void **state) {
    (void)state;
    fc_ws_upgrade u;
    assert_int_equal(upgrade(REQ("GET", "1.1", "", CONN, VER13, KEYHDR), &u), 400);
    assert_int_equal(upgrade(REQ("GET", "1.1", "Upgrade: h2c\r\n", CONN, VER13, KEYHDR), &u), 400);
    assert_int_equal(upgrade(REQ("GET", "1.1", "Upgrade: websockets\r\n", CONN, VER13, KEYHDR), &u),
                     400);
    assert_int_equal(upgrade(REQ("GET", "1.1", "Upgrade:\r\n", CONN, VER13, KEYHDR), &u), 400);
    assert_int_equal(
        upgrade(REQ("GET", "1.1", "Upgrade: h2c, websocket\r\n", CONN, VER13, KEYHDR), &u), 101);
}

static void ws_upgrade_connection_tokens(void **state) {
    (void)state;
    fc_ws_upgrade u;
    assert_int_equal(upgrade(REQ("GET", "1.1", UPG, "", VER13, KEYHDR), &u), 400);
    assert_int_equal(
        upgrade(REQ("GET", "1.1", UPG, "Connection: keep-alive\r\n", VER13, KEYHDR), &u), 400);
    assert_int_equal(upgrade(REQ("GET", "1.1", UPG, "Connection: Upgrades\r\n", VER13, KEYHDR), &u),
                     400);
    assert_int_equal(
        upgrade(REQ("GET", "1.1", UPG, "Connection: keep-alive, Upgrade\r\n", VER13, KEYHDR), &u),
        101);
    assert_int_equal(
        upgrade(REQ("GET", "1.1", UPG, "Connection: keep-alive,upgrade\r\n", VER13, KEYHDR), &u),
        101);
    assert_int_equal(
        upgrade(REQ("GET", "1.1", UPG, "Connection: UPGRADE , close\r\n", VER13, KEYHDR), &u), 101);
}

static void ws_upgrade_websocket_version(void **state) {
    (void)state;
    fc_ws_upgrade u;
    assert_int_equal(
        upgrade(REQ("GET", "1.1", UPG, CONN, "Sec-WebSocket-Version: 8\r\n", KEYHDR), &u), 426);
    assert_int_equal(upgrade(REQ("GET", "1.1", UPG, CONN, "", KEYHDR), &u), 426);
    assert_int_equal(
        upgrade(REQ("GET", "1.1", UPG, CONN, "Sec-WebSocket-Version: 130\r\n", KEYHDR), &u), 426);
}

static void ws_upgrade_key(void **state) {
    (void)state;
    fc_ws_upgrade u;
    assert_int_equal(upgrade(REQ("GET", "1.1", UPG, CONN, VER13, ""), &u), 400);
    /* 15 and 17 bytes, and not base64 at all. */
    assert_int_equal(
        upgrade(REQ("GET", "1.1", UPG, CONN, VER13, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n"),
                &u),
        400);
    assert_int_equal(upgrade(REQ("GET", "1.1", UPG, CONN, VER13,
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQA=\r\n"),
                             &u),
                     400);
    assert_int_equal(upgrade(REQ("GET", "1.1", UPG, CONN, VER13,
                                 "Sec-WebSocket-Key: not base64 at all!!!!!!\r\n"),
                             &u),
                     400);
}

/* --- Frame encoding ------------------------------------------------------ */

static void ws_header_length_forms(void **state) {
    (void)state;
    uint8_t h[10];
    assert_int_equal(fc_ws_header(h, FC_WS_BINARY, 1, 0), 2);
    assert_memory_equal(h, ((uint8_t[]){0x82, 0x00}), 2);
    assert_int_equal(fc_ws_header(h, FC_WS_BINARY, 1, 125), 2);
    assert_memory_equal(h, ((uint8_t[]){0x82, 0x7D}), 2);
    assert_int_equal(fc_ws_header(h, FC_WS_TEXT, 1, 126), 4);
    assert_memory_equal(h, ((uint8_t[]){0x81, 0x7E, 0x00, 0x7E}), 4);
    assert_int_equal(fc_ws_header(h, FC_WS_TEXT, 0, 65535), 4);
    assert_memory_equal(h, ((uint8_t[]){0x01, 0x7E, 0xFF, 0xFF}), 4);
    assert_int_equal(fc_ws_header(h, FC_WS_BINARY, 1, 65536), 10);
    assert_memory_equal(h, ((uint8_t[]){0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}), 10);
    assert_int_equal(fc_ws_header(h, FC_WS_CONT, 1, 0x0102030405060708ull), 10);
    assert_memory_equal(h, ((uint8_t[]){0x80, 0x7F, 1, 2, 3, 4, 5, 6, 7, 8}), 10);
}

static void ws_header_masked(void **state) {
    (void)state;
    uint8_t h[FC_WS_MAX_HEADER];
    const uint8_t m[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    assert_int_equal(fc_ws_header_masked(h, FC_WS_TEXT, 1, 5, m), 6);
    assert_memory_equal(h, ((uint8_t[]){0x81, 0x85, 0xA1, 0xB2, 0xC3, 0xD4}), 6);
    assert_int_equal(fc_ws_header_masked(h, FC_WS_BINARY, 0, 300, m), 8);
    assert_memory_equal(h, ((uint8_t[]){0x02, 0xFE, 0x01, 0x2C, 0xA1, 0xB2, 0xC3, 0xD4}), 8);
    assert_int_equal(fc_ws_header_masked(h, FC_WS_BINARY, 1, 65536, m), 14);
    assert_memory_equal(
        h, ((uint8_t[]){0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0xA1, 0xB2, 0xC3, 0xD4}), 14);
}

static void ws_mask_offset(void **state) {
    (void)state;
    /* RFC 6455 5.7: "Hello" masked with 37 fa 21 3d. */
    uint8_t d[5] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    fc_ws_mask(d, 5, MASK, 0);
    assert_memory_equal(d, "Hello", 5);
    /* Unmasking in two pieces continues at the right mask byte. */
    uint8_t e[5] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    fc_ws_mask(e, 3, MASK, 0);
    fc_ws_mask(e + 3, 2, MASK, 3);
    assert_memory_equal(e, "Hello", 5);
}

static void ws_frame_layout(void **state) {
    (void)state;
    fc_buf *b = fc_ws_frame(FC_WS_TEXT, "Hello", 5);
    assert_non_null(b);
    assert_int_equal(b->len, 7);
    assert_memory_equal(b->data, "\x81\x05Hello", 7);
    fc_buf_unref(b);

    b = fc_ws_frame(FC_WS_PING, NULL, 0);
    assert_non_null(b);
    assert_int_equal(b->len, 2);
    assert_memory_equal(b->data, "\x89\x00", 2);
    fc_buf_unref(b);

    uint8_t big[300];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
    b = fc_ws_frame(FC_WS_BINARY, big, sizeof big);
    assert_non_null(b);
    assert_int_equal(b->len, 4 + sizeof big);
    assert_memory_equal(b->data, "\x82\x7E\x01\x2C", 4);
    assert_memory_equal(b->data + 4, big, sizeof big);
    fc_buf_unref(b);
}

static void ws_close_frame_layout(void **state) {
    (void)state;
    fc_buf *b = fc_ws_close_frame(0, "ignored without a code");
    assert_int_equal(b->len, 2);
    assert_memory_equal(b->data, "\x88\x00", 2);
    fc_buf_unref(b);

    b = fc_ws_close_frame(1000, NULL);
    assert_int_equal(b->len, 4);
    assert_memory_equal(b->data, "\x88\x02\x03\xE8", 4);
    fc_buf_unref(b);

    b = fc_ws_close_frame(1001, "bye");
    assert_int_equal(b->len, 7);
    assert_memory_equal(b->data,
                        "\x88\x05\x03\xE9"
                        "bye",
                        7);
    fc_buf_unref(b);

    /* A long reason is cut so the payload is exactly 125 bytes. */
    char reason[300];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = 0;
    b = fc_ws_close_frame(4000, reason);
    assert_int_equal(b->len, 2 + 125);
    assert_int_equal(b->data[1], 125);
    assert_memory_equal(b->data + 2, "\x0F\xA0", 2);
    fc_buf_unref(b);
}

/* Our own parser, in the client role, over a frame we produced. */
static int parse_client(rec *r, const fc_buf *b) {
    fc_ws_parser p;
    fc_ws_parser_init(&p, 0, MAX_MESSAGE);
    rec_reset(r);
    uint8_t *copy = malloc(b->len);
    memcpy(copy, b->data, b->len);
    int rc = fc_ws_parse(&p, copy, b->len, &CBS, r);
    free(copy);
    return rc;
}

/* RFC 6455 5.5.1: the close reason must be UTF-8, so truncation must not cut
 * a multi-byte character in half. */
static void ws_close_frame_truncates_on_character_boundary(void **state) {
    (void)state;
    char reason[200] = "";
    for (int i = 0; i < 62; i++) strcat(reason, "\xC3\xA9"); /* 124 bytes of U+00E9 */
    fc_buf *b = fc_ws_close_frame(1001, reason);
    assert_non_null(b);
    size_t len = b->len;
    fc_utf8_state st = 0;
    int utf8_rc = fc_utf8_feed(&st, b->data + 4, b->len - 4);
    rec r = {0};
    int parse_rc = parse_client(&r, b);
    int nctl = r.nctl;
    rec_reset(&r);
    fc_buf_unref(b);
    assert_true(len <= 2 + 125);
    assert_true(len >= 2 + 120); /* cut no more than needed */
    assert_int_equal(utf8_rc, 0);
    if (st != 0) fail_msg("the %zu-byte reason ends inside a UTF-8 character", len - 4);
    assert_int_equal(parse_rc, 0);
    assert_int_equal(nctl, 1);
}

/* --- UTF-8 ---------------------------------------------------------------- */

/* 0 when s is complete valid UTF-8, 1 when valid but truncated, -1 when
 * invalid; feeding byte by byte must agree with feeding it whole. */
static int utf8(const char *s) {
    size_t n = strlen(s);
    fc_utf8_state st = 0, st1 = 0;
    int rc = fc_utf8_feed(&st, (const uint8_t *)s, n), rc1 = 0;
    for (size_t i = 0; i < n && rc1 == 0; i++) rc1 = fc_utf8_feed(&st1, (const uint8_t *)s + i, 1);
    assert_int_equal(rc, rc1);
    if (rc) return -1;
    assert_int_equal(st, st1);
    return st ? 1 : 0;
}

static void ws_utf8_feed(void **state) {
    (void)state;
    assert_int_equal(utf8(""), 0);
    assert_int_equal(utf8("plain ASCII \x7f"), 0);
    /* Boundaries of each length. */
    assert_int_equal(utf8("\xC2\x80"), 0);
    assert_int_equal(utf8("\xDF\xBF"), 0);
    assert_int_equal(utf8("\xE0\xA0\x80"), 0);
    assert_int_equal(utf8("\xED\x9F\xBF"), 0); /* U+D7FF */
    assert_int_equal(utf8("\xEE\x80\x80"), 0); /* U+E000 */
    assert_int_equal(utf8("\xEF\xBF\xBF"), 0);
    assert_int_equal(utf8("\xF0\x90\x80\x80"), 0);
    assert_int_equal(utf8("\xF4\x8F\xBF\xBF"), 0); /* U+10FFFF */
    assert_int_equal(utf8("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"), 0);
    /* Overlong forms. */
    assert_int_equal(utf8("\xC0\x80"), -1);
    assert_int_equal(utf8("\xC1\xBF"), -1);
    assert_int_equal(utf8("\xE0\x9F\xBF"), -1);
    assert_int_equal(utf8("\xF0\x8F\xBF\xBF"), -1);
    /* Surrogates, beyond U+10FFFF, bytes that never occur. */
    assert_int_equal(utf8("\xED\xA0\x80"), -1);
    assert_int_equal(utf8("\xED\xBF\xBF"), -1);
    assert_int_equal(utf8("\xF4\x90\x80\x80"), -1);
    assert_int_equal(utf8("\xF5\x80\x80\x80"), -1);
    assert_int_equal(utf8("\xFE"), -1);
    assert_int_equal(utf8("\xFF"), -1);
    /* Stray or missing continuation bytes. */
    assert_int_equal(utf8("\x80"), -1);
    assert_int_equal(utf8("a\xBF"), -1);
    assert_int_equal(utf8("\xE2\x82"
                          "a"),
                     -1);
    assert_int_equal(utf8("\xC3\xA9\xA9"), -1);
    /* Truncated: valid so far, not at a boundary. */
    assert_int_equal(utf8("\xE2\x82"), 1);
    assert_int_equal(utf8("\xF0\x9F\x98"), 1);
    assert_int_equal(utf8("abc\xC3"), 1);
}

static void ws_utf8_feed_resumes_and_sticks(void **state) {
    (void)state;
    fc_utf8_state st = 0;
    assert_int_equal(fc_utf8_feed(&st, (const uint8_t *)"\xE2", 1), 0);
    assert_int_not_equal(st, 0);
    assert_int_equal(fc_utf8_feed(&st, (const uint8_t *)"\x82", 1), 0);
    assert_int_not_equal(st, 0);
    assert_int_equal(fc_utf8_feed(&st, (const uint8_t *)"\xAC", 1), 0); /* U+20AC */
    assert_int_equal(st, 0);
    /* Once invalid, always invalid, even for valid input. */
    assert_int_equal(fc_utf8_feed(&st, (const uint8_t *)"\xC0", 1), -1);
    assert_int_equal(fc_utf8_feed(&st, (const uint8_t *)"a", 1), -1);
    assert_int_equal(fc_utf8_feed(&st, NULL, 0), -1);
}

/* --- Parser: delivery ------------------------------------------------------ */

static void ws_parse_rfc_masked_hello(void **state) {
    (void)state;
    wire *w = wire_new();
    memcpy(w->b, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11); /* RFC 6455 5.7 */
    w->len = 11;
    rec r = {0};
    for (size_t step = 0; step <= 3; step++) {
        assert_int_equal(parse_server(&r, w, step), 0);
        assert_int_equal(r.len, 5);
        assert_memory_equal(r.data, "Hello", 5);
        assert_int_equal(r.ends, 1);
        assert_int_equal(r.msg_opcode, FC_WS_TEXT);
        assert_string_equal(r.events, "de");
    }
    rec_reset(&r);
    free(w);
}

static void ws_parse_binary_length_forms(void **state) {
    (void)state;
    static const size_t sizes[] = {0, 1, 125, 126, 300, 65535, 65536};
    wire *w = wire_new();
    uint8_t *payload = malloc(MAX_MESSAGE);
    for (size_t i = 0; i < MAX_MESSAGE; i++) payload[i] = (uint8_t)(i * 7 + 3);
    rec r = {0};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        w->len = 0;
        put(w, 1, FC_WS_BINARY, payload, sizes[k]);
        assert_int_equal(parse_server(&r, w, 0), 0);
        assert_int_equal(r.len, sizes[k]);
        if (sizes[k]) assert_memory_equal(r.data, payload, sizes[k]);
        assert_int_equal(r.ends, 1);
        assert_int_equal(r.msg_opcode, FC_WS_BINARY);
        /* And arriving in odd-sized pieces. */
        if (sizes[k] <= 300) {
            assert_int_equal(parse_server(&r, w, 7), 0);
            assert_int_equal(r.len, sizes[k]);
            if (sizes[k]) assert_memory_equal(r.data, payload, sizes[k]);
            assert_int_equal(r.ends, 1);
        }
    }
    rec_reset(&r);
    free(payload);
    free(w);
}

static void ws_parse_several_messages_in_one_read(void **state) {
    (void)state;
    wire *w = wire_new();
    put_str(w, 1, FC_WS_TEXT, "one");
    put_str(w, 1, FC_WS_BINARY, "two");
    put_str(w, 1, FC_WS_TEXT, "");
    put_str(w, 1, FC_WS_PING, "p");
    put_str(w, 1, FC_WS_TEXT, "three");
    rec r = {0};
    assert_int_equal(parse_server(&r, w, 0), 0);
    assert_int_equal(r.len, 11);
    assert_memory_equal(r.data, "onetwothree", 11);
    assert_int_equal(r.ends, 4);
    assert_string_equal(r.events, "dedeePde");
    rec_reset(&r);
    free(w);
}

static void ws_parse_fragmented_text(void **state) {
    (void)state;
    wire *w = wire_new();
    put_str(w, 0, FC_WS_TEXT, "Hel");
    put_str(w, 0, FC_WS_CONT, "lo, ");
    put_str(w, 1, FC_WS_CONT, "w\xC3\xB6rld");
    rec r = {0};
    for (size_t step = 0; step <= 1; step++) { /* whole, then 1 byte at a time */
        assert_int_equal(parse_server(&r, w, step), 0);
        assert_int_equal(r.len, 13);
        assert_memory_equal(r.data, "Hello, w\xC3\xB6rld", 13);
        assert_int_equal(r.ends, 1);
        assert_int_equal(r.msg_opcode, FC_WS_TEXT);
        assert_int_equal(r.mixed, 0);
        assert_int_equal(r.nctl, 0);
    }
    rec_reset(&r);
    free(w);
}

static void ws_parse_ping_between_fragments(void **state) {
    (void)state;
    wire *w = wire_new();
    put_str(w, 0, FC_WS_BINARY, "ab");
    put_str(w, 1, FC_WS_PING, "hi");
    put_str(w, 0, FC_WS_CONT, "cd");
    put_str(w, 1, FC_WS_PONG, "");
    put_str(w, 1, FC_WS_CONT, "ef");
    rec r = {0};
    for (size_t step = 0; step <= 1; step++) {
        assert_int_equal(parse_server(&r, w, step), 0);
        assert_string_equal(r.events, "dPdOde");
        assert_int_equal(r.len, 6);
        assert_memory_equal(r.data, "abcdef", 6);
        assert_int_equal(r.msg_opcode, FC_WS_BINARY);
        assert_int_equal(r.mixed, 0);
        assert_int_equal(r.nctl, 2);
        assert_int_equal(r.ctl_opcode[0], FC_WS_PING);
        assert_int_equal(r.ctl_len[0], 2);
        assert_memory_equal(r.ctl[0], "hi", 2);
        assert_int_equal(r.ctl_opcode[1], FC_WS_PONG);
        assert_int_equal(r.ctl_len[1], 0);
    }
    rec_reset(&r);
    free(w);
}

static void ws_parse_control_payload_125(void **state) {
    (void)state;
    uint8_t payload[125];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(255 - i);
    wire *w = wire_new();
    put(w, 1, FC_WS_PING, payload, sizeof payload);
    rec r = {0};
    assert_int_equal(parse_server(&r, w, 1), 0);
    assert_int_equal(r.nctl, 1);
    assert_int_equal(r.ctl_len[0], 125);
    assert_memory_equal(r.ctl[0], payload, 125);
    rec_reset(&r);
    free(w);
}

/* --- Parser: protocol errors (1002) ---------------------------------------- */

/* Expects w to fail with code and nothing of it to be delivered. */
static void expect_fail_silent(const wire *w, int code) {
    rec r = {0};
    for (size_t step = 0; step <= 1; step++) {
        assert_int_equal(parse_server(&r, w, step), code);
        assert_int_equal(r.len, 0);
        assert_int_equal(r.ends, 0);
        assert_int_equal(r.nctl, 0);
    }
    rec_reset(&r);
}

static void ws_parse_unmasked_client_frame(void **state) {
    (void)state;
    wire *w = wire_new();
    put_raw(w, 0x81, 0, "Hello", 5);
    expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
    w->len = 0;
    put_raw(w, 0x89, 0, "", 0);
    expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
    free(w);
}

static void ws_parse_rsv_bits(void **state) {
    (void)state;
    wire *w = wire_new();
    for (int bit = 0x10; bit <= 0x40; bit <<= 1) {
        w->len = 0;
        put_raw(w, (uint8_t)(0x81 | bit), 1, "x", 1);
        expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
        w->len = 0;
        put_raw(w, (uint8_t)(0x89 | bit), 1, "", 0);
        expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
    }
    free(w);
}

static void ws_parse_reserved_opcodes(void **state) {
    (void)state;
    static const int ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    wire *w = wire_new();
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        w->len = 0;
        put(w, 1, ops[k], "x", 1);
        expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
        w->len = 0;
        put(w, 1, ops[k], "", 0);
        expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
    }
    free(w);
}

static void ws_parse_control_too_long(void **state) {
    (void)state;
    uint8_t payload[126] = {0x03, 0xE8};
    wire *w = wire_new();
    static const int ops[] = {FC_WS_PING, FC_WS_PONG, FC_WS_CLOSE};
    for (size_t k = 0; k < 3; k++) {
        w->len = 0;
        put(w, 1, ops[k], payload, sizeof payload);
        /* Refused at the header: the 126-byte form itself is the error. */
        assert_int_equal(w->b[1], 0xFE);
        expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
    }
    free(w);
}

static void ws_parse_fragmented_control(void **state) {
    (void)state;
    wire *w = wire_new();
    put_str(w, 0, FC_WS_PING, "hi");
    expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
    w->len = 0;
    put_str(w, 0, FC_WS_CLOSE, "");
    expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
    free(w);
}

static void ws_parse_continuation_without_start(void **state) {
    (void)state;
    wire *w = wire_new();
    put_str(w, 1, FC_WS_CONT, "x");
    expect_fail_silent(w, FC_WS_PROTOCOL_ERROR);
    /* Also right after a complete message. */
    w->len = 0;
    put_str(w, 1, FC_WS_TEXT, "done");
    put_str(w, 0, FC_WS_CONT, "x");
    rec r = {0};
    assert_int_equal(parse_server(&r, w, 0), FC_WS_PROTOCOL_ERROR);
    assert_int_equal(r.ends, 1);
    assert_int_equal(r.len, 4);
    rec_reset(&r);
    free(w);
}

static void ws_parse_new_message_inside_fragmented(void **state) {
    (void)state;
    wire *w = wire_new();
    rec r = {0};
    static const int second[] = {FC_WS_TEXT, FC_WS_BINARY};
    for (size_t k = 0; k < 2; k++) {
        w->len = 0;
        put_str(w, 0, FC_WS_TEXT, "first");
        put_str(w, 1, second[k], "second");
        for (size_t step = 0; step <= 1; step++) {
            assert_int_equal(parse_server(&r, w, step), FC_WS_PROTOCOL_ERROR);
            assert_int_equal(r.len, 5); /* the first fragment, nothing of the second */
            assert_int_equal(r.ends, 0);
        }
    }
    rec_reset(&r);
    free(w);
}

static void ws_parse_length_top_bit(void **state) {
    (void)state;
    wire *w = wire_new();
    memcpy(w->b, "\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x01\x37\xfa\x21\x3d", 14);
    w->len = 14;
    rec r = {0};
    int rc = parse_server(&r, w, 1);
    assert_true(rc == FC_WS_PROTOCOL_ERROR || rc == FC_WS_TOO_BIG);
    assert_int_equal(r.len, 0);
    rec_reset(&r);
    free(w);
}

/* --- Parser: UTF-8 (1007) ------------------------------------------------- */

static void ws_parse_invalid_utf8_text(void **state) {
    (void)state;
    static const char *bad[] = {
        "\xC0\xAF",         /* overlong '/' */
        "\xE0\x80\xAF",     /* overlong, 3 bytes */
        "ab\xED\xA0\x80",   /* surrogate U+D800 */
        "\xF4\x90\x80\x80", /* above U+10FFFF */
        "\xF8\x88\x80\x80\x80",
        "ok\xE2\x82", /* truncated at the end of the message */
        "\xCE\xBA\xF0\x9F\x98",
    };
    wire *w = wire_new();
    rec r = {0};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        w->len = 0;
        put_str(w, 1, FC_WS_TEXT, bad[k]);
        for (size_t step = 0; step <= 1; step++) {
            int rc = parse_server(&r, w, step);
            if (rc != FC_WS_INVALID_DATA)
                fail_msg("text #%zu (step %zu): got %d, want 1007", k, step, rc);
            assert_int_equal(r.ends, 0);
        }
    }
    /* Binary messages are not UTF-8 checked. */
    w->len = 0;
    put_str(w, 1, FC_WS_BINARY, "\xC0\xAF\xFF");
    assert_int_equal(parse_server(&r, w, 0), 0);
    assert_int_equal(r.ends, 1);
    rec_reset(&r);
    free(w);
}

static void ws_parse_invalid_utf8_across_fragments_fails_fast(void **state) {
    (void)state;
    wire *w = wire_new();
    put_str(w, 0, FC_WS_TEXT, "ok\xE2");
    size_t first = w->len;
    put_str(w, 1, FC_WS_CONT, "\x28\xA1 and much more text after it");
    size_t bad_at = first + 6 + 1; /* 6 header bytes, then the bad byte */
    rec r = {0};
    fc_ws_parser p;
    fc_ws_parser_init(&p, 1, MAX_MESSAGE);
    size_t fed = 0;
    assert_int_equal(feed(&p, &r, w, 1, &fed), FC_WS_INVALID_DATA);
    assert_int_equal(fed, bad_at);
    assert_int_equal(r.len, 3); /* "ok\xE2" was valid so far */
    assert_int_equal(r.ends, 0);
    assert_non_null(p.error);
    /* The parser is done: more input is ignored. */
    uint8_t more[8] = {0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 'h' ^ 0x37, 'i' ^ 0xfa};
    assert_int_equal(fc_ws_parse(&p, more, sizeof more, &CBS, &r), 0);
    assert_int_equal(r.len, 3);
    assert_int_equal(r.ends, 0);
    rec_reset(&r);
    free(w);
}

static void ws_parse_valid_utf8_across_fragments(void **state) {
    (void)state;
    wire *w = wire_new();
    put_str(w, 0, FC_WS_TEXT, "\xF0\x9F");
    put_str(w, 0, FC_WS_CONT, "\x98");
    put_str(w, 0, FC_WS_CONT, "");
    put_str(w, 1, FC_WS_CONT, "\x80\xE2\x82\xAC");
    rec r = {0};
    for (size_t step = 0; step <= 1; step++) {
        assert_int_equal(parse_server(&r, w, step), 0);
        assert_int_equal(r.len, 7);
        assert_memory_equal(r.data, "\xF0\x9F\x98\x80\xE2\x82\xAC", 7);
        assert_int_equal(r.ends, 1);
    }
    rec_reset(&r);
    free(w);
}

/* --- Parser: size limit (1009) ------------------------------------------- */

static void ws_parse_too_big_single_frame(void **state) {
    (void)state;
    wire *w = wire_new();
    uint8_t *payload = calloc(1, MAX_MESSAGE + 1);
    put(w, 1, FC_WS_BINARY, payload, MAX_MESSAGE + 1);
    /* Only the header is fed: the verdict comes before any payload. */
    wire *h = wire_new();
    memcpy(h->b, w->b, 14);
    h->len = 14;
    rec r = {0};
    assert_int_equal(parse_server(&r, h, 1), FC_WS_TOO_BIG);
    assert_int_equal(r.len, 0);
    assert_int_equal(parse_server(&r, w, 0), FC_WS_TOO_BIG);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.ends, 0);
    rec_reset(&r);
    free(payload);
    free(h);
    free(w);
}

static void ws_parse_too_big_fragments(void **state) {
    (void)state;
    wire *w = wire_new();
    uint8_t *payload = calloc(1, 40000);
    put(w, 0, FC_WS_TEXT, payload, 40000);
    put(w, 0, FC_WS_CONT, payload, 25536); /* exactly at the limit so far */
    size_t ok_len = w->len;
    put(w, 1, FC_WS_CONT, payload, 1);
    rec r = {0};
    fc_ws_parser p;
    fc_ws_parser_init(&p, 1, MAX_MESSAGE);
    size_t fed = 0;
    assert_int_equal(feed(&p, &r, w, 1, &fed), FC_WS_TOO_BIG);
    assert_int_equal(fed, ok_len + 6); /* as soon as the third header is complete */
    assert_int_equal(r.len, 65536);
    assert_int_equal(r.ends, 0);
    rec_reset(&r);

    /* The same total as one message is fine when it fits. */
    w->len = 0;
    put(w, 0, FC_WS_BINARY, payload, 40000);
    put(w, 1, FC_WS_CONT, payload, 25536);
    assert_int_equal(parse_server(&r, w, 0), 0);
    assert_int_equal(r.len, 65536);
    assert_int_equal(r.ends, 1);
    /* The limit is per message: a second one of the same size is fine. */
    put(w, 1, FC_WS_BINARY, payload, 40000);
    assert_int_equal(parse_server(&r, w, 0), 0);
    assert_int_equal(r.ends, 2);
    rec_reset(&r);
    free(payload);
    free(w);
}

/* --- Parser: close frames ------------------------------------------------- */

static int parse_close(rec *r, const void *payload, size_t len) {
    wire *w = wire_new();
    put(w, 1, FC_WS_CLOSE, payload, len);
    int rc = parse_server(r, w, 0);
    free(w);
    return rc;
}

static int close_code(rec *r, unsigned code) {
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return parse_close(r, p, 2);
}

static void ws_parse_close_empty_and_short(void **state) {
    (void)state;
    rec r = {0};
    assert_int_equal(parse_close(&r, "", 0), 0);
    assert_int_equal(r.nctl, 1);
    assert_int_equal(r.ctl_opcode[0], FC_WS_CLOSE);
    assert_int_equal(r.ctl_len[0], 0);
    assert_int_equal(parse_close(&r, "\x03", 1), FC_WS_PROTOCOL_ERROR);
    assert_int_equal(r.nctl, 0);
    rec_reset(&r);
}

static void ws_parse_close_codes(void **state) {
    (void)state;
    static const unsigned bad[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                   1016, 1100, 2000, 2999, 5000, 65535};
    static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                    1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    rec r = {0};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = close_code(&r, bad[k]);
        if (rc != FC_WS_PROTOCOL_ERROR) fail_msg("close code %u: got %d, want 1002", bad[k], rc);
        assert_int_equal(r.nctl, 0);
        assert_int_equal(fc_ws_close_code_valid(bad[k]), 0);
    }
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        int rc = close_code(&r, good[k]);
        if (rc != 0) fail_msg("close code %u: got %d, want 0", good[k], rc);
        assert_int_equal(r.nctl, 1);
        assert_int_equal(r.ctl_opcode[0], FC_WS_CLOSE);
        assert_int_equal(r.ctl_len[0], 2);
        assert_int_equal(r.ctl[0][0] << 8 | r.ctl[0][1], good[k]);
        assert_int_equal(fc_ws_close_code_valid(good[k]), 1);
    }
    rec_reset(&r);
}

static void ws_parse_close_reason(void **state) {
    (void)state;
    rec r = {0};
    assert_int_equal(parse_close(&r,
                                 "\x03\xE8"
                                 "bye \xC3\xA9",
                                 8),
                     0);
    assert_int_equal(r.ctl_len[0], 8);
    assert_memory_equal(r.ctl[0] + 2, "bye \xC3\xA9", 6);
    assert_int_equal(parse_close(&r,
                                 "\x03\xE8"
                                 "bad \xC3",
                                 7),
                     FC_WS_INVALID_DATA);
    assert_int_equal(r.nctl, 0);
    assert_int_equal(parse_close(&r, "\x03\xE8\xED\xA0\x80", 5), FC_WS_INVALID_DATA);
    assert_int_equal(r.nctl, 0);
    rec_reset(&r);
}

static void ws_parse_ignores_input_after_close(void **state) {
    (void)state;
    wire *w = wire_new();
    put_str(w, 1, FC_WS_TEXT, "before");
    put(w, 1, FC_WS_CLOSE, "\x03\xE8", 2);
    put_str(w, 1, FC_WS_TEXT, "after");
    put_raw(w, 0xFF, 0, "garbage", 7); /* would be an error if parsed */
    rec r = {0};
    for (size_t step = 0; step <= 1; step++) {
        assert_int_equal(parse_server(&r, w, step), 0);
        assert_string_equal(r.events, "deC");
        assert_int_equal(r.len, 6);
        assert_memory_equal(r.data, "before", 6);
    }
    rec_reset(&r);
    free(w);
}

/* --- Parser: client role -------------------------------------------------- */

static void ws_parse_client_role(void **state) {
    (void)state;
    rec r = {0};
    fc_ws_parser p;
    /* Server frames are not masked. */
    uint8_t good[] = {0x81, 0x02, 'h', 'i', 0x8A, 0x00};
    fc_ws_parser_init(&p, 0, MAX_MESSAGE);
    assert_int_equal(fc_ws_parse(&p, good, sizeof good, &CBS, &r), 0);
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.data, "hi", 2);
    assert_string_equal(r.events, "deO");
    rec_reset(&r);

    /* A masked server frame is an error. */
    wire *w = wire_new();
    put_str(w, 1, FC_WS_TEXT, "Hello");
    fc_ws_parser_init(&p, 0, MAX_MESSAGE);
    assert_int_equal(feed(&p, &r, w, 0, NULL), FC_WS_PROTOCOL_ERROR);
    assert_non_null(p.error);
    assert_int_equal(r.len, 0);
    rec_reset(&r);
    free(w);
}

/* Whatever the codec frames, its own parser (client role) reads back. */
static void ws_frame_round_trip(void **state) {
    (void)state;
    rec r = {0};
    fc_buf *b = fc_ws_frame(FC_WS_TEXT, "caf\xC3\xA9", 5);
    assert_int_equal(parse_client(&r, b), 0);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.data, "caf\xC3\xA9", 5);
    assert_int_equal(r.ends, 1);
    fc_buf_unref(b);
    b = fc_ws_close_frame(1001, "going away");
    assert_int_equal(parse_client(&r, b), 0);
    assert_int_equal(r.nctl, 1);
    assert_int_equal(r.ctl_len[0], 12);
    fc_buf_unref(b);
    rec_reset(&r);
}

/* --- Client handshake ------------------------------------------------------ */

static void ws_url_parse(void **state) {
    (void)state;
    fc_ws_url u;
    const char *why = NULL;
    assert_int_equal(fc_ws_url_parse("ws://localhost:8080/stream/cam?x=1", &u, &why), 0);
    assert_string_equal(u.host, "localhost");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.path, "/stream/cam?x=1");

    assert_int_equal(fc_ws_url_parse("ws://example.com", &u, &why), 0);
    assert_string_equal(u.host, "example.com");
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/");

    assert_int_equal(fc_ws_url_parse("ws://[::1]:9000/a", &u, &why), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "9000");
    assert_string_equal(u.path, "/a");

    assert_int_equal(fc_ws_url_parse("ws://[fe80::1]/", &u, &why), 0);
    assert_string_equal(u.host, "fe80::1");
    assert_string_equal(u.port, "80");

    assert_int_equal(fc_ws_url_parse("wss://h/", &u, &why), 0);
    assert_true(u.tls);
    assert_string_equal(u.port, "443");

    static const char *bad[] = {"http://localhost/", "wss:/h/",       "ws://",      "ws:///path",
                                "ws://:80/",         "ws://host:/",   "ws://[::1/", "ws://[]:80/",
                                "ws://h:123456789/", "localhost:8080"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        why = NULL;
        if (fc_ws_url_parse(bad[k], &u, &why) != -1) fail_msg("'%s' was accepted", bad[k]);
        assert_non_null(why);
    }
}

/* RFC 3986 3.2.3: a port is digits; nothing may follow "]" but ":port". */
static void ws_url_parse_rejects_bad_port(void **state) {
    (void)state;
    static const char *bad[] = {"ws://h:abc/", "ws://h:80x/", "ws://[::1]junk/", "ws://[::1]x:99/"};
    int accepted = 0;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        fc_ws_url u;
        const char *why = NULL;
        if (fc_ws_url_parse(bad[k], &u, &why) != -1) {
            print_error("'%s' was accepted (host '%s', port '%s')\n", bad[k], u.host, u.port);
            accepted++;
        }
    }
    assert_int_equal(accepted, 0);
}

/* The answer a server gives to key, with extra header lines. */
static int answer(char *out, size_t cap, const char *key, const char *extra) {
    char acc[FC_WS_ACCEPT_LEN + 1];
    fc_ws_accept(key, strlen(key), acc);
    return snprintf(out, cap,
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                    acc, extra);
}

static void ws_client_round_trip(void **state) {
    (void)state;
    fc_ws_url url;
    const char *why = NULL;
    assert_int_equal(fc_ws_url_parse("ws://[::1]:8080/s?fps=5", &url, &why), 0);
    char req[1024], key[25];
    int n = fc_ws_client_request(req, sizeof req, &url, key);
    assert_true(n > 0);
    assert_int_equal(strlen(req), (size_t)n);
    assert_int_equal(strlen(key), 24);
    assert_int_equal(fc_ws_key_valid(key, 24), 1);

    /* The request is one our server accepts. */
    fc_http_request hr;
    assert_int_equal(fc_http_parse_request(req, (size_t)n, &hr), n);
    assert_true(fc_http_slice_ieq(hr.target, "/s?fps=5"));
    const fc_http_header *host = fc_http_find(&hr, "Host");
    assert_non_null(host);
    assert_true(fc_http_slice_ieq(host->value, "[::1]:8080"));
    fc_ws_upgrade u;
    assert_int_equal(fc_ws_check_upgrade(&hr, &u), 101);

    char acc[FC_WS_ACCEPT_LEN + 1];
    fc_ws_accept(key, strlen(key), acc);
    assert_string_equal(u.accept, acc);
    char resp[512];
    int rn = answer(resp, sizeof resp, key, "");
    assert_int_equal(fc_ws_client_check(resp, (size_t)rn, key, &why), 101);

    /* Two requests use different keys. */
    char key2[25];
    assert_true(fc_ws_client_request(req, sizeof req, &url, key2) > 0);
    assert_string_not_equal(key, key2);

    /* Too small a buffer. */
    assert_int_equal(fc_ws_client_request(req, 40, &url, key), -1);
}

static void ws_client_check_rejects(void **state) {
    (void)state;
    const char *key = GOOD_KEY, *why;
    char resp[512];
    /* The accept value for another key. */
    int n = answer(resp, sizeof resp, "AAAAAAAAAAAAAAAAAAAAAA==", "");
    why = NULL;
    assert_int_equal(fc_ws_client_check(resp, (size_t)n, key, &why), -1);
    assert_non_null(why);
    /* No accept header at all. */
    const char *none = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n\r\n";
    why = NULL;
    assert_int_equal(fc_ws_client_check(none, strlen(none), key, &why), -1);
    assert_non_null(why);
    /* A refusal gives its status. */
    const char *refused = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    why = NULL;
    assert_int_equal(fc_ws_client_check(refused, strlen(refused), key, &why), 404);
    assert_non_null(why);
    const char *junk = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
    why = NULL;
    assert_int_equal(fc_ws_client_check(junk, strlen(junk), key, &why), -1);
    assert_non_null(why);
    /* A status is three digits, 100 to 599: anything else is not HTTP. */
    const char *bad_status[] = {"HTTP/1.1 -5 x\r\n\r\n",   "HTTP/1.1 +101 x\r\n\r\n",
                                "HTTP/1.1 1010 x\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",
                                "HTTP/1.1 600 x\r\n\r\n",  "HTTP/1.1 10 x\r\n\r\n",
                                "HTTP/1.1  404 x\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad_status / sizeof bad_status[0]; i++) {
        why = NULL;
        assert_int_equal(fc_ws_client_check(bad_status[i], strlen(bad_status[i]), key, &why), -1);
        assert_non_null(why);
    }
    const char *bare = "HTTP/1.0 503\r\n\r\n"; /* no reason phrase: allowed */
    assert_int_equal(fc_ws_client_check(bare, strlen(bare), key, &why), 503);
}

/* Base64 is case-sensitive: an accept value differing only in case is wrong. */
static void ws_client_check_accept_is_case_sensitive(void **state) {
    (void)state;
    const char *key = GOOD_KEY, *why = NULL;
    const char *good =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "\r\n";
    assert_int_equal(fc_ws_client_check(good, strlen(good), key, &why), 101);
    const char *resp =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n"
        "\r\n";
    assert_int_equal(fc_ws_client_check(resp, strlen(resp), key, &why), -1);
}

/* RFC 6455 4.1: without "Upgrade: websocket" and "Connection: Upgrade" in a
 * 101 answer the client must fail the connection. */
static void ws_client_check_requires_upgrade_headers(void **state) {
    (void)state;
    const char *key = GOOD_KEY, *why = NULL;
    const char *both = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
                       "Connection: upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert_int_equal(fc_ws_client_check(both, strlen(both), key, &why), 101);
    const char *no_upgrade = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert_int_equal(fc_ws_client_check(no_upgrade, strlen(no_upgrade), key, &why), -1);
    const char *no_conn = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert_int_equal(fc_ws_client_check(no_conn, strlen(no_conn), key, &why), -1);
}

/* Which extension the server accepted: the first token of its answer. */
static void ws_client_accepted_reads_the_extension(void **state) {
    (void)state;
    const char *on = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate; "
                     "server_no_context_takeover\r\n\r\n";
    assert_int_equal(fc_ws_client_accepted(on, strlen(on), "permessage-deflate"), 1);
    const char *bare = "HTTP/1.1 101 OK\r\nSec-WebSocket-Extensions:  PerMessage-Deflate\r\n\r\n";
    assert_int_equal(fc_ws_client_accepted(bare, strlen(bare), "permessage-deflate"), 1);
    const char *none = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    assert_int_equal(fc_ws_client_accepted(none, strlen(none), "permessage-deflate"), 0);
    const char *other = "HTTP/1.1 101 OK\r\nSec-WebSocket-Extensions: permessage-deflatex\r\n\r\n";
    assert_int_equal(fc_ws_client_accepted(other, strlen(other), "permessage-deflate"), 0);
}

/* A status line with no line break after it is malformed, and must be
 * reported as such without undefined behaviour (run in a child so a
 * sanitizer abort fails this test only). */
static void ws_client_check_status_line_only(void **state) {
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *why = NULL;
        const char *head = "HTTP/1.1 101 Switching Protocols";
        int rc = fc_ws_client_check(head, strlen(head), GOOD_KEY, &why);
        _exit(rc == -1 && why ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st)) fail_msg("the check crashed (signal %d)", WTERMSIG(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ws_accept_rfc_example),
        cmocka_unit_test(ws_key_valid),
        cmocka_unit_test(ws_key_valid_rejects_inner_padding),
        cmocka_unit_test(ws_upgrade_good),
        cmocka_unit_test(ws_upgrade_method),
        cmocka_unit_test(ws_upgrade_method_case_sensitive),
        cmocka_unit_test(ws_upgrade_version),
        cmocka_unit_test(ws_upgrade_upgrade_header),
        cmocka_unit_test(ws_upgrade_connection_tokens),
        cmocka_unit_test(ws_upgrade_websocket_version),
        cmocka_unit_test(ws_upgrade_key),
        cmocka_unit_test(ws_header_length_forms),
        cmocka_unit_test(ws_header_masked),
        cmocka_unit_test(ws_mask_offset),
        cmocka_unit_test(ws_frame_layout),
        cmocka_unit_test(ws_close_frame_layout),
        cmocka_unit_test(ws_close_frame_truncates_on_character_boundary),
        cmocka_unit_test(ws_utf8_feed),
        cmocka_unit_test(ws_utf8_feed_resumes_and_sticks),
        cmocka_unit_test(ws_parse_rfc_masked_hello),
        cmocka_unit_test(ws_parse_binary_length_forms),
        cmocka_unit_test(ws_parse_several_messages_in_one_read),
        cmocka_unit_test(ws_parse_fragmented_text),
        cmocka_unit_test(ws_parse_ping_between_fragments),
        cmocka_unit_test(ws_parse_control_payload_125),
        cmocka_unit_test(ws_parse_unmasked_client_frame),
        cmocka_unit_test(ws_parse_rsv_bits),
        cmocka_unit_test(ws_parse_reserved_opcodes),
        cmocka_unit_test(ws_parse_control_too_long),
        cmocka_unit_test(ws_parse_fragmented_control),
        cmocka_unit_test(ws_parse_continuation_without_start),
        cmocka_unit_test(ws_parse_new_message_inside_fragmented),
        cmocka_unit_test(ws_parse_length_top_bit),
        cmocka_unit_test(ws_parse_invalid_utf8_text),
        cmocka_unit_test(ws_parse_invalid_utf8_across_fragments_fails_fast),
        cmocka_unit_test(ws_parse_valid_utf8_across_fragments),
        cmocka_unit_test(ws_parse_too_big_single_frame),
        cmocka_unit_test(ws_parse_too_big_fragments),
        cmocka_unit_test(ws_parse_close_empty_and_short),
        cmocka_unit_test(ws_parse_close_codes),
        cmocka_unit_test(ws_parse_close_reason),
        cmocka_unit_test(ws_parse_ignores_input_after_close),
        cmocka_unit_test(ws_parse_client_role),
        cmocka_unit_test(ws_frame_round_trip),
        cmocka_unit_test(ws_url_parse),
        cmocka_unit_test(ws_url_parse_rejects_bad_port),
        cmocka_unit_test(ws_client_round_trip),
        cmocka_unit_test(ws_client_check_rejects),
        cmocka_unit_test(ws_client_check_accept_is_case_sensitive),
        cmocka_unit_test(ws_client_check_requires_upgrade_headers),
        cmocka_unit_test(ws_client_accepted_reads_the_extension),
        cmocka_unit_test(ws_client_check_status_line_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
