/* A WebSocket session (see session.h). */
#include "hub/session.h"

#include <stdio.h>

#include "hub/conn.h"
#include "hub/writer.h"
#include "util/log.h"

/* Starts the closing handshake: queue a close frame, send nothing after it,
 * and give the peer close_timeout_ms to answer. */
static void send_close(fc_conn *c, unsigned code, const char *reason) {
    if (c->close_sent || c->state != FC_CONN_WS) return;
    c->close_sent = 1;
    fc_writer_send(c, fc_ws_close_frame(code, reason));
    c->deadline_ms = (int64_t)uv_now(&c->lp->uv) + c->lp->hub->cfg.close_timeout_ms;
}

void fc_session_fail(fc_conn *c, unsigned code, const char *why) {
    fc_debug("closing client: %u %s", code, why);
    send_close(c, code, why);
    c->close_after_flush = 1;
}

static void on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    /* Clients have nothing to tell a broadcaster yet; messages are validated
     * (UTF-8, size) by the parser and discarded. */
    (void)ud, (void)opcode, (void)data, (void)len, (void)fin;
}

static void on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    fc_conn *c = ud;
    switch (opcode) {
    case FC_WS_PING:
        if (c->close_sent) break;
        /* A client that pings but does not read would grow its queue
         * without bound through the pongs: over the bound it is closed. */
        if (c->q.bytes > c->lp->hub->cfg.queue_bytes) {
            fc_session_fail(c, FC_WS_POLICY, "slow consumer");
            break;
        }
        fc_writer_send(c, fc_ws_frame(FC_WS_PONG, payload, len));
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
            send_close(c, code, NULL);
        } else if (fc_queue_empty(&c->q)) {
            fc_conn_close(c);
        }
        break;
    }
}

static const fc_ws_parser_cbs parser_cbs = {on_data, on_control};

void fc_session_input(fc_conn *c, uint8_t *data, size_t len) {
    c->last_rx_ms = (int64_t)uv_now(&c->lp->uv);
    if (c->close_after_flush) return; /* failed: ignore the rest */
    int code = fc_ws_parse(&c->parser, data, len, &parser_cbs, c);
    if (code) fc_session_fail(c, (unsigned)code, c->parser.error);
}

void fc_session_start(fc_conn *c, int stream, const fc_ws_upgrade *up, int want_preview) {
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     up->accept);
    fc_writer_send(c, fc_buf_from(resp, (size_t)n));
    fc_loop *lp = c->lp;
    c->state = FC_CONN_WS;
    c->want_preview = want_preview != 0;
    c->deadline_ms = 0;
    c->last_rx_ms = (int64_t)uv_now(&lp->uv);
    fc_ws_parser_init(&c->parser, 1, lp->hub->cfg.max_message);
    fc_conn_subscribe(c, stream);
    fc_buf *sticky = lp->streams[stream].sticky; /* flagged FC_BUF_KEEP when published */
    if (sticky) {
        fc_queue_push(&c->q, fc_buf_ref(sticky));
        fc_writer_mark(c);
    }
}

void fc_session_deliver(fc_conn *c, fc_buf *b, enum fc_slow_policy policy) {
    if (c->close_sent || c->state != FC_CONN_WS) return;
    if ((b->flags & FC_BUF_PREVIEW) && !c->want_preview) return;
    const fc_queue_limits *lim = &c->lp->hub->limits;
    if (!(b->flags & FC_BUF_KEEP) && !c->writing && fc_queue_over(&c->q, b->len, lim)) {
        /* The bound is for bytes the client has not taken. Messages queued in
         * this same inbox batch have not been offered to the socket yet (the
         * loop may have been descheduled): offer them before judging. */
        fc_writer_flush(c);
        if (c->state != FC_CONN_WS || c->close_sent) return;
    }
    uint64_t dropped = c->q.dropped;
    enum fc_queue_verdict v = fc_queue_offer(&c->q, b, policy, lim);
    fc_lstream *ls = &c->lp->streams[c->stream];
    if (c->q.dropped != dropped)
        atomic_fetch_add_explicit(&ls->dropped, c->q.dropped - dropped, memory_order_relaxed);
    if (v == FC_QUEUE_OK) {
        fc_writer_mark(c);
    } else if (v == FC_QUEUE_CLOSE) {
        atomic_fetch_add_explicit(&ls->slow_closed, 1, memory_order_relaxed);
        send_close(c, FC_WS_POLICY, "slow consumer");
    }
}

void fc_session_tick(fc_conn *c, int64_t now) {
    if (c->state != FC_CONN_WS || c->close_sent) return;
    const fc_hub_config *cfg = &c->lp->hub->cfg;
    if (c->ping_sent_ms) {
        if (now - c->ping_sent_ms >= cfg->ping_timeout_ms) {
            fc_session_fail(c, FC_WS_INTERNAL, "keepalive ping timeout");
            c->deadline_ms = now + 100; /* the peer is gone: do not wait long */
        }
    } else if (now - c->last_rx_ms >= cfg->ping_interval_ms) {
        c->ping_sent_ms = now;
        fc_writer_send(c, fc_ws_frame(FC_WS_PING, "fc", 2));
    }
}

void fc_session_going_away(fc_conn *c) {
    if (c->state != FC_CONN_WS || c->writing || c->close_sent || c->q.head_off) return;
    /* Best effort, no waiting: the process is going away. */
    fc_buf *b = fc_ws_close_frame(FC_WS_GOING_AWAY, "server shutting down");
    if (!b) return;
    uv_buf_t iov = uv_buf_init((char *)b->data, (unsigned)b->len);
    uv_try_write((uv_stream_t *)&c->tcp, &iov, 1);
    fc_buf_unref(b);
}
