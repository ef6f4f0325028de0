/* A new connection's HTTP request: the head is read into a bounded buffer
 * (head_limit bytes within handshake_timeout_ms, else 431 or 408), then
 * routed: GET /ws/<stream> upgrades to a WebSocket session, other GETs and
 * HEADs go to the HTTP handler, and so do POSTs once their body (with a
 * Content-Length, at most max_body) is read; anything else gets its error
 * answer. Every
 * answer but the upgrade closes the connection once written. Loop thread. */
#ifndef FC_HUB_REQUEST_H
#define FC_HUB_REQUEST_H

#include <stddef.h>

#include "hub/internal.h"
#include "hub/session.h"

/* --handshake-timeout passed with no whole request (state FC_CONN_HTTP or
 * FC_CONN_BODY): a request begun gets 408 and the connection lingers; a
 * connection that sent nothing (a browser's preconnect, a TLS handshake
 * not finished) is closed silently. Counted as handshake_timeout. */
void fc_request_timeout(fc_conn *c);

/* New bytes of the head arrived: c->head[old_len .. head_len). */
void fc_request_input(fc_conn *c, size_t old_len);

/* Bytes of a POST body (state FC_CONN_BODY); once it is whole the request
 * is answered. */
void fc_request_body(fc_conn *c, const uint8_t *data, size_t len);

/* Reads preview, last, since and epoch from a subscriber's query
 * (docs/protocol.md); the epoch is copied into epoch_buf (FC_HUB_EPOCH_MAX
 * + 2 bytes, at most FC_HUB_EPOCH_MAX + 1 of them used: one over the
 * longest epoch never matches), as the head it points into is freed before
 * the session starts. Returns NULL, or what is wrong for a 400 answer.
 * Pure: any thread. */
const char *fc_request_session_opts(fc_http_slice query, fc_session_opts *o, char *epoch_buf);

#endif
