/* Tests for src/hub/deflate.c: the permessage-deflate offer parser, the
 * compressed twin of a message (checked by inflating it with zlib here, as
 * a client would), and inflating clients' messages within the limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hub/deflate.h"
#include "hub/http.h"
#include "hub/ws.h"

/* Offers the extensions header value(s); returns what was answered ("" for
 * a decline) and the agreement in *d. */
static const char *offer(const char *h1, const char *h2, fc_ws_deflate *d) {
    static char answer[128];
    char req[1024];
    int n = snprintf(req, sizeof req, "GET /ws/x HTTP/1.1\r\nHost: a\r\n");
    if (h1) n += snprintf(req + n, sizeof req - (size_t)n, "Sec-WebSocket-Extensions: %s\r\n", h1);
    if (h2) n += snprintf(req + n, sizeof req - (size_t)n, "Sec-WebSocket-Extensions: %s\r\n", h2);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    fc_http_request r;
    assert_true(fc_http_parse_request(req, (size_t)n, &r) > 0);
    answer[0] = 0;
    int on = fc_ws_deflate_accept(&r, d, answer, sizeof answer);
    assert_int_equal(on, d->on);
    return answer;
}

static void negotiation(void **state) {
    (void)state;
    fc_ws_deflate d;
    assert_string_equal(offer("permessage-deflate", NULL, &d),
                        "permessage-deflate; server_no_context_takeover");
    assert_int_equal(d.client_no_context, 0);
    assert_string_equal(offer("PerMessage-Deflate ;  Client_No_Context_Takeover ", NULL, &d),
                        "permessage-deflate; server_no_context_takeover; "
                        "client_no_context_takeover");
    assert_int_equal(d.client_no_context, 1);
    /* Declined: a server window under 15, unknown or repeated or valued
     * flags, bad window values. */
    static const char *const no[] = {
        "permessage-deflate; server_max_window_bits=14",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=\"\"",
        "permessage-deflate; client_max_window_bits=1a",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=yes",
        "permessage-deflate; x=1",
        "deflate-frame",
        "",
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_string_equal(offer(no[i], NULL, &d), "");
        assert_int_equal(d.on, 0);
    }
    /* The first acceptable offer wins, across lists and headers. */
    assert_string_equal(offer("permessage-deflate; server_max_window_bits=9, permessage-deflate; "
                              "client_no_context_takeover",
                              NULL, &d),
                        "permessage-deflate; server_no_context_takeover; "
                        "client_no_context_takeover");
    assert_string_equal(offer("foo", "permessage-deflate; server_max_window_bits=\"15\"", &d),
                        "permessage-deflate; server_no_context_takeover");
    assert_string_equal(offer(NULL, NULL, &d), "");
}

/* An unmasked text frame holding payload. */
static fc_buf *frame(const void *payload, size_t len) {
    fc_buf *b = fc_buf_new(len + 10);
    assert_non_null(b);
    size_t h = fc_ws_header(b->data, FC_WS_TEXT, 1, len);
    memcpy(b->data + h, payload, len);
    b->len = h + len;
    return b;
}

/* Inflates a frame's payload with the tail put back, as a client does. */
static size_t client_inflate(const fc_buf *f, uint8_t *out, size_t cap) {
    size_t l = f->data[1] & 0x7F, off = l == 126 ? 4 : l == 127 ? 10 : 2;
    uint8_t *in = malloc(f->len - off + 4);
    memcpy(in, f->data + off, f->len - off);
    memcpy(in + f->len - off, "\x00\x00\xff\xff", 4);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, -15), Z_OK);
    z.next_in = in;
    z.avail_in = (uInt)(f->len - off + 4);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    assert_true(rc == Z_OK || rc == Z_STREAM_END);
    size_t n = cap - z.avail_out;
    inflateEnd(&z);
    free(in);
    return n;
}

static void twin_inflates_to_the_message(void **state) {
    (void)state;
    fc_deflater *d = fc_deflater_new(6);
    char json[20000];
    size_t n = 0;
    n += (size_t)snprintf(json, sizeof json, "{\"detections\":[");
    for (int i = 0; n < sizeof json - 100; i++)
        n += (size_t)snprintf(json + n, sizeof json - n,
                              "%s{\"label\":\"person\",\"score\":0.%04d,\"box\":[%d,%d,40,80]}",
                              i ? "," : "", i * 37 % 10000, i % 640, i % 480);
    n += (size_t)snprintf(json + n, sizeof json - n, "]}");
    for (int round = 0; round < 2; round++) { /* no state carried between messages */
        fc_buf *m = frame(json, n);
        fc_deflater_twin(d, m, 128);
        assert_non_null(m->deflated);
        const fc_buf *t = m->deflated;
        assert_int_equal(t->data[0], 0x80 | FC_WS_RSV1 | FC_WS_TEXT);
        assert_true(t->len * 10 < m->len * 3); /* repetitive JSON: under 0.3x */
        static uint8_t out[40000];
        assert_int_equal(client_inflate(t, out, sizeof out), n);
        assert_memory_equal(out, json, n);
        fc_buf_unref(m); /* frees the twin too (ASan checks) */
    }
    fc_deflater_free(d);
}

static void no_twin_when_short_or_incompressible(void **state) {
    (void)state;
    fc_deflater *d = fc_deflater_new(6);
    fc_buf *m = frame("{\"a\":1}", 7);
    fc_deflater_twin(d, m, 128);
    assert_null(m->deflated); /* under the threshold */
    fc_buf_unref(m);
    uint8_t noise[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)((x = x * 1103515245 + 12345) >> 16);
    m = frame(noise, sizeof noise);
    fc_deflater_twin(d, m, 128);
    assert_null(m->deflated); /* it would not shrink */
    fc_buf_unref(m);
    fc_deflater_free(d);
}

/* Client data compressed with the tail removed. */
static size_t client_deflate(z_stream *z, const void *in, size_t len, uint8_t *out, size_t cap) {
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)len;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
    size_t n = cap - z->avail_out;
    assert_memory_equal(out + n - 4, "\x00\x00\xff\xff", 4);
    return n - 4;
}

static void a_bomb_stops_at_the_limit(void **state) {
    (void)state;
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big), *packed = malloc(big / 512);
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t n = client_deflate(&z, zeros, big, packed, big / 512);
    deflateEnd(&z);
    assert_true(n < 100000);
    fc_inflater *inf = fc_inflater_new();
    uint8_t scratch[16384];
    uint64_t total = 0;
    int rc = fc_inflate(inf, packed, n, 1, &total, 4096, NULL, 1, scratch, sizeof scratch);
    assert_int_equal(rc, FC_WS_TOO_BIG);
    /* Stopped within one scratch buffer of the limit, not after 64 MiB. */
    assert_true(total > 4096 && total <= 4096 + sizeof scratch);
    fc_inflater_free(inf);
    free(zeros);
    free(packed);
}

static void context_utf8_and_corruption(void **state) {
    (void)state;
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    const char *text = "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 a sentence long enough to repeat";
    uint8_t a[256], b[256], scratch[7]; /* tiny: characters split across chunks */
    size_t na = client_deflate(&z, text, strlen(text), a, sizeof a);
    size_t nb = client_deflate(&z, text, strlen(text), b, sizeof b); /* refers to a */
    deflateEnd(&z);
    fc_inflater *inf = fc_inflater_new();
    for (int keep = 1; keep >= 0; keep--) {
        uint64_t total = 0;
        fc_utf8_state u = 0;
        /* the first message in two chunks */
        assert_int_equal(fc_inflate(inf, a, na / 2, 0, &total, 1000, &u, !keep, scratch, 7), 0);
        assert_int_equal(
            fc_inflate(inf, a + na / 2, na - na / 2, 1, &total, 1000, &u, !keep, scratch, 7), 0);
        assert_int_equal(total, strlen(text));
        total = 0;
        u = 0;
        /* the second needs the first's history: only with context kept */
        int rc = fc_inflate(inf, b, nb, 1, &total, 1000, &u, !keep, scratch, 7);
        if (keep)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, FC_WS_INVALID_DATA);
    }
    /* invalid UTF-8 inside, and a message that ends inside a character */
    z_stream y = {0};
    assert_int_equal(deflateInit2(&y, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uint8_t c[64];
    size_t nc = client_deflate(&y, "ok \xc3\x28", 5, c, sizeof c);
    uint64_t total = 0;
    fc_utf8_state u = 0;
    assert_int_equal(fc_inflate(inf, c, nc, 1, &total, 1000, &u, 1, scratch, 7),
                     FC_WS_INVALID_DATA);
    nc = client_deflate(&y, "ends \xc3", 6, c, sizeof c);
    total = 0;
    u = 0;
    assert_int_equal(fc_inflate(inf, c, nc, 1, &total, 1000, &u, 1, scratch, 7),
                     FC_WS_INVALID_DATA);
    deflateEnd(&y);
    total = 0;
    assert_int_equal(
        fc_inflate(inf, (const uint8_t *)"\xff\xff\xff", 3, 1, &total, 1000, NULL, 1, scratch, 7),
        FC_WS_INVALID_DATA);
    fc_inflater_free(inf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(negotiation),
        cmocka_unit_test(twin_inflates_to_the_message),
        cmocka_unit_test(no_twin_when_short_or_incompressible),
        cmocka_unit_test(a_bomb_stops_at_the_limit),
        cmocka_unit_test(context_utf8_and_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
