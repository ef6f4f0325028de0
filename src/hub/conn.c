/* A connection's record (see conn.h). */
#include "hub/conn.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub/tls.h"
#include "util/log.h"

static void on_closed(uv_handle_t *h);

fc_conn *fc_conn_adopt(fc_loop *lp, int fd, uv_alloc_cb on_alloc, uv_read_cb on_read) {
    fc_conn *c = calloc(1, sizeof *c);
    if (c) {
        c->lp = lp;
        c->stream = -1;
        c->state = FC_CONN_HTTP;
        fc_queue_init(&c->q);
        /* Most request heads are a few hundred bytes: start small, grow to
         * the limit only for those that need it. */
        c->head_cap = lp->lim.head_limit < 1024 ? lp->lim.head_limit : 1024;
        c->head = malloc(c->head_cap);
        if (lp->hub->tls) c->tls = fc_tls_conn_new(lp->hub->tls);
    }
    if (!c || !c->head || (lp->hub->tls && !c->tls) || uv_tcp_init(&lp->uv, &c->tcp)) {
        fc_warn("cannot adopt a connection: out of memory");
        if (c) {
            fc_tls_conn_free(c->tls);
            fc_inflater_free(c->inflater);
            free(c->head);
        }
        free(c);
        close(fd);
        return NULL;
    }
    if (uv_tcp_open(&c->tcp, fd)) {
        fc_warn("cannot adopt a connection");
        close(fd);
        c->state = FC_CONN_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, on_closed); /* the handle is the loop's now */
        return NULL;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    /* The remote address, once: the per-address limits and the log use it. */
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0)
        c->peer = fc_peer_addr_from((struct sockaddr *)&ss, c->peer_text, sizeof c->peer_text);
    if (lp->hub->peers) /* over the rate: answered 429 when its request comes (request.c) */
        c->rate_wait_s = fc_peers_connect(lp->hub->peers, &c->peer, (int64_t)uv_now(&lp->uv));
    c->deadline_ms = (int64_t)uv_now(&lp->uv) + lp->lim.handshake_timeout_ms;
    c->next = lp->conns;
    if (lp->conns) lp->conns->prev = c;
    lp->conns = c;
    atomic_fetch_add_explicit(&lp->accepted, 1, memory_order_relaxed);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    return c;
}

void fc_conn_subscribe(fc_conn *c, int stream) {
    fc_lstream *ls = &c->lp->streams[stream];
    c->stream = stream;
    c->sub_next = ls->subs;
    if (ls->subs) ls->subs->sub_prev = c;
    ls->subs = c;
    atomic_fetch_add_explicit(&ls->clients, 1, memory_order_relaxed);
    if (c->want_preview) atomic_fetch_add_explicit(&ls->previewers, 1, memory_order_relaxed);
    if (c->deflate.on) atomic_fetch_add_explicit(&ls->deflaters, 1, memory_order_relaxed);
}

void fc_conn_unsubscribe(fc_conn *c) {
    if (c->stream < 0 || c->state != FC_CONN_WS) return;
    fc_lstream *ls = &c->lp->streams[c->stream];
    if (c->sub_prev)
        c->sub_prev->sub_next = c->sub_next;
    else
        ls->subs = c->sub_next;
    if (c->sub_next) c->sub_next->sub_prev = c->sub_prev;
    c->sub_prev = c->sub_next = NULL;
    atomic_fetch_sub_explicit(&ls->clients, 1, memory_order_relaxed);
    if (c->want_preview) atomic_fetch_sub_explicit(&ls->previewers, 1, memory_order_relaxed);
    if (c->deflate.on) atomic_fetch_sub_explicit(&ls->deflaters, 1, memory_order_relaxed);
    c->stream = -1;
}

static void on_closed(uv_handle_t *h) {
    fc_conn *c = (fc_conn *)h;
    fc_loop *lp = c->lp;
    if (c->dirty) { /* rare: closed after being marked dirty */
        for (size_t i = 0; i < lp->ndirty; i++)
            if (lp->dirty[i] == c) {
                lp->dirty[i] = lp->dirty[--lp->ndirty];
                break;
            }
    }
    fc_queue_free(&c->q);
    fc_tls_conn_free(c->tls);
    fc_inflater_free(c->inflater);
    free(c->tls_wbuf);
    free(c->head);
    free(c->body);
    free(c);
}

void fc_conn_close(fc_conn *c) {
    if (c->state == FC_CONN_CLOSING) return;
    if (c->state == FC_CONN_WS && c->stream >= 0) /* how this client fared */
        fc_log(c->q.dropped ? FC_LOG_INFO : FC_LOG_DEBUG,
               "client of stream '%s' gone: %llu messages sent, %llu dropped",
               c->lp->hub->streams[c->stream].name, (unsigned long long)c->q.sent,
               (unsigned long long)c->q.dropped);
    fc_conn_unsubscribe(c);
    if (c->cursor) c->lp->resuming--;
    if (c->counted) atomic_fetch_sub_explicit(&c->lp->hub->clients, 1, memory_order_relaxed);
    if (c->peer_counted) fc_peers_leave(c->lp->hub->peers, &c->peer, (int64_t)uv_now(&c->lp->uv));
    if (c->prev)
        c->prev->next = c->next;
    else
        c->lp->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->state = FC_CONN_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    (void)status; /* the reads end it, or the deadline */
    free(req);
}

void fc_conn_linger(fc_conn *c) {
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        fc_conn_close(c);
        return;
    }
    c->deadline_ms = (int64_t)uv_now(&c->lp->uv) + 1000;
}
