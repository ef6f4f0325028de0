/* Source dispatch by URL scheme, and helpers shared by sources. */
#include "source/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "source/synthetic.h"
#include "util/clock.h"
#include "util/error.h"

int fc_source_open(fc_source **out, const char *url, char *err, size_t errlen) {
    static const char synth[] = "synthetic";
    size_t n = sizeof synth - 1;
    if (strncmp(url, synth, n) == 0 && (url[n] == 0 || url[n] == ':'))
        return fc_synth_source_open(out, url[n] ? url + n + 1 : "", err, errlen);
    return fc_ffmpeg_source_open(out, url, err, errlen);
}

int fc_source_sleep_until(int64_t due_us, atomic_int *stop) {
    for (int64_t now = fc_mono_us(); now < due_us; now = fc_mono_us()) {
        if (atomic_load(stop)) return 1;
        int64_t until = due_us - now > 50000 ? now + 50000 : due_us;
        struct timespec ts = {.tv_sec = until / 1000000, .tv_nsec = (until % 1000000) * 1000};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    return atomic_load(stop) != 0;
}

void fc_source_attach_preview(fc_source *src, fc_frame *f, const uint8_t *const planes[4],
                              const int strides[4], int av_format, int full_range, int w, int h) {
    if (src->preview.fps <= 0) return;
    if (src->preview_wanted && !src->preview_wanted(src->preview_ud)) return;
    int64_t now = fc_mono_us();
    if (now < src->preview_due_us) return;
    int64_t period = (int64_t)(1e6 / src->preview.fps);
    src->preview_due_us =
        src->preview_due_us + period > now ? src->preview_due_us + period : now + period;
    fc_output_spec spec = {FC_PIX_YUV420P, src->preview.width < w ? src->preview.width : w, 0, 1};
    f->preview =
        fc_convert_image(&src->preview_conv, planes, strides, av_format, full_range, w, h, &spec);
}

void fc_source_close(fc_source *src) {
    if (!src) return;
    fc_convert_free(&src->preview_conv);
    src->destroy(src);
}
