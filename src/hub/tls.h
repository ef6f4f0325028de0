/* TLS for the hub: https:// and wss:// on the listening port, with OpenSSL.
 *
 * The server context (certificate chain, key, TLS 1.2 and 1.3 only, the
 * TLS 1.2 cipher list) is shared by the loops. Each connection has an SSL
 * object on memory BIOs, so libuv keeps doing every read and write and the
 * write path stays non-blocking and corked:
 *   in   bytes read from the socket -> SSL -> plaintext -> request, session
 *   out  the client's queue (plaintext, buffers shared by every client) ->
 *        one SSL_write per message into the connection's ciphertext buffer
 *        -> one socket write per flush
 * Encryption is per connection by nature; the plaintext is never copied
 * before OpenSSL encrypts it. The queue's bound and the slow-client
 * policies count plaintext; the writer encrypts at most FC_TLS_BATCH bytes
 * ahead of what the socket has taken.
 *
 * Kernel TLS is not used: it needs OpenSSL to own the socket, and the
 * kernels it was tested on offer no "tls" upper-layer protocol;
 * fc_tls_offload says what this machine offers.
 *
 * Threads: fc_tls_create/destroy on the main thread; fc_tls_reload on any
 * thread (new connections take the new context, open ones keep theirs);
 * fc_tls_conn_* on the connection's loop thread. */
#ifndef FC_HUB_TLS_H
#define FC_HUB_TLS_H

#include <stddef.h>
#include <stdint.h>

/* Plaintext the writer encrypts per round before writing it out. */
#define FC_TLS_BATCH (64 * 1024)

typedef struct fc_tls fc_tls;
typedef struct fc_tls_conn fc_tls_conn;

/* Loads cert (PEM, the chain) and key (PEM). ciphers: the TLS 1.2 cipher
 * list (NULL: ECDHE with AES-GCM or ChaCha20). Returns 0, or FC_EINVAL_OPT
 * with a message naming the file or list into err. */
int fc_tls_create(fc_tls **out, const char *cert, const char *key, const char *ciphers, char *err,
                  size_t errlen);
/* Reads the same files again; on error the current context stays. */
int fc_tls_reload(fc_tls *t, char *err, size_t errlen);
void fc_tls_destroy(fc_tls *t);
/* What the kernel offers for TLS offload, in words (for the log). */
const char *fc_tls_offload(void);

/* A connection's TLS state, or NULL when out of memory. */
fc_tls_conn *fc_tls_conn_new(fc_tls *t);
void fc_tls_conn_free(fc_tls_conn *tc);

/* Called with each piece of plaintext; returns non-zero to stop (the
 * connection is closing). */
typedef int (*fc_tls_plain_fn)(void *ud, uint8_t *data, size_t len);

/* Bytes read from the socket: continues the handshake, then decrypts into
 * scratch (cap bytes) and hands the plaintext to fn. Returns 0; or -1 when
 * the connection must close (a failed handshake, a bad record, the peer's
 * close_notify), with a reason in *why. Whatever it produced to send
 * (handshake records, alerts) is pending afterwards. */
int fc_tls_conn_input(fc_tls_conn *tc, const uint8_t *raw, size_t len, uint8_t *scratch, size_t cap,
                      fc_tls_plain_fn fn, void *ud, const char **why);

/* 1 once the handshake is done (application data may be encrypted). */
int fc_tls_conn_ready(const fc_tls_conn *tc);

/* Encrypts len bytes of application data into the pending ciphertext.
 * Returns 0 or -1. */
int fc_tls_conn_encrypt(fc_tls_conn *tc, const void *data, size_t len);

/* The pending ciphertext: *p and its length (0: none). */
size_t fc_tls_conn_pending(const fc_tls_conn *tc, const uint8_t **p);
/* The socket took the first n pending bytes. */
void fc_tls_conn_consume(fc_tls_conn *tc, size_t n);
/* Hands the pending ciphertext over (the caller frees *buf with free()
 * once written) and starts an empty one, so more can be produced while it
 * is being written. */
void fc_tls_conn_take(fc_tls_conn *tc, uint8_t **buf, size_t *len);

#endif
