/* An edge node's side of the cluster: it runs no sources; it learns the
 * streams from the ingest nodes' announcements (framecast.announce) and
 * serves each as a remote stream of its own hub (same history, resume and
 * slow-client policies as a single node), subscribed on NATS only while it
 * has clients for it (docs/cluster.md).
 *
 * A stream's feed, per edge:
 *   OFF      no client: not subscribed
 *   PRELOAD  the first client arrived: subscribed, and the ingest node's
 *            history asked for (request/reply); live results are held until
 *            the reply is in, then the history goes into the hub's ring
 *            (FC_BUF_HISTORY: to no client) and the held results go out.
 *            Then the stream is ready: clients that resume (?since=) waited
 *            for this, so a client moving from another edge finds its range
 *            here too.
 *   LIVE     results are framed once and published (fc_hub_try_publish:
 *            never waits; when the loops' inboxes are full the result and
 *            the next ones are held for a tick, then handed over as a
 *            bounded burst, in order, counted as delayed); seq, epoch and
 *            publish_us are the ingest node's. A result that does not
 *            follow the last one (NATS is at-most-once: an outage, a slow
 *            consumer) starts a RESYNC.
 *   RESYNC   like PRELOAD, but the missing results are delivered to the
 *            clients in order before the held ones; what the ingest node no
 *            longer has is announced to clients with a reset message.
 * While the feed is gone (NATS disconnected, or no announcement for
 * expire_ms) the stream's clients get a status message with state
 * "unavailable"; the ingest node's status again once it is back.
 *
 * Threads: create, stop and destroy on the main thread (the hub's), whose
 * libuv loop runs the edge's timer: streams are added to and removed from
 * the hub there. NATS callbacks run on nats.c's threads and share the
 * streams' feed state under one mutex; they never wait on a loop
 * (fc_hub_try_publish, or the never-waiting bounded bursts). fc_edge_views
 * on any thread (the HTTP API). */
#ifndef FC_CLUSTER_NATS_EDGE_H
#define FC_CLUSTER_NATS_EDGE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cluster/nats_conn.h"
#include "hub/hub.h"

typedef struct fc_edge fc_edge;

typedef struct fc_edge_config {
    enum fc_slow_policy slow;  /* the streams' slow-client policy */
    fc_history_limits history; /* the streams' history */
    int expire_ms;             /* not announced this long: unavailable (3500) */
    int forget_ms;             /* ... this long: removed, its clients closed (60000) */
    int linger_ms;             /* unsubscribe this long after the last client left (1000) */
    int request_timeout_ms;    /* a history request unanswered this long is given up (2000) */
} fc_edge_config;

void fc_edge_config_defaults(fc_edge_config *cfg);

int fc_edge_create(fc_edge **out, fc_nats *nats, fc_hub *hub, uv_loop_t *loop,
                   const fc_edge_config *cfg, char *err, size_t errlen);
/* Unsubscribes everything and closes the edge's handles (before the NATS
 * connection closes); fc_edge_destroy after fc_nats_shutdown. */
void fc_edge_stop(fc_edge *e);
void fc_edge_destroy(fc_edge *e);

/* What the HTTP API shows of a stream (a snapshot). */
typedef struct fc_edge_view {
    char name[FC_HUB_NAME_MAX + 1];
    int hub_id;
    int available;
    char state[16]; /* the ingest node's state, or "unavailable" */
    char *info;     /* the announced description (JSON), or NULL; fc_edge_views_free */
    uint64_t last_seq, received, dropped, delayed, gaps, lost;
} fc_edge_view;
/* Fills up to max views; returns how many. Any thread. */
int fc_edge_views(fc_edge *e, fc_edge_view *out, int max);
void fc_edge_views_free(fc_edge_view *v, int n);
/* 1 once every stream announced is known and NATS is connected. */
int fc_edge_ready(fc_edge *e);

#endif
