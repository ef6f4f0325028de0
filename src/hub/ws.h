/* RFC 6455 WebSocket codec: handshake values, frame headers, an incremental
 * frame parser and an incremental UTF-8 validator.
 *
 * Why our own codec: fan-out needs one framed buffer shared by every client,
 * which libwebsockets (one write per writable callback) and wslay (copies each
 * queued message per connection) do not allow. The codec is pure: no I/O, no
 * allocation, no threads; every function may be called on any thread, each
 * parser is owned by one connection. Both roles are supported: the server
 * (frames from clients must be masked) and the client used by
 * framecast-client and framecast-bench (frames from the server must not be). */
#ifndef FC_HUB_WS_H
#define FC_HUB_WS_H

#include <stddef.h>
#include <stdint.h>

#include "hub/http.h"
#include "util/buf.h"
#include "util/strbuf.h"

enum fc_ws_opcode {
    FC_WS_CONT = 0x0,
    FC_WS_TEXT = 0x1,
    FC_WS_BINARY = 0x2,
    FC_WS_CLOSE = 0x8,
    FC_WS_PING = 0x9,
    FC_WS_PONG = 0xA,
};

enum fc_ws_close_code {
    FC_WS_NORMAL = 1000,
    FC_WS_GOING_AWAY = 1001,
    FC_WS_PROTOCOL_ERROR = 1002,
    FC_WS_INVALID_DATA = 1007, /* e.g. text that is not UTF-8 */
    FC_WS_POLICY = 1008,       /* e.g. a slow consumer */
    FC_WS_TOO_BIG = 1009,
    FC_WS_INTERNAL = 1011,
    /* framecast's own, in the private range (4000-4999): the client's
     * token expired; it may reconnect with a fresh one. 4401 echoes HTTP's
     * 401, which the same client gets if it reconnects with the old one. */
    FC_WS_TOKEN_EXPIRED = 4401,
};

#define FC_WS_MAX_HEADER  14   /* 2 + 8 length bytes + 4 mask bytes */
#define FC_WS_RSV1        0x40 /* or'ed into an opcode: a permessage-deflate message */
#define FC_WS_ACCEPT_LEN  28   /* base64 of a SHA-1 digest */
#define FC_WS_MAX_CONTROL 125  /* RFC 6455 5.5 */

/* --- Handshake ---------------------------------------------------------- */

/* 1 if key (len bytes) is base64 that decodes to exactly 16 bytes, else 0. */
int fc_ws_key_valid(const char *key, size_t len);
/* Writes the Sec-WebSocket-Accept value for key: 28 characters and a NUL. */
void fc_ws_accept(const char *key, size_t len, char out[FC_WS_ACCEPT_LEN + 1]);

/* The outcome of checking an upgrade request (RFC 6455 4.2.1). */
typedef struct fc_ws_upgrade {
    int status;         /* 101 when the upgrade may proceed, else the HTTP error status */
    const char *reason; /* for an error: what was wrong, for the response body */
    char accept[FC_WS_ACCEPT_LEN + 1];
} fc_ws_upgrade;

/* Checks method, version, Upgrade, Connection, Sec-WebSocket-Key and
 * Sec-WebSocket-Version. Returns out->status. */
int fc_ws_check_upgrade(const fc_http_request *req, fc_ws_upgrade *out);

/* --- Frames ------------------------------------------------------------- */

/* Writes an unmasked frame header (server role) and returns its length: 2, 4
 * or 10 bytes, the three length forms. out must hold 10 bytes. opcode may
 * carry FC_WS_RSV1. */
size_t fc_ws_header(uint8_t *out, int opcode, int fin, uint64_t payload_len);
/* Writes a masked frame header (client role) and returns its length (6, 8 or
 * 14). out must hold FC_WS_MAX_HEADER bytes. */
size_t fc_ws_header_masked(uint8_t *out, int opcode, int fin, uint64_t payload_len,
                           const uint8_t mask[4]);
/* XORs data with mask, starting at mask position offset % 4. */
void fc_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* A whole unmasked frame in a new buffer with one reference, or NULL. */
fc_buf *fc_ws_frame(int opcode, const void *payload, size_t len);

/* A message rendered in place: sb must have been initialized with
 * fc_sb_init_prefixed(sb, FC_WS_FRAME_PREFIX, ...); its content becomes the
 * payload of a frame in a buffer that takes over sb's memory (no copy), and
 * sb is left empty. */
#define FC_WS_FRAME_PREFIX (offsetof(fc_buf, storage) + 10)
fc_buf *fc_ws_frame_sb(int opcode, fc_strbuf *sb);
/* A close frame with code (0: no payload) and an optional reason, truncated to
 * fit 125 bytes. */
fc_buf *fc_ws_close_frame(unsigned code, const char *reason);

/* 1 if a peer may send this close code (RFC 6455 7.4, IANA registry). */
int fc_ws_close_code_valid(unsigned code);

/* --- UTF-8 -------------------------------------------------------------- */

/* Incremental validator state: 0 means "at a character boundary". */
typedef uint32_t fc_utf8_state;
/* Feeds n bytes. Returns 0 while the input is valid so far, -1 once not.
 * The input is complete and valid when it returns 0 and *st == 0. */
int fc_utf8_feed(fc_utf8_state *st, const uint8_t *s, size_t n);

/* --- Parser ------------------------------------------------------------- */

typedef struct fc_ws_parser_cbs {
    /* A chunk of a data message, unmasked. opcode is the message's (TEXT or
     * BINARY); fin is 1 on the message's last chunk (len may then be 0). */
    void (*on_data)(void *ud, int opcode, const uint8_t *data, size_t len, int fin);
    /* A complete control frame: PING, PONG or CLOSE. A CLOSE payload has been
     * validated (code and UTF-8 reason); after it the parser ignores input. */
    void (*on_control)(void *ud, int opcode, const uint8_t *payload, size_t len);
} fc_ws_parser_cbs;

typedef struct fc_ws_parser {
    /* configuration */
    int server;           /* 1: peer frames must be masked; 0: must not be */
    uint64_t max_message; /* bytes per message (all fragments); larger closes 1009 */
    /* current frame */
    uint8_t hdr[FC_WS_MAX_HEADER];
    size_t hdr_have;
    int in_payload;
    int fin, opcode, masked;
    uint8_t mask[4];
    uint64_t plen, pdone;
    int rsv1_ok; /* permessage-deflate was negotiated: RSV1 may mark a message */
    /* current message */
    int msg_opcode;     /* 0 when no data message is in progress */
    int msg_compressed; /* its first frame had RSV1: payload is deflated, the
                           caller inflates and checks it (UTF-8, size) */
    uint64_t msg_len;
    fc_utf8_state utf8;
    uint8_t ctrl[FC_WS_MAX_CONTROL];
    int closed; /* a close frame was delivered */
    /* the error, when fc_ws_parse returned a close code */
    const char *error;
} fc_ws_parser;

void fc_ws_parser_init(fc_ws_parser *p, int server, uint64_t max_message);

/* Parses len bytes, unmasking them in place and calling cbs as frames
 * complete. Returns 0, or the close code the connection must be failed with
 * (1002, 1007 or 1009; p->error says why). After an error or a delivered
 * CLOSE the parser ignores further input. */
int fc_ws_parse(fc_ws_parser *p, uint8_t *data, size_t len, const fc_ws_parser_cbs *cbs, void *ud);

#endif
