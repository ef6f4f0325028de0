/* The broadcast hub (see hub.h for the data flow and threading contract).
 *
 * Layout of this file: configuration and the listener; the inbox (the only
 * place threads meet); a connection's life (HTTP head, upgrade, WebSocket
 * frames, close); its outgoing queue and the once-per-iteration flush; the
 * per-loop timer for deadlines and keepalive; the I/O threads; the public API.
 *
 * Invariants of a connection's outgoing queue (struct conn):
 *   - q[0 .. inflight) are owned by the one uv_write in progress, if any, and
 *     are released only by its callback; q[inflight .. qlen) are untouched.
 *   - qbytes counts every byte queued and not yet written.
 *   - once close_sent is set no data frame is queued again. */
#include "hub/hub.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "hub/ws.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define MAX_STREAMS   64
#define MAX_IOV       64    /* buffers per writev */
#define READ_BUF_SIZE 65536 /* per-loop buffer for WebSocket reads */
#define ACCEPT_BATCH  64

struct loop;

enum conn_state { C_HTTP, C_WS, C_CLOSING };

struct conn {
    uv_tcp_t tcp; /* first: the handle pointer is the conn pointer */
    struct loop *lp;
    enum conn_state state;
    struct conn *prev, *next;         /* all connections of the loop */
    struct conn *sub_prev, *sub_next; /* subscribers of the stream */
    int stream;                       /* -1 before the upgrade */
    /* HTTP phase */
    char *head;
    size_t head_len;
    /* WebSocket phase */
    fc_ws_parser parser;
    int64_t last_rx_ms;
    int64_t ping_sent_ms; /* 0 when no ping is outstanding */
    int64_t deadline_ms;  /* handshake or close deadline; 0 = none */
    unsigned close_sent : 1, close_rcvd : 1, close_after_flush : 1, dirty : 1, writing : 1;
    unsigned want_preview : 1; /* asked for ?preview=1 */
    uint64_t sent, dropped;    /* this client's data messages, logged when it goes */
    /* outgoing queue: a ring of buffer references */
    fc_buf **q;
    unsigned qcap, qhead, qlen, inflight;
    size_t qbytes;
    size_t head_off; /* bytes of the first entry already written */
    uv_write_t wreq;
};

/* Per loop, per stream. Counters are written by the loop, read by anyone. */
struct lstream {
    struct conn *subs;
    fc_buf *sticky; /* sent first to each new subscriber, or NULL */
    atomic_uint_fast64_t clients, sent, dropped, slow_closed;
};

enum item_kind { IT_MSG, IT_STICKY, IT_CONN, IT_STOP };
struct item {
    enum item_kind kind;
    int stream;
    int fd;
    fc_buf *buf;
};

/* The inbox: a mutex-guarded vector; the loop swaps it out whole. */
struct inbox {
    pthread_mutex_t mu;
    pthread_cond_t space; /* signalled when the loop takes the items */
    struct item *items;
    size_t n, cap;
    size_t msgs; /* IT_MSG/IT_STICKY items waiting */
};

/* Messages an inbox holds before publishers wait: the hub's backpressure.
 * When fan-out cannot keep up, the publisher (a worker) blocks here, so a
 * live source skips frames in its slot and an fps=max source slows to what
 * the hub accepts, instead of the inbox growing without bound. */
#define INBOX_MAX_MSGS 32

struct loop {
    fc_hub *hub;
    int index;
    uv_loop_t uv;
    uv_thread_t thread;
    uv_async_t wake;
    uv_check_t flush;
    uv_timer_t tick;
    uv_poll_t accept_poll; /* loop 0 only */
    struct inbox inbox;
    struct item *scratch; /* the drained inbox, reused */
    size_t scratch_cap;
    struct conn *conns;
    struct conn **dirty;
    size_t ndirty, dirty_cap;
    struct lstream streams[MAX_STREAMS];
    atomic_uint_fast64_t accepted, writes;
    uint8_t *rbuf; /* READ_BUF_SIZE bytes */
    int stopping;
};

struct hub_stream {
    char *name;
    enum fc_slow_policy policy;
};

struct fc_hub {
    fc_hub_config cfg;
    int listen_fd;
    int port;
    struct loop *loops;
    int nloops;
    unsigned next_loop; /* round-robin, touched by loop 0 only */
    struct hub_stream streams[MAX_STREAMS];
    int nstreams;
    fc_hub_http_fn http_fn;
    void *http_ud;
    int started;
    atomic_int stopping; /* publishers stop waiting for inbox room */
};

static void conn_close(struct conn *c);
static void conn_mark_dirty(struct conn *c);
static void conn_send_close(struct conn *c, unsigned code, const char *reason);
static void conn_flush(struct conn *c);

/* --- Configuration ------------------------------------------------------- */

void fc_hub_config_defaults(fc_hub_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->io_threads = 1;
    cfg->head_limit = 8192;
    cfg->handshake_timeout_ms = 10000;
    cfg->ping_interval_ms = 20000;
    cfg->ping_timeout_ms = 20000;
    cfg->close_timeout_ms = 5000;
    cfg->max_message = 65536;
    cfg->queue_bytes = 256 * 1024;
    cfg->queue_msgs = 4096;
}

int fc_slow_policy_parse(const char *name) {
    if (strcmp(name, "drop") == 0) return FC_SLOW_DROP;
    if (strcmp(name, "latest") == 0) return FC_SLOW_LATEST;
    if (strcmp(name, "close") == 0) return FC_SLOW_CLOSE;
    return -1;
}

const char *fc_slow_policy_name(enum fc_slow_policy p) {
    return p == FC_SLOW_DROP ? "drop" : p == FC_SLOW_LATEST ? "latest" : "close";
}

/* --- Listener ------------------------------------------------------------ */

static int open_listener(const char *host, int port, int *bound_port, char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "--listen: cannot resolve '%s': %s", host, gai_strerror(rc));
        return FC_EINVAL_OPT;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "--listen: cannot listen on %s:%d: %s%s", host, port, strerror(e),
                 e == EADDRINUSE ? " (another process uses this port; pick another with --listen)"
                                 : "");
        return -e;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* --- Inbox --------------------------------------------------------------- */

static void inbox_push(struct loop *lp, struct item it) {
    struct inbox *ib = &lp->inbox;
    int msg = it.kind == IT_MSG || it.kind == IT_STICKY;
    pthread_mutex_lock(&ib->mu);
    while (msg && ib->msgs >= INBOX_MAX_MSGS && !atomic_load(&lp->hub->stopping))
        pthread_cond_wait(&ib->space, &ib->mu);
    if (msg && atomic_load(&lp->hub->stopping)) { /* the loop is gone or going */
        pthread_mutex_unlock(&ib->mu);
        fc_buf_unref(it.buf);
        return;
    }
    ib->msgs += msg;
    if (ib->n == ib->cap) {
        ib->cap = ib->cap ? ib->cap * 2 : 64;
        ib->items = realloc(ib->items, ib->cap * sizeof *ib->items);
        if (!ib->items) abort();
    }
    ib->items[ib->n++] = it;
    pthread_mutex_unlock(&ib->mu);
    uv_async_send(&lp->wake);
}

/* --- Outgoing queue ------------------------------------------------------ */

static fc_buf **q_at(struct conn *c, unsigned i) {
    return &c->q[(c->qhead + i) & (c->qcap - 1)];
}

static void q_push(struct conn *c, fc_buf *b) {
    if (c->qlen == c->qcap) {
        unsigned ncap = c->qcap ? c->qcap * 2 : 16;
        fc_buf **nq = malloc(ncap * sizeof *nq);
        if (!nq) abort();
        for (unsigned i = 0; i < c->qlen; i++) nq[i] = *q_at(c, i);
        free(c->q);
        c->q = nq;
        c->qcap = ncap;
        c->qhead = 0;
    }
    *q_at(c, c->qlen++) = b;
    c->qbytes += b->len;
}

/* Releases the first entry, which has been written in full. */
static void q_pop_written(struct conn *c) {
    fc_buf *b = *q_at(c, 0);
    c->qbytes -= b->len - c->head_off;
    c->head_off = 0;
    c->qhead = (c->qhead + 1) & (c->qcap - 1);
    c->qlen--;
    if (c->stream >= 0) {
        atomic_fetch_add_explicit(&c->lp->streams[c->stream].sent, 1, memory_order_relaxed);
        c->sent += !(b->flags & FC_BUF_KEEP);
    }
    fc_buf_unref(b);
}

/* Drops queued entries that no write owns: the previews, or every entry a
 * policy may drop (all but FC_BUF_KEEP ones). Keeps the order of the rest. */
static unsigned q_drop(struct conn *c, int previews_only) {
    unsigned kept = c->inflight, dropped = 0;
    for (unsigned i = c->inflight; i < c->qlen; i++) {
        fc_buf *b = *q_at(c, i);
        int drop = !(b->flags & FC_BUF_KEEP) && (!previews_only || (b->flags & FC_BUF_PREVIEW)) &&
                   !(i == 0 && c->head_off); /* a partly written entry must finish */
        if (drop) {
            c->qbytes -= b->len;
            fc_buf_unref(b);
            dropped++;
        } else {
            *q_at(c, kept++) = b;
        }
    }
    c->qlen = kept;
    return dropped;
}

/* Queues a buffer the loop made for this connection (a control frame or an
 * HTTP answer; takes the reference): kept whatever the policy. */
static void conn_queue_control(struct conn *c, fc_buf *b) {
    if (!b) return;
    b->flags |= FC_BUF_KEEP;
    q_push(c, b);
    conn_mark_dirty(c);
}

/* 1 if queueing len more bytes would exceed the client's bound. An empty
 * queue always takes a message, however large. */
static int over_bound(const struct conn *c, size_t len) {
    const fc_hub_config *cfg = &c->lp->hub->cfg;
    return c->qlen > 0 &&
           (c->qbytes + len > cfg->queue_bytes || c->qlen + 1 > (unsigned)cfg->queue_msgs);
}

/* Counts n messages the policy skipped for c, for it and for its stream. */
static void count_dropped(struct conn *c, unsigned n) {
    c->dropped += n;
    atomic_fetch_add_explicit(&c->lp->streams[c->stream].dropped, n, memory_order_relaxed);
}

/* Queues a published message on a subscriber, applying the stream's policy. */
static void conn_queue_msg(struct conn *c, fc_buf *b, enum fc_slow_policy policy) {
    if (c->close_sent || c->state != C_WS) return;
    if (b->flags & FC_BUF_KEEP) { /* a status change: few, small, never dropped */
        q_push(c, fc_buf_ref(b));
        conn_mark_dirty(c);
        return;
    }
    int preview = (b->flags & FC_BUF_PREVIEW) != 0;
    if (preview) {
        if (!c->want_preview) return;
        /* Previews follow the latest policy: a newer one replaces any still waiting. */
        count_dropped(c, q_drop(c, 1));
    }
    int over = over_bound(c, b->len);
    if (over && !c->writing) {
        /* The bound is for bytes the client has not taken. Messages queued in
         * this same inbox batch have not been offered to the socket yet (the
         * loop may have been descheduled): offer them before judging. */
        conn_flush(c);
        if (c->state != C_WS || c->close_sent) return;
        over = over_bound(c, b->len);
    }
    if (over && !preview) { /* previews go first: a slow viewer never backs up results */
        count_dropped(c, q_drop(c, 1));
        over = over_bound(c, b->len);
    }
    if (over && preview) {
        count_dropped(c, 1);
        return;
    }
    if (over) {
        switch (policy) {
        case FC_SLOW_DROP:
            count_dropped(c, 1);
            return;
        case FC_SLOW_LATEST:
            count_dropped(c, q_drop(c, 0));
            break;
        case FC_SLOW_CLOSE:
            count_dropped(c, q_drop(c, 0) + 1);
            atomic_fetch_add_explicit(&c->lp->streams[c->stream].slow_closed, 1,
                                      memory_order_relaxed);
            conn_send_close(c, FC_WS_POLICY, "slow consumer");
            return;
        }
    }
    q_push(c, fc_buf_ref(b));
    conn_mark_dirty(c);
}

/* --- Writing ------------------------------------------------------------- */

static void conn_mark_dirty(struct conn *c) {
    if (c->dirty || c->state == C_CLOSING) return;
    struct loop *lp = c->lp;
    if (lp->ndirty == lp->dirty_cap) {
        lp->dirty_cap = lp->dirty_cap ? lp->dirty_cap * 2 : 64;
        lp->dirty = realloc(lp->dirty, lp->dirty_cap * sizeof *lp->dirty);
        if (!lp->dirty) abort();
    }
    lp->dirty[lp->ndirty++] = c;
    c->dirty = 1;
}

static unsigned fill_iov(struct conn *c, uv_buf_t *iov) {
    unsigned n = c->qlen < MAX_IOV ? c->qlen : MAX_IOV;
    for (unsigned i = 0; i < n; i++) {
        fc_buf *b = *q_at(c, i);
        size_t off = i == 0 ? c->head_off : 0;
        iov[i] = uv_buf_init((char *)b->data + off, (unsigned)(b->len - off));
    }
    return n;
}

/* Called when the queue has drained: finish a close if one is pending. */
static void conn_after_drain(struct conn *c) {
    if (c->close_after_flush || (c->close_sent && c->close_rcvd)) conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
    struct conn *c = req->data;
    c->writing = 0;
    if (c->state == C_CLOSING) return; /* the close released the queue */
    if (status < 0) {
        fc_debug("write failed: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    while (c->inflight) {
        q_pop_written(c);
        c->inflight--;
    }
    if (c->qlen)
        conn_mark_dirty(c);
    else
        conn_after_drain(c);
}

/* One writev for everything pending; what the kernel does not take goes to
 * uv_write, which finishes it when the socket becomes writable. */
static void conn_flush(struct conn *c) {
    if (c->state == C_CLOSING || c->writing || c->qlen == 0) return;
    uv_buf_t iov[MAX_IOV];
    unsigned n = fill_iov(c, iov);
    atomic_fetch_add_explicit(&c->lp->writes, 1, memory_order_relaxed);
    int r = uv_try_write((uv_stream_t *)&c->tcp, iov, n);
    if (r == UV_EAGAIN) r = 0;
    if (r < 0) {
        fc_debug("write failed: %s", uv_strerror(r));
        conn_close(c);
        return;
    }
    size_t done = (size_t)r;
    while (c->qlen) {
        fc_buf *b = *q_at(c, 0);
        size_t left = b->len - c->head_off;
        if (done < left) {
            c->head_off += done;
            c->qbytes -= done;
            break;
        }
        done -= left;
        q_pop_written(c);
    }
    if (c->qlen == 0) {
        conn_after_drain(c);
        return;
    }
    n = fill_iov(c, iov);
    c->wreq.data = c;
    r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, iov, n, on_write);
    if (r < 0) {
        conn_close(c);
        return;
    }
    c->writing = 1;
    c->inflight = n;
}

static void on_flush(uv_check_t *h) {
    struct loop *lp = h->data;
    /* Flushing may mark connections dirty again (a failed write closing a
     * socket does not); those wait for the next iteration. */
    size_t n = lp->ndirty;
    for (size_t i = 0; i < n; i++) {
        struct conn *c = lp->dirty[i];
        c->dirty = 0;
        conn_flush(c);
    }
    if (lp->ndirty > n) memmove(lp->dirty, lp->dirty + n, (lp->ndirty - n) * sizeof *lp->dirty);
    lp->ndirty -= n;
}

/* --- Connection life ----------------------------------------------------- */

static void list_remove_sub(struct conn *c) {
    if (c->stream < 0 || c->state != C_WS) return;
    struct lstream *ls = &c->lp->streams[c->stream];
    if (c->sub_prev)
        c->sub_prev->sub_next = c->sub_next;
    else
        ls->subs = c->sub_next;
    if (c->sub_next) c->sub_next->sub_prev = c->sub_prev;
    c->sub_prev = c->sub_next = NULL;
    atomic_fetch_sub_explicit(&ls->clients, 1, memory_order_relaxed);
}

static void on_closed(uv_handle_t *h) {
    struct conn *c = (struct conn *)h;
    struct loop *lp = c->lp;
    if (c->dirty) { /* rare: closed after being marked dirty */
        for (size_t i = 0; i < lp->ndirty; i++)
            if (lp->dirty[i] == c) {
                lp->dirty[i] = lp->dirty[--lp->ndirty];
                break;
            }
    }
    while (c->qlen) {
        fc_buf_unref(*q_at(c, 0));
        c->qhead = (c->qhead + 1) & (c->qcap - 1);
        c->qlen--;
    }
    free(c->q);
    free(c->head);
    free(c);
}

static void conn_close(struct conn *c) {
    if (c->state == C_CLOSING) return;
    if (c->state == C_WS) /* how this client fared; a lossy one is worth a line */
        fc_log(c->dropped ? FC_LOG_INFO : FC_LOG_DEBUG,
               "client of stream '%s' gone: %llu messages sent, %llu dropped",
               c->lp->hub->streams[c->stream].name, (unsigned long long)c->sent,
               (unsigned long long)c->dropped);
    list_remove_sub(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->lp->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Starts the closing handshake: queue a close frame, send nothing after it,
 * and give the peer close_timeout_ms to answer. */
static void conn_send_close(struct conn *c, unsigned code, const char *reason) {
    if (c->close_sent || c->state != C_WS) return;
    c->close_sent = 1;
    conn_queue_control(c, fc_ws_close_frame(code, reason));
    c->deadline_ms = uv_now(&c->lp->uv) + c->lp->hub->cfg.close_timeout_ms;
}

/* Fails the connection: a close frame, then the TCP close once it is written. */
static void conn_fail(struct conn *c, unsigned code, const char *why) {
    fc_debug("closing client: %u %s", code, why);
    conn_send_close(c, code, why);
    c->close_after_flush = 1;
}

/* Sends a complete HTTP response and closes after it. */
static void conn_http_reply(struct conn *c, int status, const char *status_text,
                            const char *extra_headers, const char *body) {
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    fc_sb_printf(&sb,
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                 status, status_text, strlen(body) + 1, extra_headers ? extra_headers : "", body);
    fc_sb_puts(&sb, "\n");
    conn_queue_control(c, fc_buf_from(sb.data, sb.len));
    fc_sb_free(&sb);
    c->close_after_flush = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static void ws_on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    /* Clients have nothing to tell a broadcaster yet; messages are validated
     * (UTF-8, size) by the parser and discarded. */
    (void)ud, (void)opcode, (void)data, (void)len, (void)fin;
}

static void ws_on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    struct conn *c = ud;
    switch (opcode) {
    case FC_WS_PING:
        if (c->close_sent) break;
        /* A client that pings but does not read would grow its queue
         * without bound through the pongs: over the bound it is closed. */
        if (c->qbytes > c->lp->hub->cfg.queue_bytes) {
            conn_fail(c, FC_WS_POLICY, "slow consumer");
            break;
        }
        conn_queue_control(c, fc_ws_frame(FC_WS_PONG, payload, len));
        break;
    case FC_WS_PONG:
        c->ping_sent_ms = 0;
        break;
    case FC_WS_CLOSE:
        c->close_rcvd = 1;
        if (!c->close_sent) {
            /* Echo the code (none if the peer sent none), then close the TCP
             * connection ourselves, as a server should (RFC 6455 7.1.1). */
            unsigned code = len >= 2 ? (unsigned)payload[0] << 8 | payload[1] : 0;
            conn_send_close(c, code, NULL);
        } else if (c->qlen == 0) {
            conn_close(c);
        }
        break;
    }
}

static const fc_ws_parser_cbs ws_cbs = {ws_on_data, ws_on_control};

static void conn_ws_input(struct conn *c, uint8_t *data, size_t len) {
    int code = fc_ws_parse(&c->parser, data, len, &ws_cbs, c);
    if (code) conn_fail(c, (unsigned)code, c->parser.error);
}

static void conn_upgrade(struct conn *c, int stream, const fc_ws_upgrade *up) {
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     up->accept);
    conn_queue_control(c, fc_buf_from(resp, (size_t)n));
    struct loop *lp = c->lp;
    struct lstream *ls = &lp->streams[stream];
    c->state = C_WS;
    c->stream = stream;
    c->deadline_ms = 0;
    c->last_rx_ms = (int64_t)uv_now(&lp->uv);
    fc_ws_parser_init(&c->parser, 1, lp->hub->cfg.max_message);
    c->sub_next = ls->subs;
    if (ls->subs) ls->subs->sub_prev = c;
    ls->subs = c;
    atomic_fetch_add_explicit(&ls->clients, 1, memory_order_relaxed);
    if (ls->sticky) { /* flagged FC_BUF_KEEP by fc_hub_publish_sticky */
        q_push(c, fc_buf_ref(ls->sticky));
        conn_mark_dirty(c);
    }
}

static int find_stream(const fc_hub *hub, fc_http_slice name) {
    for (int i = 0; i < hub->nstreams; i++)
        if (strlen(hub->streams[i].name) == name.len &&
            memcmp(hub->streams[i].name, name.p, name.len) == 0)
            return i;
    return -1;
}

/* A complete request head is in c->head. */
static void conn_handle_request(struct conn *c, const fc_http_request *req) {
    fc_hub *hub = c->lp->hub;
    static const char ws_prefix[] = "/ws/";
    if (req->path.len > sizeof ws_prefix - 1 &&
        memcmp(req->path.p, ws_prefix, sizeof ws_prefix - 1) == 0) {
        fc_http_slice name = {req->path.p + 4, req->path.len - 4};
        int stream = find_stream(hub, name);
        if (stream < 0) {
            conn_http_reply(c, 404, "Not Found", NULL, "unknown stream");
            return;
        }
        fc_ws_upgrade up;
        switch (fc_ws_check_upgrade(req, &up)) {
        case 101:
            break;
        case 405:
            conn_http_reply(c, 405, "Method Not Allowed", "Allow: GET\r\n", up.reason);
            return;
        case 426:
            conn_http_reply(c, 426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n", up.reason);
            return;
        default:
            conn_http_reply(c, 400, "Bad Request", NULL, up.reason);
            return;
        }
        fc_http_slice pv; /* read before the head is freed */
        c->want_preview =
            fc_http_query_get(req->query, "preview", &pv) && pv.len == 1 && pv.p[0] == '1';
        size_t extra = c->head_len - req->head_len; /* frames sent right after the head */
        uint8_t early[512];
        int has_early = extra > 0 && extra <= sizeof early;
        if (has_early) memcpy(early, c->head + req->head_len, extra);
        free(c->head);
        c->head = NULL;
        conn_upgrade(c, stream, &up);
        if (has_early)
            conn_ws_input(c, early, extra);
        else if (extra)
            conn_fail(c, FC_WS_PROTOCOL_ERROR, "too much data before the handshake completed");
        return;
    }
    if (!fc_http_slice_ieq(req->method, "GET") && !fc_http_slice_ieq(req->method, "HEAD")) {
        conn_http_reply(c, 405, "Method Not Allowed", "Allow: GET\r\n", "only GET is supported");
        return;
    }
    if (hub->http_fn) {
        fc_strbuf resp;
        fc_sb_init(&resp, 1024);
        if (hub->http_fn(hub->http_ud, req, &resp) == 0) {
            if (fc_http_slice_ieq(req->method, "HEAD")) { /* the head, not the body */
                char *end = strstr(resp.data, "\r\n\r\n");
                if (end) resp.len = (size_t)(end + 4 - resp.data);
            }
            fc_buf *b = fc_buf_new(resp.len);
            if (b) {
                memcpy(b->data, resp.data, resp.len);
                b->len = resp.len;
            }
            fc_sb_free(&resp);
            conn_queue_control(c, b);
            c->close_after_flush = 1;
            uv_read_stop((uv_stream_t *)&c->tcp);
            return;
        }
        fc_sb_free(&resp);
    }
    conn_http_reply(c, 404, "Not Found", NULL, "not found");
}

static void conn_http_input(struct conn *c, size_t old_len) {
    /* Look for the blank line only in the new bytes (and the 3 before them),
     * so a head sent byte by byte costs linear time. */
    size_t from = old_len > 3 ? old_len - 3 : 0;
    const char *scan = c->head + from;
    size_t scan_len = c->head_len - from;
    if (!memmem(scan, scan_len, "\n\r\n", 3) && !memmem(scan, scan_len, "\n\n", 2)) {
        if (c->head_len >= c->lp->hub->cfg.head_limit)
            conn_http_reply(c, 431, "Request Header Fields Too Large", NULL,
                            "request head too large");
        return;
    }
    fc_http_request req;
    int rc = fc_http_parse_request(c->head, c->head_len, &req);
    if (rc == FC_HTTP_INCOMPLETE) { /* e.g. blank lines before the request line */
        if (c->head_len >= c->lp->hub->cfg.head_limit)
            conn_http_reply(c, 431, "Request Header Fields Too Large", NULL,
                            "request head too large");
        return;
    }
    if (rc > 0)
        conn_handle_request(c, &req);
    else if (rc == FC_HTTP_ETOO_LARGE)
        conn_http_reply(c, 431, "Request Header Fields Too Large", NULL, "too many headers");
    else if (rc == FC_HTTP_EVERSION)
        conn_http_reply(c, 505, "HTTP Version Not Supported", NULL, "expected HTTP/1.1");
    else
        conn_http_reply(c, 400, "Bad Request", NULL, "malformed request head");
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    struct conn *c = (struct conn *)h;
    (void)suggested;
    if (c->state == C_HTTP) {
        size_t limit = c->lp->hub->cfg.head_limit;
        *buf = uv_buf_init(c->head + c->head_len, (unsigned)(limit - c->head_len));
    } else {
        *buf = uv_buf_init((char *)c->lp->rbuf, READ_BUF_SIZE);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct conn *c = (struct conn *)s;
    if (nread == 0) return;
    if (nread < 0) {
        /* EOF or error: after the peer's close frame this is the normal end. */
        conn_close(c);
        return;
    }
    if (c->state == C_HTTP) {
        size_t old = c->head_len;
        c->head_len += (size_t)nread;
        conn_http_input(c, old);
    } else if (c->state == C_WS) {
        c->last_rx_ms = (int64_t)uv_now(&c->lp->uv);
        if (c->close_after_flush) return; /* failed: ignore the rest */
        conn_ws_input(c, (uint8_t *)buf->base, (size_t)nread);
    }
}

static void loop_adopt(struct loop *lp, int fd) {
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->lp = lp;
    c->stream = -1;
    c->state = C_HTTP;
    c->head = malloc(lp->hub->cfg.head_limit);
    if (!c->head || uv_tcp_init(&lp->uv, &c->tcp) || uv_tcp_open(&c->tcp, fd)) {
        fc_warn("cannot adopt a connection");
        free(c->head);
        free(c);
        close(fd);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->deadline_ms = (int64_t)uv_now(&lp->uv) + lp->hub->cfg.handshake_timeout_ms;
    c->next = lp->conns;
    if (lp->conns) lp->conns->prev = c;
    lp->conns = c;
    atomic_fetch_add_explicit(&lp->accepted, 1, memory_order_relaxed);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_accept(uv_poll_t *h, int status, int events) {
    struct loop *lp = h->data;
    fc_hub *hub = lp->hub;
    (void)events;
    if (status < 0) return;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(hub->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                fc_warn("accept: %s", strerror(errno));
            return;
        }
        struct loop *target = &hub->loops[hub->next_loop++ % (unsigned)hub->nloops];
        if (target == lp)
            loop_adopt(lp, fd);
        else
            inbox_push(target, (struct item){.kind = IT_CONN, .fd = fd});
    }
}

/* --- Per-loop timer: deadlines and keepalive ----------------------------- */

static void on_tick(uv_timer_t *t) {
    struct loop *lp = t->data;
    const fc_hub_config *cfg = &lp->hub->cfg;
    int64_t now = (int64_t)uv_now(&lp->uv);
    for (struct conn *c = lp->conns, *next; c; c = next) {
        next = c->next;
        if (c->deadline_ms && now >= c->deadline_ms) {
            conn_close(c); /* handshake or closing handshake took too long */
            continue;
        }
        if (c->state != C_WS || c->close_sent) continue;
        if (c->ping_sent_ms) {
            if (now - c->ping_sent_ms >= cfg->ping_timeout_ms) {
                conn_fail(c, FC_WS_INTERNAL, "keepalive ping timeout");
                c->deadline_ms = now + 100; /* the peer is gone: do not wait long */
            }
        } else if (now - c->last_rx_ms >= cfg->ping_interval_ms) {
            c->ping_sent_ms = now;
            conn_queue_control(c, fc_ws_frame(FC_WS_PING, "fc", 2));
        }
    }
}

/* --- I/O threads --------------------------------------------------------- */

static void loop_stop(struct loop *lp) {
    lp->stopping = 1;
    for (struct conn *c = lp->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == C_WS && !c->writing && !c->close_sent) {
            /* Best effort, no waiting: the process is going away. */
            fc_buf *b = fc_ws_close_frame(FC_WS_GOING_AWAY, "server shutting down");
            uv_buf_t iov = uv_buf_init((char *)b->data, (unsigned)b->len);
            if (c->head_off == 0) uv_try_write((uv_stream_t *)&c->tcp, &iov, 1);
            fc_buf_unref(b);
        }
        conn_close(c);
    }
    uv_close((uv_handle_t *)&lp->wake, NULL);
    uv_close((uv_handle_t *)&lp->flush, NULL);
    uv_close((uv_handle_t *)&lp->tick, NULL);
    if (lp->index == 0) uv_close((uv_handle_t *)&lp->accept_poll, NULL);
}

static void on_wake(uv_async_t *a) {
    struct loop *lp = a->data;
    fc_hub *hub = lp->hub;
    pthread_mutex_lock(&lp->inbox.mu);
    struct item *items = lp->inbox.items;
    size_t n = lp->inbox.n, cap = lp->inbox.cap;
    lp->inbox.items = lp->scratch;
    lp->inbox.cap = lp->scratch_cap;
    lp->inbox.n = 0;
    lp->inbox.msgs = 0;
    pthread_cond_broadcast(&lp->inbox.space);
    pthread_mutex_unlock(&lp->inbox.mu);
    lp->scratch = items;
    lp->scratch_cap = cap;

    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        switch (it->kind) {
        case IT_STICKY:
        case IT_MSG:
            if (it->kind == IT_STICKY) { /* kept for later subscribers, and sent now */
                if (lp->streams[it->stream].sticky) fc_buf_unref(lp->streams[it->stream].sticky);
                lp->streams[it->stream].sticky = fc_buf_ref(it->buf);
            }
            if (!lp->stopping) {
                enum fc_slow_policy policy = hub->streams[it->stream].policy;
                for (struct conn *c = lp->streams[it->stream].subs, *next; c; c = next) {
                    next = c->sub_next; /* the close policy unlinks c */
                    conn_queue_msg(c, it->buf, policy);
                }
            }
            fc_buf_unref(it->buf);
            break;
        case IT_CONN:
            if (lp->stopping)
                close(it->fd);
            else
                loop_adopt(lp, it->fd);
            break;
        case IT_STOP:
            if (!lp->stopping) loop_stop(lp);
            break;
        }
    }
}

static void loop_thread(void *arg) {
    struct loop *lp = arg;
    uv_run(&lp->uv, UV_RUN_DEFAULT);
}

static int loop_init(struct loop *lp, fc_hub *hub, int index) {
    lp->hub = hub;
    lp->index = index;
    pthread_mutex_init(&lp->inbox.mu, NULL);
    pthread_cond_init(&lp->inbox.space, NULL);
    lp->rbuf = malloc(READ_BUF_SIZE);
    if (!lp->rbuf) return UV_ENOMEM;
    int rc = uv_loop_init(&lp->uv);
    if (rc) return rc;
    uv_async_init(&lp->uv, &lp->wake, on_wake);
    lp->wake.data = lp;
    uv_check_init(&lp->uv, &lp->flush);
    lp->flush.data = lp;
    uv_check_start(&lp->flush, on_flush);
    uv_timer_init(&lp->uv, &lp->tick);
    lp->tick.data = lp;
    /* Deadlines are checked at a tenth of the shortest timeout, 10 ms to 1 s. */
    const fc_hub_config *cfg = &hub->cfg;
    int shortest = cfg->handshake_timeout_ms;
    if (cfg->ping_interval_ms < shortest) shortest = cfg->ping_interval_ms;
    if (cfg->ping_timeout_ms < shortest) shortest = cfg->ping_timeout_ms;
    if (cfg->close_timeout_ms < shortest) shortest = cfg->close_timeout_ms;
    uint64_t period = (uint64_t)(shortest / 10);
    period = period < 10 ? 10 : period > 1000 ? 1000 : period;
    uv_timer_start(&lp->tick, on_tick, period, period);
    if (index == 0) {
        uv_poll_init(&lp->uv, &lp->accept_poll, hub->listen_fd);
        lp->accept_poll.data = lp;
        uv_poll_start(&lp->accept_poll, UV_READABLE, on_accept);
    }
    return 0;
}

/* --- Public API ---------------------------------------------------------- */

int fc_hub_create(fc_hub **out, const fc_hub_config *cfg, char *err, size_t errlen) {
    fc_hub *hub = calloc(1, sizeof *hub);
    if (!hub) return UV_ENOMEM;
    hub->cfg = *cfg;
    if (hub->cfg.io_threads < 1) hub->cfg.io_threads = 1;
    int fd = open_listener(cfg->host, cfg->port, &hub->port, err, errlen);
    if (fd < 0) {
        free(hub);
        return fd;
    }
    hub->listen_fd = fd;
    *out = hub;
    return 0;
}

int fc_hub_add_stream(fc_hub *hub, const char *name, enum fc_slow_policy policy) {
    if (hub->started || hub->nstreams == MAX_STREAMS) return FC_EINVAL_OPT;
    struct hub_stream *s = &hub->streams[hub->nstreams];
    s->name = strdup(name);
    s->policy = policy;
    return hub->nstreams++;
}

void fc_hub_set_http_handler(fc_hub *hub, fc_hub_http_fn fn, void *ud) {
    hub->http_fn = fn;
    hub->http_ud = ud;
}

int fc_hub_port(const fc_hub *hub) {
    return hub->port;
}

int fc_hub_start(fc_hub *hub) {
    hub->nloops = hub->cfg.io_threads;
    hub->loops = calloc((size_t)hub->nloops, sizeof *hub->loops);
    if (!hub->loops) return UV_ENOMEM;
    for (int i = 0; i < hub->nloops; i++) {
        int rc = loop_init(&hub->loops[i], hub, i);
        if (rc) return rc;
    }
    hub->started = 1;
    for (int i = 0; i < hub->nloops; i++) {
        int rc = uv_thread_create(&hub->loops[i].thread, loop_thread, &hub->loops[i]);
        if (rc) return rc;
    }
    return 0;
}

static void publish(fc_hub *hub, int stream, fc_buf *msg, enum item_kind kind) {
    if (stream < 0 || stream >= hub->nstreams) return;
    fc_buf_ref_n(msg, hub->nloops);
    for (int i = 0; i < hub->nloops; i++)
        inbox_push(&hub->loops[i], (struct item){.kind = kind, .stream = stream, .buf = msg});
}

void fc_hub_publish(fc_hub *hub, int stream, fc_buf *msg) {
    publish(hub, stream, msg, IT_MSG);
}

void fc_hub_publish_sticky(fc_hub *hub, int stream, fc_buf *msg) {
    msg->flags |= FC_BUF_KEEP; /* before it is shared */
    publish(hub, stream, msg, IT_STICKY);
}

void fc_hub_stats_get(const fc_hub *hub, int stream, fc_hub_stats *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < hub->nloops; i++) {
        struct loop *lp = &hub->loops[i];
        out->accepted += atomic_load_explicit(&lp->accepted, memory_order_relaxed);
        out->writes += atomic_load_explicit(&lp->writes, memory_order_relaxed);
        for (int s = 0; s < hub->nstreams; s++) {
            if (stream >= 0 && s != stream) continue;
            struct lstream *ls = &lp->streams[s];
            out->clients += atomic_load_explicit(&ls->clients, memory_order_relaxed);
            out->sent += atomic_load_explicit(&ls->sent, memory_order_relaxed);
            out->dropped += atomic_load_explicit(&ls->dropped, memory_order_relaxed);
            out->slow_closed += atomic_load_explicit(&ls->slow_closed, memory_order_relaxed);
        }
    }
}

void fc_hub_stop(fc_hub *hub) {
    if (!hub->started) return;
    atomic_store(&hub->stopping, 1);
    for (int i = 0; i < hub->nloops; i++) { /* release publishers waiting for room */
        pthread_mutex_lock(&hub->loops[i].inbox.mu);
        pthread_cond_broadcast(&hub->loops[i].inbox.space);
        pthread_mutex_unlock(&hub->loops[i].inbox.mu);
    }
    for (int i = 0; i < hub->nloops; i++)
        inbox_push(&hub->loops[i], (struct item){.kind = IT_STOP});
    for (int i = 0; i < hub->nloops; i++) uv_thread_join(&hub->loops[i].thread);
    hub->started = 0;
}

void fc_hub_destroy(fc_hub *hub) {
    if (!hub) return;
    fc_hub_stop(hub);
    for (int i = 0; hub->loops && i < hub->nloops; i++) {
        struct loop *lp = &hub->loops[i];
        for (size_t k = 0; k < lp->inbox.n; k++) { /* published after the stop */
            if (lp->inbox.items[k].kind <= IT_STICKY) fc_buf_unref(lp->inbox.items[k].buf);
            if (lp->inbox.items[k].kind == IT_CONN) close(lp->inbox.items[k].fd);
        }
        uv_run(&lp->uv, UV_RUN_NOWAIT); /* run close callbacks */
        uv_loop_close(&lp->uv);
        pthread_mutex_destroy(&lp->inbox.mu);
        pthread_cond_destroy(&lp->inbox.space);
        free(lp->inbox.items);
        free(lp->scratch);
        free(lp->dirty);
        free(lp->rbuf);
        for (int s = 0; s < hub->nstreams; s++) fc_buf_unref(lp->streams[s].sticky);
    }
    free(hub->loops);
    for (int i = 0; i < hub->nstreams; i++) free(hub->streams[i].name);
    close(hub->listen_fd);
    free(hub);
}
