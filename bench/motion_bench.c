/* motion-bench: the motion predictor per frame at 720p and 1080p on one
 * core, and the frame preparation the source thread does for it (scale to
 * the working width, gray), the old way (libswscale) against the new one
 * (source/convert.h: area sums from RGB, libswscale from YUV) on the same
 * frames, one after the other.
 *
 * Frames come from the synthetic scene rendered as RGB24, and the same
 * frames as limited-range YUV420P (what a decoder hands over; the
 * conversion into YUV is not timed). Times are the thread's CPU time, so a
 * busy machine's preemptions do not count. Each preparation feeds its own
 * motion instance and the detections of the two are compared frame by
 * frame: the new preparation must not change what motion finds.
 *
 * Then the synthetic source as the server runs it for motion: before, an
 * RGB24 render and libswscale's preparation; now a full-range YUV420P
 * render and the preparation from it (libswscale on the Y plane), render
 * and preparation timed apiece; the new preparation's gray frames and
 * detections are compared with libswscale's on the same YUV frames.
 *
 *   motion-bench [FRAMES]   (default 300 per size) */
#include <libavutil/pixfmt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "predict/registry.h"
#include "predict/worker.h"
#include "source/convert.h"
#include "source/synthetic.h"

static int64_t cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

struct series {
    int64_t *t;
    int n;
};

static void add(struct series *s, int64_t v) {
    s->t[s->n++] = v;
}

/* "mean M ms, p50 P ms" (sorts the series). */
static void summary(struct series *s, char *out, size_t len) {
    qsort(s->t, (size_t)s->n, sizeof *s->t, cmp);
    double sum = 0;
    for (int i = 0; i < s->n; i++) sum += (double)s->t[i];
    snprintf(out, len, "mean %.3f ms, p50 %.3f ms, p99 %.3f ms", sum / s->n / 1000,
             s->t[s->n / 2] / 1000.0, s->t[s->n * 99 / 100] / 1000.0);
}

/* old's median over new's (both sorted by summary). */
static double p50_ratio(const struct series *old, const struct series *new) {
    int64_t n = new->t[new->n / 2];
    return (double)old->t[old->n / 2] / (double)(n ? n : 1);
}

/* Pixels of two gray frames of one size that differ; *max: the largest
 * difference so far. */
static int64_t gray_differs(const fc_frame *a, const fc_frame *b, int *max) {
    int64_t n = 0;
    for (int y = 0; y < a->view.height; y++)
        for (int x = 0; x < a->view.width; x++) {
            int d = abs(a->view.data[0][(size_t)y * a->view.stride[0] + x] -
                        b->view.data[0][(size_t)y * b->view.stride[0] + x]);
            n += d != 0;
            if (d > *max) *max = d;
        }
    return n;
}

/* 0: the same detections; 1: the same boxes, scores differ (*delta: the
 * largest difference); 2: different boxes. */
static int compare_detections(const fc_detection *a, int na, const fc_detection *b, int nb,
                              double *delta) {
    if (na != nb) return 2;
    int r = 0;
    for (int i = 0; i < na; i++) {
        if (strcmp(a[i].label, b[i].label) || memcmp(a[i].box, b[i].box, sizeof a[i].box)) return 2;
        double d = fabs((double)a[i].score - b[i].score);
        if (d > 0) r = 1;
        if (d > *delta) *delta = d;
    }
    return r;
}

/* One input kind at one size: prep old/new and the detections of each. */
static void run_kind(const char *kind, const fc_synth *s, int w, int h, int frames, int yuv,
                     struct series *predict) {
    char err[256];
    const fc_predictor_api *api = fc_predictor_motion();
    void *old_inst, *new_inst;
    api->create("", &old_inst, err, sizeof err);
    api->create("", &new_inst, err, sizeof err);
    fc_output_spec spec = {0};
    api->wants(new_inst, &spec.format, &spec.width, &spec.height);
    fc_convert old_conv = {.swscale_only = 1}, new_conv = {0}, to_yuv = {0};
    fc_frame *rgb = fc_frame_new_rgb(w, h);
    fc_detection *da = malloc(FC_MAX_DETECTIONS * sizeof *da);
    fc_detection *db = malloc(FC_MAX_DETECTIONS * sizeof *db);
    struct series old_t = {malloc((size_t)frames * sizeof(int64_t)), 0};
    struct series new_t = {malloc((size_t)frames * sizeof(int64_t)), 0};
    int boxes_differ = 0, scores_differ = 0, boxes = 0, max_diff = 0;
    int64_t pixels_differ = 0, pixels = 0;
    double delta = 0;
    fc_output_spec yuv_spec = {FC_PIX_YUV420P, 0, 0, 0};
    for (int i = 0; i < frames; i++) {
        fc_synth_render(s, i, rgb);
        const uint8_t *const rgb_planes[4] = {rgb->view.data[0], NULL, NULL, NULL};
        const int rgb_strides[4] = {rgb->view.stride[0], 0, 0, 0};
        fc_frame *in = rgb, *y = NULL;
        int full = 1;
        if (yuv) { /* limited range, as decoders give it: untimed */
            y = fc_convert_image(&to_yuv, rgb_planes, rgb_strides, AV_PIX_FMT_RGB24, 1, w, h,
                                 &yuv_spec);
            in = y;
            full = 0;
        }
        const uint8_t *const planes[4] = {in->view.data[0], in->view.data[1], in->view.data[2],
                                          NULL};
        const int strides[4] = {in->view.stride[0], in->view.stride[1], in->view.stride[2], 0};
        int av_format = yuv ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_RGB24;
        fc_frame *go, *gn;
        /* Alternate which goes first, so neither always finds the frame in cache. */
        int64_t t0, t1, t2;
        if (i & 1) {
            t0 = cpu_us();
            go = fc_convert_image(&old_conv, planes, strides, av_format, full, w, h, &spec);
            t1 = cpu_us();
            gn = fc_convert_image(&new_conv, planes, strides, av_format, full, w, h, &spec);
            t2 = cpu_us();
            add(&old_t, t1 - t0);
            add(&new_t, t2 - t1);
        } else {
            t0 = cpu_us();
            gn = fc_convert_image(&new_conv, planes, strides, av_format, full, w, h, &spec);
            t1 = cpu_us();
            go = fc_convert_image(&old_conv, planes, strides, av_format, full, w, h, &spec);
            t2 = cpu_us();
            add(&new_t, t1 - t0);
            add(&old_t, t2 - t1);
        }
        go->view.pts_us = gn->view.pts_us = rgb->view.pts_us;
        go->view.index = gn->view.index = i;
        pixels_differ += gray_differs(go, gn, &max_diff);
        pixels += (int64_t)gn->view.width * gn->view.height;
        int na = api->predict(old_inst, &go->view, da, FC_MAX_DETECTIONS, err, sizeof err);
        int64_t p0 = cpu_us();
        int nb = api->predict(new_inst, &gn->view, db, FC_MAX_DETECTIONS, err, sizeof err);
        if (predict) add(predict, cpu_us() - p0);
        int c = compare_detections(da, na, db, nb, &delta);
        boxes_differ += c == 2;
        scores_differ += c == 1;
        boxes += nb;
        fc_frame_free(go);
        fc_frame_free(gn);
        fc_frame_free(y);
    }
    char a[128], b[128];
    summary(&old_t, a, sizeof a);
    summary(&new_t, b, sizeof b);
    printf("  prep from %-7s old (libswscale) %s\n", kind, a);
    printf("  prep from %-7s new              %s; p50 ratio %.2fx\n", kind, b,
           (double)old_t.t[frames / 2] / (double)(new_t.t[frames / 2] ? new_t.t[frames / 2] : 1));
    printf("  gray from %s: %.2f %% of pixels differ, by %d at most\n", kind,
           100.0 * (double)pixels_differ / (double)pixels, max_diff);
    printf("  detections from %s, %d frames, %d boxes: boxes differ in %d frames; same boxes, "
           "scores differ in %d frames (by %.4f at most)\n",
           kind, frames, boxes, boxes_differ, scores_differ, delta);
    free(old_t.t);
    free(new_t.t);
    free(da);
    free(db);
    fc_frame_free(rgb);
    fc_convert_free(&old_conv);
    fc_convert_free(&new_conv);
    fc_convert_free(&to_yuv);
    api->destroy(old_inst);
    api->destroy(new_inst);
}

/* One source frame: frame i rendered into img, then prepared as spec wants
 * by c (img's format; synthetic YUV is full range), both timed. */
static fc_frame *render_and_prepare(const fc_synth *s, int i, fc_frame *img, fc_convert *c,
                                    const fc_output_spec *spec, struct series *render,
                                    struct series *prep, struct series *total) {
    int64_t t0 = cpu_us();
    fc_synth_render(s, i, img);
    int64_t t1 = cpu_us();
    const uint8_t *const planes[4] = {img->view.data[0], img->view.data[1], img->view.data[2],
                                      NULL};
    const int strides[4] = {img->view.stride[0], img->view.stride[1], img->view.stride[2], 0};
    fc_frame *g = fc_convert_image(c, planes, strides, fc_pixfmt_to_av(img->view.format), 1,
                                   img->view.width, img->view.height, spec);
    int64_t t2 = cpu_us();
    add(render, t1 - t0);
    add(prep, t2 - t1);
    add(total, t2 - t0);
    g->view.pts_us = img->view.pts_us;
    g->view.index = i;
    return g;
}

/* The synthetic source as the server runs it for motion (synthetic.c),
 * before (RGB24 render, libswscale) and now (YUV420P render, then the
 * preparation: libswscale on the Y plane). */
static void run_server(const fc_synth *s, int w, int h, int frames) {
    char err[256];
    const fc_predictor_api *api = fc_predictor_motion();
    void *old_inst, *new_inst, *ref_inst;
    api->create("", &old_inst, err, sizeof err);
    api->create("", &new_inst, err, sizeof err);
    api->create("", &ref_inst, err, sizeof err);
    fc_output_spec spec = {0};
    api->wants(new_inst, &spec.format, &spec.width, &spec.height);
    fc_convert old_conv = {.swscale_only = 1}, new_conv = {0}, ref_conv = {.swscale_only = 1};
    fc_frame *rgb = fc_frame_new_rgb(w, h), *yuv = fc_frame_new(FC_PIX_YUV420P, w, h);
    fc_detection *da = malloc(FC_MAX_DETECTIONS * sizeof *da);
    fc_detection *db = malloc(FC_MAX_DETECTIONS * sizeof *db);
    fc_detection *dr = malloc(FC_MAX_DETECTIONS * sizeof *dr);
    struct series t[6];
    for (int k = 0; k < 6; k++) t[k] = (struct series){malloc((size_t)frames * sizeof(int64_t)), 0};
    struct series *old_render = &t[0], *old_prep = &t[1], *old_total = &t[2];
    struct series *new_render = &t[3], *new_prep = &t[4], *new_total = &t[5];
    int gray_frames = 0, max_diff = 0, boxes_differ = 0, scores_differ = 0, boxes = 0, vs_rgb = 0;
    double delta = 0, delta_rgb = 0;
    for (int i = 0; i < frames; i++) {
        fc_frame *go, *gn;
        /* Alternate which goes first, as above. */
        if (i & 1) {
            go = render_and_prepare(s, i, rgb, &old_conv, &spec, old_render, old_prep, old_total);
            gn = render_and_prepare(s, i, yuv, &new_conv, &spec, new_render, new_prep, new_total);
        } else {
            gn = render_and_prepare(s, i, yuv, &new_conv, &spec, new_render, new_prep, new_total);
            go = render_and_prepare(s, i, rgb, &old_conv, &spec, old_render, old_prep, old_total);
        }
        /* libswscale on the same YUV frame, untimed: the reference. */
        const uint8_t *const planes[4] = {yuv->view.data[0], yuv->view.data[1], yuv->view.data[2],
                                          NULL};
        const int strides[4] = {yuv->view.stride[0], yuv->view.stride[1], yuv->view.stride[2], 0};
        fc_frame *gr =
            fc_convert_image(&ref_conv, planes, strides, AV_PIX_FMT_YUV420P, 1, w, h, &spec);
        gr->view.pts_us = gn->view.pts_us;
        gr->view.index = i;
        gray_frames += gray_differs(gn, gr, &max_diff) > 0;
        int na = api->predict(old_inst, &go->view, da, FC_MAX_DETECTIONS, err, sizeof err);
        int nb = api->predict(new_inst, &gn->view, db, FC_MAX_DETECTIONS, err, sizeof err);
        int nr = api->predict(ref_inst, &gr->view, dr, FC_MAX_DETECTIONS, err, sizeof err);
        int c = compare_detections(dr, nr, db, nb, &delta);
        boxes_differ += c == 2;
        scores_differ += c == 1;
        vs_rgb += compare_detections(da, na, db, nb, &delta_rgb) == 2;
        boxes += nb;
        fc_frame_free(go);
        fc_frame_free(gn);
        fc_frame_free(gr);
    }
    char a[128], b[128];
    printf("  synthetic source as the server runs it (render, then prep):\n");
    summary(old_render, a, sizeof a);
    summary(new_render, b, sizeof b);
    printf("  render  old RGB24   %s\n  render  new YUV420P %s; p50 ratio %.2fx\n", a, b,
           p50_ratio(old_render, new_render));
    summary(old_prep, a, sizeof a);
    summary(new_prep, b, sizeof b);
    printf("  prep    old RGB24   (libswscale) %s\n  prep    new YUV420P              %s; p50 "
           "ratio %.2fx\n",
           a, b, p50_ratio(old_prep, new_prep));
    summary(old_total, a, sizeof a);
    summary(new_total, b, sizeof b);
    printf("  both    old         %s\n  both    new         %s; p50 ratio %.2fx\n", a, b,
           p50_ratio(old_total, new_total));
    printf(
        "  gray from the YUV render, new prep against libswscale: differs in %d frames (by %d at "
        "most)\n",
        gray_frames, max_diff);
    printf("  detections from the YUV render, %d frames, %d boxes: against libswscale's, boxes "
           "differ in %d frames; same boxes, scores differ in %d frames (by %.4f at most); against "
           "the RGB render's (its own noise), boxes differ in %d frames\n",
           frames, boxes, boxes_differ, scores_differ, delta, vs_rgb);
    for (int k = 0; k < 6; k++) free(t[k].t);
    free(da);
    free(db);
    free(dr);
    fc_frame_free(rgb);
    fc_frame_free(yuv);
    fc_convert_free(&old_conv);
    fc_convert_free(&new_conv);
    fc_convert_free(&ref_conv);
    api->destroy(old_inst);
    api->destroy(new_inst);
    api->destroy(ref_inst);
}

static void run(int w, int h, int frames) {
    char err[256], opts[64];
    snprintf(opts, sizeof opts, "size=%dx%d,objects=4,seed=3,noise=4", w, h);
    fc_synth_config cfg;
    fc_synth_config_parse(&cfg, opts, err, sizeof err);
    fc_synth *s = fc_synth_new(&cfg);
    struct series predict = {malloc((size_t)frames * sizeof(int64_t)), 0};
    printf("motion %dx%d (working width 320), thread CPU time per frame:\n", w, h);
    run_kind("RGB24", s, w, h, frames, 0, &predict);
    run_kind("YUV420P", s, w, h, frames, 1, NULL);
    char a[128];
    summary(&predict, a, sizeof a);
    printf("  predict %s\n", a);
    free(predict.t);
    run_server(s, w, h, frames);
    fc_synth_free(s);
}

int main(int argc, char **argv) {
    int frames = argc > 1 ? atoi(argv[1]) : 300;
    if (frames < 10) frames = 10;
    run(1280, 720, frames);
    run(1920, 1080, frames);
    return 0;
}
