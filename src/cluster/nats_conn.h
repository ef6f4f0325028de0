/* The node's connection to NATS (nats.c): the servers, credentials and TLS
 * options, reconnecting forever by itself, and its state for /readyz and
 * the metrics.
 *
 * nats.c runs its own threads: the connection's reader, a thread per
 * subscription that delivers messages, and one for connection events. The
 * callbacks framecast gives it (nats_ingest.c, nats_edge.c) run there and
 * never wait on anything an I/O loop or a pipeline holds.
 *
 * Threads: open and close on the main thread; fc_nats_connected and the
 * counters on any thread. */
#ifndef FC_CLUSTER_NATS_CONN_H
#define FC_CLUSTER_NATS_CONN_H

#include <nats/nats.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fc_nats_config {
    const char *urls;     /* nats://host:port[,nats://...] */
    const char *creds;    /* a .creds file (user JWT and NKey seed), or NULL */
    const char *tls_ca;   /* CA certificates (PEM) that sign the servers' ones; TLS on */
    const char *tls_cert; /* a client certificate (PEM), with tls_key, for mutual TLS */
    const char *tls_key;
    const char *name;        /* the connection's name, shown by the server */
    int reconnect_wait_ms;   /* between reconnect attempts (250) */
    int reconnect_buf_bytes; /* publishes kept while reconnecting (8 MiB); past it they fail */
    int64_t pending_bytes;   /* per subscription, messages not yet delivered (64 MiB) */
} fc_nats_config;

typedef struct fc_nats {
    natsConnection *nc;
    natsOptions *opts;
    atomic_int connected;
    atomic_int closing; /* fc_nats_close began: callbacks report nothing more */
    atomic_uint_fast64_t disconnects, reconnects;
    int64_t pending_bytes;
} fc_nats;

/* Before anything else uses OpenSSL (main thread, at start, with --nats):
 * see nats_conn.c. */
void fc_nats_prepare(void);
/* Connects (or keeps trying in the background when no server answers yet:
 * the node starts anyway and reports it in /readyz). On a bad option
 * returns a negative code with why in err. */
int fc_nats_open(fc_nats *n, const fc_nats_config *cfg, char *err, size_t errlen);
/* Why the connection failed last, as text (never NULL). */
const char *fc_nats_error(const fc_nats *n, natsStatus s);
/* 1 while connected. */
int fc_nats_connected(const fc_nats *n);
/* Closes the connection. Callbacks may still be running on nats.c's
 * threads: fc_nats_shutdown waits for them. */
void fc_nats_close(fc_nats *n);
/* After every connection is closed: waits for nats.c's threads to end (no
 * callback runs after it returns). Main thread, at exit. */
void fc_nats_shutdown(void);

#endif
