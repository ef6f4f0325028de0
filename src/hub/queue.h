/* A client's outgoing queue: a ring of references to framed messages, with
 * the client's bound and the stream's slow-client policy.
 *
 * A pure data structure (no sockets, no clock, no threads): the session
 * offers each published message, the writer reads the front as iovecs and
 * consumes what the socket took. One I/O thread owns each queue.
 *
 * Entries are of three kinds, by their buffer's flags:
 *   data     results: count against the bound; the policy drops them
 *   preview  FC_BUF_PREVIEW: expendable; at most one waits, a newer one
 *            replaces it; previews go first when the queue is over its bound
 *   keep     FC_BUF_KEEP (control frames, HTTP answers, status messages):
 *            never dropped; bounded on their own (limits.keep_bytes)
 *
 * Invariants:
 *   - bytes is the sum of the unwritten bytes of every entry (entry 0 counts
 *     len - head_off); keep_bytes the same over keep entries.
 *   - entries [0, busy) belong to a write in progress: never dropped.
 *   - head_off > 0 only while entry 0 is partly written; it is then never
 *     dropped either (a frame cannot be cut). */
#ifndef FC_HUB_QUEUE_H
#define FC_HUB_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/buf.h"

/* What to do with a client whose queue is over its limit. */
enum fc_slow_policy {
    FC_SLOW_DROP,   /* skip new messages until it catches up (a seq gap) */
    FC_SLOW_LATEST, /* keep only the newest queued message */
    FC_SLOW_CLOSE,  /* close with 1008 "slow consumer" */
};

/* Parses "drop", "latest" or "close"; returns the policy or -1. */
int fc_slow_policy_parse(const char *name);
const char *fc_slow_policy_name(enum fc_slow_policy p);

typedef struct fc_queue_limits {
    size_t bytes;      /* unwritten bytes (all entries) before the policy acts */
    unsigned msgs;     /* entries before the policy acts */
    size_t keep_bytes; /* unwritten bytes of keep entries; over it: close */
} fc_queue_limits;

typedef struct fc_queue {
    fc_buf **ring;
    unsigned cap, head, len; /* cap is 0 or a power of two */
    unsigned busy;           /* entries owned by a write in progress */
    size_t head_off;         /* bytes of entry 0 already written */
    size_t bytes;            /* unwritten bytes, every entry */
    size_t keep_bytes;       /* unwritten bytes of keep entries */
    uint64_t sent;           /* data messages (results, previews) written in full */
    uint64_t dropped;        /* data messages the policy skipped */
    int64_t done_t_us;       /* t_us of the last data message written in full */
    int broken;              /* an entry was lost: the ring could not grow */
} fc_queue;

enum fc_queue_verdict {
    FC_QUEUE_OK,      /* queued */
    FC_QUEUE_SKIPPED, /* not queued: dropped by the policy (counted) */
    FC_QUEUE_CLOSE,   /* close the client with 1008: the close policy, or keep
                         entries over their bound; droppable entries released */
};

void fc_queue_init(fc_queue *q);
/* Releases every entry (also busy ones: only when the socket is gone). */
void fc_queue_free(fc_queue *q);

/* 1 if offering len more bytes would exceed the bound. An empty queue takes
 * a message however large, so a message over the bound still gets through. */
int fc_queue_over(const fc_queue *q, size_t len, const fc_queue_limits *lim);

/* Offers a published message (takes a new reference if it is queued):
 * keep entries are queued unless over keep_bytes (then CLOSE); a preview
 * replaces a waiting one; over the bound, waiting previews go first, then
 * the policy decides. */
enum fc_queue_verdict fc_queue_offer(fc_queue *q, fc_buf *b, enum fc_slow_policy policy,
                                     const fc_queue_limits *lim);

/* Appends b, taking the caller's reference, whatever the bound: for what the
 * connection itself must send (a close frame, an HTTP answer). When the
 * ring cannot grow, b is released and the queue marked broken: the stream
 * of bytes has a hole, so its connection can only be closed (the writer
 * does that). */
void fc_queue_push(fc_queue *q, fc_buf *b);

/* Fills up to max iovecs from the front (entry 0 from head_off on);
 * returns how many. */
unsigned fc_queue_iov(const fc_queue *q, struct iovec *iov, unsigned max);

/* The socket took n bytes from the front: releases entries written in full
 * and returns how many of them were data messages. */
unsigned fc_queue_consume(fc_queue *q, size_t n);

static inline int fc_queue_empty(const fc_queue *q) {
    return q->len == 0;
}

#endif
