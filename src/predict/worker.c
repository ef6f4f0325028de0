#include "predict/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/fault.h"

struct worker {
    struct fc_workers *pool;
    pthread_t thread;
    void *instance;
    int started;
};

struct fc_workers {
    const fc_predictor_api *api;
    fc_slot *in;
    fc_result_fn fn;
    void *ud;
    int n;
    int shared; /* one instance for all */
    int timeout_ms;
    enum fc_pixfmt format; /* what wants() asked for, checked in start */
    int width, height;
    struct worker w[];
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct fc_workers *pool = w->pool;
    fc_detection *dets = malloc(FC_MAX_DETECTIONS * sizeof *dets);
    if (!dets) return NULL;
    for (fc_frame *f; (f = fc_slot_take(pool->in));) {
        char err[256] = "";
        int64_t t0 = fc_mono_us();
        int n = pool->api->predict(w->instance, &f->view, dets, FC_MAX_DETECTIONS, err, sizeof err);
        /* A plug-in is not trusted to keep its contract: an error text may
         * fill the whole buffer without a NUL, and a count over max would
         * make the renderer read past dets. */
        err[sizeof err - 1] = 0;
        fc_result r = {.frame = f,
                       .dets = dets,
                       .ndets = n > 0 ? n : 0,
                       .infer_us = fc_mono_us() - t0,
                       .error = n < 0 ? (err[0] ? err : "predictor failed") : NULL};
        if (n > FC_MAX_DETECTIONS) {
            r.ndets = FC_MAX_DETECTIONS;
            snprintf(err, sizeof err,
                     "predictor returned %d detections, over its limit of %d: the first %d kept", n,
                     FC_MAX_DETECTIONS, FC_MAX_DETECTIONS);
            r.error = err;
        }
        if (!r.error && pool->timeout_ms > 0 && r.infer_us > (int64_t)pool->timeout_ms * 1000) {
            snprintf(err, sizeof err, "predictor took %lld ms, over the %d ms per-frame limit",
                     (long long)(r.infer_us / 1000), pool->timeout_ms);
            r.error = err;
        }
        pool->fn(pool->ud, &r);
        fc_frame_free(f);
    }
    free(dets);
    return NULL;
}

/* Destroys the first `created` instances (a shared instance counts once). */
static void destroy_instances(struct fc_workers *pool, int created) {
    for (int i = 0; i < created; i++) pool->api->destroy(pool->w[i].instance);
}

/* Asks the first instance what it wants, once, and checks the answer: a
 * format out of range would make the source drop every frame, silently. */
static int check_wants(struct fc_workers *pool, char *err, size_t errlen) {
    enum fc_pixfmt format = FC_PIX_ANY;
    int w = 0, h = 0;
    if (pool->api->wants) pool->api->wants(pool->w[0].instance, &format, &w, &h);
    if ((int)format < FC_PIX_ANY || (int)format > FC_PIX_YUV420P) {
        snprintf(err, errlen,
                 "--predictor %s: wants() asked for pixel format %d (expected 0 any, 1 gray8, 2 "
                 "rgb24, 3 bgr24 or 4 yuv420p)",
                 pool->api->name, (int)format);
        return FC_EINVAL_OPT;
    }
    if (w < 0 || h < 0 || w > FC_MAX_FRAME_SIDE || h > FC_MAX_FRAME_SIDE) {
        snprintf(err, errlen,
                 "--predictor %s: wants() asked for a %dx%d frame (expected sizes 0..%d; 0 keeps "
                 "the source's)",
                 pool->api->name, w, h, FC_MAX_FRAME_SIDE);
        return FC_EINVAL_OPT;
    }
    pool->format = format;
    pool->width = w;
    pool->height = h;
    return 0;
}

int fc_workers_start(fc_workers **out, int n, const fc_predictor_api *api, const char *opts,
                     int timeout_ms, fc_slot *in, fc_result_fn fn, void *ud, char *err,
                     size_t errlen) {
    struct fc_workers *pool = calloc(1, sizeof *pool + (size_t)n * sizeof(struct worker));
    if (!pool) return -1;
    *pool = (struct fc_workers){.api = api,
                                .in = in,
                                .fn = fn,
                                .ud = ud,
                                .n = n,
                                .shared = (api->flags & FC_PREDICTOR_THREAD_SAFE) != 0,
                                .timeout_ms = timeout_ms};
    int rc;
    for (int i = 0; i < n; i++) {
        pool->w[i].pool = pool;
        if (pool->shared && i > 0) {
            pool->w[i].instance = pool->w[0].instance;
            continue;
        }
        if (api->create(opts, &pool->w[i].instance, err, errlen)) {
            destroy_instances(pool, i);
            free(pool);
            return FC_EINVAL_OPT;
        }
    }
    if ((rc = check_wants(pool, err, errlen))) {
        destroy_instances(pool, pool->shared ? 1 : n);
        free(pool);
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (fc_fault("worker_thread") ||
            pthread_create(&pool->w[i].thread, NULL, worker_main, &pool->w[i])) {
            snprintf(err, errlen, "cannot start a predictor worker thread");
            fc_slot_close(in);
            fc_workers_join(pool);
            return -1;
        }
        pool->w[i].started = 1;
    }
    *out = pool;
    return 0;
}

void fc_workers_wants(fc_workers *pool, enum fc_pixfmt *format, int *width, int *height) {
    *format = pool->format;
    *width = pool->width;
    *height = pool->height;
}

void fc_workers_join(fc_workers *pool) {
    if (!pool) return;
    for (int i = 0; i < pool->n; i++)
        if (pool->w[i].started) pthread_join(pool->w[i].thread, NULL);
    destroy_instances(pool, pool->shared ? 1 : pool->n);
    free(pool);
}
