/* JSON Web Tokens (RFC 7519) as the hub checks them: a compact JWS
 * (RFC 7515, "header.claims.signature", each part base64url without
 * padding) signed with HS256 (a shared secret), RS256 or ES256 (a public
 * key), verified with OpenSSL; and HS256 tokens minted for
 * `framecast token`.
 *
 * What a token must be to pass fc_jwt_verify, in this order (docs/security.md):
 *   - at most FC_JWT_MAX_LEN bytes, three parts, strict base64url;
 *   - a header that is a JSON object whose "alg" names the key the verifier
 *     has for it: HS256 the secret, RS256 an RSA public key, ES256 a P-256
 *     public key. "none", other algorithms and an algorithm whose key is
 *     not configured fail, so a public key can never be taken as an HMAC
 *     secret; a "crit" header fails (no extension is understood);
 *   - a signature that verifies over the first two parts as sent;
 *   - claims that are a JSON object: "exp" and "nbf", when present, numbers
 *     (seconds since the epoch) with now < exp + leeway and
 *     now >= nbf - leeway; "streams", when present, an array of stream
 *     names, "*" for all. Without "streams" a token is good for every
 *     stream. A member the hub reads may not appear twice.
 * The claims are parsed only once the signature is good: what an
 * unauthenticated peer controls reaches cJSON only through the header.
 *
 * The verifier owns the keys (OpenSSL objects made once at start).
 * Threads: create and destroy on one thread, before and after use;
 * fc_jwt_verify from any number of threads at once (the keys are only
 * read; each call makes its own OpenSSL contexts). The other functions are
 * pure and thread-safe. */
#ifndef FC_HUB_JWT_H
#define FC_HUB_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

#define FC_JWT_MAX_LEN    4096 /* longer tokens are refused unread */
#define FC_JWT_MIN_SECRET 32   /* HS256 secret bytes at least (RFC 7518 3.2: >= the hash size) */
#define FC_JWT_MAX_SECRET 4096

/* Why a token was refused; every one but FC_JWT_OK is a 401. */
enum fc_jwt_status {
    FC_JWT_OK = 0,
    FC_JWT_EMISSING,   /* no token given */
    FC_JWT_EMALFORMED, /* not three base64url parts of JSON objects, or a claim of a wrong type */
    FC_JWT_EALG,       /* "alg" is none, unknown, or has no key configured here */
    FC_JWT_ESIGNATURE, /* the signature does not verify */
    FC_JWT_EEXPIRED,   /* now >= exp + leeway */
    FC_JWT_EEARLY,     /* now < nbf - leeway */
};
/* Words for a status, for a 401 answer's body: never the token itself. */
const char *fc_jwt_strerror(enum fc_jwt_status s);

/* --- base64url (RFC 4648 5), without padding, as JWS uses it ---------------- */

/* Decodes len characters into out (at least len * 3 / 4 bytes); returns
 * the byte count, or -1 for anything but canonical unpadded base64url
 * (another character, '=', a length of 4k+1, non-zero unused bits). */
long fc_b64url_decode(const char *in, size_t len, uint8_t *out);
/* Appends the encoding of data to sb. */
void fc_b64url_encode(fc_strbuf *sb, const uint8_t *data, size_t len);

/* --- Claims -------------------------------------------------------------- */

typedef struct fc_jwt_claims {
    int has_exp;
    int64_t exp_ms;  /* "exp" in milliseconds since the epoch, when has_exp */
    int all_streams; /* no "streams" claim, or "*" in it */
    int publish;     /* "publish": true: may also POST results to those streams */
    char *streams;   /* the names, each NUL-terminated, one after the other; NULL if none */
    size_t nstreams;
} fc_jwt_claims;

/* 1 if the claims allow the stream named name (len bytes). */
int fc_jwt_allows(const fc_jwt_claims *c, const char *name, size_t len);
/* Claims that allow every stream, publishing too, without expiry
 * (authentication off). */
void fc_jwt_claims_all(fc_jwt_claims *c);
void fc_jwt_claims_free(fc_jwt_claims *c);

/* --- Keys and verification ----------------------------------------------- */

typedef struct fc_jwt_verifier fc_jwt_verifier;

/* Reads an HS256 secret: the file's bytes, less trailing CR and LF (so
 * `openssl rand -hex 32 > FILE` works, and so must every tool that signs
 * with it). Fails, naming opt and the file in err, when it cannot be read,
 * is shorter than FC_JWT_MIN_SECRET or longer than FC_JWT_MAX_SECRET bytes,
 * or is a PEM key. Returns the length, or FC_EINVAL_OPT. out has
 * FC_JWT_MAX_SECRET bytes. */
long fc_jwt_read_secret(const char *opt, const char *path, uint8_t *out, char *err, size_t errlen);

/* Makes a verifier with an HS256 secret read from secret_file and/or a
 * public key (PEM, "BEGIN PUBLIC KEY": RSA of at least 2048 bits for
 * RS256, or EC P-256 for ES256) read from public_key_file; either may be
 * NULL, not both. On error returns FC_EINVAL_OPT with a message naming the
 * option and the file. */
int fc_jwt_verifier_create(fc_jwt_verifier **out, const char *secret_file,
                           const char *public_key_file, char *err, size_t errlen);
/* The same from memory (tests, fuzzing): secret may be NULL, pem may be NULL. */
int fc_jwt_verifier_from_mem(fc_jwt_verifier **out, const uint8_t *secret, size_t secret_len,
                             const char *pem, size_t pem_len, char *err, size_t errlen);
void fc_jwt_verifier_destroy(fc_jwt_verifier *v);
/* "HS256", "RS256, ES256"...: what the verifier takes, for the log. */
const char *fc_jwt_verifier_algs(const fc_jwt_verifier *v);

/* Verifies token (len bytes) at now_ms (wall clock, ms since the epoch)
 * with leeway_s seconds of tolerance on exp and nbf. On FC_JWT_OK fills
 * claims (fc_jwt_claims_free them); otherwise claims is left empty. */
enum fc_jwt_status fc_jwt_verify(const fc_jwt_verifier *v, const char *token, size_t len,
                                 int64_t now_ms, int leeway_s, fc_jwt_claims *claims);

/* Appends an HS256 token for claims_json (a JSON object, used as it is)
 * to out. Returns 0, or -1 if OpenSSL fails. */
int fc_jwt_sign_hs256(const uint8_t *secret, size_t secret_len, const char *claims_json,
                      fc_strbuf *out);

#endif
