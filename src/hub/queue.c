/* A client's outgoing queue and its slow-client policies (see queue.h). */
#include "hub/queue.h"

#include <stdlib.h>
#include <string.h>

int fc_slow_policy_parse(const char *name) {
    if (strcmp(name, "drop") == 0) return FC_SLOW_DROP;
    if (strcmp(name, "latest") == 0) return FC_SLOW_LATEST;
    if (strcmp(name, "close") == 0) return FC_SLOW_CLOSE;
    return -1;
}

const char *fc_slow_policy_name(enum fc_slow_policy p) {
    return p == FC_SLOW_DROP ? "drop" : p == FC_SLOW_LATEST ? "latest" : "close";
}

static fc_buf **at(const fc_queue *q, unsigned i) {
    return &q->ring[(q->head + i) & (q->cap - 1)];
}

static int is_keep(const fc_buf *b) {
    return (b->flags & FC_BUF_KEEP) != 0;
}

void fc_queue_init(fc_queue *q) {
    memset(q, 0, sizeof *q);
}

void fc_queue_free(fc_queue *q) {
    for (unsigned i = 0; i < q->len; i++) fc_buf_unref(*at(q, i));
    free(q->ring);
    fc_queue_init(q);
}

void fc_queue_push(fc_queue *q, fc_buf *b) {
    if (q->broken) {
        fc_buf_unref(b);
        return;
    }
    if (q->len == q->cap) {
        unsigned ncap = q->cap ? q->cap * 2 : 16;
        fc_buf **nr = malloc(ncap * sizeof *nr);
        if (!nr) {
            fc_buf_unref(b);
            q->broken = 1;
            return;
        }
        for (unsigned i = 0; i < q->len; i++) nr[i] = *at(q, i);
        free(q->ring);
        q->ring = nr;
        q->cap = ncap;
        q->head = 0;
    }
    *at(q, q->len++) = b;
    q->bytes += b->len;
    if (is_keep(b)) q->keep_bytes += b->len;
}

int fc_queue_over(const fc_queue *q, size_t len, const fc_queue_limits *lim) {
    return q->len > 0 && (q->bytes + len > lim->bytes || q->len + 1 > lim->msgs);
}

/* Releases the entries no write owns that are droppable: previews only, or
 * every non-keep entry. Keeps the order of the rest; returns how many went. */
static unsigned drop_waiting(fc_queue *q, int previews_only) {
    unsigned kept = q->busy, dropped = 0;
    for (unsigned i = q->busy; i < q->len; i++) {
        fc_buf *b = *at(q, i);
        int drop = !is_keep(b) && (!previews_only || (b->flags & FC_BUF_PREVIEW)) &&
                   !(i == 0 && q->head_off);
        if (drop) {
            q->bytes -= b->len;
            fc_buf_unref(b);
            dropped++;
        } else {
            *at(q, kept++) = b;
        }
    }
    q->len = kept;
    q->dropped += dropped;
    return dropped;
}

enum fc_queue_verdict fc_queue_offer(fc_queue *q, fc_buf *b, enum fc_slow_policy policy,
                                     const fc_queue_limits *lim) {
    if (is_keep(b)) { /* few and small; an empty keep share takes one however large */
        if (q->keep_bytes > 0 && q->keep_bytes + b->len > lim->keep_bytes) return FC_QUEUE_CLOSE;
        fc_queue_push(q, fc_buf_ref(b));
        return FC_QUEUE_OK;
    }
    int preview = (b->flags & FC_BUF_PREVIEW) != 0;
    if (preview) drop_waiting(q, 1); /* a newer preview replaces one still waiting */
    int over = fc_queue_over(q, b->len, lim);
    if (over && !preview) { /* previews go first: a slow viewer never backs up results */
        drop_waiting(q, 1);
        over = fc_queue_over(q, b->len, lim);
    }
    if (over) {
        if (preview || policy == FC_SLOW_DROP) {
            q->dropped++;
            return FC_QUEUE_SKIPPED;
        }
        drop_waiting(q, 0);
        if (policy == FC_SLOW_CLOSE) {
            q->dropped++;
            return FC_QUEUE_CLOSE;
        }
    }
    fc_queue_push(q, fc_buf_ref(b));
    return FC_QUEUE_OK;
}

unsigned fc_queue_iov(const fc_queue *q, struct iovec *iov, unsigned max) {
    unsigned n = q->len < max ? q->len : max;
    for (unsigned i = 0; i < n; i++) {
        fc_buf *b = *at(q, i);
        size_t off = i == 0 ? q->head_off : 0;
        iov[i] = (struct iovec){b->data + off, b->len - off};
    }
    return n;
}

unsigned fc_queue_consume(fc_queue *q, size_t n) {
    unsigned data = 0;
    while (n > 0 && q->len > 0) {
        fc_buf *b = *at(q, 0);
        size_t left = b->len - q->head_off;
        if (n < left) { /* partly written: it stays at the front */
            q->head_off += n;
            q->bytes -= n;
            if (is_keep(b)) q->keep_bytes -= n;
            break;
        }
        n -= left;
        q->bytes -= left;
        if (is_keep(b)) {
            q->keep_bytes -= left;
        } else {
            data++;
            q->done_t_us = b->t_us;
        }
        q->head_off = 0;
        q->head = (q->head + 1) & (q->cap - 1);
        q->len--;
        if (q->busy) q->busy--;
        fc_buf_unref(b);
    }
    q->sent += data;
    return data;
}
