/* Tests for the gray frame preparation in src/source/convert.c and
 * src/source/area.c: the cheap paths against an independent reference and
 * against libswscale, and what the motion predictor finds through each. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libavutil/pixfmt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/registry.h"
#include "predict/worker.h"
#include "source/area.h"
#include "source/convert.h"
#include "source/synthetic.h"

static uint32_t rng = 12345;
static uint8_t rnd(void) {
    rng = rng * 1103515245u + 12345u;
    return (uint8_t)(rng >> 16);
}

/* The exact area mean by its definition, written apart from area.c: in
 * units where a source pixel is out long and an output pixel in long,
 * output o covers [o*in, (o+1)*in) and source s covers [s*out, (s+1)*out). */
static int64_t overlap(int s, int o, int in, int out) {
    int64_t lo = (int64_t)s * out > (int64_t)o * in ? (int64_t)s * out : (int64_t)o * in;
    int64_t hi = (int64_t)(s + 1) * out < (int64_t)(o + 1) * in ? (int64_t)(s + 1) * out
                                                                : (int64_t)(o + 1) * in;
    return hi > lo ? hi - lo : 0;
}

static uint8_t reference_pixel(const uint8_t *rgb, int stride, int in_w, int in_h, int out_w,
                               int out_h, int ox, int oy, int bgr) {
    int64_t t[3] = {0, 0, 0};
    int sx0 = (int)((int64_t)ox * in_w / out_w), sy0 = (int)((int64_t)oy * in_h / out_h);
    for (int sy = sy0; sy < in_h && (int64_t)sy * out_h < (int64_t)(oy + 1) * in_h; sy++)
        for (int sx = sx0; sx < in_w && (int64_t)sx * out_w < (int64_t)(ox + 1) * in_w; sx++) {
            int64_t wgt = overlap(sx, ox, in_w, out_w) * overlap(sy, oy, in_h, out_h);
            for (int c = 0; c < 3; c++) t[c] += wgt * rgb[(size_t)sy * stride + 3 * sx + c];
        }
    int64_t r = bgr ? t[2] : t[0], b = bgr ? t[0] : t[2];
    int64_t num = 9798 * r + 19235 * t[1] + 3735 * b; /* 0.299, 0.587, 0.114 in 1/32768 */
    int64_t den = 32768 * (int64_t)in_w * in_h;
    int64_t v = (2 * num + den) / (2 * den);
    return (uint8_t)(v > 255 ? 255 : v);
}

/* Every output pixel of the area path equals the reference, for integer and
 * fractional ratios, same size, a 1x1 output and a padded stride. */
static void test_area_equals_reference(void **state) {
    (void)state;
    static const int sizes[][4] = {
        {1920, 1080, 320, 180}, {1280, 720, 320, 180}, {768, 576, 320, 240}, {101, 67, 33, 29},
        {50, 50, 50, 50},       {7, 5, 1, 1},          {640, 360, 639, 359}, {333, 200, 100, 199},
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int in_w = sizes[k][0], in_h = sizes[k][1], out_w = sizes[k][2], out_h = sizes[k][3];
        int stride = in_w * 3 + 5;
        uint8_t *src = malloc((size_t)stride * in_h);
        uint8_t *dst = malloc((size_t)out_w * out_h);
        assert_non_null(src);
        assert_non_null(dst);
        for (size_t i = 0; i < (size_t)stride * in_h; i++) src[i] = rnd();
        for (int bgr = 0; bgr < 2; bgr++) {
            fc_area_plan p = {0};
            assert_int_equal(
                fc_area_prepare(&p, in_w, in_h, out_w, out_h, bgr ? FC_AREA_BGR24 : FC_AREA_RGB24),
                0);
            fc_area_run(&p, src, stride, dst, out_w);
            for (int oy = 0; oy < out_h; oy++)
                for (int ox = 0; ox < out_w; ox++) {
                    uint8_t want =
                        reference_pixel(src, stride, in_w, in_h, out_w, out_h, ox, oy, bgr);
                    if (dst[(size_t)oy * out_w + ox] != want)
                        fail_msg("%dx%d -> %dx%d (%s): pixel (%d,%d) is %d, expected %d", in_w,
                                 in_h, out_w, out_h, bgr ? "BGR" : "RGB", ox, oy,
                                 dst[(size_t)oy * out_w + ox], want);
                }
            fc_area_free(&p);
        }
        free(src);
        free(dst);
    }
    fc_area_plan p = {0}; /* upscaling is not the area path's */
    assert_int_equal(fc_area_prepare(&p, 100, 100, 101, 100, FC_AREA_RGB24), -1);
    assert_false(fc_area_supported(100, 100, 100, 101));
}

static fc_frame *convert(fc_convert *c, const fc_frame *in, int av_format, int full,
                         const fc_output_spec *spec) {
    const uint8_t *const planes[4] = {in->view.data[0], in->view.data[1], in->view.data[2], NULL};
    const int strides[4] = {in->view.stride[0], in->view.stride[1], in->view.stride[2], 0};
    fc_frame *f = fc_convert_image(c, planes, strides, av_format, full, in->view.width,
                                   in->view.height, spec);
    assert_non_null(f);
    return f;
}

/* A same-size gray frame from YUV input (the Y plane, copied or
 * range-expanded) is libswscale's, byte for byte, for all 256 values; so is
 * one from gray input (left to libswscale). */
static void test_same_size_luma_is_libswscale(void **state) {
    (void)state;
    const int w = 64, h = 32;
    fc_frame *yuv = fc_frame_new(FC_PIX_YUV420P, w, h);
    assert_non_null(yuv);
    uint8_t *y = (uint8_t *)yuv->view.data[0];
    for (int i = 0; i < w * h; i++) y[i] = (uint8_t)(i < 256 ? i : rnd());
    for (int i = 0; i < w * h / 4; i++) {
        ((uint8_t *)yuv->view.data[1])[i] = rnd();
        ((uint8_t *)yuv->view.data[2])[i] = rnd();
    }
    static const int formats[] = {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_GRAY8};
    fc_output_spec spec = {FC_PIX_GRAY8, 0, 0, 0};
    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++)
        for (int full = 0; full < 2; full++) {
            fc_convert fast = {0}, ref = {.swscale_only = 1};
            fc_frame *a = convert(&fast, yuv, formats[k], full, &spec);
            fc_frame *b = convert(&ref, yuv, formats[k], full, &spec);
            for (int r = 0; r < h; r++)
                for (int x = 0; x < w; x++) {
                    int va = a->view.data[0][r * a->view.stride[0] + x];
                    int vb = b->view.data[0][r * b->view.stride[0] + x];
                    if (va != vb)
                        fail_msg("format %d, full range %d: Y %d gives %d, libswscale %d",
                                 formats[k], full, y[r * w + x], va, vb);
                }
            fc_frame_free(a);
            fc_frame_free(b);
            fc_convert_free(&fast);
            fc_convert_free(&ref);
        }
    fc_frame_free(yuv);
}

/* The motion predictor through the old preparation (libswscale) and the new
 * one, on the same synthetic frames. From RGB the new gray differs from
 * libswscale's by rounding only (at most 1 per pixel), motion's scores by
 * less than 0.01, and its boxes in at most one frame (one box edge moving
 * by one working pixel; motion-bench counts 1 in 600 frames). From YUV the
 * pixels and so the detections are the same. */
static void compare_motion(int w, int h, int frames, int yuv, int *box_frames, int *max_diff) {
    char err[256], opts[64];
    snprintf(opts, sizeof opts, "size=%dx%d,objects=4,seed=3,noise=4", w, h);
    fc_synth_config cfg;
    assert_int_equal(fc_synth_config_parse(&cfg, opts, err, sizeof err), 0);
    fc_synth *s = fc_synth_new(&cfg);
    const fc_predictor_api *api = fc_predictor_motion();
    void *ia, *ib;
    assert_int_equal(api->create("", &ia, err, sizeof err), 0);
    assert_int_equal(api->create("", &ib, err, sizeof err), 0);
    fc_output_spec spec = {0}, yuv_spec = {FC_PIX_YUV420P, 0, 0, 0};
    api->wants(ia, &spec.format, &spec.width, &spec.height);
    fc_convert old_conv = {.swscale_only = 1}, new_conv = {0}, to_yuv = {0};
    fc_frame *rgb = fc_frame_new_rgb(w, h);
    static fc_detection da[FC_MAX_DETECTIONS], db[FC_MAX_DETECTIONS];
    *box_frames = *max_diff = 0;
    for (int i = 0; i < frames; i++) {
        fc_synth_render(s, i, rgb);
        fc_frame *in = rgb, *y = NULL;
        if (yuv) in = y = convert(&to_yuv, rgb, AV_PIX_FMT_RGB24, 1, &yuv_spec);
        int fmt = yuv ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_RGB24;
        fc_frame *go = convert(&old_conv, in, fmt, !yuv, &spec);
        fc_frame *gn = convert(&new_conv, in, fmt, !yuv, &spec);
        assert_int_equal(go->view.width, gn->view.width);
        assert_int_equal(go->view.height, gn->view.height);
        for (int r = 0; r < go->view.height; r++)
            for (int x = 0; x < go->view.width; x++) {
                int d = abs(go->view.data[0][r * go->view.stride[0] + x] -
                            gn->view.data[0][r * gn->view.stride[0] + x]);
                if (d > *max_diff) *max_diff = d;
            }
        go->view.pts_us = gn->view.pts_us = rgb->view.pts_us;
        go->view.index = gn->view.index = i;
        int na = api->predict(ia, &go->view, da, FC_MAX_DETECTIONS, err, sizeof err);
        int nb = api->predict(ib, &gn->view, db, FC_MAX_DETECTIONS, err, sizeof err);
        assert_true(na >= 0 && nb >= 0);
        int same = na == nb;
        for (int k = 0; same && k < na; k++) {
            same = memcmp(da[k].box, db[k].box, sizeof da[k].box) == 0;
            assert_true(fabsf(da[k].score - db[k].score) < 0.01f);
        }
        *box_frames += !same;
        fc_frame_free(go);
        fc_frame_free(gn);
        fc_frame_free(y);
    }
    fc_frame_free(rgb);
    fc_convert_free(&old_conv);
    fc_convert_free(&new_conv);
    fc_convert_free(&to_yuv);
    api->destroy(ia);
    api->destroy(ib);
    fc_synth_free(s);
}

static void test_motion_through_both_preparations(void **state) {
    (void)state;
    /* Frames per size: enough for several objects to cross each other,
     * few enough for a sanitizer build on a busy machine. */
    static const int sizes[][3] = {{1280, 720, 100}, {1920, 1080, 40}};
    for (int k = 0; k < 2; k++) {
        int w = sizes[k][0], h = sizes[k][1], frames = sizes[k][2], box_frames, max_diff;
        compare_motion(w, h, frames, 1, &box_frames, &max_diff);
        assert_int_equal(max_diff, 0); /* YUV: libswscale's pixels */
        assert_int_equal(box_frames, 0);
        compare_motion(w, h, frames, 0, &box_frames, &max_diff);
        if (max_diff > 1 || box_frames > 1)
            fail_msg("RGB %dx%d: gray differs by up to %d from libswscale's, boxes in %d of %d "
                     "frames",
                     w, h, max_diff, box_frames, frames);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_area_equals_reference),
        cmocka_unit_test(test_same_size_luma_is_libswscale),
        cmocka_unit_test(test_motion_through_both_preparations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
