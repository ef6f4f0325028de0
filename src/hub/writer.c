/* The write path (see writer.h). */
#include "hub/writer.h"

#include <stdlib.h>
#include <string.h>

#include "hub/conn.h"
#include "hub/tls.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_IOV 64 /* buffers per writev */

void fc_writer_mark(fc_conn *c) {
    if (c->dirty || fc_conn_closing(c)) return;
    fc_loop *lp = c->lp;
    c->dirty = 1;
    if (lp->ndirty == lp->dirty_cap) {
        size_t cap = lp->dirty_cap ? lp->dirty_cap * 2 : 64;
        fc_conn **d = realloc(lp->dirty, cap * sizeof *d);
        if (!d) { /* out of memory: the next flush looks at every connection */
            lp->dirty_lost = 1;
            return;
        }
        lp->dirty = d;
        lp->dirty_cap = cap;
    }
    lp->dirty[lp->ndirty++] = c;
}

void fc_writer_send(fc_conn *c, fc_buf *b) {
    if (!b) { /* it could not be made: the connection cannot go on */
        c->q.broken = 1;
    } else {
        b->flags |= FC_BUF_KEEP;
        fc_queue_push(&c->q, b);
    }
    fc_writer_mark(c);
}

static unsigned fill_iov(fc_conn *c, uv_buf_t *iov) {
    struct iovec v[MAX_IOV];
    unsigned n = fc_queue_iov(&c->q, v, MAX_IOV);
    for (unsigned i = 0; i < n; i++) iov[i] = uv_buf_init(v[i].iov_base, (unsigned)v[i].iov_len);
    return n;
}

/* The socket took n bytes: release what was written, count data messages. */
static void consumed(fc_conn *c, size_t n) {
    if (n) c->progress_ms = (int64_t)uv_now(&c->lp->uv);
    unsigned data = fc_queue_consume(&c->q, n);
    if (!data || c->stream < 0) return;
    fc_lstream *ls = &c->lp->streams[c->stream];
    atomic_fetch_add_explicit(&ls->sent, data, memory_order_relaxed);
    /* How long messages wait in client queues: sampled, as it is per delivery. */
    if (((c->lp->sampling += data) & 15) < data && c->q.done_t_us)
        fc_hist_observe(&ls->queue_wait, fc_mono_us() - c->q.done_t_us);
}

/* The queue has drained: finish a close that waited for it. */
static void after_drain(fc_conn *c) {
    if (c->close_after_flush && c->linger)
        fc_conn_linger(c);
    else if (c->close_after_flush || (c->close_sent && c->close_rcvd))
        fc_conn_close(c);
}

/* 1 when nothing is left to send: the queue, and with TLS the ciphertext. */
static int drained(const fc_conn *c) {
    const uint8_t *p;
    return fc_queue_empty(&c->q) && !(c->tls && fc_tls_conn_pending(c->tls, &p));
}

int fc_writer_idle(const fc_conn *c) {
    return drained(c) && !c->writing;
}

static void on_write(uv_write_t *req, int status) {
    fc_conn *c = req->data;
    c->writing = 0;
    free(c->tls_wbuf); /* TLS: the ciphertext it carried */
    c->tls_wbuf = NULL;
    if (fc_conn_closing(c)) return; /* the close released the queue */
    if (status < 0) {
        fc_debug("write failed: %s", uv_strerror(status));
        fc_conn_close(c);
        return;
    }
    if (c->tls)
        c->progress_ms = (int64_t)uv_now(&c->lp->uv); /* the queue was consumed when encrypted */
    else
        consumed(c, c->wreq_bytes); /* every entry the write carried, in full */
    c->q.busy = 0;
    if (!drained(c))
        fc_writer_mark(c);
    else
        after_drain(c);
}

/* TLS: encrypts a batch of the queue's front (the queue and its policy
 * count plaintext, released here), writes the ciphertext, and goes on
 * while the socket takes everything; what it does not take goes to one
 * uv_write, and nothing more is encrypted until that completes. */
static void flush_tls(fc_conn *c) {
    for (;;) {
        size_t budget = FC_TLS_BATCH;
        while (fc_tls_conn_ready(c->tls) && !fc_queue_empty(&c->q) && budget) {
            struct iovec v;
            fc_queue_iov(&c->q, &v, 1);
            size_t n = v.iov_len < budget ? v.iov_len : budget;
            if (fc_tls_conn_encrypt(c->tls, v.iov_base, n) < 0) {
                fc_debug("TLS: cannot encrypt for a client; closing it");
                fc_conn_close(c);
                return;
            }
            consumed(c, n);
            budget -= n;
        }
        const uint8_t *p;
        size_t len = fc_tls_conn_pending(c->tls, &p);
        if (!len) break;
        atomic_fetch_add_explicit(&c->lp->flushes, 1, memory_order_relaxed);
        uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
        int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (r == UV_EAGAIN) r = 0;
        if (r < 0) {
            fc_debug("write failed: %s", uv_strerror(r));
            fc_conn_close(c);
            return;
        }
        fc_tls_conn_consume(c->tls, (size_t)r);
        if ((size_t)r < len) { /* the socket is full: the rest when it is writable */
            size_t left;
            fc_tls_conn_take(c->tls, &c->tls_wbuf, &left);
            b = uv_buf_init((char *)c->tls_wbuf, (unsigned)left);
            c->wreq.data = c;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
                fc_conn_close(c);
                return;
            }
            c->writing = 1;
            return;
        }
        if (fc_queue_empty(&c->q) || !fc_tls_conn_ready(c->tls)) break;
    }
    if (drained(c)) after_drain(c);
}

void fc_writer_flush(fc_conn *c) {
    if (fc_conn_closing(c) || c->writing) return;
    if (c->q.broken) { /* a message could not be queued: its bytes would lie */
        fc_warn("out of memory: closing a client whose queue could not grow");
        fc_conn_close(c);
        return;
    }
    if (c->tls) {
        flush_tls(c);
        return;
    }
    if (fc_queue_empty(&c->q)) return;
    uv_buf_t iov[MAX_IOV];
    unsigned n = fill_iov(c, iov);
    atomic_fetch_add_explicit(&c->lp->flushes, 1, memory_order_relaxed);
    int r = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
    if (r == UV_EAGAIN) r = 0;
    if (r < 0) {
        fc_debug("write failed: %s", uv_strerror(r));
        fc_conn_close(c);
        return;
    }
    consumed(c, (size_t)r);
    if (fc_queue_empty(&c->q)) {
        after_drain(c);
        return;
    }
    /* The socket is full. uv_write finishes the front entry when it becomes
     * writable (a frame cannot be cut); only that entry is handed over, so
     * the rest stays the policy's to drop until the next flush. */
    fill_iov(c, iov);
    c->wreq.data = c;
    r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, iov, 1, on_write);
    if (r < 0) {
        fc_conn_close(c);
        return;
    }
    c->writing = 1;
    c->wreq_bytes = iov[0].len;
    c->q.busy = 1;
}

void fc_writer_flush_dirty(fc_loop *lp) {
    /* Flushing may mark connections dirty again (a failed write closing a
     * socket does not); those wait for the next iteration. */
    size_t n = lp->ndirty;
    for (size_t i = 0; i < n; i++) {
        fc_conn *c = lp->dirty[i];
        c->dirty = 0;
        fc_writer_flush(c);
    }
    if (lp->ndirty > n) memmove(lp->dirty, lp->dirty + n, (lp->ndirty - n) * sizeof *lp->dirty);
    lp->ndirty -= n;
    if (lp->dirty_lost) { /* some could not be listed: find them */
        lp->dirty_lost = 0;
        for (fc_conn *c = lp->conns, *next; c; c = next) {
            next = c->next; /* a failed write unlinks c */
            if (!c->dirty) continue;
            c->dirty = 0;
            fc_writer_flush(c);
        }
    }
}
