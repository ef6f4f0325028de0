/* libFuzzer target for the server-role WebSocket frame parser (src/hub/ws.c).
 *
 * Input: two bytes choosing where to split the stream, one byte choosing the
 * message size limit, then the bytes a client sends. The stream is parsed
 * twice: once in two feeds split at the chosen point, once in one feed. Both
 * must agree (the parser is incremental, chunking must not matter), and every
 * callback must stay inside the bytes it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/ws.h"
#include "util/strbuf.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

typedef struct run {
    fc_strbuf log;       /* a transcript of every event, to compare runs */
    const uint8_t *feed; /* the buffer of the current fc_ws_parse call */
    size_t feed_len;
    uint64_t data_total, given; /* data bytes delivered, stream bytes fed */
    int msg_opcode;             /* the data message in progress, 0 if none */
    int closed;                 /* a CLOSE was delivered */
    fc_utf8_state utf8;         /* of the text message in progress */
    uint64_t msg_len, max_message;
} run;

static void on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    run *r = ud;
    CHECK(!r->closed);
    CHECK(opcode == FC_WS_TEXT || opcode == FC_WS_BINARY);
    CHECK(!r->msg_opcode || r->msg_opcode == opcode);
    /* Chunk boundaries differ between runs; the log records only content. */
    if (!r->msg_opcode) fc_sb_printf(&r->log, "|msg %d|", opcode);
    r->msg_opcode = opcode;
    if (len) {
        /* Inside the buffer given to this call, never more than was given. */
        CHECK(data >= r->feed && data + len <= r->feed + r->feed_len);
        r->data_total += len;
        CHECK(r->data_total <= r->given);
        r->msg_len += len;
        CHECK(r->msg_len <= r->max_message);
        if (opcode == FC_WS_TEXT) CHECK(fc_utf8_feed(&r->utf8, data, len) == 0);
        fc_sb_append(&r->log, data, len);
    }
    if (fin) {
        /* A delivered text message is complete, valid UTF-8. */
        if (opcode == FC_WS_TEXT) CHECK(r->utf8 == 0);
        fc_sb_puts(&r->log, "|end|");
        r->msg_opcode = 0;
        r->msg_len = 0;
        r->utf8 = 0;
    }
}

static void on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    run *r = ud;
    CHECK(!r->closed);
    CHECK(opcode == FC_WS_PING || opcode == FC_WS_PONG || opcode == FC_WS_CLOSE);
    CHECK(len <= FC_WS_MAX_CONTROL);
    if (opcode == FC_WS_CLOSE) {
        CHECK(len != 1);
        if (len >= 2) {
            CHECK(fc_ws_close_code_valid((unsigned)payload[0] << 8 | payload[1]));
            fc_utf8_state st = 0;
            CHECK(fc_utf8_feed(&st, payload + 2, len - 2) == 0 && st == 0);
        }
        r->closed = 1;
    }
    fc_sb_printf(&r->log, "|ctl %d %zu|", opcode, len);
    fc_sb_append(&r->log, payload, len);
}

static const fc_ws_parser_cbs CBS = {on_data, on_control};

/* One fc_ws_parse call on a private copy of exactly n bytes. */
static int feed(fc_ws_parser *p, run *r, const uint8_t *data, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);
    CHECK(copy);
    if (n) memcpy(copy, data, n);
    r->feed = copy;
    r->feed_len = n;
    r->given += n;
    int rc = fc_ws_parse(p, copy, n, &CBS, r);
    free(copy);
    CHECK(rc == 0 || rc == FC_WS_PROTOCOL_ERROR || rc == FC_WS_INVALID_DATA || rc == FC_WS_TOO_BIG);
    if (rc) CHECK(p->error != NULL);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    const uint8_t *stream = data + 3;
    size_t n = size - 3;
    size_t split = ((size_t)data[0] << 8 | data[1]) % (n + 1);
    uint64_t max_message = data[2] ? (uint64_t)data[2] * 8 : 65536;

    run a = {.max_message = max_message}, b = {.max_message = max_message};
    fc_sb_init(&a.log, 256);
    fc_sb_init(&b.log, 256);

    /* Two feeds, split at the chosen point. */
    fc_ws_parser pa;
    fc_ws_parser_init(&pa, 1, max_message);
    int rc1 = feed(&pa, &a, stream, split);
    size_t logged = a.log.len;
    int rc2 = feed(&pa, &a, stream + split, n - split);
    if (rc1) {
        /* After an error the parser ignores input. */
        CHECK(rc2 == 0);
        CHECK(a.log.len == logged);
    }
    int rca = rc1 ? rc1 : rc2;

    /* One feed. */
    fc_ws_parser pb;
    fc_ws_parser_init(&pb, 1, max_message);
    int rcb = feed(&pb, &b, stream, n);

    CHECK(rca == rcb);
    if (rca == 0) {
        CHECK(a.log.len == b.log.len && memcmp(a.log.data, b.log.data, a.log.len) == 0);
        CHECK(a.closed == b.closed);
    } else {
        /* Data of a chunk that fails UTF-8 validation is withheld, so how
         * much was delivered before the error depends on the chunking; each
         * transcript must still be a prefix of the other. */
        size_t common = a.log.len < b.log.len ? a.log.len : b.log.len;
        CHECK(memcmp(a.log.data, b.log.data, common) == 0);
        CHECK(!a.closed && !b.closed);
    }
    CHECK(a.data_total <= n);

    fc_sb_free(&a.log);
    fc_sb_free(&b.log);
    return 0;
}
