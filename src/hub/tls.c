/* TLS for the hub (see tls.h). */
#include "hub/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* TLS 1.2 suites when none are given: forward secrecy and AEAD only
 * (TLS 1.3's own suites are all of that kind and stay OpenSSL's default). */
#define DEFAULT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

struct fc_tls {
    char *cert, *key, *ciphers;
    BIO_METHOD *out_method; /* the ciphertext sink of every connection */
    pthread_mutex_t mu;
    SSL_CTX *ctx; /* under mu: the one new connections take */
};

struct fc_tls_conn {
    SSL *ssl;
    BIO *rbio; /* memory: bytes read from the socket */
    uint8_t *out;
    size_t out_len, out_cap;
};

/* OpenSSL's reason for the last failure, or fallback. */
static const char *ssl_reason(const char *fallback) {
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : fallback;
}

static SSL_CTX *make_ctx(const fc_tls *t, char *err, size_t errlen) {
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: cannot create a context: %s", ssl_reason("out of memory"));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    /* Idle connections give their 16 KiB record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    const char *what = NULL, *name = NULL;
    if (SSL_CTX_set_cipher_list(ctx, t->ciphers ? t->ciphers : DEFAULT_CIPHERS) != 1)
        what = "--tls-ciphers", name = t->ciphers ? t->ciphers : DEFAULT_CIPHERS;
    else if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1)
        what = "--tls-cert", name = t->cert;
    else if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1)
        what = "--tls-key", name = t->key;
    else if (SSL_CTX_check_private_key(ctx) != 1)
        what = "--tls-key", name = t->key;
    if (what) {
        snprintf(err, errlen, "%s: cannot use '%s': %s (expected %s)", what, name,
                 ssl_reason("invalid"),
                 strcmp(what, "--tls-ciphers") == 0 ? "an OpenSSL cipher list for TLS 1.2"
                 : strcmp(what, "--tls-cert") == 0  ? "a PEM certificate, followed by its chain"
                                                    : "the PEM private key of the certificate");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The write side of a connection's BIO: ciphertext is appended to out. It
 * never refuses, so SSL_write always completes; the writer bounds how much
 * it encrypts ahead of the socket. */
static int out_write(BIO *b, const char *data, size_t len, size_t *written) {
    fc_tls_conn *tc = BIO_get_data(b);
    if (tc->out_len + len > tc->out_cap) {
        size_t cap = tc->out_cap ? tc->out_cap : 16384;
        while (cap < tc->out_len + len) cap *= 2;
        uint8_t *n = realloc(tc->out, cap);
        if (!n) return 0;
        tc->out = n;
        tc->out_cap = cap;
    }
    memcpy(tc->out + tc->out_len, data, len);
    tc->out_len += len;
    *written = len;
    return 1;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int fc_tls_create(fc_tls **out, const char *cert, const char *key, const char *ciphers, char *err,
                  size_t errlen) {
    fc_tls *t = calloc(1, sizeof *t);
    if (!t) return -1;
    t->cert = strdup(cert);
    t->key = strdup(key);
    t->ciphers = ciphers ? strdup(ciphers) : NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "framecast out");
    if (t->out_method) {
        BIO_meth_set_write_ex(t->out_method, out_write);
        BIO_meth_set_ctrl(t->out_method, out_ctrl);
    }
    if (!t->cert || !t->key || (ciphers && !t->ciphers) || !t->out_method) {
        snprintf(err, errlen, "TLS: out of memory");
        fc_tls_destroy(t);
        return -1;
    }
    if (!(t->ctx = make_ctx(t, err, errlen))) {
        fc_tls_destroy(t);
        return FC_EINVAL_OPT;
    }
    *out = t;
    return 0;
}

int fc_tls_reload(fc_tls *t, char *err, size_t errlen) {
    SSL_CTX *ctx = make_ctx(t, err, errlen);
    if (!ctx) return FC_EINVAL_OPT;
    pthread_mutex_lock(&t->mu);
    SSL_CTX *old = t->ctx;
    t->ctx = ctx;
    pthread_mutex_unlock(&t->mu);
    SSL_CTX_free(old); /* open connections hold their own reference */
    return 0;
}

void fc_tls_destroy(fc_tls *t) {
    if (!t) return;
    SSL_CTX_free(t->ctx);
    BIO_meth_free(t->out_method);
    pthread_mutex_destroy(&t->mu);
    free(t->cert);
    free(t->key);
    free(t->ciphers);
    free(t);
}

const char *fc_tls_offload(void) {
    char ulp[256] = "";
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    if (f) {
        if (!fgets(ulp, sizeof ulp, f)) ulp[0] = 0;
        fclose(f);
    }
    return strstr(ulp, "tls") ? "kernel TLS: offered by the kernel, not used (framecast encrypts)"
                              : "kernel TLS: not offered by this kernel (no tls in "
                                "net.ipv4.tcp_available_ulp)";
}

fc_tls_conn *fc_tls_conn_new(fc_tls *t) {
    fc_tls_conn *tc = calloc(1, sizeof *tc);
    if (!tc) return NULL;
    pthread_mutex_lock(&t->mu);
    tc->ssl = SSL_new(t->ctx);
    pthread_mutex_unlock(&t->mu);
    tc->rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(t->out_method);
    if (!tc->ssl || !tc->rbio || !wbio) {
        BIO_free(tc->rbio);
        BIO_free(wbio);
        SSL_free(tc->ssl);
        free(tc);
        return NULL;
    }
    BIO_set_data(wbio, tc);
    BIO_set_init(wbio, 1);
    BIO_set_mem_eof_return(tc->rbio, -1); /* empty: "retry", not end of file */
    SSL_set_bio(tc->ssl, tc->rbio, wbio); /* the SSL owns both now */
    SSL_set_accept_state(tc->ssl);
    return tc;
}

void fc_tls_conn_free(fc_tls_conn *tc) {
    if (!tc) return;
    SSL_free(tc->ssl);
    free(tc->out);
    free(tc);
}

int fc_tls_conn_ready(const fc_tls_conn *tc) {
    return SSL_is_init_finished(tc->ssl);
}

int fc_tls_conn_input(fc_tls_conn *tc, const uint8_t *raw, size_t len, uint8_t *scratch, size_t cap,
                      fc_tls_plain_fn fn, void *ud, const char **why) {
    ERR_clear_error();
    if (len && BIO_write(tc->rbio, raw, (int)len) != (int)len) {
        *why = "out of memory";
        return -1;
    }
    for (;;) {
        size_t got = 0;
        int r = SSL_is_init_finished(tc->ssl) ? SSL_read_ex(tc->ssl, scratch, cap, &got)
                                              : SSL_do_handshake(tc->ssl);
        if (r == 1) {
            if (got && fn(ud, scratch, got)) return 0;
            continue;
        }
        switch (SSL_get_error(tc->ssl, r)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            return 0; /* all of it is taken; the rest comes with the next read */
        case SSL_ERROR_ZERO_RETURN:
            *why = "the client closed TLS (close_notify)";
            return -1;
        default:
            *why = ssl_reason("TLS protocol error");
            return -1;
        }
    }
}

int fc_tls_conn_encrypt(fc_tls_conn *tc, const void *data, size_t len) {
    size_t done = 0;
    ERR_clear_error();
    return SSL_write_ex(tc->ssl, data, len, &done) == 1 && done == len ? 0 : -1;
}

size_t fc_tls_conn_pending(const fc_tls_conn *tc, const uint8_t **p) {
    *p = tc->out;
    return tc->out_len;
}

void fc_tls_conn_consume(fc_tls_conn *tc, size_t n) {
    if (n >= tc->out_len) {
        tc->out_len = 0;
        if (tc->out_cap > 16384) { /* an idle connection keeps no large buffer */
            free(tc->out);
            tc->out = NULL;
            tc->out_cap = 0;
        }
        return;
    }
    memmove(tc->out, tc->out + n, tc->out_len - n);
    tc->out_len -= n;
}

void fc_tls_conn_take(fc_tls_conn *tc, uint8_t **buf, size_t *len) {
    *buf = tc->out;
    *len = tc->out_len;
    tc->out = NULL;
    tc->out_len = tc->out_cap = 0;
}
