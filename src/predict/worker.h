/* Predictor workers: threads that take frames from a slot, run a predictor
 * instance on each and hand the result to a callback (the sequencer).
 *
 * Each worker owns its predictor instance (or all share one if the table is
 * FC_PREDICTOR_THREAD_SAFE). Instances are created in fc_workers_start, on
 * the caller's thread, so a bad option fails before anything runs; wants()
 * is asked there too, once, and an answer out of range fails the start. The
 * callback runs on a worker thread and must not keep the frame. An instance
 * that takes batches (ABI minor 2, batch_size() > 1) gets the frames already
 * waiting in the slot in one call; their results still go to the callback
 * one frame at a time, in frame order.
 *
 * The pool also watches the predictor's health for its owner (an
 * fc_predictor_watch): frames that failed, restarts its instances report,
 * and its state (ok, failing, restarting, failed), told on each change. */
#ifndef FC_PREDICT_WORKER_H
#define FC_PREDICT_WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "framecast/predictor.h"
#include "source/slot.h"

/* The room a predict call gets: a predictor returning more is cut to this
 * (and its result says so). */
#define FC_MAX_DETECTIONS 1024
/* The largest frame side a predictor may ask for in wants(). */
#define FC_MAX_FRAME_SIDE 16384

typedef struct fc_result {
    const fc_frame *frame;
    const fc_detection *dets;
    int ndets;
    int64_t infer_us;
    const char *error; /* NULL, or why the predictor failed on this frame */
} fc_result;

typedef void (*fc_result_fn)(void *ud, const fc_result *r);

/* The predictor's health as the workers see it. The owner embeds it, fills
 * stream, fn and ud, and keeps it alive until fc_workers_join returned; the
 * counters may be read on any thread. */
typedef struct fc_predictor_watch {
    const char *stream; /* the stream's name, for the instances' messages */
    /* Called on a worker thread, one call at a time, before the result of
     * the frame that caused it: when the state changes (changed = 1: OK,
     * FAILING with the frame's error, RESTARTING or FAILED with why), and
     * for each further failing frame (changed = 0, why: its error). Must
     * not call back into the pool. */
    void (*fn)(void *ud, enum fc_predictor_state state, const char *why, int changed);
    void *ud;
    atomic_uint_fast64_t errors;    /* frames the predictor failed on */
    atomic_uint_fast64_t predicted; /* frames it succeeded on */
    atomic_uint_fast64_t restarts;  /* times an instance reported RESTARTING */
} fc_predictor_watch;

typedef struct fc_workers fc_workers;

/* timeout_ms > 0: a frame whose predict call takes longer is reported in its
 * result's error (an in-process predictor cannot be interrupted safely; the
 * exec predictor enforces its own timeout by killing the child); a batch of
 * k frames may take k times as long, each frame's infer_us being its share
 * (1/k) of the call. watch may be NULL. */
int fc_workers_start(fc_workers **out, int n, const fc_predictor_api *api, const char *opts,
                     int timeout_ms, fc_slot *in, fc_result_fn fn, void *ud,
                     fc_predictor_watch *watch, char *err, size_t errlen);
/* The format and size the predictor instances want (FC_PIX_ANY, 0, 0 = no
 * preference), as checked by fc_workers_start. */
void fc_workers_wants(fc_workers *w, enum fc_pixfmt *format, int *width, int *height);
/* Frames each instance takes at once (its batch_size(), checked; 1 when it
 * does not batch). */
int fc_workers_batch(fc_workers *w);
/* The model's name for results: what the first instance's model_name
 * returned (exec:name=yolo), else the table's name. Lives until join. */
const char *fc_workers_model(fc_workers *w);
/* Waits for the workers to finish; they do once the slot is closed or
 * finished and drained. Destroys the instances. */
void fc_workers_join(fc_workers *w);

/* "ok", "failing", "restarting", "failed". */
const char *fc_predictor_state_name(enum fc_predictor_state s);

#endif
