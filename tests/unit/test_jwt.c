/* JSON Web Tokens (src/hub/jwt.c): base64url, fixed vectors for HS256
 * (RFC 7515 A.1), RS256 and ES256, and every way a token is refused.
 *
 * The RS256 and ES256 vectors were made with the openssl command:
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key
 *   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key
 *   openssl pkey -in KEY -pubout                          (the PEMs below)
 *   printf %s "$HEADER.$CLAIMS" | openssl dgst -sha256 -sign KEY
 * (for ES256 the DER signature turned into r || s, 32 bytes each); the
 * private keys were not kept. Keys the tests refuse are made at run time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/jwt.h"
#include "util/error.h"

static const char rsa_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApZhPdyfcSremqkWKs15x\n"
                              "42NSTW8W0GTn/1fdqWZZ8RRhdqHr+AdLfpAiPwh0nnzmh+sfx9efm8JFNczpb5t2\n"
                              "hHIHaGAtCo3wUdMFDT5FGBRxg+Q5m8bvr/jFsa2LD0IYplgaeXmtLGCDF7Jrujzs\n"
                              "OnImb6YVnmRiUfIXHhCoLWDgQdIelsT3UGxs2MeX/c6yqABptsoT2hY9x0zFBduD\n"
                              "ku4i+OsirESBcwlZTfHFJuvdPZIzWhx9jZKyZCvn0ERaP7RPsxu5Mtx7hOyOG1YW\n"
                              "lkTP61HFSc6vw9mNJz3yUzjbMY2ABYM9aBwBChwOOQMe995pGUwB6/ILbviTN/Av\n"
                              "xwIDAQAB\n"
                              "-----END PUBLIC KEY-----\n";

static const char ec_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXovOYTZXw/dFRVkP6P+QVs8YEimT\n"
                             "F+2ZLrg9yzAjavMMnM1cj560A4T68efZmAIfKpbsmsj9GumhXd11NOH9zw==\n"
                             "-----END PUBLIC KEY-----\n";

/* {"alg":"RS256","typ":"JWT"} {"sub":"unit","streams":["a","b"]} */
static const char rs256_token[] =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1bml0Iiwic3RyZWFtcyI6WyJhIiwiYiJdfQ."
    "o-2SAecPjS5IFMjK8odYD2BFB1VCYxPVogVjzIsCzFx62z05xjNZdZJV1573J9KqGFAkuwNuy2SGQC_yvNPKe-"
    "MHdYw9XwMWVZcagVnbYUcWNR0LYP6cdJzYWO9saGq8P6uEqzTaGqfScnXp3jcl9aSN7DDr5tq4pyOiwgGs60jCPAt"
    "iCI-nw6DIWoGjzEJj7VKPHiEz3QPOThuKRowtaAk_AoLPTJ_8sDUhNgQoCZDLkgReX9cHrg0cBMa3VY-76L_"
    "5BdGvClHqOqYqPsA5KejzLG05bt05HFxObs2pUUSPVhp_iRlunOMRTC7l13a_5LsQLNdFXd38PxDbfWYeGw";

/* {"alg":"ES256","typ":"JWT"}
 * {"sub":"unit","exp":4102444800,"nbf":1000000000,"streams":["*"]} */
static const char es256_token[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJ1bml0IiwiZXhwIjo0MTAyNDQ0ODAwLCJuYmYiOjEwMDAwMDAwMDAsInN0cmVhbXMiOlsiKiJdfQ."
    "dno4Z31ZHiKuU1tGKdxrnt0-gt3cAEQyNoEqXNZ4YArCwyJYiBAwlHWe3Qk0-7XJsjDKGw-489LlTYwqbuBABA";

/* RFC 7515 A.1: HS256 with the key below; exp 1300819380. */
static const char rfc_token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                                "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcG"
                                "xlLmNvbS9pc19yb290Ijp0cnVlfQ."
                                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc_key_b64[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

static const int64_t NOW = 1700000000000; /* 2023-11-14, ms */

static const char secret[] = "0123456789abcdef0123456789abcdef-test-secret";

static fc_jwt_verifier *verifier(const char *sec, const char *pem) {
    fc_jwt_verifier *v = NULL;
    char err[256] = "";
    int rc = fc_jwt_verifier_from_mem(&v, (const uint8_t *)sec, sec ? strlen(sec) : 0, pem,
                                      pem ? strlen(pem) : 0, err, sizeof err);
    if (rc) fail_msg("verifier: %s", err);
    return v;
}

static enum fc_jwt_status check(const fc_jwt_verifier *v, const char *tok, int64_t now, int leeway,
                                fc_jwt_claims *c) {
    return fc_jwt_verify(v, tok, strlen(tok), now, leeway, c);
}

static enum fc_jwt_status check_only(const fc_jwt_verifier *v, const char *tok) {
    fc_jwt_claims c;
    enum fc_jwt_status st = check(v, tok, NOW, 30, &c);
    fc_jwt_claims_free(&c);
    return st;
}

/* An HS256 token for claims, from a raw header (JSON text) of our choice. */
static char *hs256_with_header(const char *sec, const char *header, const char *claims) {
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    fc_b64url_encode(&sb, (const uint8_t *)header, strlen(header));
    fc_sb_puts(&sb, ".");
    fc_b64url_encode(&sb, (const uint8_t *)claims, strlen(claims));
    /* HMAC-SHA256 computed here, apart from the code under test. */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    uint8_t sig[32];
    size_t n = 0;
    assert_true(EVP_MAC_init(ctx, (const uint8_t *)sec, strlen(sec), params));
    assert_true(EVP_MAC_update(ctx, (const uint8_t *)sb.data, sb.len));
    assert_true(EVP_MAC_final(ctx, sig, &n, sizeof sig));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    fc_sb_puts(&sb, ".");
    fc_b64url_encode(&sb, sig, n);
    return sb.data;
}

static char *hs256(const char *sec, const char *claims) {
    return hs256_with_header(sec, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims);
}

/* --- base64url ------------------------------------------------------------- */

static void base64url_decodes_rfc4648_vectors_and_nothing_else(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } good[] = {
        {"", ""},           {"Zg", "f"},          {"Zm8", "fo"},          {"Zm9v", "foo"},
        {"Zm9vYg", "foob"}, {"Zm9vYmE", "fooba"}, {"Zm9vYmFy", "foobar"}, {"-_8", "\xfb\xff"}};
    uint8_t out[64];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        long n = fc_b64url_decode(good[i].in, strlen(good[i].in), out);
        assert_int_equal(n, strlen(good[i].out));
        assert_memory_equal(out, good[i].out, (size_t)n);
    }
    /* Padding, standard base64's '+' and '/', whitespace, a length of 4k+1,
     * and unused bits that are not zero ("Zh" would be "f" too). */
    static const char *bad[] = {"Zg==",  "Zg=", "Zm+v", "Zm/v",  "Zm 9v",  "Z",
                                "Zm9vY", "Zh",  "Zm9",  "Zm9\n", "Zm\x80v"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fc_b64url_decode(bad[i], strlen(bad[i]), out) != -1)
            fail_msg("'%s' decoded, but is not canonical base64url", bad[i]);
    assert_int_equal(fc_b64url_decode("Zm8", 3, out), 2); /* "Zm9" has bits left over */
}

static void base64url_round_trips(void **state) {
    (void)state;
    uint8_t data[64], back[64];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof data; len++) {
        fc_strbuf sb;
        fc_sb_init(&sb, 128);
        fc_b64url_encode(&sb, data, len);
        assert_int_equal(sb.len, (len * 4 + 2) / 3);
        assert_null(strpbrk(sb.data ? sb.data : "", "+/="));
        assert_int_equal(fc_b64url_decode(sb.data, sb.len, back), len);
        assert_memory_equal(back, data, len);
        fc_sb_free(&sb);
    }
}

/* --- Fixed vectors ------------------------------------------------------------- */

static void hs256_rfc7515_vector(void **state) {
    (void)state;
    uint8_t key[64];
    assert_int_equal(fc_b64url_decode(rfc_key_b64, strlen(rfc_key_b64), key), 64);
    fc_jwt_verifier *v = NULL;
    char err[256];
    assert_int_equal(fc_jwt_verifier_from_mem(&v, key, 64, NULL, 0, err, sizeof err), 0);
    assert_string_equal(fc_jwt_verifier_algs(v), "HS256");
    fc_jwt_claims c;
    const int64_t exp = 1300819380000;
    assert_int_equal(check(v, rfc_token, exp - 10000, 0, &c), FC_JWT_OK);
    assert_true(c.has_exp);
    assert_int_equal(c.exp_ms, exp);
    assert_true(c.all_streams); /* no streams claim: every stream */
    assert_true(fc_jwt_allows(&c, "anything", 8));
    fc_jwt_claims_free(&c);
    /* exp is exclusive; the leeway moves it. */
    assert_int_equal(check(v, rfc_token, exp - 1, 0, &c), FC_JWT_OK);
    fc_jwt_claims_free(&c);
    assert_int_equal(check(v, rfc_token, exp, 0, &c), FC_JWT_EEXPIRED);
    assert_int_equal(check(v, rfc_token, exp + 29999, 30, &c), FC_JWT_OK);
    fc_jwt_claims_free(&c);
    assert_int_equal(check(v, rfc_token, exp + 30000, 30, &c), FC_JWT_EEXPIRED);
    assert_null(c.streams);
    fc_jwt_verifier_destroy(v);
}

static void rs256_vector(void **state) {
    (void)state;
    fc_jwt_verifier *v = verifier(NULL, rsa_pub);
    assert_string_equal(fc_jwt_verifier_algs(v), "RS256");
    fc_jwt_claims c;
    assert_int_equal(check(v, rs256_token, NOW, 30, &c), FC_JWT_OK);
    assert_false(c.has_exp);
    assert_false(c.all_streams);
    assert_int_equal(c.nstreams, 2);
    assert_true(fc_jwt_allows(&c, "a", 1));
    assert_true(fc_jwt_allows(&c, "b", 1));
    assert_false(fc_jwt_allows(&c, "c", 1));
    assert_false(fc_jwt_allows(&c, "ab", 2));
    assert_false(fc_jwt_allows(&c, "", 0));
    fc_jwt_claims_free(&c);

    /* One changed character in the signature, or in the claims. */
    char *t = strdup(rs256_token);
    char *sig = strrchr(t, '.') + 10;
    *sig = *sig == 'A' ? 'B' : 'A';
    assert_int_equal(check_only(v, t), FC_JWT_ESIGNATURE);
    strcpy(t, rs256_token);
    t[strchr(t, '.') - t + 5] ^= 1; /* still base64url, other claims */
    enum fc_jwt_status st = check_only(v, t);
    assert_true(st == FC_JWT_ESIGNATURE || st == FC_JWT_EMALFORMED);
    free(t);
    /* A signature one byte short. */
    const char *sig64 = strrchr(rs256_token, '.') + 1;
    uint8_t raw[256];
    assert_int_equal(fc_b64url_decode(sig64, strlen(sig64), raw), 256);
    fc_strbuf sb;
    fc_sb_init(&sb, 512);
    fc_sb_append(&sb, rs256_token, (size_t)(sig64 - rs256_token));
    fc_b64url_encode(&sb, raw, 255);
    assert_int_equal(check_only(v, sb.data), FC_JWT_ESIGNATURE);
    fc_sb_free(&sb);
    fc_jwt_verifier_destroy(v);
}

static void es256_vector_with_nbf(void **state) {
    (void)state;
    fc_jwt_verifier *v = verifier(NULL, ec_pub);
    assert_string_equal(fc_jwt_verifier_algs(v), "ES256");
    fc_jwt_claims c;
    assert_int_equal(check(v, es256_token, NOW, 30, &c), FC_JWT_OK);
    assert_true(c.all_streams); /* "*" */
    assert_int_equal(c.exp_ms, 4102444800000);
    fc_jwt_claims_free(&c);
    const int64_t nbf = 1000000000000;
    assert_int_equal(check(v, es256_token, nbf - 30001, 30, &c), FC_JWT_EEARLY);
    assert_int_equal(check(v, es256_token, nbf - 30000, 30, &c), FC_JWT_OK);
    fc_jwt_claims_free(&c);
    assert_int_equal(check(v, es256_token, nbf - 1, 0, &c), FC_JWT_EEARLY);
    /* r and s swapped: 64 bytes still, but not the signature; 63 bytes. */
    const char *sig = strrchr(es256_token, '.') + 1;
    uint8_t rs[64], sr[64];
    assert_int_equal(fc_b64url_decode(sig, strlen(sig), rs), 64);
    memcpy(sr, rs + 32, 32);
    memcpy(sr + 32, rs, 32);
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    fc_sb_append(&sb, es256_token, (size_t)(sig - es256_token));
    size_t signed_len = sb.len;
    fc_b64url_encode(&sb, sr, 64);
    assert_int_equal(check_only(v, sb.data), FC_JWT_ESIGNATURE);
    sb.len = signed_len;
    fc_b64url_encode(&sb, rs, 63);
    assert_int_equal(check_only(v, sb.data), FC_JWT_ESIGNATURE);
    fc_sb_free(&sb);
    fc_jwt_verifier_destroy(v);
}

/* --- Algorithms ------------------------------------------------------------------ */

static void alg_none_and_unknown_algs_fail(void **state) {
    (void)state;
    fc_jwt_verifier *v = verifier(secret, NULL);
    static const char *headers[] = {"{\"alg\":\"none\"}",  "{\"alg\":\"None\"}",
                                    "{\"alg\":\"HS512\"}", "{\"alg\":\"hs256\"}",
                                    "{\"alg\":\"PS256\"}", "{\"alg\":\"\"}"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *t = hs256_with_header(secret, headers[i], "{}");
        if (check_only(v, t) != FC_JWT_EALG) fail_msg("header %s was not refused", headers[i]);
        /* Unsigned, as alg none is meant to be sent. */
        *(strrchr(t, '.') + 1) = 0;
        assert_int_equal(check_only(v, t), FC_JWT_EALG);
        free(t);
    }
    char *ok = hs256(secret, "{}");
    assert_int_equal(check_only(v, ok), FC_JWT_OK);
    *(strrchr(ok, '.') + 1) = 0; /* HS256 without its signature */
    assert_int_equal(check_only(v, ok), FC_JWT_ESIGNATURE);
    free(ok);
    fc_jwt_verifier_destroy(v);
}

static void a_public_key_is_never_an_hmac_secret(void **state) {
    (void)state;
    /* The classic confusion: HS256 signed with the server's public key as
     * the secret (the attacker has it). The verifier has no secret. */
    fc_jwt_verifier *v = verifier(NULL, rsa_pub);
    char *forged = hs256(rsa_pub, "{\"streams\":[\"*\"]}");
    assert_int_equal(check_only(v, forged), FC_JWT_EALG);
    fc_jwt_verifier_destroy(v);
    /* With a secret too, HS256 takes the secret, never the key. */
    v = verifier(secret, rsa_pub);
    assert_string_equal(fc_jwt_verifier_algs(v), "HS256, RS256");
    assert_int_equal(check_only(v, forged), FC_JWT_ESIGNATURE);
    assert_int_equal(check_only(v, rs256_token), FC_JWT_OK);
    free(forged);
    /* ES256 and RS256 each need their own kind of key. */
    assert_int_equal(check_only(v, es256_token), FC_JWT_EALG);
    fc_jwt_verifier_destroy(v);
    v = verifier(NULL, ec_pub);
    assert_int_equal(check_only(v, rs256_token), FC_JWT_EALG);
    fc_jwt_verifier_destroy(v);
    v = verifier(secret, NULL);
    assert_int_equal(check_only(v, rs256_token), FC_JWT_EALG);
    assert_int_equal(check_only(v, es256_token), FC_JWT_EALG);
    fc_jwt_verifier_destroy(v);
}

/* --- Malformed tokens and claims ---------------------------------------------------- */

static void malformed_tokens_fail(void **state) {
    (void)state;
    fc_jwt_verifier *v = verifier(secret, NULL);
    assert_int_equal(check_only(v, ""), FC_JWT_EMISSING);
    static const char *bad[] = {
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        ".e30.",
        "e30..",
        "e30.e30.x.y",
        "e30=.e30.AAAA",                                     /* padding */
        "eyJhbGciOiJIUzI1NiJ9.e30.AA+A",                     /* '+' in the signature */
        "W10.e30.AAAA",                                      /* header [] */
        "e30.e30.AAAA",                                      /* header {} without alg */
        "eyJhbGciOjF9.e30.AAAA",                             /* alg 1 */
        "bm90IGpzb24.e30.AAAA",                              /* header "not json" */
        "eyJhbGciOiJIUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AAAA",   /* alg twice */
        "eyJhbGciOiJIUzI1NiIsImNyaXQiOlsiZXhwIl19.e30.AAAA", /* crit */
        "eyJhbGciOiJIUzI1NiIAfQ.e30.AAAA",                   /* a NUL inside the header */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum fc_jwt_status st = check_only(v, bad[i]);
        if (st != FC_JWT_EMALFORMED)
            fail_msg("'%s': %s, expected malformed", bad[i], fc_jwt_strerror(st));
    }
    /* White space after the object is JSON: that header parses, and the
     * token fails on its signature. */
    assert_int_equal(check_only(v, "eyJhbGciOiJIUzI1NiJ9IA.e30.AAAA"), FC_JWT_ESIGNATURE);
    /* Longer than FC_JWT_MAX_LEN: refused unread. */
    char *big = malloc(FC_JWT_MAX_LEN + 2);
    memset(big, 'A', FC_JWT_MAX_LEN + 1);
    big[FC_JWT_MAX_LEN + 1] = 0;
    big[10] = big[20] = '.';
    assert_int_equal(check_only(v, big), FC_JWT_EMALFORMED);
    free(big);
    fc_jwt_verifier_destroy(v);
}

static void claims_of_the_wrong_type_fail(void **state) {
    (void)state;
    fc_jwt_verifier *v = verifier(secret, NULL);
    static const char *bad[] = {
        "[1]",
        "\"text\"",
        "{\"exp\":\"2030\"}",
        "{\"exp\":null}",
        "{\"nbf\":true}",
        "{\"exp\":1e999}",
        "{\"streams\":\"a\"}",
        "{\"streams\":[\"a\",1]}",
        "{\"streams\":{\"a\":1}}",
        "{\"exp\":4102444800,\"exp\":1}",
        "{\"streams\":[\"a\"],\"streams\":[\"*\"]}",
        "{\"a\":1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = hs256(secret, bad[i]);
        enum fc_jwt_status st = check_only(v, t);
        if (st != FC_JWT_EMALFORMED)
            fail_msg("claims %s: %s, expected malformed", bad[i], fc_jwt_strerror(st));
        free(t);
    }
    /* Fractional dates are NumericDates too; an empty streams list allows nothing. */
    char *t = hs256(secret, "{\"exp\":1700000000.5,\"streams\":[]}");
    fc_jwt_claims c;
    assert_int_equal(check(v, t, NOW, 0, &c), FC_JWT_OK);
    assert_int_equal(c.exp_ms, NOW + 500);
    assert_false(c.all_streams);
    assert_false(fc_jwt_allows(&c, "a", 1));
    fc_jwt_claims_free(&c);
    free(t);
    t = hs256(secret, "{\"streams\":[\"a\",\"*\"]}");
    assert_int_equal(check(v, t, NOW, 0, &c), FC_JWT_OK);
    assert_true(fc_jwt_allows(&c, "zzz", 3));
    fc_jwt_claims_free(&c);
    free(t);
    fc_jwt_verifier_destroy(v);
}

static void minted_tokens_verify_and_a_wrong_secret_fails(void **state) {
    (void)state;
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    assert_int_equal(fc_jwt_sign_hs256((const uint8_t *)secret, strlen(secret),
                                       "{\"exp\":1700000060,\"streams\":[\"door\"]}", &sb),
                     0);
    fc_jwt_verifier *v = verifier(secret, NULL);
    fc_jwt_claims c;
    assert_int_equal(check(v, sb.data, NOW, 0, &c), FC_JWT_OK);
    assert_true(fc_jwt_allows(&c, "door", 4));
    assert_false(fc_jwt_allows(&c, "lobby", 5));
    fc_jwt_claims_free(&c);
    assert_int_equal(check(v, sb.data, NOW + 60000, 0, &c), FC_JWT_EEXPIRED);
    fc_jwt_verifier_destroy(v);
    v = verifier("another secret of at least thirty-two bytes", NULL);
    assert_int_equal(check_only(v, sb.data), FC_JWT_ESIGNATURE);
    fc_jwt_verifier_destroy(v);
    fc_sb_free(&sb);
}

/* --- Key files ------------------------------------------------------------------------ */

static char *write_temp(const void *data, size_t len) {
    char *path = strdup("/tmp/fc-test-jwt-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* A PEM of a key made now: its public half, or the private key itself. */
static char *pem_of(const char *type, const char *param, int private_key) {
    EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024)
                  : param                  ? EVP_PKEY_Q_keygen(NULL, NULL, type, param)
                                           : EVP_PKEY_Q_keygen(NULL, NULL, type);
    assert_non_null(k);
    BIO *b = BIO_new(BIO_s_mem());
    if (private_key)
        assert_true(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
    else
        assert_true(PEM_write_bio_PUBKEY(b, k));
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

static void expect_key_error(const char *secret_file, const char *key_file, const char *words) {
    fc_jwt_verifier *v = NULL;
    char err[512] = "";
    int rc = fc_jwt_verifier_create(&v, secret_file, key_file, err, sizeof err);
    if (rc != FC_EINVAL_OPT || !strstr(err, words))
        fail_msg("expected an error with '%s', got %d '%s'", words, rc, err);
    assert_null(v);
    if (key_file && !strstr(err, key_file) && !strstr(err, "--auth"))
        fail_msg("the error does not name the file: %s", err);
}

static void key_files_are_checked_with_clear_errors(void **state) {
    (void)state;
    char *ok_secret = write_temp("0123456789abcdef0123456789abcdef\n", 33);
    fc_jwt_verifier *v = NULL;
    char err[512] = "";
    assert_int_equal(fc_jwt_verifier_create(&v, ok_secret, NULL, err, sizeof err), 0);
    /* The trailing newline is not part of the secret. */
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    fc_jwt_sign_hs256((const uint8_t *)"0123456789abcdef0123456789abcdef", 32, "{}", &sb);
    assert_int_equal(check_only(v, sb.data), FC_JWT_OK);
    fc_sb_free(&sb);
    fc_jwt_verifier_destroy(v);

    char *short_secret = write_temp("short\n", 6);
    expect_key_error(short_secret, NULL, "at least 32");
    char *pem_secret = write_temp(rsa_pub, strlen(rsa_pub));
    expect_key_error(pem_secret, NULL, "PEM key");
    expect_key_error("/nonexistent/secret", NULL, "cannot open '/nonexistent/secret'");
    expect_key_error(NULL, "/tmp", "cannot read '/tmp'");
    expect_key_error(NULL, NULL, "--auth-secret-file or --auth-public-key");

    static const struct {
        const char *type, *param;
        int private_key;
        const char *words;
    } keys[] = {
        {"RSA", NULL, 0, "at least 2048"},
        {"EC", "P-384", 0, "P-256"},
        {"ED25519", NULL, 0, "expected RSA"},
        {"EC", "P-256", 1, "private key"},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *pem = pem_of(keys[i].type, keys[i].param, keys[i].private_key);
        char *f = write_temp(pem, strlen(pem));
        expect_key_error(NULL, f, keys[i].words);
        unlink(f);
        free(f);
        free(pem);
    }
    char *garbage = write_temp("hello\n", 6);
    expect_key_error(NULL, garbage, "not a PEM public key");
    char *rsa = write_temp(rsa_pub, strlen(rsa_pub));
    assert_int_equal(fc_jwt_verifier_create(&v, NULL, rsa, err, sizeof err), 0);
    assert_int_equal(check_only(v, rs256_token), FC_JWT_OK);
    fc_jwt_verifier_destroy(v);
    char *files[] = {ok_secret, short_secret, pem_secret, garbage, rsa};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        unlink(files[i]);
        free(files[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64url_decodes_rfc4648_vectors_and_nothing_else),
        cmocka_unit_test(base64url_round_trips),
        cmocka_unit_test(hs256_rfc7515_vector),
        cmocka_unit_test(rs256_vector),
        cmocka_unit_test(es256_vector_with_nbf),
        cmocka_unit_test(alg_none_and_unknown_algs_fail),
        cmocka_unit_test(a_public_key_is_never_an_hmac_secret),
        cmocka_unit_test(malformed_tokens_fail),
        cmocka_unit_test(claims_of_the_wrong_type_fail),
        cmocka_unit_test(minted_tokens_verify_and_a_wrong_secret_fails),
        cmocka_unit_test(key_files_are_checked_with_clear_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
