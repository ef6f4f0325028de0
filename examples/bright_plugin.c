/* An example framecast predictor plugin: boxes around bright spots.
 *
 * Build it with one command from the installed header:
 *     cc -shared -fPIC -O2 -I include -o libbright.so examples/bright_plugin.c
 * and run it:
 *     framecast --predictor ./libbright.so:threshold=220
 *
 * It asks for grayscale frames 160 pixels wide, marks 8x8 cells whose mean
 * is above threshold, and returns the bounding box of each row run of such
 * cells, in source pixels. */
#include <framecast/predictor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bright {
    int threshold;
};

static int bright_create(const char *opts, void **instance, char *err, size_t errlen) {
    struct bright *b = malloc(sizeof *b);
    if (!b) return -1;
    b->threshold = 220;
    if (opts && *opts && sscanf(opts, "threshold=%d", &b->threshold) != 1) {
        snprintf(err, errlen, "bright: unknown options '%s' (expected threshold=N)", opts);
        free(b);
        return -1;
    }
    *instance = b;
    return 0;
}

static void bright_wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    (void)instance;
    *format = FC_PIX_GRAY8;
    *width = 160;
    *height = 0; /* keep the aspect ratio */
}

static int bright_predict(void *instance, const fc_frame_view *f, fc_detection *out, int max,
                          char *err, size_t errlen) {
    const struct bright *b = instance;
    (void)err, (void)errlen;
    double sx = (double)f->src_width / f->width, sy = (double)f->src_height / f->height;
    int n = 0;
    for (int cy = 0; cy + 8 <= f->height && n < max; cy += 8) {
        int run = -1;
        for (int cx = 0; cx + 8 <= f->width + 8; cx += 8) {
            int hot = 0;
            if (cx + 8 <= f->width) {
                long sum = 0;
                for (int y = cy; y < cy + 8; y++)
                    for (int x = cx; x < cx + 8; x++) sum += f->data[0][y * f->stride[0] + x];
                hot = sum / 64 > b->threshold;
            }
            if (hot && run < 0) run = cx;
            if (!hot && run >= 0 && n < max) {
                fc_detection *d = &out[n++];
                snprintf(d->label, sizeof d->label, "bright");
                d->score = 1.0f;
                d->box[0] = (float)(run * sx);
                d->box[1] = (float)(cy * sy);
                d->box[2] = (float)((cx - run) * sx);
                d->box[3] = (float)(8 * sy);
                run = -1;
            }
        }
    }
    return n;
}

static void bright_destroy(void *instance) {
    free(instance);
}

static const fc_predictor_api api = {
    .abi_major = FC_PREDICTOR_ABI_MAJOR,
    .abi_minor = FC_PREDICTOR_ABI_MINOR,
    .name = "bright",
    .flags = 0,
    .create = bright_create,
    .wants = bright_wants,
    .predict = bright_predict,
    .destroy = bright_destroy,
};

const fc_predictor_api *fc_predictor_entry(void) {
    return &api;
}
