/* An I/O loop (see loop.h). */
#include "hub/loop.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub/conn.h"
#include "hub/request.h"
#include "hub/session.h"
#include "hub/tls.h"
#include "hub/writer.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fault.h"
#include "util/log.h"

/* The inbox's first size (both of its arrays are allocated at start-up),
 * and the slots only control items may take: messages and connections
 * leave them free, so a stop request always fits even when memory has run
 * out. At most a few control items are ever waiting. */
#define INBOX_FIRST           64
#define INBOX_CONTROL_RESERVE 8

/* Room for one more item of this kind: 0, or -1 (out of memory). Under the
 * inbox lock. */
static int room_for(fc_inbox *ib, enum fc_item_kind kind) {
    int data = kind == FC_IT_MSG || kind == FC_IT_STICKY || kind == FC_IT_CONN;
    size_t need = ib->n + 1 + (data ? INBOX_CONTROL_RESERVE : 0);
    if (need <= ib->cap) return 0;
    size_t cap = ib->cap * 2;
    while (cap < need) cap *= 2;
    fc_item *items = realloc(ib->items, cap * sizeof *items);
    if (!items) return -1;
    ib->items = items;
    ib->cap = cap;
    return 0;
}

/* Appends under the inbox lock, after room_for; the caller wakes the loop. */
static void append(fc_inbox *ib, fc_item it) {
    if (it.kind == FC_IT_MSG || it.kind == FC_IT_STICKY) ib->waiting[it.stream]++;
    ib->items[ib->n++] = it;
}

/* What an item that found no room leaves behind. */
static void refused(fc_item it) {
    if (it.kind == FC_IT_MSG || it.kind == FC_IT_STICKY) {
        fc_warn("out of memory: a message is lost for the clients of one I/O loop");
        fc_buf_unref(it.buf);
    } else if (it.kind == FC_IT_CONN) {
        fc_warn("out of memory: a connection is closed before it is served");
        close(it.fd);
    }
}

static int stopping(const fc_loop *lp) {
    return atomic_load(&lp->hub->stopping);
}

void fc_loop_push(fc_loop *lp, fc_item it) {
    fc_inbox *ib = &lp->inbox;
    int msg = it.kind == FC_IT_MSG || it.kind == FC_IT_STICKY;
    pthread_mutex_lock(&ib->mu);
    if (msg && stopping(lp)) { /* the loop is gone or going */
        pthread_mutex_unlock(&ib->mu);
        fc_buf_unref(it.buf);
        return;
    }
    if (room_for(ib, it.kind)) {
        pthread_mutex_unlock(&ib->mu);
        refused(it);
        return;
    }
    append(ib, it);
    pthread_mutex_unlock(&ib->mu);
    uv_async_send(&lp->wake);
}

void fc_loop_wait_room(fc_loop *lp, int stream) {
    fc_inbox *ib = &lp->inbox;
    pthread_mutex_lock(&ib->mu);
    while (ib->waiting[stream] >= FC_LOOP_INBOX_MSGS && !stopping(lp))
        pthread_cond_wait(&ib->space, &ib->mu);
    pthread_mutex_unlock(&ib->mu);
}

int fc_loop_try_push_all(fc_loop *loops, int n, fc_item it) {
    for (int i = 0; i < n; i++) pthread_mutex_lock(&loops[i].inbox.mu); /* always in this order */
    /* A stream being removed takes nothing more: checked under every inbox
     * lock, so the removal's items come after anything pushed here. */
    const fc_hub_stream *hs = &loops[0].hub->streams[it.stream];
    int room = !stopping(&loops[0]) && atomic_load(&hs->state) == FC_STREAM_LIVE;
    for (int i = 0; i < n && room; i++)
        room = loops[i].inbox.waiting[it.stream] < FC_LOOP_INBOX_MSGS &&
               room_for(&loops[i].inbox, it.kind) == 0; /* out of memory: "full" too */
    if (room) {
        fc_buf_ref_n(it.buf, n);
        for (int i = 0; i < n; i++) append(&loops[i].inbox, it);
    }
    for (int i = n - 1; i >= 0; i--) pthread_mutex_unlock(&loops[i].inbox.mu);
    for (int i = 0; room && i < n; i++) uv_async_send(&loops[i].wake);
    return room ? 0 : FC_EFULL;
}

/* --- Reads ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    fc_conn *c = (fc_conn *)h;
    (void)suggested;
    if (c->state == FC_CONN_HTTP && !c->tls) { /* straight into the request head */
        size_t limit = c->lp->lim.head_limit;
        if (c->head_len == c->head_cap && c->head_cap < limit) {
            size_t cap = c->head_cap * 2 < limit ? c->head_cap * 2 : limit;
            char *h = realloc(c->head, cap);
            if (h) c->head = h, c->head_cap = cap;
        }
        /* Full at the limit: fc_request_input has answered 431 and stopped
         * reading; an empty buffer ends the read with UV_ENOBUFS. */
        *buf = uv_buf_init(c->head + c->head_len, (unsigned)(c->head_cap - c->head_len));
    } else {
        *buf = uv_buf_init((char *)c->lp->rbuf, FC_HUB_READ_BUF);
    }
}

/* Plaintext of a connection: request head bytes, or WebSocket frames.
 * Returns non-zero once the rest does not matter (the connection is
 * closing, or has answered and stopped reading). */
static int on_plain(void *ud, uint8_t *data, size_t len) {
    fc_conn *c = ud;
    if (c->state == FC_CONN_HTTP && !c->close_after_flush) {
        size_t limit = c->lp->lim.head_limit, old = c->head_len;
        size_t room = old < limit ? limit - old : 0; /* the limit may have shrunk (SIGHUP) */
        size_t n = len < room ? len : room;          /* over the limit: 431 */
        if (old + n > c->head_cap) {
            size_t cap = c->head_cap;
            while (cap < old + n) cap *= 2;
            char *h = realloc(c->head, cap < limit ? cap : limit);
            if (!h) return 1;
            c->head = h;
            c->head_cap = cap < limit ? cap : limit;
        }
        memcpy(c->head + old, data, n);
        c->head_len += n;
        fc_request_input(c, old);
    } else if (c->state == FC_CONN_BODY) {
        fc_request_body(c, data, len);
    } else if (c->state == FC_CONN_WS) {
        fc_session_input(c, data, len);
    }
    return fc_conn_closing(c) || c->close_after_flush;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    fc_conn *c = (fc_conn *)s;
    if (nread == 0) return;
    if (nread < 0) {
        /* EOF or error: after the peer's close frame this is the normal end. */
        fc_conn_close(c);
        return;
    }
    if (c->linger) return; /* answered: the rest of what it sends is discarded */
    if (c->tls) {
        const char *why = "";
        if (fc_tls_conn_input(c->tls, (uint8_t *)buf->base, (size_t)nread, c->lp->plain,
                              FC_HUB_PLAIN_BUF, on_plain, c, &why) < 0) {
            /* A failed handshake or plain HTTP on the TLS port: one line at
             * debug level, the connection closed, nothing else. */
            fc_debug("TLS: closing a connection: %s", why);
            fc_conn_close(c);
            return;
        }
        const uint8_t *p;
        if (!fc_conn_closing(c) && fc_tls_conn_pending(c->tls, &p)) fc_writer_mark(c);
        return;
    }
    if (c->state == FC_CONN_HTTP) {
        size_t old = c->head_len;
        c->head_len += (size_t)nread;
        fc_request_input(c, old);
    } else if (c->state == FC_CONN_BODY) {
        fc_request_body(c, (uint8_t *)buf->base, (size_t)nread);
    } else if (c->state == FC_CONN_WS) {
        fc_session_input(c, (uint8_t *)buf->base, (size_t)nread);
    }
}

void fc_loop_hand_over(fc_loop *from, fc_loop *to, int fd) {
    if (from == to)
        fc_conn_adopt(to, fd, on_alloc, on_read);
    else
        fc_loop_push(to, (fc_item){.kind = FC_IT_CONN, .fd = fd});
}

/* --- Stop: a drain, then the end ------------------------------------------- */

static void on_tick(uv_timer_t *t);

static void close_handle(uv_handle_t *h, void *arg) {
    if (h != arg && !uv_is_closing(h)) uv_close(h, NULL);
}

/* Closes the handles on the loop that are not its own or its connections'
 * (loop 0: the listener's), so nothing new arrives. */
static void close_foreign(uv_handle_t *h, void *arg) {
    fc_loop *lp = arg;
    if (h->type == UV_TCP || h == (uv_handle_t *)&lp->wake || h == (uv_handle_t *)&lp->flush ||
        h == (uv_handle_t *)&lp->tick || h == (uv_handle_t *)&lp->turn)
        return;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Shutdown, first part: accept nothing new; each WebSocket client gets what
 * is already queued for it, then a close frame 1001, and has until the
 * close timeout to answer it. */
static void drain_start(fc_loop *lp) {
    lp->stopping = 1;
    lp->drain_deadline_ms = (int64_t)uv_now(&lp->uv) + lp->lim.drain_timeout_ms;
    uv_walk(&lp->uv, close_foreign, lp);
    for (fc_conn *c = lp->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == FC_CONN_WS)
            fc_session_going_away(c);
        else if (!c->close_after_flush) /* a request head still coming */
            fc_conn_close(c);
    }
    uv_timer_start(&lp->tick, on_tick, 10, 10); /* notice the end soon */
}

/* Shutdown, last part: once every client has gone, or at the deadline. */
static void drain_end(fc_loop *lp) {
    for (fc_conn *c = lp->conns, *next; c; c = next) {
        next = c->next;
        fc_conn_close(c);
    }
    uv_walk(&lp->uv, close_handle, NULL); /* the rest: our own handles */
}

/* --- Tick: deadlines and keepalive ----------------------------------------- */

static void on_tick(uv_timer_t *t) {
    fc_loop *lp = t->data;
    int64_t now = (int64_t)uv_now(&lp->uv);
    atomic_store_explicit(&lp->ticked_us, fc_mono_us(), memory_order_relaxed);
    if (lp->stopping && (!lp->conns || now >= lp->drain_deadline_ms)) {
        drain_end(lp);
        return;
    }
    uint64_t queued[FC_HUB_MAX_STREAMS] = {0}, largest[FC_HUB_MAX_STREAMS] = {0};
    for (fc_conn *c = lp->conns, *next; c; c = next) {
        next = c->next;
        if (c->deadline_ms && now >= c->deadline_ms) {
            /* The request took too long (answered once), or the closing
             * handshake, or the linger after an answer. */
            if ((c->state == FC_CONN_HTTP || c->state == FC_CONN_BODY) && !c->close_after_flush)
                fc_request_timeout(c);
            else
                fc_conn_close(c);
            continue;
        }
        fc_session_tick(c, now);
        if (c->stream >= 0 && !fc_conn_closing(c)) {
            queued[c->stream] += c->q.bytes;
            if (c->q.bytes > largest[c->stream]) largest[c->stream] = c->q.bytes;
        }
    }
    int nstreams = atomic_load_explicit(&lp->hub->nstreams, memory_order_acquire);
    for (int s = 0; s < nstreams; s++) { /* the gauges the stats read */
        fc_lstream *ls = &lp->streams[s];
        if (!fc_hub_stream_used(&lp->hub->streams[s])) continue;
        fc_history_expire(&ls->history, now, &lp->hub->streams[s].history);
        atomic_store_explicit(&ls->history_len, ls->history.len, memory_order_relaxed);
        atomic_store_explicit(&ls->history_bytes, ls->history.bytes, memory_order_relaxed);
        atomic_store_explicit(&ls->queued_bytes, queued[s], memory_order_relaxed);
        atomic_store_explicit(&ls->queued_max, largest[s], memory_order_relaxed);
    }
}

/* --- Once per iteration: resumes fed, then every dirty socket flushed -------- */

static void on_turn(uv_idle_t *h) {
    (void)h; /* its being active is the point: uv_run does not block */
}

/* Feeds each resuming client from the history and writes it, a few rounds
 * while its socket takes everything; a client whose socket is full waits
 * for its write to complete. While one could take more at once, the idle
 * handle keeps the loop from blocking, so the next iteration goes on. */
static void feed_resuming(fc_loop *lp) {
    int more = 0;
    for (fc_conn *c = lp->conns, *next; c && lp->resuming; c = next) {
        next = c->next;
        for (int round = 0; round < 8 && c->cursor && !c->writing; round++) {
            fc_session_feed(c);
            fc_writer_flush(c);
        }
        more |= c->cursor && !c->parked && !c->writing && !fc_conn_closing(c);
    }
    if (more)
        uv_idle_start(&lp->turn, on_turn);
    else
        uv_idle_stop(&lp->turn);
}

static void on_check(uv_check_t *h) {
    fc_loop *lp = h->data;
    if (lp->resuming) feed_resuming(lp);
    fc_writer_flush_dirty(lp);
}

/* Deadlines are checked at a tenth of the shortest timeout, 10 ms to 1 s. */
static uint64_t tick_period(const fc_loop_limits *lim) {
    int shortest = lim->handshake_timeout_ms;
    if (lim->ping_interval_ms < shortest) shortest = lim->ping_interval_ms;
    if (lim->ping_timeout_ms < shortest) shortest = lim->ping_timeout_ms;
    if (lim->close_timeout_ms < shortest) shortest = lim->close_timeout_ms;
    if (lim->write_timeout_ms < shortest) shortest = lim->write_timeout_ms;
    uint64_t period = (uint64_t)(shortest / 10);
    return period < 10 ? 10 : period > 1000 ? 1000 : period;
}

void fc_loop_remove_stream(fc_loop *lp, int stream) {
    fc_lstream *ls = &lp->streams[stream];
    const fc_hub_stream *hs = &lp->hub->streams[stream];
    while (ls->subs) /* each leaves the list */
        fc_session_stream_gone(ls->subs, hs->close_code, hs->close_reason);
    fc_history_free(&ls->history);
    fc_history_init(&ls->history);
    if (ls->sticky) fc_buf_unref(ls->sticky);
    ls->sticky = NULL;
    ls->last_seq = 0;
    ls->ready = 0;
    /* The slot may serve another stream next: its counters start again. */
    atomic_uint_fast64_t *counters[] = {
        &ls->clients, &ls->previewers,  &ls->deflaters,     &ls->sent,         &ls->dropped,
        &ls->resumes, &ls->history_len, &ls->history_bytes, &ls->queued_bytes, &ls->queued_max};
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        atomic_store_explicit(counters[i], 0, memory_order_relaxed);
    for (int r = 0; r < FC_HUB_CLOSE_REASONS; r++)
        atomic_store_explicit(&ls->closed[r], 0, memory_order_relaxed);
    for (int r = 0; r < FC_HUB_RESETS; r++)
        atomic_store_explicit(&ls->resets[r], 0, memory_order_relaxed);
    fc_hist_reset(&ls->queue_wait);
}

static void on_wake(uv_async_t *a) {
    fc_loop *lp = a->data;
    const fc_hub *hub = lp->hub;
    pthread_mutex_lock(&lp->inbox.mu);
    fc_item *items = lp->inbox.items;
    size_t n = lp->inbox.n, cap = lp->inbox.cap;
    lp->inbox.items = lp->scratch;
    lp->inbox.cap = lp->scratch_cap;
    lp->inbox.n = 0;
    memset(lp->inbox.waiting, 0, sizeof lp->inbox.waiting);
    pthread_cond_broadcast(&lp->inbox.space);
    pthread_mutex_unlock(&lp->inbox.mu);
    lp->scratch = items;
    lp->scratch_cap = cap;

    for (size_t i = 0; i < n; i++) {
        fc_item *it = &items[i];
        switch (it->kind) {
        case FC_IT_STICKY:
        case FC_IT_MSG: {
            fc_lstream *ls = &lp->streams[it->stream];
            const fc_hub_stream *hs = &hub->streams[it->stream];
            if (!fc_hub_stream_used(hs)) { /* cannot happen: publishers stop first */
                fc_buf_unref(it->buf);
                break;
            }
            if (it->kind == FC_IT_STICKY) { /* kept for later subscribers, and sent now */
                if (ls->sticky) fc_buf_unref(ls->sticky);
                ls->sticky = fc_buf_ref(it->buf);
            }
            if (it->buf->seq) ls->last_seq = it->buf->seq;
            if (!lp->stopping && !(it->buf->flags & FC_BUF_HISTORY)) {
                for (fc_conn *c = ls->subs, *next; c; c = next) {
                    next = c->sub_next; /* the close policy unlinks c */
                    fc_session_deliver(c, it->buf, hs->policy);
                }
            }
            if (it->buf->seq) /* a result: the history keeps the loop's reference */
                fc_history_push(&ls->history, it->buf, (int64_t)uv_now(&lp->uv), &hs->history);
            else
                fc_buf_unref(it->buf);
            break;
        }
        case FC_IT_CONN:
            if (lp->stopping)
                close(it->fd);
            else
                fc_conn_adopt(lp, it->fd, on_alloc, on_read);
            break;
        case FC_IT_STOP:
            if (!lp->stopping) drain_start(lp);
            break;
        case FC_IT_REMOVE:
            fc_loop_remove_stream(lp, it->stream);
            fc_hub_ack(lp->hub);
            break;
        case FC_IT_LIMITS:
            lp->lim = lp->hub->limits; /* the hub's thread waits for the ack: no writer now */
            if (!lp->stopping) {
                uint64_t period = tick_period(&lp->lim);
                uv_timer_start(&lp->tick, on_tick, period, period);
            }
            fc_hub_ack(lp->hub);
            break;
        case FC_IT_SYNC:
            fc_hub_ack(lp->hub);
            break;
        case FC_IT_READY: {
            fc_lstream *ls = &lp->streams[it->stream];
            ls->ready = it->fd;
            if (!ls->ready || !fc_hub_stream_used(&hub->streams[it->stream])) break;
            for (fc_conn *c = ls->subs, *next; c; c = next) {
                next = c->sub_next;
                if (c->parked) fc_session_unpark(c);
            }
            break;
        }
        }
    }
}

/* --- Life ------------------------------------------------------------------- */

static void loop_thread(void *arg) {
    fc_loop *lp = arg;
    uv_run(&lp->uv, UV_RUN_DEFAULT);
}

int fc_loop_init(fc_loop *lp, fc_hub *hub, int index) {
    lp->hub = hub;
    lp->index = index;
    lp->lim = hub->limits;
    atomic_store(&lp->ticked_us, fc_mono_us());
    pthread_mutex_init(&lp->inbox.mu, NULL);
    pthread_cond_init(&lp->inbox.space, NULL);
    lp->rbuf = malloc(FC_HUB_READ_BUF);
    lp->inbox.items = malloc(INBOX_FIRST * sizeof *lp->inbox.items);
    lp->scratch = malloc(INBOX_FIRST * sizeof *lp->scratch);
    if (!lp->rbuf || !lp->inbox.items || !lp->scratch) return UV_ENOMEM;
    lp->inbox.cap = lp->scratch_cap = INBOX_FIRST;
    if (hub->tls && !(lp->plain = malloc(FC_HUB_PLAIN_BUF))) return UV_ENOMEM;
    int rc = fc_fault("loop_init") ? UV_ENOMEM : uv_loop_init(&lp->uv);
    if (rc) return rc;
    lp->initialized = 1;
    uv_async_init(&lp->uv, &lp->wake, on_wake);
    lp->wake.data = lp;
    uv_check_init(&lp->uv, &lp->flush);
    lp->flush.data = lp;
    uv_check_start(&lp->flush, on_check);
    uv_idle_init(&lp->uv, &lp->turn);
    uv_timer_init(&lp->uv, &lp->tick);
    lp->tick.data = lp;
    uint64_t period = tick_period(&lp->lim);
    uv_timer_start(&lp->tick, on_tick, period, period);
    return 0;
}

int fc_loop_start(fc_loop *lp) {
    int rc = fc_fault("loop_thread") ? UV_EAGAIN : uv_thread_create(&lp->thread, loop_thread, lp);
    if (rc == 0) lp->thread_started = 1;
    return rc;
}

void fc_loop_join(fc_loop *lp) {
    if (lp->thread_started) uv_thread_join(&lp->thread);
    lp->thread_started = 0;
}

void fc_loop_destroy(fc_loop *lp) {
    if (!lp->hub) return;                      /* never initialized */
    for (size_t k = 0; k < lp->inbox.n; k++) { /* pushed after the stop */
        fc_item *it = &lp->inbox.items[k];
        if (it->kind == FC_IT_MSG || it->kind == FC_IT_STICKY) fc_buf_unref(it->buf);
        if (it->kind == FC_IT_CONN) close(it->fd);
    }
    if (lp->initialized) {
        if (!lp->stopping) drain_start(lp); /* its thread never ran */
        drain_end(lp);
        uv_run(&lp->uv, UV_RUN_NOWAIT); /* close callbacks */
        uv_loop_close(&lp->uv);
    }
    pthread_mutex_destroy(&lp->inbox.mu);
    pthread_cond_destroy(&lp->inbox.space);
    free(lp->inbox.items);
    free(lp->inflate_buf);
    free(lp->dirty);
    free(lp->rbuf);
    free(lp->plain);
    free(lp->scratch);
    for (int s = 0; s < FC_HUB_MAX_STREAMS; s++) {
        if (lp->streams[s].sticky) fc_buf_unref(lp->streams[s].sticky);
        fc_history_free(&lp->streams[s].history);
    }
}
