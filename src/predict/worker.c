/* Predictor workers (see worker.h).
 *
 * The predictor's state, as the pool tells its watch. A failed frame makes
 * it failing at once; an instance's report of RESTARTING (its model process
 * died) holds while frames fail only because the process is down ("restarting
 * in 200 ms"); FAILED is final. Back to ok takes OK_AFTER_US of frames
 * without an error: status messages are never dropped for a client, so a
 * model failing every other frame must not turn into one message per frame
 * (each change is one), and a state that says ok only once the model has
 * been fine for a while is the one an operator can trust.
 *
 * Batches: an instance whose batch_size() is above 1 gets, in one
 * predict_batch call, the frame a worker waited for and the ones already
 * waiting behind it; from there each frame is settled on its own, exactly
 * as a single frame (its own error, its own limits, counted once). */
#include "predict/worker.h"

#include <pthread.h>
#include <errno.h>
#include <limits.h>
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

/* Frames without an error for this long turn failing or restarting into ok. */
#define OK_AFTER_US 1000000

struct fc_workers {
    const fc_predictor_api *api;
    fc_slot *in;
    fc_result_fn fn;
    void *ud;
    int n;
    int shared; /* one instance for all */
    int timeout_ms;
    int batch;             /* frames per predict_batch call; 1: predict, frame by frame */
    enum fc_pixfmt format; /* what wants() asked for, checked in start */
    int width, height;
    const char *model; /* for results: the instance's model_name, or the table's name */
    fc_predictor_watch *watch;
    fc_predictor_host host; /* what the instances get in attach */
    pthread_mutex_t state_mu;
    enum fc_predictor_state state; /* the last told; under state_mu, like the two below */
    int running_again;             /* after RESTARTING: the instance said it runs again */
    int64_t ok_since_us;           /* when frames started succeeding again (0: they fail) */
    struct worker w[];
};

const char *fc_predictor_state_name(enum fc_predictor_state s) {
    switch (s) {
    case FC_PREDICTOR_OK:
        return "ok";
    case FC_PREDICTOR_FAILING:
        return "failing";
    case FC_PREDICTOR_RESTARTING:
        return "restarting";
    case FC_PREDICTOR_FAILED:
        return "failed";
    }
    return "unknown";
}

/* With state_mu held. */
static void tell(struct fc_workers *pool, enum fc_predictor_state s, const char *why, int changed) {
    if (pool->watch && pool->watch->fn) pool->watch->fn(pool->watch->ud, s, why, changed);
}

/* An instance's report (host.report), from within its predict (or
 * predict_batch) call. */
static void on_report(const fc_predictor_host *host, enum fc_predictor_state s, const char *why) {
    struct fc_workers *pool = host->ud;
    pthread_mutex_lock(&pool->state_mu);
    if (pool->state == FC_PREDICTOR_FAILED) {
        /* final */
    } else if (s == FC_PREDICTOR_OK) {
        pool->running_again = 1; /* its frames decide from now on */
    } else {
        if (s == FC_PREDICTOR_RESTARTING && pool->watch)
            atomic_fetch_add_explicit(&pool->watch->restarts, 1, memory_order_relaxed);
        /* Each restart is news, even when already restarting. */
        int changed = pool->state != s || s == FC_PREDICTOR_RESTARTING;
        pool->state = s;
        pool->running_again = 0;
        pool->ok_since_us = 0;
        tell(pool, s, why, changed);
    }
    pthread_mutex_unlock(&pool->state_mu);
}

/* A frame's outcome: error is NULL when the predictor succeeded. */
static void frame_done(struct fc_workers *pool, const char *error) {
    if (pool->watch)
        atomic_fetch_add_explicit(error ? &pool->watch->errors : &pool->watch->predicted, 1,
                                  memory_order_relaxed);
    pthread_mutex_lock(&pool->state_mu);
    enum fc_predictor_state s = pool->state;
    if (s == FC_PREDICTOR_FAILED || (s == FC_PREDICTOR_OK && !error)) {
        /* nothing new */
    } else if (error) {
        pool->ok_since_us = 0;
        if (s == FC_PREDICTOR_RESTARTING && !pool->running_again) {
            /* failing only because the model process is down: still restarting */
        } else {
            pool->state = FC_PREDICTOR_FAILING;
            tell(pool, FC_PREDICTOR_FAILING, error, s != FC_PREDICTOR_FAILING);
        }
    } else {
        int64_t now = fc_mono_us();
        if (!pool->ok_since_us) pool->ok_since_us = now;
        if (now - pool->ok_since_us >= OK_AFTER_US) {
            pool->state = FC_PREDICTOR_OK;
            tell(pool, FC_PREDICTOR_OK, NULL, 1);
        }
    }
    pthread_mutex_unlock(&pool->state_mu);
}

/* Settles one frame's outcome (n as predict returned it, its error text in
 * err) as a result, counts it and hands it to the sequencer; frees the
 * frame. batch_us is how long the call that predicted it took, for a batch
 * of k frames: the frame's share of it is its infer_us, and its limit is
 * --predict-timeout, so the batch may take k times the limit. */
static void settle(struct fc_workers *pool, fc_frame *f, const fc_detection *dets, int n, char *err,
                   size_t errlen, int64_t batch_us, int k) {
    /* A plug-in is not trusted to keep its contract: an error text may
     * fill the whole buffer without a NUL, and a count over max would
     * make the renderer read past dets. */
    err[errlen - 1] = 0;
    fc_result r = {.frame = f,
                   .dets = dets,
                   .ndets = n > 0 ? n : 0,
                   .infer_us = batch_us / k,
                   .error = n < 0 ? (err[0] ? err : "predictor failed") : NULL};
    if (n > FC_MAX_DETECTIONS) {
        r.ndets = FC_MAX_DETECTIONS;
        snprintf(err, errlen,
                 "predictor returned %d detections, over its limit of %d: the first %d kept", n,
                 FC_MAX_DETECTIONS, FC_MAX_DETECTIONS);
        r.error = err;
    }
    int64_t limit_us = (int64_t)pool->timeout_ms * 1000;
    if (!r.error && limit_us > 0 && r.infer_us > limit_us) {
        if (k == 1)
            snprintf(err, errlen, "predictor took %lld ms, over the %d ms per-frame limit",
                     (long long)(batch_us / 1000), pool->timeout_ms);
        else
            snprintf(err, errlen,
                     "predictor took %lld ms for a batch of %d frames, over the %d ms per-frame "
                     "limit (%lld ms for the batch)",
                     (long long)(batch_us / 1000), k, pool->timeout_ms,
                     (long long)pool->timeout_ms * k);
        r.error = err;
    }
    /* Counted once the result is settled: a frame over the limits is a
     * failed frame too (framecast_predictor_errors_total). */
    frame_done(pool, r.error);
    pool->fn(pool->ud, &r);
    fc_frame_free(f);
}

/* What a worker keeps between frames: room for a whole batch's answers. */
struct room {
    fc_detection *dets; /* FC_MAX_DETECTIONS per frame of a batch */
    char (*err)[256];   /* an error text per frame of a batch */
    fc_frame *frames[FC_PREDICTOR_BATCH_MAX];
    fc_batch_item items[FC_PREDICTOR_BATCH_MAX];
};

/* A batching instance: f, then up to batch - 1 frames already waiting (the
 * slot is never waited on for more), predicted in one call; each frame's
 * result is settled and published as a single frame's would be, in frame
 * order. The frames were taken one after another by this worker, so their
 * tickets rise: with several workers another may hold tickets in between,
 * and each worker publishing its own in rising order keeps the sequencer's
 * every-mode wait free of deadlock (the oldest ticket not yet published is
 * always the next one its holder publishes). */
static void predict_batch(struct worker *w, struct room *m, fc_frame *f) {
    struct fc_workers *pool = w->pool;
    int k = 0;
    m->frames[k++] = f;
    while (k < pool->batch && (m->frames[k] = fc_slot_try_take(pool->in))) k++;
    for (int i = 0; i < k; i++) {
        m->err[i][0] = 0;
        m->items[i] = (fc_batch_item){.frame = &m->frames[i]->view,
                                      .out = m->dets + (size_t)i * FC_MAX_DETECTIONS,
                                      .max = FC_MAX_DETECTIONS,
                                      .count = INT_MIN, /* not set */
                                      .err = m->err[i],
                                      .errlen = sizeof m->err[i]};
    }
    int64_t t0 = fc_mono_us();
    pool->api->predict_batch(w->instance, m->items, k);
    int64_t batch_us = fc_mono_us() - t0;
    for (int i = 0; i < k; i++) {
        int n = m->items[i].count;
        if (n == INT_MIN) {
            snprintf(m->err[i], sizeof m->err[i],
                     "predictor's predict_batch set no count for frame %lld (a batch of %d frames)",
                     (long long)m->frames[i]->view.index, k);
            n = -1;
        }
        settle(pool, m->frames[i], m->items[i].out, n, m->err[i], sizeof m->err[i], batch_us, k);
    }
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct fc_workers *pool = w->pool;
    struct room *m = calloc(1, sizeof *m);
    if (m) m->dets = malloc((size_t)pool->batch * FC_MAX_DETECTIONS * sizeof *m->dets);
    if (m && m->dets) m->err = malloc((size_t)pool->batch * sizeof *m->err);
    if (!m || !m->dets || !m->err) {
        if (m) free(m->dets);
        free(m);
        return NULL;
    }
    for (fc_frame *f; (f = fc_slot_take(pool->in));) {
        if (pool->batch > 1) {
            predict_batch(w, m, f);
            continue;
        }
        char *err = m->err[0];
        err[0] = 0;
        int64_t t0 = fc_mono_us();
        int n = pool->api->predict(w->instance, &f->view, m->dets, FC_MAX_DETECTIONS, err,
                                   sizeof m->err[0]);
        settle(pool, f, m->dets, n, err, sizeof m->err[0], fc_mono_us() - t0, 1);
    }
    free(m->err);
    free(m->dets);
    free(m);
    return NULL;
}

/* Destroys the first `created` instances (a shared instance counts once). */
static void destroy_instances(struct fc_workers *pool, int created) {
    for (int i = 0; i < created; i++) pool->api->destroy(pool->w[i].instance);
}

/* The ABI minor 1 and 2 entries: read only from tables that have them. */
static int has_minor1(const fc_predictor_api *api) {
    return api->abi_minor >= 1;
}

static int has_minor2(const fc_predictor_api *api) {
    return api->abi_minor >= 2;
}

/* Asks the first instance how many frames it takes at once, and checks the
 * answer: one that batches without predict_batch would crash on its first
 * frame. */
static int check_batch(struct fc_workers *pool, char *err, size_t errlen) {
    const fc_predictor_api *api = pool->api;
    int b = has_minor2(api) && api->batch_size ? api->batch_size(pool->w[0].instance) : 1;
    if (b < 1 || b > FC_PREDICTOR_BATCH_MAX) {
        snprintf(err, errlen, "--predictor %s: batch_size() answered %d (expected 1 to %d)",
                 api->name, b, FC_PREDICTOR_BATCH_MAX);
        return FC_EINVAL_OPT;
    }
    if (b > 1 && !api->predict_batch) {
        snprintf(err, errlen,
                 "--predictor %s: batch_size() answered %d, but the table has no predict_batch",
                 api->name, b);
        return FC_EINVAL_OPT;
    }
    pool->batch = b;
    return 0;
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
                     int timeout_ms, fc_slot *in, fc_result_fn fn, void *ud,
                     fc_predictor_watch *watch, char *err, size_t errlen) {
    struct fc_workers *pool = calloc(1, sizeof *pool + (size_t)n * sizeof(struct worker));
    if (!pool) {
        snprintf(err, errlen, "--predictor: out of memory");
        return -ENOMEM;
    }
    *pool = (struct fc_workers){.api = api,
                                .in = in,
                                .fn = fn,
                                .ud = ud,
                                .n = n,
                                .shared = (api->flags & FC_PREDICTOR_THREAD_SAFE) != 0,
                                .timeout_ms = timeout_ms,
                                .batch = 1,
                                .model = api->name,
                                .watch = watch,
                                .state = FC_PREDICTOR_OK};
    pool->host = (fc_predictor_host){
        .stream = watch && watch->stream ? watch->stream : "", .report = on_report, .ud = pool};
    pthread_mutex_init(&pool->state_mu, NULL);
    int rc;
    for (int i = 0; i < n; i++) {
        pool->w[i].pool = pool;
        if (pool->shared && i > 0) {
            pool->w[i].instance = pool->w[0].instance;
            continue;
        }
        int created = api->create(opts, &pool->w[i].instance, err, errlen);
        if (created) { /* out of memory is the machine's state; the rest, the options' */
            destroy_instances(pool, i);
            pthread_mutex_destroy(&pool->state_mu);
            free(pool);
            return created == -ENOMEM ? -ENOMEM : FC_EINVAL_OPT;
        }
        if (has_minor1(api) && api->attach) api->attach(pool->w[i].instance, &pool->host);
    }
    if (has_minor1(api) && api->model_name) {
        const char *m = api->model_name(pool->w[0].instance);
        if (m && *m) pool->model = m;
    }
    if ((rc = check_wants(pool, err, errlen)) || (rc = check_batch(pool, err, errlen))) {
        destroy_instances(pool, pool->shared ? 1 : n);
        pthread_mutex_destroy(&pool->state_mu);
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

int fc_workers_batch(fc_workers *pool) {
    return pool->batch;
}

const char *fc_workers_model(fc_workers *pool) {
    return pool->model;
}

void fc_workers_join(fc_workers *pool) {
    if (!pool) return;
    for (int i = 0; i < pool->n; i++)
        if (pool->w[i].started) pthread_join(pool->w[i].thread, NULL);
    destroy_instances(pool, pool->shared ? 1 : pool->n);
    pthread_mutex_destroy(&pool->state_mu);
    free(pool);
}
