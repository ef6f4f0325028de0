/* The broadcast hub: an HTTP/WebSocket server on N libuv I/O threads that
 * fans each published message out to every subscriber of its stream.
 *
 * Data flow: a publisher (any thread) hands a framed, immutable fc_buf to
 * fc_hub_publish, which pushes one reference into each I/O loop's inbox (a
 * mutex-guarded vector, one lock per loop per message, never per client) and
 * wakes the loop with uv_async_send. The loop drains its inbox, applies the
 * stream's slow-client policy while queueing a reference on each of its
 * subscribers, keeps results in the stream's history (the loop's own
 * reference), and once per loop iteration (uv_check) writes each socket's
 * pending messages with one writev (uv_try_write; the rest via uv_write).
 * A client that resumes (?since=SEQ&epoch=E) is fed from the history as its
 * socket drains, then joins the live fan-out (docs/protocol.md).
 *
 * Ownership: each I/O loop owns its connections outright; nothing else
 * touches them. Loop 0 also owns the listening socket and hands accepted
 * sockets round-robin to the loops through the same inboxes.
 *
 * Streams come and go while the hub runs: fc_hub_add_stream registers one
 * at any time, fc_hub_remove_stream closes its clients on every loop and
 * frees its slot; fc_hub_update changes the limits the loops apply. The
 * last two are round trips: an item through every loop's inbox, answered
 * by each loop on its own thread, so no loop reads what another thread
 * writes.
 *
 * Threads: create, set_http_handler and start on one thread (the hub's)
 * before traffic; add_stream, remove_stream and update on that thread at
 * any time; publish and the stats readers on any thread; stop and destroy
 * on the hub's thread, after publishers have stopped. */
#ifndef FC_HUB_HUB_H
#define FC_HUB_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "hub/history.h"
#include "hub/http.h"
#include "hub/jwt.h"
#include "hub/queue.h"
#include "util/histogram.h"
#include "util/buf.h"
#include "util/strbuf.h"

typedef struct fc_hub fc_hub;

#define FC_HUB_MAX_STREAMS 64

typedef struct fc_hub_config {
    const char *host;         /* listen address, e.g. "127.0.0.1" or "::1" */
    int port;                 /* 0 picks a free port; see fc_hub_port */
    int io_threads;           /* >= 1 */
    size_t head_limit;        /* request head bytes before 431 (8 KiB) */
    int handshake_timeout_ms; /* request head must complete within (10 s) */
    int ping_interval_ms;     /* ping a client silent this long (20 s) */
    int ping_timeout_ms;      /* close a client that does not answer (20 s) */
    int close_timeout_ms;     /* after our close frame, wait this long (5 s) */
    uint64_t max_message;     /* largest client message (64 KiB), else 1009 */
    size_t queue_bytes;       /* per-client queue bound in bytes (256 KiB) */
    int queue_msgs;           /* per-client queue bound in messages (4096) */
    size_t keep_bytes;        /* per-client bound on never-dropped messages (64 KiB) */
    int write_timeout_ms;     /* close a client whose queue makes no progress (30 s) */
    int max_clients;          /* WebSocket clients at once; more get 503 (> 0) */
    size_t max_body;          /* largest POST body (1 MiB), else 413 */
    int drain_timeout_ms;     /* at shutdown: time to deliver what is queued (5 s) */
    int compression;          /* accept permessage-deflate offers (1) */
    size_t compression_min;   /* messages shorter than this are not compressed (128) */
    const char *tls_cert;     /* PEM certificate chain: https:// and wss:// (NULL: plain) */
    const char *tls_key;      /* its PEM private key */
    const char *tls_ciphers;  /* TLS 1.2 cipher list (NULL: a strong default) */
    /* Who may connect (docs/security.md). Authentication is on when either
     * key is given: /ws/<stream>, /api/ and /metrics then need a token. */
    const char *auth_secret_file;       /* HS256 shared secret */
    const char *auth_public_key;        /* RS256 or ES256 public key, PEM */
    int auth_leeway_s;                  /* tolerance on exp and nbf (30 s) */
    const char *const *allowed_origins; /* --allowed-origin patterns (auth.h), or NULL */
    int nallowed_origins;               /* 0: any origin */
    int require_origin;                 /* refuse upgrades without an Origin header */
    int max_clients_per_ip;      /* WebSocket clients per address; more get 429 (0: no limit) */
    int max_connect_rate_per_ip; /* new connections per second per address (0: no limit) */
} fc_hub_config;

/* Fills the defaults above. */
void fc_hub_config_defaults(fc_hub_config *cfg);

/* Handles an HTTP request that is not a WebSocket upgrade (GET, HEAD, or a
 * POST with its body: Content-Length bytes, at most max_body), on an I/O
 * thread; must never wait. Writes a complete HTTP response into resp and
 * returns 0, or returns -1 for 404. */
typedef int (*fc_hub_http_fn)(void *ud, const fc_http_request *req, const uint8_t *body,
                              size_t body_len, fc_strbuf *resp);

/* Binds and listens (so a port in use fails here, before anything starts).
 * On error returns a negative code and writes a message into err. */
int fc_hub_create(fc_hub **out, const fc_hub_config *cfg, char *err, size_t errlen);
/* A stream as the hub serves it. */
typedef struct fc_hub_stream_config {
    const char *name;
    enum fc_slow_policy policy;
    fc_history_limits history; /* results kept for clients that resume */
    const char *epoch;         /* names the stream's seq numbering (at most 32 bytes of
                                  [A-Za-z0-9_-]); clients resume against it */
    int remote;                /* its results come from another node (a cluster edge): a client that
                                  resumes waits until the stream is ready (fc_hub_set_ready) */
} fc_hub_stream_config;
#define FC_HUB_EPOCH_MAX 32

#define FC_HUB_NAME_MAX 64

/* Registers a stream served at /ws/<name> (at most FC_HUB_NAME_MAX bytes),
 * before or after fc_hub_start; returns its id (>= 0), or FC_EINVAL_OPT
 * (a bad name or epoch, a name already served, or FC_HUB_MAX_STREAMS
 * streams). The hub's thread. */
int fc_hub_add_stream(fc_hub *hub, const fc_hub_stream_config *sc);
/* Removes a stream whose publishers have all stopped: every loop closes the
 * stream's clients with code and reason (after what is already queued for
 * them), releases its history and sticky message and stops serving its
 * name (404). Returns once every loop has done so; the id may then be given
 * to a new stream. reason must be a string that outlives the call. Also
 * a round trip for the loops' readers: anything a loop read before it (an
 * HTTP handler's snapshot) is no longer in use when it returns. The hub's
 * thread; never while fc_hub_stop runs. */
void fc_hub_remove_stream(fc_hub *hub, int stream, unsigned code, const char *reason);
/* A round trip through every loop and nothing else: returns once each loop
 * has finished whatever callback it was in (see fc_hub_remove_stream). */
void fc_hub_sync(fc_hub *hub);
/* Applies the limits of cfg that may change while the hub runs (the rest
 * of cfg is ignored): queue_bytes, queue_msgs, max_message, head_limit,
 * max_body, the handshake, ping, close, write and drain timeouts, and
 * max_clients. New connections and sessions take them at once; a session
 * keeps the --max-message it started with. Returns once every loop has
 * them. The hub's thread. */
void fc_hub_update(fc_hub *hub, const fc_hub_config *cfg);
void fc_hub_set_http_handler(fc_hub *hub, fc_hub_http_fn fn, void *ud);
int fc_hub_start(fc_hub *hub);
/* The bound port (useful with port 0). */
int fc_hub_port(const fc_hub *hub);
/* 1 when the hub serves TLS (https://, wss://). */
int fc_hub_tls(const fc_hub *hub);
/* Reads the TLS certificate and key again (SIGHUP): new connections use
 * them, open ones are not touched. On error (message in err) the old ones
 * stay. Any thread. */
int fc_hub_reload_tls(fc_hub *hub, char *err, size_t errlen);

/* Publishing. msg is a complete WebSocket frame; the hub adds its own
 * references, the caller keeps its own. A result carries its seq in
 * msg->seq (> 0): the loops keep it in the stream's history. Messages of a
 * stream reach its clients in the order they were published. Backpressure
 * is per stream: a loop takes 32 waiting messages of a stream
 * before its publishers wait, so a fast stream slows to what fan-out takes
 * and never holds up another stream.
 *
 * fc_hub_publish waits for room, then publishes; for threads that hold no
 * lock anyone else needs. A publisher that must publish under a lock of its
 * own (the sequencer) calls fc_hub_wait_room before taking it, then
 * fc_hub_publish_nowait under it: the inboxes then hold at most the bound
 * plus one message per such publisher. Both return at once after
 * fc_hub_stop. Any thread but an I/O thread. */
void fc_hub_publish(fc_hub *hub, int stream, fc_buf *msg);
void fc_hub_wait_room(fc_hub *hub, int stream);
void fc_hub_publish_nowait(fc_hub *hub, int stream, fc_buf *msg);

/* Publishes only if every loop has room for the stream now, else returns
 * FC_EFULL and publishes nothing; never waits. For callers on an I/O thread
 * (waiting there could deadlock on the loop's own inbox). Returns 0,
 * FC_EFULL, or FC_ESTOPPED. */
int fc_hub_try_publish(fc_hub *hub, int stream, fc_buf *msg);

/* Like fc_hub_publish, and the loops keep msg as the stream's sticky
 * message: every client that subscribes later receives it first (the
 * stream's current status). Replaces the previous sticky message. */
void fc_hub_publish_sticky(fc_hub *hub, int stream, fc_buf *msg);

/* Never waits and ignores the bound, for bounded bursts from a thread that
 * must not wait (a cluster edge's history and held results, its status):
 * fc_hub_publish_nowait, and this for a sticky message. */
void fc_hub_publish_sticky_nowait(fc_hub *hub, int stream, fc_buf *msg);

/* A remote stream (fc_hub_stream_config.remote) is ready once its history
 * holds what the other node kept (results flagged FC_BUF_HISTORY, published
 * before this call): clients that resume wait until then, and are answered
 * from the history, or with a reset, once it is ready. ready 0 makes new
 * resumes wait again (the feed stopped). Never waits; any thread but an
 * I/O thread's. */
void fc_hub_set_ready(fc_hub *hub, int stream, int ready);

/* Why a resuming client got a reset instead of what it missed. */
enum fc_hub_reset_reason {
    FC_HUB_RESET_EPOCH,   /* its epoch is not the stream's (another numbering) */
    FC_HUB_RESET_EXPIRED, /* results after its seq are no longer kept */
    FC_HUB_RESET_FUTURE,  /* its seq is beyond the newest result */
    FC_HUB_RESET_OVERRUN, /* it read slower than results expired while catching up */
    FC_HUB_RESETS
};
/* "epoch", "expired", "future", "overrun". */
const char *fc_hub_reset_reason_name(enum fc_hub_reset_reason r);

/* Why the server closed a client (besides shutdown and protocol errors). */
enum fc_hub_close_reason {
    FC_HUB_CLOSE_SLOW,          /* the close policy: over its queue bound */
    FC_HUB_CLOSE_CONTROL,       /* never-dropped messages over keep_bytes */
    FC_HUB_CLOSE_WRITE_TIMEOUT, /* no write progress for write_timeout_ms */
    FC_HUB_CLOSE_PING_TIMEOUT,  /* no pong within ping_timeout_ms */
    FC_HUB_CLOSE_TOKEN_EXPIRED, /* its token's exp (+ leeway) passed: close code 4401 */
    FC_HUB_CLOSE_REASONS
};
/* "slow_consumer", "control_backlog", "write_timeout", "ping_timeout",
 * "token_expired". */
const char *fc_hub_close_reason_name(enum fc_hub_close_reason r);

/* Why a connection or request was turned away. */
enum fc_hub_refusal {
    FC_HUB_REFUSED_MAX_CLIENTS,  /* 503 at the upgrade: max_clients reached */
    FC_HUB_REFUSED_FD_LIMIT,     /* accepting paused: out of file descriptors */
    FC_HUB_REFUSED_UNAUTHORIZED, /* 401: no token, or a bad one */
    FC_HUB_REFUSED_FORBIDDEN,    /* 403: a good token for other streams */
    FC_HUB_REFUSED_ORIGIN,       /* 403 at the upgrade: an Origin not allowed, or none */
    FC_HUB_REFUSED_IP_CLIENTS,   /* 429 at the upgrade: max_clients_per_ip reached */
    FC_HUB_REFUSED_IP_RATE,      /* 429: over max_connect_rate_per_ip */
    FC_HUB_REFUSED_TIMEOUT,      /* 408 (a silent close if nothing came): no whole request by
                                    handshake_timeout_ms */
    FC_HUB_REFUSALS
};
/* "max_clients", "fd_limit", "unauthorized", "forbidden", "origin",
 * "ip_clients", "ip_rate", "handshake_timeout". */
const char *fc_hub_refusal_name(enum fc_hub_refusal r);

/* Counters, summed over loops; any thread, approximate while running. */
typedef struct fc_hub_stats {
    uint64_t clients;                      /* WebSocket clients now connected */
    uint64_t accepted;                     /* TCP connections accepted */
    uint64_t sent;                         /* data messages (results, previews) written in full */
    uint64_t dropped;                      /* data messages skipped by the slow-client policy */
    uint64_t closed[FC_HUB_CLOSE_REASONS]; /* clients closed, by reason */
    uint64_t flushes;                    /* writevs issued by the flush (libuv may finish a partial
                                            one with further writes of its own, not counted) */
    uint64_t refused[FC_HUB_REFUSALS];   /* hub-wide (not per stream) */
    uint64_t history_len, history_bytes; /* results kept for resumes (one loop's ring) */
    uint64_t resumes;                    /* clients that resumed (what they missed, or nothing) */
    uint64_t resets[FC_HUB_RESETS];      /* resuming clients told what they lost */
    uint64_t queued_bytes, queued_max;   /* bytes in client queues: sum, largest; sampled
                                            once per loop tick */
    fc_histogram queue_wait;             /* publish to written in full, one data message in 16 */
    uint64_t peers;                      /* addresses tracked for the per-address limits */
    uint64_t peers_untracked;            /* new addresses let through untracked (table full) */
} fc_hub_stats;
void fc_hub_stats_get(const fc_hub *hub, int stream, fc_hub_stats *out); /* stream -1: all */

/* The longest time any I/O loop has gone without its tick (a loop stuck in
 * one callback), in ms; any thread. */
int64_t fc_hub_stalled_ms(const fc_hub *hub);

/* WebSocket clients of the stream that negotiated permessage-deflate: a
 * publisher compresses a message (once) only while there are some. */
uint64_t fc_hub_deflaters(const fc_hub *hub, int stream);
/* The smallest message worth compressing (--compression-min). */
size_t fc_hub_compression_min(const fc_hub *hub);

/* WebSocket clients of the stream that asked for previews; any thread. */
uint64_t fc_hub_previewers(const fc_hub *hub, int stream);

/* 1 when authentication is on (a secret or a public key is configured). */
int fc_hub_auth_on(const fc_hub *hub);
/* Checks the token of a request for the HTTP handler (?token= or
 * Authorization: Bearer), on an I/O thread. Returns 0 with claims filled
 * (fc_jwt_claims_free them; with authentication off they allow every
 * stream), or 401 with why (never the token) and the refusal counted. */
int fc_hub_authenticate(fc_hub *hub, const fc_http_request *req, fc_jwt_claims *claims,
                        const char **why);
/* Counts a refusal made by the HTTP handler (403 for a stream). */
void fc_hub_count_refusal(fc_hub *hub, enum fc_hub_refusal r);

/* Closes every client with 1001 and joins the I/O threads. */
void fc_hub_stop(fc_hub *hub);
void fc_hub_destroy(fc_hub *hub);

#endif
