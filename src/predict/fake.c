/* The fake predictor: count= detections per frame at deterministic positions,
 * with no image work. For benchmarks that need results of a given size
 * (count=1 gives about 300 bytes, each further detection about 70). */
#include <stdio.h>
#include <stdlib.h>

#include "predict/registry.h"
#include "predict/worker.h"
#include "util/opts.h"

struct fake {
    int count;
};

static int fake_create(const char *opts, void **instance, char *err, size_t errlen) {
    fc_opts o;
    long count;
    if (fc_opts_parse(&o, "--predictor fake", opts, err, errlen)) return -1;
    int rc = fc_opts_int(&o, "count", 1, 0, FC_MAX_DETECTIONS, &count, err, errlen);
    if (!rc) rc = fc_opts_finish(&o, "count", err, errlen);
    fc_opts_free(&o);
    if (rc) return -1;
    struct fake *f = malloc(sizeof *f);
    if (!f) return -1;
    f->count = (int)count;
    *instance = f;
    return 0;
}

static void fake_wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    (void)instance;
    *format = FC_PIX_ANY;
    *width = *height = 0;
}

static int fake_predict(void *instance, const fc_frame_view *frame, fc_detection *out, int max,
                        char *err, size_t errlen) {
    const struct fake *f = instance;
    (void)err, (void)errlen;
    int n = f->count < max ? f->count : max;
    for (int i = 0; i < n; i++) {
        int k = (int)((frame->index + i) % 97);
        snprintf(out[i].label, sizeof out[i].label, "object");
        out[i].score = 0.5f + (float)(k % 50) / 100.0f;
        out[i].box[0] = (float)(k * frame->src_width / 97);
        out[i].box[1] = (float)(k * frame->src_height / 97);
        out[i].box[2] = (float)(frame->src_width / 8);
        out[i].box[3] = (float)(frame->src_height / 8);
    }
    return n;
}

static void fake_destroy(void *instance) {
    free(instance);
}

static const fc_predictor_api fake_api = {
    .abi_major = FC_PREDICTOR_ABI_MAJOR,
    .abi_minor = FC_PREDICTOR_ABI_MINOR,
    .name = "fake",
    .flags = FC_PREDICTOR_THREAD_SAFE,
    .create = fake_create,
    .wants = fake_wants,
    .predict = fake_predict,
    .destroy = fake_destroy,
};

const fc_predictor_api *fc_predictor_fake(void) {
    return &fake_api;
}
