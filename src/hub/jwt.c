/* JSON Web Tokens: parse, verify, mint (see jwt.h). */
#include "hub/jwt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/error.h"
#include "util/log.h"

enum key_kind { KEY_NONE, KEY_RSA, KEY_EC };

struct fc_jwt_verifier {
    uint8_t *secret; /* HS256, or NULL */
    size_t secret_len;
    EVP_MAC *hmac;  /* fetched once: a fetch per token would take the provider store's lock */
    EVP_PKEY *pkey; /* RS256 or ES256, or NULL */
    enum key_kind kind;
    char algs[24];
};

const char *fc_jwt_strerror(enum fc_jwt_status s) {
    switch (s) {
    case FC_JWT_OK:
        return "ok";
    case FC_JWT_EMISSING:
        return "a token is required (?token=JWT or Authorization: Bearer JWT)";
    case FC_JWT_EMALFORMED:
        return "the token is malformed";
    case FC_JWT_EALG:
        return "the token's alg is not accepted here";
    case FC_JWT_ESIGNATURE:
        return "the token's signature does not verify";
    case FC_JWT_EEXPIRED:
        return "the token has expired";
    case FC_JWT_EEARLY:
        return "the token is not valid yet (nbf)";
    }
    return "?";
}

/* --- base64url ------------------------------------------------------------ */

/* Written here because no OpenSSL call fits: EVP_DecodeBlock and the BIO
 * filter speak standard base64 ('+', '/', '=' padding) and skip
 * whitespace, so using them would take a translated, padded copy and still
 * accept non-canonical input. JWS parts are short; a table-free loop is
 * enough. */
static int b64url_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long fc_b64url_decode(const char *in, size_t len, uint8_t *out) {
    if (len % 4 == 1) return -1; /* 6 bits cannot end a byte */
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* The 2 or 4 bits left over must be zero: one encoding per value. */
    return acc ? -1 : (long)n;
}

void fc_b64url_encode(fc_strbuf *sb, const uint8_t *data, size_t len) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fc_sb_reserve(sb, (len + 2) / 3 * 4 + 1);
    size_t i = 0;
    char q[4];
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        q[0] = abc[v >> 18], q[1] = abc[v >> 12 & 63], q[2] = abc[v >> 6 & 63], q[3] = abc[v & 63];
        fc_sb_append(sb, q, 4);
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        q[0] = abc[v >> 18], q[1] = abc[v >> 12 & 63];
        fc_sb_append(sb, q, 2);
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        q[0] = abc[v >> 18], q[1] = abc[v >> 12 & 63], q[2] = abc[v >> 6 & 63];
        fc_sb_append(sb, q, 3);
    }
}

/* --- Claims ----------------------------------------------------------------- */

int fc_jwt_allows(const fc_jwt_claims *c, const char *name, size_t len) {
    if (c->all_streams) return 1;
    const char *p = c->streams;
    for (size_t i = 0; i < c->nstreams; i++) {
        size_t n = strlen(p);
        if (n == len && memcmp(p, name, len) == 0) return 1;
        p += n + 1;
    }
    return 0;
}

void fc_jwt_claims_all(fc_jwt_claims *c) {
    *c = (fc_jwt_claims){.all_streams = 1, .publish = 1};
}

void fc_jwt_claims_free(fc_jwt_claims *c) {
    free(c->streams);
    *c = (fc_jwt_claims){0};
}

/* --- Keys --------------------------------------------------------------------- */

/* Reads a whole small file into a NUL-terminated buffer (free it). */
static char *read_file(const char *opt, const char *path, size_t max, size_t *len, char *err,
                       size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open '%s': %s", opt, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 2);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int failed = !buf || ferror(f);
    fclose(f);
    if (failed || n > max) {
        snprintf(err, errlen, "%s: cannot read '%s': %s", opt, path,
                 failed ? "read error (is it a directory?)" : "too large for a key");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

long fc_jwt_read_secret(const char *opt, const char *path, uint8_t *out, char *err, size_t errlen) {
    size_t n;
    char *buf = read_file(opt, path, FC_JWT_MAX_SECRET + 2, &n, err, errlen);
    if (!buf) return FC_EINVAL_OPT;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    long rc = FC_EINVAL_OPT;
    if (strncmp(buf, "-----BEGIN", 10) == 0)
        snprintf(err, errlen,
                 "%s: '%s' is a PEM key, not a shared secret (a public key goes to "
                 "--auth-public-key)",
                 opt, path);
    else if (n < FC_JWT_MIN_SECRET)
        snprintf(err, errlen,
                 "%s: '%s' holds %zu bytes; an HS256 secret needs at least %d (make one with "
                 "`openssl rand -hex 32 > %s`)",
                 opt, path, n, FC_JWT_MIN_SECRET, path);
    else if (n > FC_JWT_MAX_SECRET)
        snprintf(err, errlen, "%s: '%s' holds %zu bytes; at most %d are taken", opt, path, n,
                 FC_JWT_MAX_SECRET);
    else {
        memcpy(out, buf, n);
        rc = (long)n;
    }
    OPENSSL_cleanse(buf, n);
    free(buf);
    struct stat st;
    if (rc > 0 && stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
        fc_warn("%s: '%s' can be read by other users of this machine (chmod 600 it)", opt, path);
    return rc;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u) {
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1; /* never prompt on a terminal */
}

static int set_public_key(fc_jwt_verifier *v, const char *opt, const char *what, const char *pem,
                          size_t len, char *err, size_t errlen) {
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL) : NULL;
    BIO_free(b);
    if (!k) {
        /* A private key by mistake is worth its own words: it must not sit
         * on the server that only verifies. */
        b = BIO_new_mem_buf(pem, (int)len);
        EVP_PKEY *priv = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
        BIO_free(b);
        if (priv)
            snprintf(err, errlen,
                     "%s: '%s' is a private key; give its public half (`openssl pkey -in KEY "
                     "-pubout -out PUBLIC.pem`)",
                     opt, what);
        else
            snprintf(err, errlen,
                     "%s: '%s' is not a PEM public key (expected -----BEGIN PUBLIC KEY-----, as "
                     "`openssl pkey -pubout` writes)",
                     opt, what);
        EVP_PKEY_free(priv);
        ERR_clear_error();
        return FC_EINVAL_OPT;
    }
    int rc = 0;
    if (EVP_PKEY_is_a(k, "RSA")) {
        if (EVP_PKEY_get_bits(k) < 2048) {
            snprintf(err, errlen, "%s: '%s' is a %d-bit RSA key; RS256 needs at least 2048 bits",
                     opt, what, EVP_PKEY_get_bits(k));
            rc = FC_EINVAL_OPT;
        }
        v->kind = KEY_RSA;
    } else if (EVP_PKEY_is_a(k, "EC")) {
        char group[64] = "";
        size_t glen = 0;
        EVP_PKEY_get_group_name(k, group, sizeof group, &glen);
        if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0) {
            snprintf(err, errlen,
                     "%s: '%s' is an EC key on curve '%s'; ES256 needs P-256 (prime256v1)", opt,
                     what, group[0] ? group : "?");
            rc = FC_EINVAL_OPT;
        }
        v->kind = KEY_EC;
    } else {
        snprintf(err, errlen,
                 "%s: '%s' is a %s key; expected RSA (for RS256) or EC P-256 (for ES256)", opt,
                 what, EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "unknown");
        rc = FC_EINVAL_OPT;
    }
    if (rc) {
        EVP_PKEY_free(k);
        v->kind = KEY_NONE;
    } else {
        v->pkey = k;
    }
    ERR_clear_error();
    return rc;
}

static int set_secret(fc_jwt_verifier *v, const uint8_t *secret, size_t len, char *err,
                      size_t errlen) {
    v->secret = malloc(len);
    v->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!v->secret || !v->hmac) {
        snprintf(err, errlen, "cannot set up HMAC-SHA256 (OpenSSL)");
        return -ENOMEM;
    }
    memcpy(v->secret, secret, len);
    v->secret_len = len;
    return 0;
}

static void name_algs(fc_jwt_verifier *v) {
    snprintf(v->algs, sizeof v->algs, "%s%s%s", v->secret ? "HS256" : "",
             v->secret && v->pkey ? ", " : "",
             v->kind == KEY_RSA  ? "RS256"
             : v->kind == KEY_EC ? "ES256"
                                 : "");
}

int fc_jwt_verifier_from_mem(fc_jwt_verifier **out, const uint8_t *secret, size_t secret_len,
                             const char *pem, size_t pem_len, char *err, size_t errlen) {
    fc_jwt_verifier *v = calloc(1, sizeof *v);
    if (!v) return -ENOMEM;
    int rc = 0;
    if (!secret && !pem) {
        snprintf(err, errlen, "no key: give --auth-secret-file or --auth-public-key");
        rc = FC_EINVAL_OPT;
    }
    if (!rc && secret) rc = set_secret(v, secret, secret_len, err, errlen);
    if (!rc && pem)
        rc = set_public_key(v, "--auth-public-key", "(memory)", pem, pem_len, err, errlen);
    if (rc) {
        fc_jwt_verifier_destroy(v);
        return rc;
    }
    name_algs(v);
    *out = v;
    return 0;
}

int fc_jwt_verifier_create(fc_jwt_verifier **out, const char *secret_file,
                           const char *public_key_file, char *err, size_t errlen) {
    fc_jwt_verifier *v = calloc(1, sizeof *v);
    if (!v) return -ENOMEM;
    int rc = 0;
    if (!secret_file && !public_key_file) {
        snprintf(err, errlen, "no key: give --auth-secret-file or --auth-public-key");
        rc = FC_EINVAL_OPT;
    }
    if (!rc && secret_file) {
        uint8_t secret[FC_JWT_MAX_SECRET];
        long n = fc_jwt_read_secret("--auth-secret-file", secret_file, secret, err, errlen);
        rc = n < 0 ? (int)n : set_secret(v, secret, (size_t)n, err, errlen);
        OPENSSL_cleanse(secret, sizeof secret);
    }
    if (!rc && public_key_file) {
        size_t len;
        char *pem = read_file("--auth-public-key", public_key_file, 64 * 1024, &len, err, errlen);
        rc = pem ? set_public_key(v, "--auth-public-key", public_key_file, pem, len, err, errlen)
                 : FC_EINVAL_OPT;
        free(pem);
    }
    if (rc) {
        fc_jwt_verifier_destroy(v);
        return rc;
    }
    name_algs(v);
    *out = v;
    return 0;
}

void fc_jwt_verifier_destroy(fc_jwt_verifier *v) {
    if (!v) return;
    if (v->secret) OPENSSL_cleanse(v->secret, v->secret_len);
    free(v->secret);
    EVP_MAC_free(v->hmac);
    EVP_PKEY_free(v->pkey);
    free(v);
}

const char *fc_jwt_verifier_algs(const fc_jwt_verifier *v) {
    return v->algs;
}

/* --- Signatures --------------------------------------------------------------- */

static int hmac_sha256(EVP_MAC *mac, const uint8_t *key, size_t keylen, const void *data,
                       size_t len, uint8_t out[32]) {
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outlen = 0;
    int ok = ctx && EVP_MAC_init(ctx, key, keylen, params) && EVP_MAC_update(ctx, data, len) &&
             EVP_MAC_final(ctx, out, &outlen, 32) && outlen == 32;
    EVP_MAC_CTX_free(ctx);
    return ok;
}

static int verify_hs256(const fc_jwt_verifier *v, const char *data, size_t len, const uint8_t *sig,
                        size_t siglen) {
    uint8_t mac[32];
    if (!hmac_sha256(v->hmac, v->secret, v->secret_len, data, len, mac)) return 0;
    /* Constant time: how many leading bytes matched must not show. */
    return siglen == 32 && CRYPTO_memcmp(mac, sig, 32) == 0;
}

/* RS256 (PKCS #1 v1.5 with SHA-256) or ES256 (ECDSA P-256 with SHA-256,
 * the signature as r || s, 32 bytes each, which OpenSSL wants as DER). */
static int verify_pkey(const fc_jwt_verifier *v, const char *data, size_t len, const uint8_t *sig,
                       size_t siglen) {
    uint8_t der[80];
    if (v->kind == KEY_EC) {
        if (siglen != 64) return 0;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return 0;
        }
        int n = i2d_ECDSA_SIG(es, NULL);
        uint8_t *p = der;
        if (n <= 0 || n > (int)sizeof der || i2d_ECDSA_SIG(es, &p) != n) n = 0;
        ECDSA_SIG_free(es);
        if (!n) return 0;
        sig = der;
        siglen = (size_t)n;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, v->pkey, NULL) == 1 &&
             EVP_DigestVerify(md, sig, siglen, (const uint8_t *)data, len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* --- Verification ------------------------------------------------------------- */

/* The member called name of obj, or NULL; *dup is set if it appears twice
 * (cJSON would silently take the first, another reader the last). */
static cJSON *member(const cJSON *obj, const char *name, int *dup) {
    cJSON *found = NULL;
    for (cJSON *m = obj->child; m; m = m->next) {
        if (!m->string || strcmp(m->string, name) != 0) continue;
        if (found) *dup = 1;
        found = m;
    }
    return found;
}

/* Decodes a base64url part holding a JSON object; NULL if it is not one. */
static cJSON *decode_object(const char *p, size_t len, uint8_t *buf) {
    long n = fc_b64url_decode(p, len, buf);
    if (n <= 0 || memchr(buf, 0, (size_t)n)) return NULL;
    buf[n] = 0;
    cJSON *j = cJSON_ParseWithOpts((const char *)buf, NULL, 1);
    if (j && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = NULL;
    }
    return j;
}

/* A NumericDate claim in ms; 0 if absent, 1 if read, -1 if not a number. */
static int numeric_date(const cJSON *claims, const char *name, int *dup, double *ms) {
    const cJSON *m = member(claims, name, dup);
    if (!m) return 0;
    if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble) || fabs(m->valuedouble) > 1e13) return -1;
    *ms = m->valuedouble * 1000.0;
    return 1;
}

static enum fc_jwt_status read_claims(const cJSON *j, int64_t now_ms, int leeway_s,
                                      fc_jwt_claims *out) {
    int dup = 0;
    double exp_ms = 0, nbf_ms = 0, leeway_ms = (double)leeway_s * 1000.0;
    int has_exp = numeric_date(j, "exp", &dup, &exp_ms);
    int has_nbf = numeric_date(j, "nbf", &dup, &nbf_ms);
    const cJSON *streams = member(j, "streams", &dup);
    const cJSON *publish = member(j, "publish", &dup);
    if (has_exp < 0 || has_nbf < 0 || dup || (streams && !cJSON_IsArray(streams)) ||
        (publish && !cJSON_IsBool(publish)))
        return FC_JWT_EMALFORMED;
    size_t bytes = 0, n = 0;
    int all = !streams;
    for (const cJSON *s = streams ? streams->child : NULL; s; s = s->next) {
        if (!cJSON_IsString(s)) return FC_JWT_EMALFORMED;
        if (strcmp(s->valuestring, "*") == 0) all = 1;
        bytes += strlen(s->valuestring) + 1;
        n++;
    }
    if (has_exp && !((double)now_ms < exp_ms + leeway_ms)) return FC_JWT_EEXPIRED;
    if (has_nbf && (double)now_ms + leeway_ms < nbf_ms) return FC_JWT_EEARLY;
    *out = (fc_jwt_claims){.has_exp = has_exp,
                           .exp_ms = (int64_t)exp_ms,
                           .all_streams = all,
                           .publish = cJSON_IsTrue(publish)};
    if (!all && n) {
        char *p = out->streams = malloc(bytes);
        if (!p) return FC_JWT_EMALFORMED; /* refused rather than widened */
        for (const cJSON *s = streams->child; s; s = s->next) {
            size_t l = strlen(s->valuestring) + 1;
            memcpy(p, s->valuestring, l);
            p += l;
        }
        out->nstreams = n;
    }
    return FC_JWT_OK;
}

static enum fc_jwt_status verify(const fc_jwt_verifier *v, const char *token, size_t len,
                                 int64_t now_ms, int leeway_s, fc_jwt_claims *claims) {
    if (len == 0) return FC_JWT_EMISSING;
    if (len > FC_JWT_MAX_LEN) return FC_JWT_EMALFORMED;
    const char *end = token + len;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
    if (!d2 || d1 == token || d2 == d1 + 1 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
        return FC_JWT_EMALFORMED; /* not three parts (a JWE has five) */

    uint8_t buf[FC_JWT_MAX_LEN];
    cJSON *header = decode_object(token, (size_t)(d1 - token), buf);
    if (!header) return FC_JWT_EMALFORMED;
    int dup = 0;
    const cJSON *alg = member(header, "alg", &dup);
    const cJSON *crit = member(header, "crit", &dup);
    enum fc_jwt_status st = FC_JWT_OK;
    enum { HS256, RS256, ES256 } which = HS256;
    if (!cJSON_IsString(alg) || dup || crit)
        st = FC_JWT_EMALFORMED;
    else if (strcmp(alg->valuestring, "HS256") == 0 && v->secret)
        which = HS256;
    else if (strcmp(alg->valuestring, "RS256") == 0 && v->kind == KEY_RSA)
        which = RS256;
    else if (strcmp(alg->valuestring, "ES256") == 0 && v->kind == KEY_EC)
        which = ES256;
    else
        st = FC_JWT_EALG; /* "none", another algorithm, or one without its key here */
    cJSON_Delete(header);
    if (st) return st;

    long siglen = fc_b64url_decode(d2 + 1, (size_t)(end - d2 - 1), buf);
    if (siglen < 0) return FC_JWT_EMALFORMED;
    size_t signed_len = (size_t)(d2 - token);
    int good = which == HS256 ? verify_hs256(v, token, signed_len, buf, (size_t)siglen)
                              : verify_pkey(v, token, signed_len, buf, (size_t)siglen);
    if (!good) return FC_JWT_ESIGNATURE;

    cJSON *j = decode_object(d1 + 1, (size_t)(d2 - d1 - 1), buf);
    if (!j) return FC_JWT_EMALFORMED;
    st = read_claims(j, now_ms, leeway_s, claims);
    cJSON_Delete(j);
    return st;
}

enum fc_jwt_status fc_jwt_verify(const fc_jwt_verifier *v, const char *token, size_t len,
                                 int64_t now_ms, int leeway_s, fc_jwt_claims *claims) {
    *claims = (fc_jwt_claims){0};
    enum fc_jwt_status st = verify(v, token, len, now_ms, leeway_s, claims);
    if (st) {
        fc_jwt_claims_free(claims);
        /* A failed verification leaves errors on this thread's OpenSSL
         * queue; TLS on the same loop reads that queue (SSL_get_error). */
        ERR_clear_error();
    }
    return st;
}

/* --- Minting -------------------------------------------------------------------- */

int fc_jwt_sign_hs256(const uint8_t *secret, size_t secret_len, const char *claims_json,
                      fc_strbuf *out) {
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t start = out->len;
    fc_b64url_encode(out, (const uint8_t *)header, sizeof header - 1);
    fc_sb_puts(out, ".");
    fc_b64url_encode(out, (const uint8_t *)claims_json, strlen(claims_json));
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    uint8_t sig[32];
    int ok = mac && hmac_sha256(mac, secret, secret_len, out->data + start, out->len - start, sig);
    EVP_MAC_free(mac);
    if (!ok) {
        ERR_clear_error();
        return -1;
    }
    fc_sb_puts(out, ".");
    fc_b64url_encode(out, sig, sizeof sig);
    return 0;
}
