/* render-bench: the time to produce one result message of N detections,
 * rendered and framed (what the sequencer does per result), as the median
 * of several rounds; then the time to compress it once for
 * permessage-deflate (its twin, zlib level 6, as the sequencer does when
 * some client negotiated it). Prints one line per size and step.
 *
 *   render-bench [ROUNDS]        (make bench runs it)
 *
 * Detections are like a detector's: integral boxes half of the time,
 * fractional the other half, scores with many digits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/render.h"
#include "hub/deflate.h"
#include "hub/ws.h"
#include "predict/worker.h"
#include "source/frame.h"
#include "util/clock.h"
#include "util/strbuf.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    static const int sizes[] = {3, 400};
    fc_detection *dets = calloc(1024, sizeof *dets);
    unsigned seed = 1;
    for (int i = 0; i < 1024; i++) {
        seed = seed * 1103515245 + 12345;
        snprintf(dets[i].label, sizeof dets[i].label, i % 3 ? "person" : "car");
        dets[i].score = 0.5f + (float)(seed % 5000) / 10000.0f;
        float x = (float)(seed % 1800), y = (float)(seed / 7 % 1000);
        if (i % 2) x += 0.37f, y += 0.61f;
        dets[i].box[0] = x;
        dets[i].box[1] = y;
        dets[i].box[2] = 64 + (float)(i % 50);
        dets[i].box[3] = 120.5f;
    }
    fc_frame f = {.view = {.src_width = 1920, .src_height = 1080, .index = 42, .pts_us = 1400000},
                  .capture_us = 1796000000000000};
    fc_strbuf sb;
    fc_sb_init_prefixed(&sb, FC_WS_FRAME_PREFIX, 1024);
    size_t last = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        fc_result r = {.frame = &f, .dets = dets, .ndets = sizes[s], .infer_us = 1234};
        fc_result_meta m = {.stream = "demo",
                            .epoch = "3f9c2a7d41e08b56",
                            .seq = 1,
                            .publish_us = 1796000000001234,
                            .model = "bench"};
        double per[64];
        int iters = sizes[s] > 100 ? 200 : 20000;
        size_t bytes = 0;
        for (int k = 0; k < rounds && k < 64; k++) {
            int64_t t0 = fc_mono_us();
            for (int i = 0; i < iters; i++) {
                fc_sb_reserve(&sb, last + 256); /* as the sequencer does */
                m.seq++;
                fc_render_result(&sb, &m, &r);
                last = sb.len;
                fc_buf *b = fc_ws_frame_sb(FC_WS_TEXT, &sb);
                bytes = b->len;
                fc_buf_unref(b);
            }
            per[k] = (double)(fc_mono_us() - t0) / iters;
        }
        int n = rounds < 64 ? rounds : 64;
        qsort(per, (size_t)n, sizeof per[0], cmp);
        printf("render: %3d detections, %6zu bytes: %8.2f us per message (median of %d)\n",
               sizes[s], bytes, per[n / 2], n);
        /* The same message compressed once (only the compression timed). */
        fc_deflater *d = fc_deflater_new(6);
        size_t packed = 0;
        for (int k = 0; k < n; k++) {
            int64_t spent = 0;
            for (int i = 0; i < iters; i++) {
                fc_sb_reserve(&sb, last + 256);
                fc_render_result(&sb, &m, &r);
                fc_buf *b = fc_ws_frame_sb(FC_WS_TEXT, &sb);
                int64_t t0 = fc_mono_us();
                fc_deflater_twin(d, b, 1);
                spent += fc_mono_us() - t0;
                packed = b->deflated ? b->deflated->len : 0;
                fc_buf_unref(b);
            }
            per[k] = (double)spent / iters;
        }
        qsort(per, (size_t)n, sizeof per[0], cmp);
        printf("deflate: %3d detections, %6zu -> %6zu bytes: %8.2f us per message, once for "
               "every client (median of %d)\n",
               sizes[s], bytes, packed, per[n / 2], n);
        fc_deflater_free(d);
    }
    fc_sb_free(&sb);
    free(dets);
    return 0;
}
