/* permessage-deflate (RFC 7692), compressing each message once.
 *
 * With server_no_context_takeover every message is deflated on its own, so
 * one compressed frame is valid for every client that negotiated the
 * extension: the sequencer compresses a result once and attaches the
 * compressed frame (RSV1 set) to the plain one as its twin, shared by
 * reference like the plain frame; each client's queue takes the framing it
 * negotiated. Clients' own compressed messages are inflated only to be
 * checked (UTF-8, the size limit on the inflated size) and discarded.
 *
 * zlib, not libdeflate: the one library does both sides, and inflating a
 * client that keeps its context needs zlib's streaming state; compressing
 * once per message makes libdeflate's speed matter little.
 *
 * Threads: negotiation is pure (any thread); a deflater belongs to one
 * thread at a time (a stream's sequencer); an inflater to one connection's
 * loop. */
#ifndef FC_HUB_DEFLATE_H
#define FC_HUB_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "hub/http.h"
#include "hub/ws.h"
#include "util/buf.h"

/* What was agreed with a client. */
typedef struct fc_ws_deflate {
    int on;                /* permessage-deflate is in effect */
    int client_no_context; /* the client resets its compressor per message */
} fc_ws_deflate;

/* Reads the client's Sec-WebSocket-Extensions offers and accepts the first
 * permessage-deflate offer framecast can honour: it always answers with
 * server_no_context_takeover, echoes client_no_context_takeover when
 * offered, and declines an offer that asks for a server window under 15
 * bits or carries an unknown, repeated or malformed parameter. On success
 * returns 1 and writes the response header's value into resp (cap bytes);
 * otherwise 0 (the connection goes on without the extension). */
int fc_ws_deflate_accept(const fc_http_request *req, fc_ws_deflate *out, char *resp, size_t cap);

/* Compresses messages, one at a time. */
typedef struct fc_deflater fc_deflater;
fc_deflater *fc_deflater_new(int level);
void fc_deflater_free(fc_deflater *d);
/* Attaches to msg (a whole unmasked text or binary frame, not yet shared)
 * its compressed twin in msg->deflated: the payload deflated without
 * context, the 0x00 0x00 0xff 0xff tail removed, framed with RSV1.
 * Nothing when the payload is shorter than min_len or does not shrink. */
void fc_deflater_twin(fc_deflater *d, fc_buf *msg, size_t min_len);

/* Inflates one client's compressed messages. */
typedef struct fc_inflater fc_inflater;
fc_inflater *fc_inflater_new(void);
void fc_inflater_free(fc_inflater *inf);
/* A chunk of a compressed message (fin on its last one). The inflated
 * bytes are counted against max (over it: FC_WS_TOO_BIG, at once, without
 * inflating the rest: a deflate bomb costs nothing) and, when utf8 is not
 * NULL (a text message), checked as UTF-8 (FC_WS_INVALID_DATA). Corrupt
 * data: FC_WS_INVALID_DATA. Returns 0 or that close code. scratch (cap
 * bytes) receives the inflated bytes, which are then dropped. At fin the
 * state is reset when reset is set (the client does not keep its context). */
int fc_inflate(fc_inflater *inf, const uint8_t *in, size_t len, int fin, uint64_t *total,
               uint64_t max, fc_utf8_state *utf8, int reset, uint8_t *scratch, size_t cap);

#endif
