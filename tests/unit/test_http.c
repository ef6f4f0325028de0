/* Tests for src/hub/http.c: the request-head parser and its helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/http.h"

/* Parses s from a buffer of exactly its length, so over-reads are caught. */
static int parse(const char *s, size_t len, fc_http_request *req) {
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    int rc = fc_http_parse_request(copy, len, req);
    /* Slices must point into the copy; rebase them onto s for the caller. */
    if (rc > 0) {
        fc_http_slice *sl[] = {&req->method, &req->target, &req->path, &req->query};
        for (size_t i = 0; i < 4; i++) {
            assert_true(sl[i]->p >= copy && sl[i]->p + sl[i]->len <= copy + rc);
            sl[i]->p = s + (sl[i]->p - copy);
        }
        for (int i = 0; i < req->nheaders; i++) {
            fc_http_slice *hs[] = {&req->headers[i].name, &req->headers[i].value};
            for (size_t k = 0; k < 2; k++) {
                assert_true(hs[k]->p >= copy && hs[k]->p + hs[k]->len <= copy + rc);
                hs[k]->p = s + (hs[k]->p - copy);
            }
        }
    }
    free(copy);
    return rc;
}

static int parse_str(const char *s, fc_http_request *req) {
    return parse(s, strlen(s), req);
}

static void assert_slice(fc_http_slice sl, const char *want) {
    if (sl.len != strlen(want) || memcmp(sl.p, want, sl.len) != 0)
        fail_msg("slice '%.*s', want '%s'", (int)sl.len, sl.p, want);
}

#define HEAD                                                                                       \
    "GET /stream/cam1?fps=5&w=640 HTTP/1.1\r\n"                                                    \
    "Host: example.com:8080\r\n"                                                                   \
    "Upgrade:   websocket  \r\n"                                                                   \
    "X-Empty:\r\n"                                                                                 \
    "X-Tab:\ta\tb\t\r\n"                                                                           \
    "\r\n"

static void http_parse_complete_get(void **state) {
    (void)state;
    fc_http_request req;
    const char *s = HEAD "body bytes that are not part of the head";
    int rc = parse_str(s, &req);
    assert_int_equal(rc, (int)strlen(HEAD));
    assert_int_equal(req.head_len, strlen(HEAD));
    assert_slice(req.method, "GET");
    assert_slice(req.target, "/stream/cam1?fps=5&w=640");
    assert_slice(req.path, "/stream/cam1");
    assert_slice(req.query, "fps=5&w=640");
    assert_int_equal(req.minor_version, 1);
    assert_int_equal(req.nheaders, 4);
    assert_slice(req.headers[0].name, "Host");
    assert_slice(req.headers[0].value, "example.com:8080");
    assert_slice(req.headers[1].name, "Upgrade");
    assert_slice(req.headers[1].value, "websocket"); /* surrounding white space trimmed */
    assert_slice(req.headers[2].name, "X-Empty");
    assert_int_equal(req.headers[2].value.len, 0);
    assert_slice(req.headers[3].value, "a\tb");

    const fc_http_header *h = fc_http_find(&req, "UPGRADE");
    assert_ptr_equal(h, &req.headers[1]);
    assert_null(fc_http_find(&req, "Upgrad"));
    assert_null(fc_http_find(&req, "Connection"));
}

static void http_parse_no_query(void **state) {
    (void)state;
    fc_http_request req;
    assert_true(parse_str("GET /plain HTTP/1.0\r\n\r\n", &req) > 0);
    assert_slice(req.path, "/plain");
    assert_int_equal(req.query.len, 0);
    assert_int_equal(req.minor_version, 0);
    assert_int_equal(req.nheaders, 0);

    assert_true(parse_str("GET /q? HTTP/1.1\r\n\r\n", &req) > 0);
    assert_slice(req.path, "/q");
    assert_int_equal(req.query.len, 0);

    assert_true(parse_str("OPTIONS * HTTP/1.1\r\n\r\n", &req) > 0);
    assert_slice(req.method, "OPTIONS");
    assert_slice(req.target, "*");
}

static void http_parse_incomplete_prefixes(void **state) {
    (void)state;
    fc_http_request req;
    const char *s = HEAD;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        int rc = parse(s, i, &req);
        if (rc != FC_HTTP_INCOMPLETE) fail_msg("prefix of %zu bytes: got %d, want 0", i, rc);
    }
    assert_int_equal(parse(s, n, &req), (int)n);
}

static void http_parse_bare_lf(void **state) {
    (void)state;
    fc_http_request req;
    const char *s = "GET /a?b=c HTTP/1.1\nHost: x\nConnection: Upgrade\r\n\nrest";
    int rc = parse_str(s, &req);
    assert_int_equal(rc, (int)(strstr(s, "rest") - s));
    assert_int_equal(req.nheaders, 2);
    assert_slice(req.headers[0].value, "x");
    assert_slice(req.headers[1].value, "Upgrade");
    /* Every prefix of a bare-LF head is incomplete too. */
    for (size_t i = 0; i < (size_t)rc; i++) assert_int_equal(parse(s, i, &req), 0);
}

static void http_parse_leading_empty_lines(void **state) {
    (void)state;
    fc_http_request req;
    const char *s = "\r\n\nGET / HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_str(s, &req), (int)strlen(s));
    assert_slice(req.method, "GET");
}

static void http_parse_bad_request_line(void **state) {
    (void)state;
    static const char *bad[] = {
        "GET  / HTTP/1.1\r\n\r\n",      /* two spaces */
        "GET / HTTP/1.1 \r\n\r\n",      /* trailing space */
        " GET / HTTP/1.1\r\n\r\n",      /* leading space */
        "GET /\r\n\r\n",                /* no version */
        "GET\r\n\r\n",                  /* method only */
        "GET / HTTP/1.1x\r\n\r\n",      /* junk after the version */
        "GET / HTTP/1\r\n\r\n",         /* short version */
        "GET / http/1.1\r\n\r\n",       /* lower case */
        "GET / HTTP/1,1\r\n\r\n",       /* not a dot */
        "GET / HTTP/a.1\r\n\r\n",       /* not a digit */
        "G(T / HTTP/1.1\r\n\r\n",       /* not a token */
        "GET /a\x01z HTTP/1.1\r\n\r\n", /* control byte in the target */
        "GET /a\x7fz HTTP/1.1\r\n\r\n", /* DEL in the target */
        "GET /a\tb HTTP/1.1\r\n\r\n",   /* tab in the target */
        "GET / HTTP/1.1\rX: y\r\n\r\n", /* bare CR */
        "GET /\xff HTTP/1.1 x\r\n\r\n", /* a third field */
    };
    fc_http_request req;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = parse_str(bad[k], &req);
        if (rc != FC_HTTP_EBAD) fail_msg("request #%zu: got %d, want EBAD", k, rc);
    }
    /* NUL inside the request line. */
    assert_int_equal(parse("GET /\0 HTTP/1.1\r\n\r\n", 19, &req), FC_HTTP_EBAD);
}

static void http_parse_bad_headers(void **state) {
    (void)state;
    static const char *bad[] = {
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",            /* space before the colon */
        "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n",           /* tab before the colon */
        "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",  /* obs-fold */
        "GET / HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n", /* obs-fold with a tab */
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",             /* no colon */
        "GET / HTTP/1.1\r\n: empty-name\r\n\r\n",        /* empty name */
        "GET / HTTP/1.1\r\nBad(Name): x\r\n\r\n",        /* not a token */
        "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n",           /* control byte */
        "GET / HTTP/1.1\r\nX: a\x1f\r\n\r\n",            /* control byte */
        "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",            /* DEL */
        "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",             /* bare CR in a value */
        "GET / HTTP/1.1\r\nX: a\r\r\n\r\n",              /* CR CR LF */
    };
    fc_http_request req;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = parse_str(bad[k], &req);
        if (rc != FC_HTTP_EBAD) fail_msg("request #%zu: got %d, want EBAD", k, rc);
    }
    assert_int_equal(parse("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26, &req), FC_HTTP_EBAD);
    /* Bytes above 0x7F (obs-text) are allowed in values. */
    assert_true(parse_str("GET / HTTP/1.1\r\nX: caf\xC3\xA9\r\n\r\n", &req) > 0);
}

static void http_parse_version(void **state) {
    (void)state;
    fc_http_request req;
    assert_int_equal(parse_str("GET / HTTP/2.0\r\n\r\n", &req), FC_HTTP_EVERSION);
    assert_int_equal(parse_str("GET / HTTP/0.9\r\n\r\n", &req), FC_HTTP_EVERSION);
    assert_int_equal(parse_str("GET / HTTP/3.0\r\nHost: x\r\n\r\n", &req), FC_HTTP_EVERSION);
    assert_true(parse_str("GET / HTTP/1.9\r\n\r\n", &req) > 0);
    assert_int_equal(req.minor_version, 9);
}

/* A head with n headers "H<i>: v<i>". */
static char *head_with(int n) {
    char *s = malloc(64 + (size_t)n * 32);
    size_t len = (size_t)sprintf(s, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < n; i++) len += (size_t)sprintf(s + len, "H%d: v%d\r\n", i, i);
    strcpy(s + len, "\r\n");
    return s;
}

static void http_parse_header_count(void **state) {
    (void)state;
    fc_http_request req;
    char *s = head_with(FC_HTTP_MAX_HEADERS);
    assert_int_equal(parse_str(s, &req), (int)strlen(s));
    assert_int_equal(req.nheaders, 64);
    assert_slice(req.headers[63].name, "H63");
    assert_slice(req.headers[63].value, "v63");
    free(s);
    s = head_with(FC_HTTP_MAX_HEADERS + 1);
    assert_int_equal(parse_str(s, &req), FC_HTTP_ETOO_LARGE);
    free(s);
    s = head_with(200);
    assert_int_equal(parse_str(s, &req), FC_HTTP_ETOO_LARGE);
    free(s);
}

static fc_http_slice sl(const char *s) {
    return (fc_http_slice){s, strlen(s)};
}

static void http_has_token(void **state) {
    (void)state;
    assert_true(fc_http_has_token(sl("Upgrade"), "Upgrade"));
    assert_true(fc_http_has_token(sl("upgrade"), "Upgrade"));
    assert_true(fc_http_has_token(sl("keep-alive, Upgrade"), "Upgrade"));
    assert_true(fc_http_has_token(sl("keep-alive,Upgrade"), "upgrade"));
    assert_true(fc_http_has_token(sl(" ,, Upgrade ,"), "Upgrade"));
    assert_true(fc_http_has_token(sl("a,\tUpgrade\t,b"), "Upgrade"));
    assert_false(fc_http_has_token(sl(""), "Upgrade"));
    assert_false(fc_http_has_token(sl(", ,"), "Upgrade"));
    assert_false(fc_http_has_token(sl("keep-alive"), "Upgrade"));
    assert_false(fc_http_has_token(sl("Upgraded"), "Upgrade"));
    assert_false(fc_http_has_token(sl("xUpgrade"), "Upgrade"));
    assert_false(fc_http_has_token(sl("Up grade"), "Upgrade"));
    /* The slice bounds the list, not a NUL. */
    assert_false(fc_http_has_token((fc_http_slice){"keep-alive, Upgrade", 11}, "Upgrade"));
    assert_true(fc_http_has_token((fc_http_slice){"Upgrade, keep-alive", 7}, "Upgrade"));
    assert_false(fc_http_has_token((fc_http_slice){"Upgrade", 6}, "Upgrade"));
}

static void http_slice_ieq(void **state) {
    (void)state;
    assert_true(fc_http_slice_ieq(sl("WebSocket"), "websocket"));
    assert_false(fc_http_slice_ieq(sl("websockets"), "websocket"));
    assert_false(fc_http_slice_ieq(sl("websocke"), "websocket"));
    assert_true(fc_http_slice_ieq((fc_http_slice){"13abc", 2}, "13"));
    assert_true(fc_http_slice_ieq((fc_http_slice){"", 0}, ""));
}

static void http_query_get(void **state) {
    (void)state;
    fc_http_slice v;
    assert_true(fc_http_query_get(sl("a=1&b=2"), "b", &v));
    assert_slice(v, "2");
    assert_true(fc_http_query_get(sl("a=1&b=2"), "a", &v));
    assert_slice(v, "1");
    assert_true(fc_http_query_get(sl("ab=1&b=2"), "b", &v)); /* not a suffix match */
    assert_slice(v, "2");
    assert_false(fc_http_query_get(sl("ab=1&bc=2"), "b", &v));
    assert_true(fc_http_query_get(sl("flag&x=1"), "flag", &v)); /* no '=': empty value */
    assert_int_equal(v.len, 0);
    assert_true(fc_http_query_get(sl("x=&y=1"), "x", &v));
    assert_int_equal(v.len, 0);
    assert_true(fc_http_query_get(sl("k=x=y"), "k", &v));
    assert_slice(v, "x=y");
    assert_true(fc_http_query_get(sl("a=1&a=2"), "a", &v)); /* the first one */
    assert_slice(v, "1");
    assert_true(fc_http_query_get(sl("&&c=3&"), "c", &v));
    assert_slice(v, "3");
    assert_false(fc_http_query_get(sl(""), "a", &v));
    assert_false(fc_http_query_get(sl("A=1"), "a", &v)); /* keys are case-sensitive */
    assert_false(fc_http_query_get(sl("=1"), "a", &v));
    /* The slice bounds the query. */
    assert_false(fc_http_query_get((fc_http_slice){"a=1&b=2", 3}, "b", &v));
    assert_true(fc_http_query_get((fc_http_slice){"a=123&b=2", 4}, "a", &v));
    assert_slice(v, "12");
}

static void http_query_from_request(void **state) {
    (void)state;
    fc_http_request req;
    assert_true(parse_str("GET /s?history=10&fps=5 HTTP/1.1\r\n\r\n", &req) > 0);
    fc_http_slice v;
    assert_true(fc_http_query_get(req.query, "history", &v));
    assert_slice(v, "10");
    assert_true(fc_http_query_get(req.query, "fps", &v));
    assert_slice(v, "5");
    assert_false(fc_http_query_get(req.path, "s", &v));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_parse_complete_get),
        cmocka_unit_test(http_parse_no_query),
        cmocka_unit_test(http_parse_incomplete_prefixes),
        cmocka_unit_test(http_parse_bare_lf),
        cmocka_unit_test(http_parse_leading_empty_lines),
        cmocka_unit_test(http_parse_bad_request_line),
        cmocka_unit_test(http_parse_bad_headers),
        cmocka_unit_test(http_parse_version),
        cmocka_unit_test(http_parse_header_count),
        cmocka_unit_test(http_has_token),
        cmocka_unit_test(http_slice_ieq),
        cmocka_unit_test(http_query_get),
        cmocka_unit_test(http_query_from_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
