/* libFuzzer target for query strings: fc_http_query_get (src/hub/http.c),
 * a subscriber's options (fc_request_session_opts, src/hub/request.c) and
 * where the token comes from (fc_auth_token_of, src/hub/auth.c).
 *
 * Input: one byte k, then k bytes of a key to look up (cut at a NUL), then
 * the query. Each lookup is compared with a plain model of the grammar
 * ("k=v&k2=v2", the first match wins, a key without '=' has an empty
 * value); the query is copied to a buffer of its exact size so a read past
 * it is caught. The query is then put in a request line and parsed as a
 * head: when it parses, its query slice is the query. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/auth.h"
#include "hub/http.h"
#include "hub/request.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

/* The model: the first "&"-separated field whose key is key. */
static int model_get(const char *q, size_t len, const char *key, const char **v, size_t *vlen) {
    size_t klen = strlen(key), at = 0;
    while (at < len) {
        size_t end = at;
        while (end < len && q[end] != '&') end++;
        size_t eq = at;
        while (eq < end && q[eq] != '=') eq++;
        if (eq - at == klen && memcmp(q + at, key, klen) == 0) {
            *v = eq < end ? q + eq + 1 : q + end;
            *vlen = eq < end ? end - eq - 1 : 0;
            return 1;
        }
        at = end + 1;
    }
    return 0;
}

static void lookup(fc_http_slice q, const char *key) {
    fc_http_slice v = {NULL, 0};
    const char *mv = NULL;
    size_t mlen = 0;
    int got = fc_http_query_get(q, key, &v);
    CHECK(got == model_get(q.p, q.len, key, &mv, &mlen));
    if (got) {
        CHECK(v.p == mv && v.len == mlen);
        CHECK(v.p >= q.p && v.p + v.len <= q.p + q.len);
    }
}

static void session_opts(fc_http_slice q) {
    char *epoch = malloc(FC_HUB_EPOCH_MAX + 2); /* exactly what the caller gives */
    fc_session_opts o;
    const char *bad = fc_request_session_opts(q, &o, epoch);
    fc_http_slice v;
    int has_since = fc_http_query_get(q, "since", &v);
    if (bad) {
        CHECK(has_since);
        CHECK(strncmp(bad, "since:", 6) == 0);
    } else {
        CHECK(o.resume == has_since);
        if (has_since) {
            /* 1 to 19 decimal digits, and their value. */
            CHECK(v.len >= 1 && v.len <= 19);
            uint64_t n = 0;
            for (size_t i = 0; i < v.len; i++) {
                CHECK(v.p[i] >= '0' && v.p[i] <= '9');
                n = n * 10 + (uint64_t)(v.p[i] - '0');
            }
            CHECK(o.since == n);
        }
        CHECK(o.want_preview == (fc_http_query_get(q, "preview", &v) && v.len == 1 && *v.p == '1'));
        CHECK(o.last == (fc_http_query_get(q, "last", &v) && v.len == 1 && *v.p == '1'));
        if (fc_http_query_get(q, "epoch", &v)) {
            CHECK(o.epoch.p == epoch && o.epoch.len <= FC_HUB_EPOCH_MAX + 1);
            CHECK(o.epoch.len == (v.len < FC_HUB_EPOCH_MAX + 1 ? v.len : FC_HUB_EPOCH_MAX + 1));
            CHECK(memcmp(o.epoch.p, v.p, o.epoch.len) == 0);
        } else {
            CHECK(o.epoch.p == NULL && o.epoch.len == 0);
        }
        CHECK(o.extensions == NULL);
    }
    free(epoch);
}

static void token(fc_http_slice q) {
    static const char *const auth[] = {NULL, "Bearer abc", "Bearer    ", "Basic Zm9vOmJhcg=="};
    for (int i = 0; i < 4; i++) {
        fc_http_request req = {.query = q};
        if (auth[i]) {
            req.headers[0] = (fc_http_header){{"Authorization", 13}, {auth[i], strlen(auth[i])}};
            req.nheaders = 1;
        }
        fc_http_slice tok = {NULL, 0}, v;
        int rc = fc_auth_token_of(&req, &tok);
        int in_query = fc_http_query_get(q, "token", &v);
        if (in_query && auth[i]) {
            CHECK(rc == -1);
        } else if (in_query) {
            CHECK(rc == 1 && tok.p == v.p && tok.len == v.len);
        } else if (auth[i]) {
            CHECK(rc == 1 && tok.p >= auth[i] && tok.p + tok.len <= auth[i] + strlen(auth[i]));
            CHECK(i != 1 || (tok.len == 3 && memcmp(tok.p, "abc", 3) == 0));
            CHECK(i == 1 || tok.len == 0);
        } else {
            CHECK(rc == 0);
        }
    }
}

/* As part of a request line: when the head parses, the query is ours. */
static void in_head(const char *q, size_t len) {
    if (len > 4000) return;
    char *head = malloc(len + 64);
    int n = snprintf(head, len + 64, "GET /ws/cam?%.*s HTTP/1.1\r\nHost: x\r\n\r\n", (int)len, q);
    CHECK(n > 0 && (size_t)n < len + 64);
    fc_http_request req;
    int rc = fc_http_parse_request(head, (size_t)n, &req);
    if (rc > 0 && memchr(q, 0, len) == NULL && memchr(q, ' ', len) == NULL) {
        CHECK(req.query.len == len && memcmp(req.query.p, q, len) == 0);
        CHECK(req.path.len == 7 && memcmp(req.path.p, "/ws/cam", 7) == 0);
    }
    free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t k = data[0] % 16;
    if (size < 1 + k) return 0;
    char key[17];
    memcpy(key, data + 1, k);
    key[k] = 0;
    size_t len = size - 1 - k;
    char *q = malloc(len ? len : 1);
    memcpy(q, data + 1 + k, len);
    fc_http_slice qs = {q, len};

    static const char *const keys[] = {"", "token", "since", "epoch", "preview", "last", "fps"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) lookup(qs, keys[i]);
    lookup(qs, key);
    session_opts(qs);
    token(qs);
    in_head(q, len);
    free(q);
    return 0;
}
