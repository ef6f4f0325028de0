/* The fake predictor: count= detections per frame at deterministic positions,
 * with no image work. For benchmarks and tests that need results of a given
 * size (count=1 gives about 300 bytes, each further detection about 70) or a
 * model of a given speed: delay_ms= sleeps (a model waiting on a device),
 * busy_ms= spins the CPU (a model computing), jitter_ms= adds a random extra
 * sleep of 0..jitter_ms per frame (so results of several workers finish out
 * of order), drawn from seed= and the frame's index: the same run twice has
 * the same delays, and the instance stays thread-safe. fail_every=N makes
 * every Nth frame's prediction fail (an error result). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "predict/registry.h"
#include "predict/worker.h"
#include "util/error.h"
#include "util/opts.h"

struct fake {
    int count;
    long delay_ms, busy_ms, jitter_ms, seed, fail_every;
};

/* splitmix64: a well-mixed hash of (seed, frame index). */
static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void sleep_us(long us) {
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};
    nanosleep(&ts, NULL);
}

static int fake_create(const char *opts, void **instance, char *err, size_t errlen) {
    fc_opts o;
    long count;
    if (fc_opts_parse(&o, "--predictor fake", opts, err, errlen)) return FC_EINVAL_OPT;
    long delay_ms, busy_ms, jitter_ms, seed, fail_every;
    int rc = fc_opts_int(&o, "count", 1, 0, FC_MAX_DETECTIONS, &count, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "delay_ms", 0, 0, 60000, &delay_ms, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "busy_ms", 0, 0, 60000, &busy_ms, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "jitter_ms", 0, 0, 60000, &jitter_ms, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "seed", 1, 0, 1L << 30, &seed, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "fail_every", 0, 0, 1L << 30, &fail_every, err, errlen);
    if (!rc)
        rc = fc_opts_finish(&o, "count, delay_ms, busy_ms, jitter_ms, seed, fail_every", err,
                            errlen);
    fc_opts_free(&o);
    if (rc) return -1;
    struct fake *f = malloc(sizeof *f);
    if (!f) return -1;
    f->count = (int)count;
    f->delay_ms = delay_ms;
    f->busy_ms = busy_ms;
    f->jitter_ms = jitter_ms;
    f->seed = seed;
    f->fail_every = fail_every;
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
    if (f->delay_ms) sleep_us(f->delay_ms * 1000);
    if (f->jitter_ms) {
        uint64_t r = mix((uint64_t)f->seed << 32 ^ (uint64_t)frame->index);
        sleep_us((long)(r % (uint64_t)(f->jitter_ms * 1000 + 1)));
    }
    if (f->busy_ms) {
        /* Thread CPU time, so the work is the same however busy the machine is. */
        struct timespec t0, t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        volatile uint64_t x = 0;
        do {
            for (int i = 0; i < 10000; i++) x += (uint64_t)i * i;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < f->busy_ms);
        (void)x;
    }
    if (f->fail_every && frame->index % f->fail_every == f->fail_every - 1) {
        snprintf(err, errlen, "fake failure on frame %lld", (long long)frame->index);
        return -1;
    }
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
