/* libFuzzer target for what cluster nodes read from each other over NATS
 * (src/cluster/nats_wire.c): a history reply and a result's seq.
 *
 * The first byte picks what the rest is:
 *   0: a history reply: the header parses or not; every entry lies in the
 *      reply, and reading stops (end or malformed) within as many steps as
 *      there are bytes;
 *   1: a result: its seq is read from the first 256 bytes only, without
 *      overflow;
 *   2: entries to send: what fc_wire_history_add writes, parsed back, is
 *      the same entries, count and epoch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/nats_wire.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

static void reply(const uint8_t *data, size_t len) {
    fc_wire_history h;
    if (fc_wire_history_parse(&h, data, len)) return;
    CHECK(memchr(h.epoch, 0, sizeof h.epoch) != NULL);
    CHECK(h.at > data && h.at <= data + len && h.end == data + len);
    const uint8_t *json;
    size_t n;
    int rc, steps = 0;
    while ((rc = fc_wire_history_next(&h, &json, &n)) == 1) {
        CHECK(json >= data && json + n <= data + len);
        CHECK(++steps <= (int)len);
    }
    CHECK(rc == 0 || rc == -1);
}

static void seq(const uint8_t *data, size_t len) {
    uint64_t v = fc_wire_seq(data, len);
    if (v) CHECK(memmem(data, len < 256 ? len : 256, "\"seq\":", 6) != NULL);
}

static void round_trip(const uint8_t *data, size_t len) {
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    fc_wire_history_begin(&sb, "e1");
    /* Entries: a length byte, then that many bytes. */
    const uint8_t *p = data, *end = data + len;
    unsigned count = 0;
    while (p < end) {
        size_t n = *p++;
        if (n > (size_t)(end - p)) n = (size_t)(end - p);
        fc_wire_history_add(&sb, p, n);
        p += n;
        count++;
    }
    fc_wire_history_end(&sb, "epoch-0123456789abcdef", count, count & 1);
    fc_wire_history h;
    CHECK(fc_wire_history_parse(&h, (const uint8_t *)sb.data, sb.len) == 0);
    CHECK(strcmp(h.epoch, "epoch-0123456789abcdef") == 0 && h.count == count &&
          h.more == (int)(count & 1));
    p = data;
    const uint8_t *json;
    size_t n;
    for (unsigned i = 0; i < count; i++) {
        size_t want = *p++;
        if (want > (size_t)(end - p)) want = (size_t)(end - p);
        CHECK(fc_wire_history_next(&h, &json, &n) == 1);
        CHECK(n == want && memcmp(json, p, n) == 0);
        p += want;
    }
    CHECK(fc_wire_history_next(&h, &json, &n) == 0);
    fc_sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t len = size - 1;
    uint8_t *copy = malloc(len ? len : 1); /* exactly the bytes */
    memcpy(copy, data + 1, len);
    switch (data[0] % 3) {
    case 0:
        reply(copy, len);
        break;
    case 1:
        seq(copy, len);
        break;
    default:
        round_trip(copy, len);
        break;
    }
    free(copy);
    return 0;
}
