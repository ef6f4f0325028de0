/* Who may connect (src/hub/auth.c): --allowed-origin patterns against
 * Origin headers, and where a request's token is found. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "hub/auth.h"

static fc_http_slice sl(const char *s) {
    return (fc_http_slice){s, strlen(s)};
}

static void origin_patterns_are_checked(void **state) {
    (void)state;
    static const char *good[] = {"https://cams.example.com", "http://localhost:8080",
                                 "https://*.example.com",    "*.example.com",
                                 "cams.example.com:8443",    "http://[::1]:8080",
                                 "HTTPS://Cams.Example.COM", "http://127.0.0.1:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (fc_auth_origin_check(good[i]))
            fail_msg("'%s' refused: %s", good[i], fc_auth_origin_check(good[i]));
    static const struct {
        const char *pattern, *words;
    } bad[] = {
        {"ftp://x.example.com", "scheme"},
        {"https://cams.example.com/", "no path"},
        {"https://cams.example.com/viewer", "no path"},
        {"https://cams.example.com:0", "port"},
        {"https://cams.example.com:65536", "port"},
        {"https://cams.example.com:", "port"},
        {"https://", "host"},
        {"*", "host"},
        {"https://*.", "host"},
        {"https://a.*.example.com", "host"},
        {"https://[::1", "]"},
        {"", "host"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = fc_auth_origin_check(bad[i].pattern);
        if (!why || !strstr(why, bad[i].words))
            fail_msg("'%s': %s, expected words with '%s'", bad[i].pattern, why ? why : "accepted",
                     bad[i].words);
    }
}

static void origins_match_exactly_or_by_subdomain(void **state) {
    (void)state;
    static const char *const pats[] = {"https://cams.example.com", "http://localhost:8080",
                                       "*.example.org", "https://*.example.net:8443"};
    static const struct {
        const char *origin;
        int allowed;
    } cases[] = {
        {"https://cams.example.com", 1},
        {"https://CAMS.example.com", 1},
        {"https://cams.example.com:443", 1}, /* the default port, spelt out */
        {"http://cams.example.com", 0},      /* another scheme is another origin */
        {"https://cams.example.com:8443", 0},
        {"https://evil.com", 0},
        {"https://cams.example.com.evil.com", 0},
        {"https://xcams.example.com", 0},
        {"http://localhost:8080", 1},
        {"http://localhost", 0},
        {"http://localhost:8081", 0},
        {"https://a.example.org", 1}, /* no scheme in the pattern: https */
        {"https://a.b.example.org", 1},
        {"https://example.org", 0}, /* *. is for subdomains only */
        {"http://a.example.org", 0},
        {"https://a.example.org:8443", 0},
        {"https://evilexample.org", 0},
        {"https://a.example.org.evil.com", 0},
        {"https://x.example.net:8443", 1},
        {"https://x.example.net", 0},
        {"null", 0}, /* sandboxed frames, file: pages */
        {"", 0},
        {"https://cams.example.com/", 0},
        {"cams.example.com", 0}, /* not a serialized origin */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = fc_auth_origin_allowed(pats, 4, sl(cases[i].origin));
        if (got != cases[i].allowed)
            fail_msg("Origin '%s': %s, expected %s", cases[i].origin, got ? "allowed" : "refused",
                     cases[i].allowed ? "allowed" : "refused");
    }
    assert_false(fc_auth_origin_allowed(pats, 0, sl("https://cams.example.com")));
}

static int parse(const char *head, fc_http_request *req) {
    return fc_http_parse_request(head, strlen(head), req);
}

static void the_token_comes_from_the_query_or_the_bearer_header(void **state) {
    (void)state;
    fc_http_request req;
    fc_http_slice tok;
    assert_true(parse("GET /ws/a?preview=1&token=abc.def.ghi HTTP/1.1\r\nHost: x\r\n\r\n", &req) >
                0);
    assert_int_equal(fc_auth_token_of(&req, &tok), 1);
    assert_int_equal(tok.len, 11);
    assert_memory_equal(tok.p, "abc.def.ghi", 11);

    assert_true(parse("GET /ws/a HTTP/1.1\r\nAuthorization: bearer   xyz.1.2\r\n\r\n", &req) > 0);
    assert_int_equal(fc_auth_token_of(&req, &tok), 1);
    assert_int_equal(tok.len, 7);
    assert_memory_equal(tok.p, "xyz.1.2", 7);

    assert_true(parse("GET /ws/a HTTP/1.1\r\nHost: x\r\n\r\n", &req) > 0);
    assert_int_equal(fc_auth_token_of(&req, &tok), 0);

    /* Both ways at once is refused; so is another scheme. */
    assert_true(
        parse("GET /ws/a?token=a.b.c HTTP/1.1\r\nAuthorization: Bearer a.b.c\r\n\r\n", &req) > 0);
    assert_int_equal(fc_auth_token_of(&req, &tok), -1);
    fc_jwt_claims c;
    fc_jwt_verifier *v = NULL;
    char err[128];
    static const char secret[] = "0123456789abcdef0123456789abcdef";
    assert_int_equal(
        fc_jwt_verifier_from_mem(&v, (const uint8_t *)secret, 32, NULL, 0, err, sizeof err), 0);
    assert_int_equal(fc_auth_check(v, 0, &req, 0, &c), FC_JWT_EMALFORMED);
    assert_true(parse("GET /ws/a HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n", &req) > 0);
    assert_int_equal(fc_auth_check(v, 0, &req, 0, &c), FC_JWT_EMALFORMED);
    assert_true(parse("GET /ws/a HTTP/1.1\r\nAuthorization: Bearer\r\n\r\n", &req) > 0);
    assert_int_equal(fc_auth_check(v, 0, &req, 0, &c), FC_JWT_EMALFORMED);
    assert_true(parse("GET /ws/a?token= HTTP/1.1\r\n\r\n", &req) > 0);
    assert_int_equal(fc_auth_check(v, 0, &req, 0, &c), FC_JWT_EMISSING);
    assert_true(parse("GET /ws/a HTTP/1.1\r\n\r\n", &req) > 0);
    assert_int_equal(fc_auth_check(v, 0, &req, 0, &c), FC_JWT_EMISSING);

    /* A good token, both ways. */
    fc_strbuf tokbuf;
    fc_sb_init(&tokbuf, 256);
    assert_int_equal(
        fc_jwt_sign_hs256((const uint8_t *)secret, 32, "{\"streams\":[\"a\"]}", &tokbuf), 0);
    char head[1024];
    snprintf(head, sizeof head, "GET /ws/a?token=%s HTTP/1.1\r\n\r\n", tokbuf.data);
    assert_true(parse(head, &req) > 0);
    assert_int_equal(fc_auth_check(v, 0, &req, 0, &c), FC_JWT_OK);
    assert_true(fc_jwt_allows(&c, "a", 1));
    fc_jwt_claims_free(&c);
    snprintf(head, sizeof head, "GET /ws/a HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n",
             tokbuf.data);
    assert_true(parse(head, &req) > 0);
    assert_int_equal(fc_auth_check(v, 0, &req, 0, &c), FC_JWT_OK);
    fc_jwt_claims_free(&c);
    fc_sb_free(&tokbuf);
    fc_jwt_verifier_destroy(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(origin_patterns_are_checked),
        cmocka_unit_test(origins_match_exactly_or_by_subdomain),
        cmocka_unit_test(the_token_comes_from_the_query_or_the_bearer_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
