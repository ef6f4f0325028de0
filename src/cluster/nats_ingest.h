/* An ingest node's side of the cluster: every result, preview and status
 * message its streams publish goes to NATS once (the bytes clients get,
 * without the WebSocket header), the results also into a history ring that
 * answers edges' history requests, and each stream is announced once a
 * second (docs/cluster.md).
 *
 * Publishing never makes a pipeline wait: fc_ingest_offer takes a
 * reference into a bounded queue (dropped and counted when it is full) and
 * the publisher thread hands it to nats.c, whose own buffer is bounded too
 * (publishes past it fail while NATS is down, counted). The publisher
 * thread owns the streams' rings and answers history requests from them,
 * in the order it published: a reply never misses a result it published
 * before. Stream additions and removals go through the same queue.
 *
 * Threads: create, add_stream, remove_stream, announce and destroy on the
 * main thread; offer on any thread (a pipeline's, an I/O thread for push
 * streams) and it never waits; stats on any thread. */
#ifndef FC_CLUSTER_NATS_INGEST_H
#define FC_CLUSTER_NATS_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/nats_conn.h"
#include "hub/history.h"
#include "util/buf.h"

typedef struct fc_ingest fc_ingest;

enum fc_ingest_kind { FC_INGEST_RESULT, FC_INGEST_PREVIEW, FC_INGEST_STATUS };

/* Waiting in the queue at most (messages, bytes): past either, dropped. */
#define FC_INGEST_QUEUE_MSGS  4096
#define FC_INGEST_QUEUE_BYTES (16u << 20)
/* A history reply's size at most (NATS's default max_payload is 1 MiB). */
#define FC_INGEST_REPLY_BYTES (512u << 10)

int fc_ingest_create(fc_ingest **out, fc_nats *nats, const char *node, char *err, size_t errlen);
/* Stream id is the hub's id of the stream (unique while it lives). */
void fc_ingest_add_stream(fc_ingest *g, int id, const char *name, const char *epoch,
                          const fc_history_limits *lim);
void fc_ingest_remove_stream(fc_ingest *g, int id);
/* The stream's description for framecast.announce (a JSON object, as
 * /api/streams shows it); published by the publisher thread with the
 * stream's epoch and last status. */
void fc_ingest_announce(fc_ingest *g, int id, const char *json, size_t len);
/* A framed message the hub got for stream id (a result has msg->seq set).
 * Takes its own reference; never waits. */
void fc_ingest_offer(fc_ingest *g, int id, enum fc_ingest_kind kind, fc_buf *msg);

typedef struct fc_ingest_stats {
    uint64_t published;       /* messages handed to NATS */
    uint64_t dropped_queue;   /* not published: the queue was full */
    uint64_t dropped_nats;    /* not published: NATS refused them (its buffer full while down) */
    uint64_t history_replies; /* history requests answered */
} fc_ingest_stats;
void fc_ingest_stats_get(fc_ingest *g, fc_ingest_stats *out);

/* Stops the publisher thread (after the pipelines stopped, before the NATS
 * connection closes); then, once nats.c's threads ended (fc_nats_shutdown),
 * fc_ingest_destroy frees everything. */
void fc_ingest_stop(fc_ingest *g);
void fc_ingest_destroy(fc_ingest *g);

#endif
