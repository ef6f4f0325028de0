/* motion-bench: time the motion predictor per frame at 720p and 1080p on
 * one core. Frames come from the synthetic source, converted to the
 * predictor's format by the same converter the sources use; only the
 * predict call is timed.
 *
 *   motion-bench [FRAMES]   (default 300 per size) */
#include <stdio.h>
#include <stdlib.h>

#include "predict/registry.h"
#include "predict/worker.h"
#include "source/convert.h"
#include "source/synthetic.h"
#include "util/clock.h"

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void run(int w, int h, int frames) {
    char err[256], opts[64];
    snprintf(opts, sizeof opts, "size=%dx%d,objects=4,seed=3,noise=4", w, h);
    fc_synth_config cfg;
    fc_synth_config_parse(&cfg, opts, err, sizeof err);
    fc_synth *s = fc_synth_new(&cfg);
    const fc_predictor_api *api = fc_predictor_motion();
    void *inst;
    api->create("", &inst, err, sizeof err);
    fc_output_spec spec = {0};
    api->wants(inst, &spec.format, &spec.width, &spec.height);
    fc_convert conv = {0};
    fc_frame *rgb = fc_frame_new_rgb(w, h);
    fc_detection *dets = malloc(FC_MAX_DETECTIONS * sizeof *dets);
    int64_t *t = malloc((size_t)frames * sizeof *t), conv_total = 0;
    for (int i = 0; i < frames; i++) {
        fc_synth_render(s, i, rgb);
        const uint8_t *const planes[4] = {rgb->view.data[0], NULL, NULL, NULL};
        const int strides[4] = {rgb->view.stride[0], 0, 0, 0};
        int64_t c0 = fc_mono_us();
        fc_frame *g =
            fc_convert_image(&conv, planes, strides, fc_pixfmt_to_av(FC_PIX_RGB24), 1, w, h, &spec);
        conv_total += fc_mono_us() - c0;
        g->view.pts_us = rgb->view.pts_us;
        int64_t t0 = fc_mono_us();
        api->predict(inst, &g->view, dets, FC_MAX_DETECTIONS, err, sizeof err);
        t[i] = fc_mono_us() - t0;
        fc_frame_free(g);
    }
    qsort(t, (size_t)frames, sizeof *t, cmp);
    double sum = 0;
    for (int i = 0; i < frames; i++) sum += (double)t[i];
    printf("motion %dx%d (working width 320): predict mean %.3f ms, p50 %.3f ms, p99 %.3f ms; "
           "scale+gray conversion (source thread) mean %.3f ms\n",
           w, h, sum / frames / 1000, t[frames / 2] / 1000.0, t[frames * 99 / 100] / 1000.0,
           (double)conv_total / frames / 1000);
    free(t);
    free(dets);
    fc_frame_free(rgb);
    fc_convert_free(&conv);
    api->destroy(inst);
    fc_synth_free(s);
}

int main(int argc, char **argv) {
    int frames = argc > 1 ? atoi(argv[1]) : 300;
    if (frames < 10) frames = 10;
    run(1280, 720, frames);
    run(1920, 1080, frames);
    return 0;
}
