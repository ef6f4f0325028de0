/* The hub's shared records: the hub, its I/O loops and their connections.
 *
 * The hub is split into rooms, one job each, from the top down:
 *   hub.c       the public API (hub.h): configuration, streams, start/stop,
 *               publishing into every loop, counters
 *   listener.c  the listening socket: accept, descriptor limits, spreading
 *               connections over the loops
 *   loop.c      an I/O thread: its inbox (the only place threads meet), its
 *               events (reads, ticks, published messages), its stop
 *   request.c   a new connection's HTTP request head: routing to the
 *               WebSocket upgrade (after the origin, token and per-address
 *               checks), the HTTP handler or an error answer
 *   session.c   a WebSocket session: frames in, control replies, keepalive,
 *               the closing handshake, published messages into its queue,
 *               a resume fed from the history
 *   history.c   a stream's recent results, for resumes
 *   writer.c    the write path: once per loop iteration, one writev per
 *               socket with pending data; partial writes
 *   conn.c      a connection's record: adoption (its remote address), the
 *               loop's lists, close
 *   tls.c       TLS on memory BIOs: handshake, decryption, encryption
 *   queue.c     a client's outgoing queue and the slow-client policies
 *   auth.c      who may connect: Origin patterns, a request's token
 *   jwt.c       JSON Web Tokens: base64url, verification with OpenSSL
 *   peers.c     per remote address, shared by the loops (its own locks):
 *               clients and a connection-rate bucket
 * A room calls only rooms below it; the records here are shared data.
 *
 * Threads: a loop and everything reachable from it (its connections, their
 * queues, its per-stream subscriber lists, its copy of the limits) belong
 * to that loop's thread. Other threads touch only a loop's inbox (under its
 * mutex) and the atomic counters; the stream slots follow the rule written
 * at fc_hub_stream. */
#ifndef FC_HUB_INTERNAL_H
#define FC_HUB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "hub/hub.h"
#include "hub/jwt.h"
#include "hub/peers.h"
#include "hub/queue.h"
#include "hub/deflate.h"
#include "hub/ws.h"
#include "util/histogram.h"

struct fc_loop;

enum fc_conn_state { FC_CONN_HTTP, FC_CONN_BODY, FC_CONN_WS, FC_CONN_CLOSING };

typedef struct fc_conn {
    uv_tcp_t tcp; /* first: the handle pointer is the connection pointer */
    struct fc_loop *lp;
    enum fc_conn_state state;
    struct fc_conn *prev, *next;         /* every connection of the loop */
    struct fc_conn *sub_prev, *sub_next; /* subscribers of the stream */
    int stream;                          /* -1 before the upgrade */
    /* HTTP phase: the request head, grown up to head_limit bytes as it comes */
    char *head;
    size_t head_len, head_cap;
    /* FC_CONN_BODY: a request body (POST) being read, Content-Length bytes */
    uint8_t *body;
    size_t body_len, body_need;
    size_t req_head_len; /* the head's length within head, to parse it again */
    /* WebSocket phase */
    fc_ws_parser parser;
    int64_t last_rx_ms;
    int64_t ping_sent_ms; /* 0 when no ping is outstanding */
    int64_t deadline_ms;  /* handshake or close deadline; 0 = none */
    int64_t progress_ms;  /* the queue was last empty or took bytes */
    unsigned close_sent : 1, close_rcvd : 1, close_after_flush : 1;
    unsigned dirty : 1;        /* on the loop's dirty list */
    unsigned writing : 1;      /* a uv_write is in progress */
    unsigned want_preview : 1; /* asked for ?preview=1 */
    unsigned counted : 1;      /* holds one of the hub's max_clients places */
    unsigned linger : 1;       /* answered while the client may still send (a refused body):
                                  half-close after the answer, then read and discard until it
                                  stops, so the answer is not lost to a reset */
    fc_queue q;
    uv_write_t wreq;
    size_t wreq_bytes; /* what the uv_write in progress carries */
    uint64_t cursor;   /* resuming: the next seq to feed from the history; 0: live */
    /* permessage-deflate, when negotiated */
    fc_ws_deflate deflate;
    struct fc_inflater *inflater; /* while a compressed message of the client is inflated */
    uint64_t inflated;            /* its inflated bytes so far */
    fc_utf8_state inflated_utf8;
    struct fc_tls_conn *tls; /* TLS state, or NULL on a plain listener */
    uint8_t *tls_wbuf;       /* TLS: the ciphertext the uv_write in progress carries */
    /* Who it is (read once at adoption) and what it was allowed */
    fc_peer_addr peer;
    char peer_text[46];        /* the remote address, for the log */
    int rate_wait_s;           /* > 0: over its address's connection rate; 429, retry after this */
    unsigned peer_counted : 1; /* holds one of its address's max_clients_per_ip places */
    unsigned parked : 1;       /* resuming a remote stream that is not ready yet: its
                                  cursor is set (no live results), nothing is fed */
    int64_t token_exp_ms;      /* when its token expires: exp + leeway, wall-clock ms; 0: never */
} fc_conn;

/* The settings a loop reads that may change while it runs (fc_hub_update):
 * each loop keeps its own copy, replaced through its inbox, so the loops
 * never read a struct another thread writes. */
typedef struct fc_loop_limits {
    fc_queue_limits queue; /* per client */
    size_t head_limit, max_body;
    uint64_t max_message;
    int handshake_timeout_ms, ping_interval_ms, ping_timeout_ms, close_timeout_ms;
    int write_timeout_ms, drain_timeout_ms;
    int max_clients;
} fc_loop_limits;

/* Per loop, per stream. Counters are written by the loop, read by anyone. */
typedef struct fc_lstream {
    fc_conn *subs;
    fc_buf *sticky;     /* sent first to each new subscriber, or NULL */
    fc_history history; /* the stream's recent results, this loop's references */
    uint64_t last_seq;  /* seq of the newest result this loop has fanned out */
    int ready;          /* a remote stream's history is complete (fc_hub_set_ready) */
    atomic_uint_fast64_t clients, previewers, deflaters, sent, dropped, resumes;
    atomic_uint_fast64_t closed[FC_HUB_CLOSE_REASONS];
    atomic_uint_fast64_t resets[FC_HUB_RESETS];
    /* sampled each tick */
    atomic_uint_fast64_t history_len, history_bytes, queued_bytes, queued_max;
    fc_histogram queue_wait; /* publish to written in full, one data message in 16 */
} fc_lstream;

enum fc_item_kind {
    FC_IT_MSG,
    FC_IT_STICKY,
    FC_IT_CONN,
    FC_IT_STOP,
    FC_IT_REMOVE, /* the stream is removed: close its clients, forget it, then ack */
    FC_IT_LIMITS, /* take the hub's new limits, then ack */
    FC_IT_SYNC,   /* only ack */
    FC_IT_READY,  /* a remote stream is ready (fd 1) or not (fd 0): see fc_hub_set_ready */
};

typedef struct fc_item {
    enum fc_item_kind kind;
    int stream;
    int fd;
    fc_buf *buf;
} fc_item;

/* The inbox: a mutex-guarded vector; the loop swaps it out whole. */
typedef struct fc_inbox {
    pthread_mutex_t mu;
    pthread_cond_t space; /* signalled when the loop takes the items */
    fc_item *items;
    size_t n, cap;
    unsigned waiting[FC_HUB_MAX_STREAMS]; /* messages of each stream in items */
} fc_inbox;

typedef struct fc_loop {
    fc_hub *hub;
    int index;
    uv_loop_t uv;
    uv_thread_t thread;
    int initialized, thread_started;
    uv_async_t wake;
    uv_check_t flush;
    uv_idle_t turn; /* keeps the loop turning while resuming clients can take more */
    uv_timer_t tick;
    fc_inbox inbox;
    fc_item *scratch; /* the drained inbox, reused */
    size_t scratch_cap;
    fc_conn *conns;
    int resuming;      /* connections with a cursor */
    unsigned sampling; /* counts written data messages, to sample one in 16 */
    fc_conn **dirty;
    size_t ndirty, dirty_cap;
    int dirty_lost; /* a connection is marked dirty but not on the list (no memory) */
    fc_lstream streams[FC_HUB_MAX_STREAMS];
    fc_loop_limits lim; /* this loop's copy (FC_IT_LIMITS replaces it) */
    atomic_uint_fast64_t accepted, flushes;
    atomic_int_fast64_t ticked_us; /* monotonic time of the last tick: the loop is alive */
    uint8_t *rbuf;                 /* FC_HUB_READ_BUF bytes, for WebSocket and TLS reads */
    uint8_t *plain;            /* FC_HUB_PLAIN_BUF bytes, decrypted TLS input (NULL without TLS) */
    uint8_t *inflate_buf;      /* FC_HUB_PLAIN_BUF bytes for clients' inflated messages (lazily) */
    int stopping;              /* draining: see loop.c */
    int64_t drain_deadline_ms; /* when the drain ends whoever is left */
} fc_loop;

#define FC_HUB_READ_BUF  65536
#define FC_HUB_PLAIN_BUF 16384 /* one TLS record */

/* A stream slot's life: FREE -> (the hub's thread fills it) -> LIVE ->
 * REMOVING -> (every loop has closed its clients and acked) -> FREE. Its
 * fields are written only while it is FREE, by the hub's thread; a loop
 * reads them only after it saw LIVE or REMOVING (acquire), and a slot
 * becomes FREE again only after every loop has acked its removal, so no
 * loop still reads it when it is filled again. */
enum { FC_STREAM_FREE, FC_STREAM_LIVE, FC_STREAM_REMOVING };

typedef struct fc_hub_stream {
    atomic_int state;
    char name[FC_HUB_NAME_MAX + 1];
    enum fc_slow_policy policy;
    fc_history_limits history;
    char epoch[FC_HUB_EPOCH_MAX + 1];
    unsigned close_code;      /* REMOVING: what its clients are closed with */
    const char *close_reason; /* a string that outlives the removal */
    int remote;               /* results come from another node: resumes wait for ready */
} fc_hub_stream;

/* LIVE or REMOVING (acquire): its fields may be read. */
static inline int fc_hub_stream_used(const fc_hub_stream *s) {
    return atomic_load_explicit(&s->state, memory_order_acquire) != FC_STREAM_FREE;
}

struct fc_listener;
struct fc_tls;

struct fc_hub {
    fc_hub_config cfg;     /* as created; the loops read the limits from their own copy */
    fc_loop_limits limits; /* the latest limits, the hub's thread's; loops copy them */
    struct fc_listener *listener;
    struct fc_tls *tls;   /* NULL: plain ws:// and http:// */
    fc_jwt_verifier *jwt; /* NULL: authentication off */
    fc_peers *peers;      /* NULL: no per-address limit */
    fc_loop *loops;
    int nloops;
    fc_hub_stream streams[FC_HUB_MAX_STREAMS];
    atomic_int nstreams; /* slots ever used: streams are in [0, nstreams) */
    /* Round trips through every loop (a removal, new limits): the hub's
     * thread pushes an item to each loop and waits until each has acked. */
    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    int synced;
    fc_hub_http_fn http_fn;
    void *http_ud;
    int started;
    atomic_int stopping; /* publishers stop waiting for inbox room */
    atomic_int clients;  /* WebSocket clients, against cfg.max_clients */
    atomic_uint_fast64_t refused[FC_HUB_REFUSALS];
};

/* A loop has done what a round trip asked (fc_hub_remove_stream,
 * fc_hub_update). Loop thread. */
static inline void fc_hub_ack(fc_hub *hub) {
    pthread_mutex_lock(&hub->sync_mu);
    hub->synced++;
    pthread_cond_broadcast(&hub->sync_cv);
    pthread_mutex_unlock(&hub->sync_mu);
}

/* Counts a close of c's client for reason. */
static inline void fc_hub_count_close(fc_lstream *ls, enum fc_hub_close_reason r) {
    atomic_fetch_add_explicit(&ls->closed[r], 1, memory_order_relaxed);
}

#endif
