/* libFuzzer target for the preview header (src/app/preview.c), the binary
 * message viewers parse before a JPEG (docs/protocol.md).
 *
 * Any bytes: a header that parses lies inside them, its name too, and
 * writing the parsed fields again gives back the same header bytes (the
 * format has no slack: every byte of the 32 is a field). Then the input's
 * first bytes as a stream name: what is written parses back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/preview.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1); /* exactly the input */
    memcpy(buf, data, size);
    fc_preview_header h;
    if (fc_preview_header_parse(buf, size, &h) == 0) {
        CHECK(h.header_len == FC_PREVIEW_FIXED + h.stream_len && h.header_len <= size);
        CHECK((const uint8_t *)h.stream == buf + FC_PREVIEW_FIXED);
        if (h.stream_len <= 1024 && !memchr(h.stream, 0, h.stream_len)) {
            char name[1025];
            memcpy(name, h.stream, h.stream_len);
            name[h.stream_len] = 0;
            uint8_t again[FC_PREVIEW_FIXED + 1024];
            size_t n = fc_preview_header_write(again, sizeof again, name, h.seq, h.capture_us,
                                               h.width, h.height);
            CHECK(n == h.header_len && memcmp(again, buf, n) == 0);
        }
    } else {
        CHECK(size < FC_PREVIEW_FIXED || memcmp(buf, "FCP1", 4) != 0 ||
              (size_t)(buf[4] | buf[5] << 8) != FC_PREVIEW_FIXED + (size_t)(buf[6] | buf[7] << 8) ||
              (size_t)(buf[4] | buf[5] << 8) > size);
    }

    /* Written from fields: parses back to them, in a buffer of exactly its size. */
    size_t nlen = size > 40 ? 40 : size;
    char name[41];
    memcpy(name, data, nlen);
    name[nlen] = 0;
    uint64_t seq = 0;
    memcpy(&seq, data + (size - nlen >= 8 ? nlen : 0), size >= 8 ? 8 : 0);
    uint8_t out[FC_PREVIEW_FIXED + 41];
    size_t n = fc_preview_header_write(out, sizeof out, name, seq, (int64_t)~seq, (uint32_t)seq,
                                       (uint32_t)(seq >> 32));
    CHECK(n == FC_PREVIEW_FIXED + strlen(name));
    uint8_t *exact = malloc(n);
    memcpy(exact, out, n);
    CHECK(fc_preview_header_parse(exact, n, &h) == 0);
    CHECK(h.seq == seq && h.capture_us == (int64_t)~seq && h.width == (uint32_t)seq &&
          h.height == (uint32_t)(seq >> 32));
    CHECK(h.stream_len == strlen(name) && memcmp(h.stream, name, h.stream_len) == 0);
    /* One byte short is not a header. */
    CHECK(fc_preview_header_parse(exact, n - 1, &h) == -1);
    free(exact);
    free(buf);
    return 0;
}
