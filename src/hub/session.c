/* A WebSocket session (see session.h). */
#include "hub/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/conn.h"
#include "hub/writer.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/strbuf.h"

/* Starts the closing handshake: queue a close frame, send nothing after it,
 * and give the peer close_timeout_ms to answer. */
static void send_close(fc_conn *c, unsigned code, const char *reason) {
    if (c->close_sent || c->state != FC_CONN_WS) return;
    c->close_sent = 1;
    fc_writer_send(c, fc_ws_close_frame(code, reason));
    c->deadline_ms = (int64_t)uv_now(&c->lp->uv) + c->lp->lim.close_timeout_ms;
}

void fc_session_fail(fc_conn *c, unsigned code, const char *why) {
    fc_debug("closing client: %u %s", code, why);
    send_close(c, code, why);
    c->close_after_flush = 1;
    /* Nothing it sends matters any more: stop reading, so a client that
     * floods costs nothing until the close frame is out (or the deadline). */
    uv_read_stop((uv_stream_t *)&c->tcp);
}

/* Queues a control frame of ours (a pong, a ping) under the bound on
 * never-dropped messages: a client that sends pings but never reads would
 * otherwise grow its queue without bound through the pongs. */
static void send_control(fc_conn *c, fc_buf *b) {
    if (!b) return;
    const fc_queue_limits *lim = &c->lp->lim.queue;
    if (c->q.keep_bytes > 0 && c->q.keep_bytes + b->len > lim->keep_bytes) {
        fc_buf_unref(b);
        if (c->stream >= 0) fc_hub_count_close(&c->lp->streams[c->stream], FC_HUB_CLOSE_CONTROL);
        fc_session_fail(c, FC_WS_POLICY, "slow consumer");
        return;
    }
    fc_writer_send(c, b);
}

static void on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    /* Clients have nothing to tell a broadcaster yet: messages are checked
     * (UTF-8, size) and discarded; the parser does it for plain ones, a
     * compressed one is inflated here to be checked, within the limit. */
    fc_conn *c = ud;
    if (!c->parser.msg_compressed || c->close_after_flush) return;
    fc_loop *lp = c->lp;
    if (!c->inflater) {
        if (!lp->inflate_buf && !(lp->inflate_buf = malloc(FC_HUB_PLAIN_BUF))) return;
        if (!(c->inflater = fc_inflater_new())) return;
        c->inflated = 0;
        c->inflated_utf8 = 0;
    }
    int code = fc_inflate(c->inflater, data, len, fin, &c->inflated, c->parser.max_message,
                          opcode == FC_WS_TEXT ? &c->inflated_utf8 : NULL,
                          c->deflate.client_no_context, lp->inflate_buf, FC_HUB_PLAIN_BUF);
    if (code) {
        fc_session_fail(c, (unsigned)code,
                        code == FC_WS_TOO_BIG ? "inflated message too big"
                                              : "compressed message is not valid");
        return;
    }
    if (fin) {
        c->inflated = 0;
        c->inflated_utf8 = 0;
        if (c->deflate.client_no_context) { /* nothing to keep between messages */
            fc_inflater_free(c->inflater);
            c->inflater = NULL;
        }
    }
}

static void on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    fc_conn *c = ud;
    switch (opcode) {
    case FC_WS_PING:
        if (!c->close_sent) send_control(c, fc_ws_frame(FC_WS_PONG, payload, len));
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
        } else if (fc_writer_idle(c)) {
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

/* The framing of b this client takes: the compressed twin when it
 * negotiated permessage-deflate and the message has one. */
static fc_buf *framing(const fc_conn *c, fc_buf *b) {
    return c->deflate.on && b->deflated ? b->deflated : b;
}

/* Tells a resuming client what it lost: a reset message (never dropped),
 * after which it gets live results. */
static void send_reset(fc_conn *c, enum fc_hub_reset_reason why) {
    fc_lstream *ls = &c->lp->streams[c->stream];
    const fc_hub_stream *hs = &c->lp->hub->streams[c->stream];
    uint64_t oldest = fc_history_oldest(&ls->history);
    fc_strbuf sb;
    fc_sb_init(&sb, 160);
    fc_sb_puts(&sb, "{\"type\":\"reset\",\"stream\":");
    fc_sb_json_str(&sb, hs->name);
    fc_sb_printf(&sb, ",\"epoch\":\"%s\",\"reason\":\"%s\",\"oldest_seq\":%llu}", hs->epoch,
                 fc_hub_reset_reason_name(why),
                 (unsigned long long)(oldest ? oldest : ls->last_seq + 1));
    fc_writer_send(c, fc_sb_failed(&sb) ? NULL : fc_ws_frame(FC_WS_TEXT, sb.data, sb.len));
    fc_sb_free(&sb);
    atomic_fetch_add_explicit(&ls->resets[why], 1, memory_order_relaxed);
}

static void set_cursor(fc_conn *c, uint64_t seq) {
    c->lp->resuming += (seq != 0) - (c->cursor != 0);
    c->cursor = seq;
}

/* After its epoch was checked: from since on, if every result after it is
 * still kept; a reset otherwise. What is kept is queued at once, as far as
 * the client's queue takes it: results arriving before the loop's next
 * check could otherwise push the oldest out of the ring first, and the
 * client would get a second reset (overrun) for a result it could have had. */
static void resume_from(fc_conn *c, uint64_t since) {
    fc_lstream *ls = &c->lp->streams[c->stream];
    if (since > ls->last_seq) {
        send_reset(c, FC_HUB_RESET_FUTURE);
        return;
    }
    uint64_t oldest = fc_history_oldest(&ls->history);
    if (since < ls->last_seq && (!oldest || since + 1 < oldest)) {
        /* What is still kept comes next: exactly the results before
         * oldest_seq are lost. */
        send_reset(c, FC_HUB_RESET_EXPIRED);
        if (oldest) set_cursor(c, oldest);
    } else {
        atomic_fetch_add_explicit(&ls->resumes, 1, memory_order_relaxed);
        if (since < ls->last_seq) set_cursor(c, since + 1);
    }
    fc_session_feed(c);
}

/* ?since=SEQ&epoch=E: what the client missed, if every result of it is
 * still kept; a reset otherwise. On a remote stream whose history is not
 * complete yet (an edge that just subscribed) the client is parked: its
 * cursor keeps live results out of its queue, and the stream's readiness
 * answers it (fc_session_unpark). */
static void start_resume(fc_conn *c, const fc_session_opts *o) {
    const fc_hub_stream *hs = &c->lp->hub->streams[c->stream];
    if (o->epoch.len != strlen(hs->epoch) || memcmp(o->epoch.p, hs->epoch, o->epoch.len) != 0) {
        send_reset(c, FC_HUB_RESET_EPOCH);
        return;
    }
    if (hs->remote && !c->lp->streams[c->stream].ready) {
        c->parked = 1;
        set_cursor(c, o->since + 1);
        return;
    }
    resume_from(c, o->since);
}

void fc_session_unpark(fc_conn *c) {
    uint64_t since = c->cursor - 1;
    c->parked = 0;
    set_cursor(c, 0);
    if (c->state != FC_CONN_WS || c->close_sent) return;
    resume_from(c, since);
}

void fc_session_start(fc_conn *c, int stream, const fc_ws_upgrade *up, const fc_session_opts *o) {
    char resp[384];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     up->accept, o->extensions ? "Sec-WebSocket-Extensions: " : "",
                     o->extensions ? o->extensions : "", o->extensions ? "\r\n" : "");
    fc_writer_send(c, fc_buf_from(resp, (size_t)n));
    fc_loop *lp = c->lp;
    c->state = FC_CONN_WS;
    c->want_preview = o->want_preview != 0;
    c->deadline_ms = 0;
    c->last_rx_ms = c->progress_ms = (int64_t)uv_now(&lp->uv);
    fc_ws_parser_init(&c->parser, 1, lp->lim.max_message);
    c->parser.rsv1_ok = c->deflate.on;
    fc_conn_subscribe(c, stream);
    fc_lstream *ls = &lp->streams[stream];
    if (ls->sticky) { /* flagged FC_BUF_KEEP when published */
        fc_queue_push(&c->q, fc_buf_ref(ls->sticky));
        fc_writer_mark(c);
    }
    if (o->resume) {
        start_resume(c, o);
    } else if (o->last && ls->history.len) {
        fc_queue_push(&c->q, fc_buf_ref(framing(c, fc_history_get(&ls->history, ls->last_seq))));
        fc_writer_mark(c);
    }
}

void fc_session_feed(fc_conn *c) {
    if (!c->cursor || c->parked) return;
    if (c->state != FC_CONN_WS || c->close_sent) {
        set_cursor(c, 0);
        return;
    }
    fc_lstream *ls = &c->lp->streams[c->stream];
    const fc_queue_limits *lim = &c->lp->lim.queue;
    int queued = 0;
    while (c->cursor) {
        if (c->cursor > ls->last_seq) {
            /* Everything published so far is queued. It joins the live
             * fan-out once half its queue is free, so the next live results
             * find room (a full queue would apply the policy to them). */
            if (c->q.bytes <= lim->bytes / 2) set_cursor(c, 0);
            break;
        }
        fc_buf *b = fc_history_get(&ls->history, c->cursor);
        if (!b) { /* released before it was sent: say so, go on from what is kept */
            send_reset(c, FC_HUB_RESET_OVERRUN);
            uint64_t oldest = fc_history_oldest(&ls->history);
            set_cursor(c, oldest > c->cursor ? oldest : 0);
            continue;
        }
        b = framing(c, b);
        if (fc_queue_over(&c->q, b->len, lim)) break; /* the socket must drain first */
        fc_queue_push(&c->q, fc_buf_ref(b));
        c->cursor++;
        queued = 1;
    }
    if (queued) fc_writer_mark(c);
}

void fc_session_deliver(fc_conn *c, fc_buf *b, enum fc_slow_policy policy) {
    if (c->close_sent || c->state != FC_CONN_WS) return;
    if ((b->flags & FC_BUF_PREVIEW) && !c->want_preview) return;
    if (c->cursor && !(b->flags & FC_BUF_KEEP)) return; /* resuming: fed from the history */
    const fc_queue_limits *lim = &c->lp->lim.queue;
    b = framing(c, b);
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
    } else if (v == FC_QUEUE_CLOSE) { /* the policy, or status messages piling up */
        fc_hub_count_close(ls, b->flags & FC_BUF_KEEP ? FC_HUB_CLOSE_CONTROL : FC_HUB_CLOSE_SLOW);
        send_close(c, FC_WS_POLICY, "slow consumer");
    }
}

void fc_session_tick(fc_conn *c, int64_t now) {
    if (c->state != FC_CONN_WS || c->close_sent) return;
    const fc_loop_limits *cfg = &c->lp->lim;
    fc_lstream *ls = &c->lp->streams[c->stream];
    if (c->token_exp_ms && fc_now_us() / 1000 >= c->token_exp_ms) {
        /* exp is wall-clock time, so it is compared with the wall clock;
         * noticed on this tick: up to one tick period after exp + leeway. */
        fc_hub_count_close(ls, FC_HUB_CLOSE_TOKEN_EXPIRED);
        fc_session_fail(c, FC_WS_TOKEN_EXPIRED, "token expired");
        return;
    }
    if (fc_writer_idle(c)) {
        c->progress_ms = now;
    } else if (now - c->progress_ms >= cfg->write_timeout_ms) {
        /* It takes nothing, so a close frame would not get through either. */
        fc_debug("closing client: no write progress for %d ms", cfg->write_timeout_ms);
        fc_hub_count_close(ls, FC_HUB_CLOSE_WRITE_TIMEOUT);
        fc_conn_close(c);
        return;
    }
    if (c->ping_sent_ms) {
        if (now - c->ping_sent_ms >= cfg->ping_timeout_ms) {
            fc_hub_count_close(ls, FC_HUB_CLOSE_PING_TIMEOUT);
            fc_session_fail(c, FC_WS_INTERNAL, "keepalive ping timeout");
            c->deadline_ms = now + 100; /* the peer is gone: do not wait long */
        }
    } else if (now - c->last_rx_ms >= cfg->ping_interval_ms) {
        c->ping_sent_ms = now;
        send_control(c, fc_ws_frame(FC_WS_PING, "fc", 2));
    }
}

void fc_session_going_away(fc_conn *c) {
    send_close(c, FC_WS_GOING_AWAY, "server shutting down");
}

void fc_session_stream_gone(fc_conn *c, unsigned code, const char *reason) {
    c->parked = 0;
    set_cursor(c, 0); /* the history it was fed from goes */
    send_close(c, code, reason);
    fc_conn_unsubscribe(c);
}
