/* Decoded frames as they travel from a source to the predictor workers.
 * A frame is written by the source thread before it is handed over, then
 * only read; whoever holds it last frees it (fc_frame_free). Its pixels are
 * either its own storage or borrowed from a decoder buffer (release). */
#ifndef FC_SOURCE_FRAME_H
#define FC_SOURCE_FRAME_H

#include <stdint.h>

#include "framecast/predictor.h"

#define FC_MAX_TRUTH 16

/* A ground-truth box known to a synthetic source. */
typedef struct fc_box {
    int x, y, w, h;
} fc_box;

typedef struct fc_frame {
    fc_frame_view view;
    int64_t capture_us; /* wall clock when the frame was made or decoded */
    uint64_t ticket;    /* order in which workers took it from the slot, from 0 */
    int ntruth;         /* ground truth, synthetic sources only */
    fc_box truth[FC_MAX_TRUTH];
    uint8_t *pixels;               /* owned storage behind view.data, or NULL */
    void (*release)(void *opaque); /* frees borrowed pixels, or NULL */
    void *opaque;
    struct fc_frame *preview; /* a YUV420P copy for the viewers' JPEG, or NULL */
} fc_frame;

/* Bytes after the last plane of a frame's own storage. libswscale's SIMD
 * code reads up to 16 bytes past the end of its input's last row (valgrind
 * saw it, from sws_scale on an RGB frame: FFmpeg's own buffers carry
 * AV_INPUT_BUFFER_PADDING_SIZE, 64), which past an allocation's end could
 * fault. */
#define FC_FRAME_PADDING 64

/* A frame with its own storage for format at w x h (planes contiguous,
 * strides = width * bytes per pixel, then FC_FRAME_PADDING zero bytes), or
 * NULL. src size = w x h. */
fc_frame *fc_frame_new(enum fc_pixfmt format, int w, int h);
static inline fc_frame *fc_frame_new_rgb(int w, int h) {
    return fc_frame_new(FC_PIX_RGB24, w, h);
}
void fc_frame_free(fc_frame *f);

/* Bytes per pixel of plane 0 (1 or 3). */
int fc_pixfmt_bpp(enum fc_pixfmt f);

#endif
