/* The null predictor: no detections. For benchmarks and as the smallest
 * example of the predictor table. */
#include <stdio.h>

#include "predict/registry.h"

static int null_create(const char *opts, void **instance, char *err, size_t errlen) {
    if (opts && *opts) {
        snprintf(err, errlen, "--predictor null: takes no options (got '%s')", opts);
        return -1;
    }
    *instance = NULL;
    return 0;
}

static void null_wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    (void)instance;
    *format = FC_PIX_ANY;
    *width = *height = 0;
}

static int null_predict(void *instance, const fc_frame_view *frame, fc_detection *out, int max,
                        char *err, size_t errlen) {
    (void)instance, (void)frame, (void)out, (void)max, (void)err, (void)errlen;
    return 0;
}

static void null_destroy(void *instance) {
    (void)instance;
}

static const fc_predictor_api null_api = {
    .abi_major = FC_PREDICTOR_ABI_MAJOR,
    .abi_minor = FC_PREDICTOR_ABI_MINOR,
    .name = "null",
    .flags = FC_PREDICTOR_THREAD_SAFE,
    .create = null_create,
    .wants = null_wants,
    .predict = null_predict,
    .destroy = null_destroy,
};

const fc_predictor_api *fc_predictor_null(void) {
    return &null_api;
}
