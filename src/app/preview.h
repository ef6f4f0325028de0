/* Preview frames: a JPEG of a stream's frame, encoded once for all viewers,
 * sent as a binary WebSocket message to clients that asked (?preview=1).
 *
 * Message layout (little-endian; docs/protocol.md):
 *   0  "FCP1"            magic
 *   4  u16 header_len    bytes before the JPEG (32 + name_len)
 *   6  u16 name_len
 *   8  u64 seq           of the result this frame belongs to (sent before it)
 *   16 i64 capture_us
 *   24 u32 width, 28 u32 height of the JPEG
 *   32 the stream name (UTF-8), then the JPEG
 * Encoding runs on a worker thread with a caller-owned encoder. */
#ifndef FC_APP_PREVIEW_H
#define FC_APP_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "source/frame.h"
#include "util/buf.h"

#define FC_PREVIEW_FIXED 32

typedef struct fc_preview_header {
    uint64_t seq;
    int64_t capture_us;
    uint32_t width, height;
    const char *stream; /* points into the parsed buffer, not NUL-terminated */
    size_t stream_len;
    size_t header_len;
} fc_preview_header;

/* Writes a header into out (cap bytes); returns its length, or 0 if it does
 * not fit or the name is longer than 1024 bytes. */
size_t fc_preview_header_write(uint8_t *out, size_t cap, const char *stream, uint64_t seq,
                               int64_t capture_us, uint32_t width, uint32_t height);
/* Parses a header at the start of buf. Returns 0, or -1 if it is not one. */
int fc_preview_header_parse(const uint8_t *buf, size_t len, fc_preview_header *out);

/* Encodes frame (YUV420P) as a JPEG and returns the whole framed binary
 * WebSocket message flagged FC_BUF_PREVIEW, or NULL. *encoder is a
 * libturbojpeg handle created on first use; free it with fc_preview_free. */
fc_buf *fc_preview_encode(void **encoder, const fc_frame *frame, const char *stream, uint64_t seq,
                          int64_t capture_us, int quality);
void fc_preview_free(void **encoder);

#endif
