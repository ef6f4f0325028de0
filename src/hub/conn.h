/* A connection's record on its loop: adopting an accepted socket, the
 * loop's list of connections, the stream's subscriber list, and the close,
 * which releases everything the connection holds once libuv has let go of
 * the handle. Loop thread only. */
#ifndef FC_HUB_CONN_H
#define FC_HUB_CONN_H

#include "hub/internal.h"

/* Wraps an accepted socket (takes fd; closed on failure) and starts reading
 * with the given callbacks. Returns the connection in the HTTP state with
 * its handshake deadline set, or NULL. */
fc_conn *fc_conn_adopt(fc_loop *lp, int fd, uv_alloc_cb on_alloc, uv_read_cb on_read);

/* Adds an upgraded connection to its stream's subscribers (counted). */
void fc_conn_subscribe(fc_conn *c, int stream);

/* Takes c off its stream's subscribers (counted); c->stream is then -1: a
 * session whose stream was removed, closing. */
void fc_conn_unsubscribe(fc_conn *c);

/* Closes the socket: unlinks the connection from every list at once and
 * frees it in the close callback. Idempotent. */
void fc_conn_close(fc_conn *c);

/* The answer is out on a lingering connection: sends FIN and closes once
 * the client stops sending (EOF), or after a second. */
void fc_conn_linger(fc_conn *c);

/* 1 once fc_conn_close was called. */
static inline int fc_conn_closing(const fc_conn *c) {
    return c->state == FC_CONN_CLOSING;
}

#endif
