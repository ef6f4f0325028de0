#include "source/convert.h"

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
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

/* A gray frame from RGB24/BGR24 by area averaging, or NULL when that path
 * does not apply (the caller then uses libswscale). A smaller gray frame
 * from YUV or gray input stays libswscale's: it scales only the Y plane,
 * about as cheaply as this would, and so gives the same pixels as before
 * (docs/benchmarks.md). */
static fc_frame *convert_area(fc_convert *c, const uint8_t *const src[4], const int stride[4],
                              int av_format, int in_w, int in_h, int w, int h) {
    enum fc_area_input in = av_format == AV_PIX_FMT_RGB24   ? FC_AREA_RGB24
                            : av_format == AV_PIX_FMT_BGR24 ? FC_AREA_BGR24
                                                            : 0;
    if (!in || c->swscale_only || !fc_area_supported(in_w, in_h, w, h) || stride[0] <= 0)
        return NULL;
    if (fc_area_prepare(&c->area, in_w, in_h, w, h, in)) return NULL;
    fc_frame *f = fc_frame_new(FC_PIX_GRAY8, w, h);
    if (!f) return NULL;
    fc_area_run(&c->area, src[0], stride[0], (uint8_t *)f->view.data[0], f->view.stride[0]);
    f->view.src_width = in_w;
    f->view.src_height = in_h;
    return f;
}

/* 1 if plane 0 of av_format is a plain 8-bit luma plane: gray, and planar
 * or semi-planar YUV (whose gray image is the Y plane as it is). */
static int has_luma_plane(int av_format) {
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(av_format);
    return d && d->nb_components >= 1 &&
           !(d->flags &
             (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM |
              AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_FLOAT | AV_PIX_FMT_FLAG_BAYER)) &&
           d->comp[0].plane == 0 && d->comp[0].step == 1 && d->comp[0].depth == 8 &&
           d->comp[0].shift == 0 && d->comp[0].offset == 0;
}

/* A gray frame of the input's own size from YUV input: its Y plane, copied
 * (full range) or expanded to full range through a table, (y - 16) * 255 /
 * 219 rounded and clamped. That is exactly libswscale's result for every
 * value (tests/unit/test_convert.c), which spends far more on it (its
 * general pipeline, per pixel); NULL when this does not apply. */
static fc_frame *convert_luma(fc_convert *c, const uint8_t *const src[4], const int stride[4],
                              int av_format, int in_full, int in_w, int in_h, int w, int h) {
    /* GRAY8 input: libswscale copies it whatever its range, so it is left
     * to libswscale. */
    if (c->swscale_only || w != in_w || h != in_h || av_format == AV_PIX_FMT_GRAY8 ||
        !has_luma_plane(av_format) || stride[0] < in_w)
        return NULL;
    fc_frame *f = fc_frame_new(FC_PIX_GRAY8, w, h);
    if (!f) return NULL;
    uint8_t lut[256];
    for (int v = 0; v < 256; v++) {
        int e = ((v - 16) * 255 * 2 + 219) / (219 * 2); /* rounded, for v >= 16 */
        lut[v] = (uint8_t)(in_full ? v : v < 16 ? 0 : e > 255 ? 255 : e);
    }
    uint8_t *dst = (uint8_t *)f->view.data[0];
    for (int y = 0; y < h; y++) {
        const uint8_t *restrict row = src[0] + (size_t)y * stride[0];
        uint8_t *restrict out = dst + (size_t)y * f->view.stride[0];
        if (in_full)
            memcpy(out, row, (size_t)w);
        else
            for (int x = 0; x < w; x++) out[x] = lut[row[x]];
    }
    f->view.src_width = in_w;
    f->view.src_height = in_h;
    return f;
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
    if (fmt == FC_PIX_GRAY8) {
        fc_frame *f = convert_area(c, src, stride, in_fmt, in_w, in_h, w, h);
        if (!f) f = convert_luma(c, src, stride, in_fmt, in_full, in_w, in_h, w, h);
        if (f) return f;
    }
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
    fc_area_free(&c->area);
}
