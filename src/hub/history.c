/* A stream's recent results (see history.h). */
#include "hub/history.h"

#include <stdlib.h>
#include <string.h>

static fc_history_entry *at(const fc_history *h, unsigned i) {
    return &h->ring[(h->head + i) & (h->cap - 1)];
}

void fc_history_init(fc_history *h) {
    memset(h, 0, sizeof *h);
}

static void pop_oldest(fc_history *h) {
    fc_history_entry *e = at(h, 0);
    h->bytes -= e->buf->len;
    fc_buf_unref(e->buf);
    h->head = (h->head + 1) & (h->cap - 1);
    h->len--;
}

void fc_history_free(fc_history *h) {
    while (h->len) pop_oldest(h);
    free(h->ring);
    fc_history_init(h);
}

uint64_t fc_history_oldest(const fc_history *h) {
    return h->len ? at(h, 0)->buf->seq : 0;
}

uint64_t fc_history_newest(const fc_history *h) {
    return h->len ? at(h, h->len - 1)->buf->seq : 0;
}

void fc_history_expire(fc_history *h, int64_t now_ms, const fc_history_limits *lim) {
    while (h->len && now_ms - at(h, 0)->t_ms > lim->age_ms) pop_oldest(h);
}

void fc_history_push(fc_history *h, fc_buf *b, int64_t now_ms, const fc_history_limits *lim) {
    if (lim->count == 0) {
        fc_buf_unref(b);
        return;
    }
    if (h->len && b->seq != fc_history_newest(h) + 1)
        while (h->len) pop_oldest(h); /* not the next seq: a new numbering */
    if (h->len == h->cap) {
        unsigned ncap = h->cap ? h->cap * 2 : 16;
        fc_history_entry *nr = malloc(ncap * sizeof *nr);
        if (!nr && !h->len) { /* no ring at all: this one is not kept */
            fc_buf_unref(b);
            return;
        }
        if (!nr) { /* no room to grow: the history stays this long */
            pop_oldest(h);
        } else {
            for (unsigned i = 0; i < h->len; i++) nr[i] = *at(h, i);
            free(h->ring);
            h->ring = nr;
            h->cap = ncap;
            h->head = 0;
        }
    }
    *at(h, h->len++) = (fc_history_entry){b, now_ms};
    h->bytes += b->len;
    while (h->len > lim->count || h->bytes > lim->bytes) pop_oldest(h);
    fc_history_expire(h, now_ms, lim);
}

fc_buf *fc_history_get(const fc_history *h, uint64_t seq) {
    uint64_t oldest = fc_history_oldest(h);
    if (!h->len || seq < oldest || seq - oldest >= h->len) return NULL;
    return at(h, (unsigned)(seq - oldest))->buf;
}
