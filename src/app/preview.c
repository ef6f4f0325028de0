#include "app/preview.h"

#include <string.h>
#include <turbojpeg.h>

#include "hub/ws.h"

static void put_u16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

size_t fc_preview_header_write(uint8_t *out, size_t cap, const char *stream, uint64_t seq,
                               int64_t capture_us, uint32_t width, uint32_t height) {
    size_t n = strlen(stream);
    if (n > 1024 || FC_PREVIEW_FIXED + n > cap) return 0;
    memcpy(out, "FCP1", 4);
    put_u16(out + 4, (unsigned)(FC_PREVIEW_FIXED + n));
    put_u16(out + 6, (unsigned)n);
    put_u64(out + 8, seq);
    put_u64(out + 16, (uint64_t)capture_us);
    put_u64(out + 24, (uint64_t)width | (uint64_t)height << 32);
    memcpy(out + FC_PREVIEW_FIXED, stream, n);
    return FC_PREVIEW_FIXED + n;
}

int fc_preview_header_parse(const uint8_t *buf, size_t len, fc_preview_header *out) {
    if (len < FC_PREVIEW_FIXED || memcmp(buf, "FCP1", 4) != 0) return -1;
    size_t hlen = (size_t)buf[4] | (size_t)buf[5] << 8;
    size_t nlen = (size_t)buf[6] | (size_t)buf[7] << 8;
    if (hlen != FC_PREVIEW_FIXED + nlen || hlen > len) return -1;
    uint64_t wh = get_u64(buf + 24);
    *out = (fc_preview_header){.seq = get_u64(buf + 8),
                               .capture_us = (int64_t)get_u64(buf + 16),
                               .width = (uint32_t)wh,
                               .height = (uint32_t)(wh >> 32),
                               .stream = (const char *)buf + FC_PREVIEW_FIXED,
                               .stream_len = nlen,
                               .header_len = hlen};
    return 0;
}

fc_buf *fc_preview_encode(void **encoder, const fc_frame *f, const char *stream, uint64_t seq,
                          int64_t capture_us, int quality) {
    if (f->view.format != FC_PIX_YUV420P) return NULL;
    if (!*encoder && !(*encoder = tjInitCompress())) return NULL;
    unsigned char *jpeg = NULL;
    unsigned long jpeg_len = 0;
    const unsigned char *planes[3] = {f->view.data[0], f->view.data[1], f->view.data[2]};
    int strides[3] = {f->view.stride[0], f->view.stride[1], f->view.stride[2]};
    if (tjCompressFromYUVPlanes(*encoder, planes, f->view.width, strides, f->view.height,
                                TJSAMP_420, &jpeg, &jpeg_len, quality, TJFLAG_FASTDCT) != 0) {
        tjFree(jpeg);
        return NULL;
    }
    uint8_t hdr[FC_PREVIEW_FIXED + 1024];
    size_t hl = fc_preview_header_write(hdr, sizeof hdr, stream, seq, capture_us,
                                        (uint32_t)f->view.width, (uint32_t)f->view.height);
    fc_buf *b = hl ? fc_buf_new(10 + hl + jpeg_len) : NULL;
    if (b) {
        size_t wh = fc_ws_header(b->data, FC_WS_BINARY, 1, hl + jpeg_len);
        memcpy(b->data + wh, hdr, hl);
        memcpy(b->data + wh + hl, jpeg, jpeg_len);
        b->len = wh + hl + jpeg_len;
        b->flags = FC_BUF_PREVIEW;
    }
    tjFree(jpeg);
    return b;
}

void fc_preview_free(void **encoder) {
    if (*encoder) tjDestroy(*encoder);
    *encoder = NULL;
}
