/* RFC 6455 codec (see ws.h). SHA-1 and base64 come from OpenSSL. */
#include "hub/ws.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* --- Handshake ---------------------------------------------------------- */

int fc_ws_key_valid(const char *key, size_t len) {
    /* 16 bytes encode to exactly 24 base64 characters ending in "==". */
    if (len != 24 || key[22] != '=' || key[23] != '=') return 0;
    /* EVP_DecodeBlock takes '=' anywhere as zero bits: check the alphabet. */
    for (size_t i = 0; i < 22; i++)
        if (!isalnum((unsigned char)key[i]) && key[i] != '+' && key[i] != '/') return 0;
    unsigned char out[18];
    int n = EVP_DecodeBlock(out, (const unsigned char *)key, 24);
    /* EVP_DecodeBlock does not strip padding: 24 chars give 18 bytes, 2 of them padding. */
    return n == 18;
}

void fc_ws_accept(const char *key, size_t len, char out[FC_WS_ACCEPT_LEN + 1]) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA_CTX ctx;
    /* The SHA1_* functions are deprecated in OpenSSL 3 but remain the
     * simplest call for one 20-byte digest; EVP would add a context alloc. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, key, len);
    SHA1_Update(&ctx, WS_GUID, sizeof WS_GUID - 1);
    SHA1_Final(digest, &ctx);
#pragma GCC diagnostic pop
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
}

int fc_ws_check_upgrade(const fc_http_request *req, fc_ws_upgrade *out) {
    memset(out, 0, sizeof *out);
    const fc_http_header *h;
    if (req->method.len != 3 || memcmp(req->method.p, "GET", 3) != 0) { /* case-sensitive */
        out->reason = "a WebSocket upgrade must use GET";
        return out->status = 405;
    }
    if (req->minor_version < 1) {
        out->reason = "a WebSocket upgrade needs HTTP/1.1";
        return out->status = 400;
    }
    h = fc_http_find(req, "Upgrade");
    if (!h || !fc_http_has_token(h->value, "websocket")) {
        out->reason = "expected the header 'Upgrade: websocket'";
        return out->status = 400;
    }
    h = fc_http_find(req, "Connection");
    if (!h || !fc_http_has_token(h->value, "Upgrade")) {
        out->reason = "expected a 'Connection' header with the token 'Upgrade'";
        return out->status = 400;
    }
    h = fc_http_find(req, "Sec-WebSocket-Version");
    if (!h || !fc_http_slice_ieq(h->value, "13")) {
        out->reason = "unsupported WebSocket version (expected Sec-WebSocket-Version: 13)";
        return out->status = 426;
    }
    h = fc_http_find(req, "Sec-WebSocket-Key");
    if (!h || !fc_ws_key_valid(h->value.p, h->value.len)) {
        out->reason = "Sec-WebSocket-Key must be base64 of 16 bytes";
        return out->status = 400;
    }
    fc_ws_accept(h->value.p, h->value.len, out->accept);
    return out->status = 101;
}

/* --- Frames ------------------------------------------------------------- */

static size_t put_len(uint8_t *out, int opcode, int fin, uint64_t len, uint8_t mask_bit) {
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & (0x0F | FC_WS_RSV1)));
    if (len < 126) {
        out[1] = (uint8_t)(mask_bit | len);
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t fc_ws_header(uint8_t *out, int opcode, int fin, uint64_t payload_len) {
    return put_len(out, opcode, fin, payload_len, 0);
}

size_t fc_ws_header_masked(uint8_t *out, int opcode, int fin, uint64_t payload_len,
                           const uint8_t mask[4]) {
    size_t n = put_len(out, opcode, fin, payload_len, 0x80);
    memcpy(out + n, mask, 4);
    return n + 4;
}

void fc_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset) {
    for (size_t i = 0; i < len; i++) data[i] ^= mask[(offset + i) & 3];
}

fc_buf *fc_ws_frame(int opcode, const void *payload, size_t len) {
    fc_buf *b = fc_buf_new(len + 10);
    if (!b) return NULL;
    size_t h = fc_ws_header(b->data, opcode, 1, len);
    if (len) memcpy(b->data + h, payload, len);
    b->len = h + len;
    return b;
}

fc_buf *fc_ws_frame_sb(int opcode, fc_strbuf *sb) {
    size_t len = sb->len, cap = sb->cap + 10;
    fc_buf *b = fc_buf_adopt(fc_sb_detach(sb), cap); /* storage: 10 bytes, then the text */
    if (!b) return NULL;
    uint8_t hdr[10];
    size_t h = fc_ws_header(hdr, opcode, 1, len);
    b->data = b->storage + 10 - h;
    memcpy(b->data, hdr, h);
    b->len = h + len;
    return b;
}

fc_buf *fc_ws_close_frame(unsigned code, const char *reason) {
    uint8_t payload[FC_WS_MAX_CONTROL];
    size_t n = 0;
    if (code) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        n = 2;
        if (reason) {
            size_t r = strlen(reason);
            if (r > sizeof payload - 2) {
                r = sizeof payload - 2;
                /* Cut at a character boundary: never before a continuation byte. */
                while (r > 0 && ((unsigned char)reason[r] & 0xC0) == 0x80) r--;
            }
            memcpy(payload + 2, reason, r);
            n += r;
        }
    }
    return fc_ws_frame(FC_WS_CLOSE, payload, n);
}

int fc_ws_close_code_valid(unsigned code) {
    if (code >= 1000 && code <= 1003) return 1;
    if (code >= 1007 && code <= 1014) return 1; /* 1012-1014 registered with IANA */
    return code >= 3000 && code <= 4999;
}

/* --- UTF-8 -------------------------------------------------------------- */

/* State: 0 at a boundary, else (bytes still expected << 16) | (lo << 8) | hi,
 * the range the next byte must fall in (which rules out overlong forms,
 * surrogates and code points above U+10FFFF). */
static uint32_t utf8_lead(uint8_t c) {
    if (c >= 0xC2 && c <= 0xDF) return 1u << 16 | 0x80 << 8 | 0xBF;
    if (c == 0xE0) return 2u << 16 | 0xA0 << 8 | 0xBF;
    if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return 2u << 16 | 0x80 << 8 | 0xBF;
    if (c == 0xED) return 2u << 16 | 0x80 << 8 | 0x9F;
    if (c == 0xF0) return 3u << 16 | 0x90 << 8 | 0xBF;
    if (c >= 0xF1 && c <= 0xF3) return 3u << 16 | 0x80 << 8 | 0xBF;
    if (c == 0xF4) return 3u << 16 | 0x80 << 8 | 0x8F;
    return UINT32_MAX;
}

int fc_utf8_feed(fc_utf8_state *st, const uint8_t *s, size_t n) {
    uint32_t state = *st;
    if (state == UINT32_MAX) return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (state == 0) {
            if (c < 0x80) continue;
            state = utf8_lead(c);
            if (state == UINT32_MAX) break;
        } else {
            if (c < ((state >> 8) & 0xFF) || c > (state & 0xFF)) {
                state = UINT32_MAX;
                break;
            }
            uint32_t left = (state >> 16) - 1;
            state = left ? left << 16 | 0x80 << 8 | 0xBF : 0;
        }
    }
    *st = state;
    return state == UINT32_MAX ? -1 : 0;
}

/* --- Parser ------------------------------------------------------------- */

void fc_ws_parser_init(fc_ws_parser *p, int server, uint64_t max_message) {
    memset(p, 0, sizeof *p);
    p->server = server;
    p->max_message = max_message;
}

static int fail(fc_ws_parser *p, int code, const char *why) {
    p->error = why;
    p->closed = 1;
    return code;
}

/* Bytes of header needed given the first two bytes. */
static size_t header_size(const uint8_t *h) {
    size_t n = 2 + ((h[1] & 0x80) ? 4 : 0);
    uint8_t l = h[1] & 0x7F;
    return n + (l == 126 ? 2 : l == 127 ? 8 : 0);
}

/* Validates a complete header and sets up the frame. Returns 0 or a close code. */
static int start_frame(fc_ws_parser *p) {
    const uint8_t *h = p->hdr;
    p->fin = h[0] >> 7;
    p->opcode = h[0] & 0x0F;
    p->masked = h[1] >> 7;
    uint64_t len = h[1] & 0x7F;
    size_t off = 2;
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        off = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
        off = 10;
        if (len >> 63) return fail(p, FC_WS_PROTOCOL_ERROR, "frame length has its top bit set");
    }
    if (p->masked) memcpy(p->mask, h + off, 4);
    p->plen = len;
    p->pdone = 0;

    int rsv1 = (h[0] & FC_WS_RSV1) != 0;
    if (h[0] & 0x30 || (rsv1 && !p->rsv1_ok))
        return fail(p, FC_WS_PROTOCOL_ERROR, "reserved bits set without a negotiated extension");
    /* permessage-deflate: RSV1 marks a compressed message, on its first frame
     * only (RFC 7692 6.1); control frames are never compressed. */
    if (rsv1 && p->opcode != FC_WS_TEXT && p->opcode != FC_WS_BINARY)
        return fail(p, FC_WS_PROTOCOL_ERROR, "RSV1 on a control or continuation frame");
    if (p->masked != p->server)
        return fail(p, FC_WS_PROTOCOL_ERROR,
                    p->server ? "client frame is not masked" : "server frame is masked");
    switch (p->opcode) {
    case FC_WS_CLOSE:
    case FC_WS_PING:
    case FC_WS_PONG:
        if (!p->fin) return fail(p, FC_WS_PROTOCOL_ERROR, "fragmented control frame");
        if (len > FC_WS_MAX_CONTROL)
            return fail(p, FC_WS_PROTOCOL_ERROR, "control frame longer than 125 bytes");
        return 0;
    case FC_WS_CONT:
        if (!p->msg_opcode) return fail(p, FC_WS_PROTOCOL_ERROR, "continuation without a message");
        break;
    case FC_WS_TEXT:
    case FC_WS_BINARY:
        if (p->msg_opcode)
            return fail(p, FC_WS_PROTOCOL_ERROR, "new message inside a fragmented message");
        p->msg_opcode = p->opcode;
        p->msg_len = 0;
        p->utf8 = 0;
        p->msg_compressed = rsv1;
        break;
    default:
        return fail(p, FC_WS_PROTOCOL_ERROR, "reserved opcode");
    }
    if (len > p->max_message - p->msg_len) return fail(p, FC_WS_TOO_BIG, "message too big");
    p->msg_len += len;
    return 0;
}

/* Handles the end of a data frame; returns 0 or a close code. */
static int end_data_frame(fc_ws_parser *p, const fc_ws_parser_cbs *cbs, void *ud) {
    if (!p->fin) return 0;
    if (p->msg_opcode == FC_WS_TEXT && !p->msg_compressed && p->utf8 != 0)
        return fail(p, FC_WS_INVALID_DATA, "text message ends inside a UTF-8 sequence");
    int op = p->msg_opcode;
    p->msg_opcode = 0;
    if (cbs->on_data) cbs->on_data(ud, op, NULL, 0, 1);
    return 0;
}

static int end_control_frame(fc_ws_parser *p, const fc_ws_parser_cbs *cbs, void *ud) {
    size_t n = (size_t)p->plen;
    if (p->opcode == FC_WS_CLOSE) {
        if (n == 1) return fail(p, FC_WS_PROTOCOL_ERROR, "close frame with a 1-byte payload");
        if (n >= 2) {
            unsigned code = (unsigned)p->ctrl[0] << 8 | p->ctrl[1];
            if (!fc_ws_close_code_valid(code))
                return fail(p, FC_WS_PROTOCOL_ERROR, "invalid close code");
            fc_utf8_state st = 0;
            if (fc_utf8_feed(&st, p->ctrl + 2, n - 2) || st)
                return fail(p, FC_WS_INVALID_DATA, "close reason is not UTF-8");
        }
        p->closed = 1;
    }
    if (cbs->on_control) cbs->on_control(ud, p->opcode, p->ctrl, n);
    return 0;
}

int fc_ws_parse(fc_ws_parser *p, uint8_t *data, size_t len, const fc_ws_parser_cbs *cbs, void *ud) {
    size_t i = 0;
    int rc;
    while (i < len && !p->closed) {
        if (!p->in_payload) {
            /* Gather the header: 2 bytes tell how many more are needed. */
            size_t need = p->hdr_have < 2 ? 2 : header_size(p->hdr);
            size_t take = need - p->hdr_have;
            if (take > len - i) take = len - i;
            memcpy(p->hdr + p->hdr_have, data + i, take);
            p->hdr_have += take;
            i += take;
            if (p->hdr_have < 2 || p->hdr_have < header_size(p->hdr)) continue;
            p->hdr_have = 0;
            if ((rc = start_frame(p))) return rc;
            p->in_payload = 1;
            if (p->plen > 0) continue;
        } else {
            uint64_t left = p->plen - p->pdone;
            size_t take = left < len - i ? (size_t)left : len - i;
            uint8_t *chunk = data + i;
            if (p->masked) fc_ws_mask(chunk, take, p->mask, p->pdone);
            if (p->opcode & 0x8) {
                memcpy(p->ctrl + p->pdone, chunk, take);
            } else {
                /* A compressed message is checked once inflated, by the caller. */
                if (p->msg_opcode == FC_WS_TEXT && !p->msg_compressed &&
                    fc_utf8_feed(&p->utf8, chunk, take))
                    return fail(p, FC_WS_INVALID_DATA, "text message is not UTF-8");
                if (cbs->on_data && take) cbs->on_data(ud, p->msg_opcode, chunk, take, 0);
            }
            p->pdone += take;
            i += take;
            if (p->pdone < p->plen) continue;
        }
        /* The frame is complete. */
        p->in_payload = 0;
        rc = (p->opcode & 0x8) ? end_control_frame(p, cbs, ud) : end_data_frame(p, cbs, ud);
        if (rc) return rc;
    }
    return 0;
}
