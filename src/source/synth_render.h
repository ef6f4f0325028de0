/* The synthetic scene: a few rectangles moving over a textured background,
 * the ground-truth box of each, and the frames that show them, rendered as
 * RGB24 or as full-range YUV420P.
 *
 * Frame i depends only on the configuration and i, so tests can compare two
 * runs, and a motion detector can be scored against the truth. Both formats
 * show the same picture: without noise, the YUV render's Y is the
 * full-range BT.601 luma of the RGB render's pixels (within 1); noise is
 * drawn per plane, from the same seed and index. The source (synthetic.h)
 * renders YUV for predictors that want gray, whose frame is then the Y
 * plane scaled as a decoder's would be, and RGB for everyone else.
 *
 * A scene is immutable once made: render from any thread, into frames the
 * caller owns. */
#ifndef FC_SOURCE_SYNTH_RENDER_H
#define FC_SOURCE_SYNTH_RENDER_H

#include <stdint.h>

#include "source/frame.h"

typedef struct fc_synth_config {
    int width, height;
    double fps; /* 0 = max */
    int objects;
    uint32_t seed;
    /* Per-pixel noise amplitude, 0..64: each RGB channel gets up to +-noise.
     * YUV gets the same noise as seen through the colour conversion: up to
     * +-(2 * noise + 1) / 3 on Y (luma's share of three independent
     * channels' noise) and +-(noise + 2) / 3 on U and V (a 2x2 block's
     * mean of it). */
    int noise;
} fc_synth_config;

typedef struct fc_synth fc_synth;

/* The scene for cfg (its backgrounds rendered once, in both formats), or
 * NULL when out of memory. */
fc_synth *fc_synth_new(const fc_synth_config *cfg);
void fc_synth_free(fc_synth *s);
/* The truth boxes of frame index; returns how many (cfg.objects). */
int fc_synth_truth(const fc_synth *s, int64_t index, fc_box *out);
/* Renders frame index into f and fills f->truth, index, pts_us and
 * capture_us. f: a frame of fc_frame_new at the configured size, FC_PIX_RGB24
 * or FC_PIX_YUV420P (full range, "JPEG"; odd sizes too: the last chroma
 * column or row then covers one pixel). Any other format is a caller's
 * mistake: no pixels are drawn. */
void fc_synth_render(const fc_synth *s, int64_t index, fc_frame *f);

#endif
