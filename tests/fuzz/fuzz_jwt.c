/* libFuzzer target for the JWT parser (src/hub/jwt.c) and the origin
 * matcher (src/hub/auth.c).
 *
 * Each input is tried three ways:
 *   - as a token, against verifiers with an HS256 secret and with an ES256
 *     key: the header parser and base64url decoder see anything; only the
 *     seed signed by that key can pass;
 *   - as claims, signed here with the secret: the claims parser sees
 *     anything once the signature is good, and what it returns must be
 *     consistent;
 *   - as an Origin header value against a few patterns.
 * base64url must round-trip whatever it encodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/auth.h"
#include "hub/jwt.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

static const char secret[] = "fuzzing-secret-0123456789abcdef0123456789";
static const char ec_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXovOYTZXw/dFRVkP6P+QVs8YEimT\n"
                             "F+2ZLrg9yzAjavMMnM1cj560A4T68efZmAIfKpbsmsj9GumhXd11NOH9zw==\n"
                             "-----END PUBLIC KEY-----\n";
static fc_jwt_verifier *hs, *es;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[256];
    if (fc_jwt_verifier_from_mem(&hs, (const uint8_t *)secret, strlen(secret), NULL, 0, err,
                                 sizeof err) ||
        fc_jwt_verifier_from_mem(&es, NULL, 0, ec_pub, strlen(ec_pub), err, sizeof err))
        abort();
    return 0;
}

static void check_claims(const fc_jwt_claims *c) {
    if (c->all_streams) {
        CHECK(c->streams == NULL);
        CHECK(fc_jwt_allows(c, "any", 3));
        return;
    }
    CHECK((c->streams == NULL) == (c->nstreams == 0));
    const char *p = c->streams;
    for (size_t i = 0; i < c->nstreams; i++) { /* every listed name is allowed */
        size_t n = strlen(p);
        CHECK(fc_jwt_allows(c, p, n));
        p += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    const int64_t now = 1700000000000;
    fc_jwt_claims c;

    /* As a token: only the corpus's ES256 vector can pass (its key is the
     * one here); what passes is consistent, a rejection leaves nothing. */
    for (int k = 0; k < 2; k++) {
        enum fc_jwt_status st = fc_jwt_verify(k ? es : hs, s, size, now, 30, &c);
        if (st == FC_JWT_OK) {
            CHECK(k == 1);
            check_claims(&c);
            fc_jwt_claims_free(&c);
        } else {
            CHECK(c.streams == NULL && c.nstreams == 0);
        }
    }
    enum fc_jwt_status st;

    /* The input as claims, signed: the claims parser decides. */
    if (size < 2048 && !memchr(data, 0, size)) {
        char *claims = malloc(size + 1);
        memcpy(claims, data, size);
        claims[size] = 0;
        fc_strbuf tok;
        fc_sb_init(&tok, 3 * size + 128);
        CHECK(fc_jwt_sign_hs256((const uint8_t *)secret, strlen(secret), claims, &tok) == 0);
        st = fc_jwt_verify(hs, tok.data, tok.len, now, 30, &c);
        CHECK(st == FC_JWT_OK || st == FC_JWT_EMALFORMED || st == FC_JWT_EEXPIRED ||
              st == FC_JWT_EEARLY);
        if (st == FC_JWT_OK) {
            check_claims(&c);
            if (c.has_exp) CHECK(c.exp_ms + 30000 > now);
            fc_jwt_claims_free(&c);
        } else {
            CHECK(c.streams == NULL);
        }
        /* The same token with the wrong verifier: its alg has no key there
         * (empty claims make no token at all). */
        CHECK(fc_jwt_verify(es, tok.data, tok.len, now, 30, &c) ==
              (size ? FC_JWT_EALG : FC_JWT_EMALFORMED));
        fc_sb_free(&tok);
        free(claims);
    }

    /* base64url: decoding never writes more than 3/4 of the input, and what
     * decodes encodes back to the same text. */
    uint8_t *out = malloc(size * 3 / 4 + 1);
    long n = fc_b64url_decode(s, size, out);
    CHECK(n >= -1 && (n < 0 || (size_t)n <= size * 3 / 4));
    if (n >= 0) {
        fc_strbuf sb;
        fc_sb_init(&sb, size + 4);
        fc_b64url_encode(&sb, out, (size_t)n);
        CHECK(sb.len == size && (size == 0 || memcmp(sb.data, s, size) == 0));
        fc_sb_free(&sb);
    }
    free(out);

    static const char *const pats[] = {"https://cams.example.com", "*.example.org",
                                       "http://[::1]:8080"};
    int allowed = fc_auth_origin_allowed(pats, 3, (fc_http_slice){s, size});
    CHECK(allowed == 0 || allowed == 1);
    if (allowed) CHECK(size >= 7 && memchr(s, ':', size) != NULL);
    return 0;
}
