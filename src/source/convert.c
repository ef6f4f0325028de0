#include "source/convert.h"

#include <libavutil/opt.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <string.h>

int fc_pixfmt_to_av(enum fc_pixfmt f) {
    switch (f) {
    case FC_PIX_GRAY8:
        return AV_PIX_FMT_GRAY8;
    case FC_PIX_RGB24:
        return AV_PIX_FMT_RGB24;
    case FC_PIX_BGR24:
        return AV_PIX_FMT_BGR24;
    case FC_PIX_YUV420P:
        return AV_PIX_FMT_YUV420P;
    default:
        return AV_PIX_FMT_NONE;
    }
}

enum fc_pixfmt fc_pixfmt_from_av(int av_format) {
    switch (av_format) {
    case AV_PIX_FMT_GRAY8:
        return FC_PIX_GRAY8;
    case AV_PIX_FMT_RGB24:
        return FC_PIX_RGB24;
    case AV_PIX_FMT_BGR24:
        return FC_PIX_BGR24;
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUVJ420P:
        return FC_PIX_YUV420P; /* same layout, full range */
    default:
        return FC_PIX_ANY;
    }
}

static enum fc_pixfmt out_format(const fc_output_spec *spec, int av_format) {
    if (spec->format != FC_PIX_ANY) return spec->format;
    enum fc_pixfmt f = fc_pixfmt_from_av(av_format);
    return f != FC_PIX_ANY ? f : FC_PIX_YUV420P;
}

void fc_output_size(const fc_output_spec *spec, int in_w, int in_h, int *out_w, int *out_h) {
    int w = spec->width, h = spec->height;
    if (!w && !h) {
        w = in_w;
        h = in_h;
    } else if (!h) {
        h = (int)((int64_t)in_h * w / in_w);
    } else if (!w) {
        w = (int)((int64_t)in_w * h / in_h);
    }
    *out_w = w < 2 ? 2 : w;
    *out_h = h < 2 ? 2 : h;
}

int fc_output_matches(const fc_output_spec *spec, int av_format, int in_w, int in_h) {
    if (in_w <= 0 || in_h <= 0) return 0;
    int w, h;
    fc_output_size(spec, in_w, in_h, &w, &h);
    enum fc_pixfmt have = fc_pixfmt_from_av(av_format);
    return have != FC_PIX_ANY && have == out_format(spec, av_format) && w == in_w && h == in_h;
}

/* YUVJ formats are their YUV twins at full range; libswscale wants them
 * named that way (the J names are deprecated). */
static int plain_yuv(int av_format, int *full_range) {
    switch (av_format) {
    case AV_PIX_FMT_YUVJ420P:
        *full_range = 1;
        return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
        *full_range = 1;
        return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
        *full_range = 1;
        return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
        *full_range = 1;
        return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
        *full_range = 1;
        return AV_PIX_FMT_YUV411P;
    default:
        return av_format;
    }
}

/* The cached context for this conversion, built with both ranges known at
 * init: libswscale picks a plain copy for same-format same-size images
 * only when the ranges agree, and ranges set after init would not undo that. */
static struct SwsContext *context_for(fc_convert *c, int in_fmt, int in_full, int in_w, int in_h,
                                      int out_fmt, int out_full, int w, int h) {
    int key[8] = {in_fmt, in_full, in_w, in_h, out_fmt, out_full, w, h};
    if (c->sws && memcmp(key, c->key, sizeof key) == 0) return c->sws;
    sws_freeContext(c->sws);
    c->sws = NULL;
    if (!sws_isSupportedInput(in_fmt) || !sws_isSupportedOutput(out_fmt)) return NULL;
    struct SwsContext *sws = sws_alloc_context();
    if (!sws) return NULL;
    /* Scaling uses area averaging (good for downscaling, which is the common
     * case for models); a same-size conversion is a plain colour conversion. */
    av_opt_set_int(sws, "sws_flags", SWS_AREA, 0);
    av_opt_set_int(sws, "srcw", in_w, 0);
    av_opt_set_int(sws, "srch", in_h, 0);
    av_opt_set_int(sws, "src_format", in_fmt, 0);
    av_opt_set_int(sws, "src_range", in_full, 0);
    av_opt_set_int(sws, "dstw", w, 0);
    av_opt_set_int(sws, "dsth", h, 0);
    av_opt_set_int(sws, "dst_format", out_fmt, 0);
    av_opt_set_int(sws, "dst_range", out_full, 0);
    if (sws_init_context(sws, NULL, NULL) < 0) {
        sws_freeContext(sws);
        return NULL;
    }
    memcpy(c->key, key, sizeof key);
    return c->sws = sws;
}

fc_frame *fc_convert_image(fc_convert *c, const uint8_t *const src[4], const int stride[4],
                           int av_format, int in_full_range, int in_w, int in_h,
                           const fc_output_spec *spec) {
    if (in_w <= 0 || in_h <= 0) return NULL; /* a broken stream; the frame is skipped */
    int w, h;
    fc_output_size(spec, in_w, in_h, &w, &h);
    enum fc_pixfmt fmt = out_format(spec, av_format);
    int in_full = in_full_range != 0;
    int in_fmt = plain_yuv(av_format, &in_full);
    /* RGB is full range; YUV output keeps the input's unless asked for full. */
    int out_full = fmt != FC_PIX_YUV420P || spec->full_range || in_full;
    struct SwsContext *sws =
        context_for(c, in_fmt, in_full, in_w, in_h, fc_pixfmt_to_av(fmt), out_full, w, h);
    if (!sws) return NULL;
    fc_frame *f = fc_frame_new(fmt, w, h);
    if (!f) return NULL;
    uint8_t *dst[4] = {(uint8_t *)f->view.data[0], (uint8_t *)f->view.data[1],
                       (uint8_t *)f->view.data[2], NULL};
    int dst_stride[4] = {f->view.stride[0], f->view.stride[1], f->view.stride[2], 0};
    /* The whole output or nothing: a partial one would hand the predictor
     * and the preview uninitialised pixels. */
    if (sws_scale(sws, src, stride, 0, in_h, dst, dst_stride) != h) {
        fc_frame_free(f);
        return NULL;
    }
    f->view.src_width = in_w;
    f->view.src_height = in_h;
    return f;
}

void fc_convert_free(fc_convert *c) {
    sws_freeContext(c->sws);
    c->sws = NULL;
}
