/* The motion predictor against the synthetic source's ground truth: frames
 * rendered by fc_synth as the synthetic source renders them for motion
 * (YUV420P, full range; RGB24 too, as from a raw RGB file), converted to the
 * predictor's format by the same converter the sources use, boxes scored by
 * IoU. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/registry.h"
#include "predict/worker.h"
#include "source/convert.h"
#include "source/synthetic.h"

static double iou(const float *a, const fc_box *b) {
    double x0 = a[0] > b->x ? a[0] : b->x, y0 = a[1] > b->y ? a[1] : b->y;
    double x1 = a[0] + a[2] < b->x + b->w ? a[0] + a[2] : b->x + b->w;
    double y1 = a[1] + a[3] < b->y + b->h ? a[1] + a[3] : b->y + b->h;
    if (x1 <= x0 || y1 <= y0) return 0;
    double inter = (x1 - x0) * (y1 - y0);
    return inter / ((double)a[2] * a[3] + (double)b->w * b->h - inter);
}

static int boxes_overlap(const fc_box *a, const fc_box *b, int margin) {
    return a->x < b->x + b->w + margin && b->x < a->x + a->w + margin &&
           a->y < b->y + b->h + margin && b->y < a->y + a->h + margin;
}

struct score {
    int objects, found, boxes, false_boxes;
};

/* Runs the predictor over frames [0, frames) and scores those from settle on.
 * Objects closer than 8 working pixels (320 across) to another are not
 * scored: their motion is one blob, as it would be for any motion detector. */
static void run(const char *synth_opts, const char *motion_opts, enum fc_pixfmt render, int frames,
                int settle, struct score *sc) {
    char err[256];
    fc_synth_config cfg;
    assert_int_equal(fc_synth_config_parse(&cfg, synth_opts, err, sizeof err), 0);
    fc_synth *s = fc_synth_new(&cfg);
    const fc_predictor_api *api = fc_predictor_motion();
    void *inst;
    assert_int_equal(api->create(motion_opts, &inst, err, sizeof err), 0);
    fc_output_spec spec = {0};
    api->wants(inst, &spec.format, &spec.width, &spec.height);
    fc_convert conv = {0};
    fc_frame *img = fc_frame_new(render, cfg.width, cfg.height);
    static fc_detection dets[FC_MAX_DETECTIONS];
    memset(sc, 0, sizeof *sc);
    int margin = 8 * cfg.width / 320;
    for (int i = 0; i < frames; i++) {
        fc_synth_render(s, i, img);
        const uint8_t *const planes[4] = {img->view.data[0], img->view.data[1], img->view.data[2],
                                          NULL};
        const int strides[4] = {img->view.stride[0], img->view.stride[1], img->view.stride[2], 0};
        fc_frame *g = fc_convert_image(&conv, planes, strides, fc_pixfmt_to_av(render), 1,
                                       cfg.width, cfg.height, &spec);
        assert_non_null(g);
        g->view.index = i;
        g->view.pts_us = img->view.pts_us;
        int n = api->predict(inst, &g->view, dets, FC_MAX_DETECTIONS, err, sizeof err);
        assert_true(n >= 0);
        fc_frame_free(g);
        if (i < settle) continue;
        int matched[FC_MAX_DETECTIONS] = {0};
        for (int k = 0; k < img->ntruth; k++) {
            int alone = 1;
            for (int j = 0; j < img->ntruth; j++)
                if (j != k && boxes_overlap(&img->truth[k], &img->truth[j], margin)) alone = 0;
            double best = 0;
            int best_d = -1;
            for (int d = 0; d < n; d++) {
                double v = iou(dets[d].box, &img->truth[k]);
                if (v > best) best = v, best_d = d;
            }
            if (best_d >= 0 && best >= 0.5) matched[best_d] = 1;
            if (!alone) {
                if (best_d >= 0)
                    matched[best_d] = 1; /* a blob of several objects is no false box */
                continue;
            }
            sc->objects++;
            sc->found += best >= 0.5;
            if (getenv("MOTION_DEBUG") && best < 0.5)
                printf("frame %d missed [%d,%d %dx%d] best iou %.2f %s\n", i, img->truth[k].x,
                       img->truth[k].y, img->truth[k].w, img->truth[k].h, best,
                       best_d >= 0 ? "" : "(no box)");
        }
        for (int d = 0; d < n; d++) {
            int touches = 0;
            for (int k = 0; k < img->ntruth; k++) touches |= iou(dets[d].box, &img->truth[k]) > 0;
            sc->boxes++;
            sc->false_boxes += !matched[d] && !touches;
            if (getenv("MOTION_DEBUG") && !matched[d] && !touches)
                printf("frame %d false box %.0f,%.0f %.0fx%.0f\n", i, dets[d].box[0],
                       dets[d].box[1], dets[d].box[2], dets[d].box[3]);
        }
    }
    fc_frame_free(img);
    fc_convert_free(&conv);
    api->destroy(inst);
    fc_synth_free(s);
}

static void check(const char *synth_opts, const char *motion_opts, enum fc_pixfmt render) {
    struct score sc;
    run(synth_opts, motion_opts, render, 300, 150, &sc);
    printf("  %-45s %-7s found %d/%d (%.1f%%), false %d/%d boxes\n", synth_opts,
           render == FC_PIX_RGB24 ? "RGB24" : "YUV420P", sc.found, sc.objects,
           100.0 * sc.found / (sc.objects ? sc.objects : 1), sc.false_boxes, sc.boxes);
    assert_true(sc.objects > 50);
    assert_true(sc.found * 100 >= sc.objects * 95);
    assert_true(sc.false_boxes * 100 < (sc.boxes ? sc.boxes : 1) * 5);
}

static void test_finds_moving_objects(void **state) {
    (void)state;
    check("size=640x360,objects=3,seed=1", "", FC_PIX_YUV420P);
    check("size=640x360,objects=4,seed=2", "", FC_PIX_YUV420P);
    check("size=640x360,objects=2,seed=3,noise=8", "", FC_PIX_YUV420P);
    check("size=1280x720,objects=3,seed=4,noise=4", "", FC_PIX_YUV420P);
    check("size=320x240,objects=5,seed=5", "", FC_PIX_YUV420P);
    check("size=640x360,objects=2,seed=3,noise=8", "", FC_PIX_RGB24);
}

static void test_static_scene_has_no_boxes(void **state) {
    (void)state;
    struct score sc;
    run("size=640x360,objects=0,seed=7,noise=6", "", FC_PIX_YUV420P, 120, 1, &sc);
    assert_int_equal(sc.boxes, 0);
    run("size=640x360,objects=0,seed=7,noise=6", "", FC_PIX_RGB24, 120, 1, &sc);
    assert_int_equal(sc.boxes, 0);
}

static void test_bad_options(void **state) {
    (void)state;
    char err[256];
    void *inst;
    const fc_predictor_api *api = fc_predictor_motion();
    assert_int_not_equal(api->create("threshold=0", &inst, err, sizeof err), 0);
    assert_non_null(strstr(err, "threshold"));
    assert_int_not_equal(api->create("speed=3", &inst, err, sizeof err), 0);
    assert_non_null(strstr(err, "speed"));
}

/* Allocation failure injection: this test links with -Wl,--wrap=malloc, so
 * every malloc in framecast's code comes here. fail_in = N: the Nth next
 * malloc fails (once). */
static int fail_in;
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_malloc(size_t size) {
    if (fail_in > 0 && --fail_in == 0) return NULL;
    return __real_malloc(size);
}

static fc_frame_view gray_view(uint8_t *pixels, int w, int h, int64_t index) {
    fc_frame_view v = {.data = {pixels},
                       .stride = {w},
                       .width = w,
                       .height = h,
                       .src_width = w,
                       .src_height = h,
                       .format = FC_PIX_GRAY8,
                       .pts_us = index * 33333,
                       .index = index};
    return v;
}

/* A state whose allocation failed half-way is not used on the next frame. */
static void test_partial_allocation_failure(void **state) {
    (void)state;
    const fc_predictor_api *api = fc_predictor_motion();
    char err[256];
    void *inst;
    assert_int_equal(api->create("", &inst, err, sizeof err), 0);
    enum { W = 64, H = 48 };
    static uint8_t pixels[W * H];
    memset(pixels, 100, sizeof pixels);
    fc_detection dets[8];
    fc_frame_view v = gray_view(pixels, W, H, 0);
    fail_in = 3; /* the background and the first masks succeed, the rest fail */
    assert_int_equal(api->predict(inst, &v, dets, 8, err, sizeof err), -1);
    assert_string_equal(err, "motion: out of memory");
    fail_in = 0;
    for (int i = 1; i < 5; i++) { /* seeds again, then detects on a still frame */
        v = gray_view(pixels, W, H, i);
        assert_int_equal(api->predict(inst, &v, dets, 8, err, sizeof err), 0);
    }
    api->destroy(inst);
}

/* With workers=N motion is one instance shared behind a lock (the
 * background model needs every frame, in order); a frame older than one
 * already processed is answered empty without touching the model. */
static void test_one_shared_instance(void **state) {
    (void)state;
    const fc_predictor_api *api = fc_predictor_motion();
    assert_true(api->flags & FC_PREDICTOR_THREAD_SAFE);
    char err[256];
    void *inst;
    assert_int_equal(api->create("min_area=1,dilate=0", &inst, err, sizeof err), 0);
    enum { W = 64, H = 48 };
    static uint8_t still[W * H], moved[W * H];
    memset(still, 50, sizeof still);
    memcpy(moved, still, sizeof moved);
    for (int y = 10; y < 20; y++) memset(moved + y * W + 10, 250, 10);
    fc_detection dets[8];
    fc_frame_view v = gray_view(still, W, H, 0);
    assert_int_equal(api->predict(inst, &v, dets, 8, err, sizeof err), 0); /* seeds */
    v = gray_view(moved, W, H, 5);
    assert_int_equal(api->predict(inst, &v, dets, 8, err, sizeof err), 1);
    /* A late frame where the object is elsewhere: processed, it would show
     * motion there; it is not. */
    static uint8_t elsewhere[W * H];
    memcpy(elsewhere, still, sizeof elsewhere);
    for (int y = 30; y < 40; y++) memset(elsewhere + y * W + 40, 250, 10);
    v = gray_view(elsewhere, W, H, 3);
    assert_int_equal(api->predict(inst, &v, dets, 8, err, sizeof err), 0);
    v = gray_view(elsewhere, W, H, 7); /* in order, the same image is motion */
    assert_int_equal(api->predict(inst, &v, dets, 8, err, sizeof err), 1);
    api->destroy(inst);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_moving_objects),
        cmocka_unit_test(test_static_scene_has_no_boxes),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_partial_allocation_failure),
        cmocka_unit_test(test_one_shared_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
