/* A WebSocket session: what happens on a connection after the upgrade.
 * Frames from the client are parsed (and discarded: a broadcaster has
 * nothing to hear but control frames); pings are answered, pongs end a
 * keepalive wait, a close frame is echoed. Published messages are offered
 * to the client's queue under the stream's slow-client policy. The closing
 * handshake: after our close frame nothing more is queued, and the peer
 * has close_timeout_ms to answer. Loop thread only. */
#ifndef FC_HUB_SESSION_H
#define FC_HUB_SESSION_H

#include <stdint.h>

#include "hub/internal.h"

/* What a client asked for in its request's query (docs/protocol.md). */
typedef struct fc_session_opts {
    int want_preview;       /* ?preview=1: JPEG previews too */
    int last;               /* ?last=1: the newest kept result at once */
    int resume;             /* ?since=SEQ was given */
    uint64_t since;         /* the last seq the client has */
    fc_http_slice epoch;    /* ?epoch=E: the numbering its seq belongs to */
    const char *extensions; /* the Sec-WebSocket-Extensions answer, or NULL */
} fc_session_opts;

/* Completes the upgrade of c to a subscriber of stream: queues the 101
 * answer and the stream's sticky message; then, if it resumes, either
 * starts feeding it what it missed from the history, or queues a reset
 * message saying what it lost; or with last, the newest kept result. */
void fc_session_start(fc_conn *c, int stream, const fc_ws_upgrade *up, const fc_session_opts *o);

/* A resuming client: queues results from its cursor while its queue stays
 * within the bound; once it has everything published so far and half its
 * queue is free, it joins the live fan-out (cursor 0). Called once per loop
 * iteration for each resuming client. */
void fc_session_feed(fc_conn *c);
/* A parked client (resuming a remote stream before it was ready): the
 * stream's history is now what it can be; answer its resume from it. */
void fc_session_unpark(fc_conn *c);

/* Bytes read from the client (unmasked in place). */
void fc_session_input(fc_conn *c, uint8_t *data, size_t len);

/* Offers a message published on the session's stream (a resuming client
 * gets results from the history instead, in order). */
void fc_session_deliver(fc_conn *c, fc_buf *b, enum fc_slow_policy policy);

/* Once per loop tick: close a client whose token has expired (close code
 * 4401), close one whose queue makes no progress, ping a silent client,
 * fail one that does not answer. now is the loop's time in ms. */
void fc_session_tick(fc_conn *c, int64_t now);

/* Fails the connection: a close frame with code and reason, then the TCP
 * close once it is written. */
void fc_session_fail(fc_conn *c, unsigned code, const char *why);

/* Shutdown: a close frame 1001 after what is already queued. */
void fc_session_going_away(fc_conn *c);

/* Its stream was removed: a close frame with code and reason after what
 * is already queued, and c leaves the stream's subscribers at once
 * (c->stream becomes -1) while the closing handshake ends. */
void fc_session_stream_gone(fc_conn *c, unsigned code, const char *reason);

#endif
