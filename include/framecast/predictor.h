/* framecast predictor plugin ABI.
 *
 * A predictor turns one video frame into a list of detections. Built-in
 * predictors and plugins loaded with dlopen implement the same table.
 *
 * A plugin exports one symbol:
 *     const fc_predictor_api *fc_predictor_entry(void);
 * The loader refuses a table whose abi_major differs from
 * FC_PREDICTOR_ABI_MAJOR; minor versions only add fields at the end.
 *
 * Threading contract: framecast creates one instance per worker thread and
 * calls predict on an instance from that thread only, one frame (or one
 * batch) at a time, unless the table sets FC_PREDICTOR_THREAD_SAFE, in which
 * case one instance is shared by all workers. Predictors never run on a network thread.
 *
 * What a plugin returns is checked, not trusted (docs/predictors.md): an
 * answer of wants() out of range fails the start, a count over max is cut
 * to max, an error text is cut to errlen - 1 bytes, detections with NaN or
 * infinite numbers are dropped and boxes clipped to the source frame. The
 * library is loaded with RTLD_NODELETE and never unmapped.
 *
 * ABI minor 1 adds, at the end of the table, attach (framecast's side of
 * the contract: the stream's name and a way to report the instance's state
 * beyond one frame, such as a model process that is restarting or cannot
 * start) and model_name (what results carry as "model"). framecast reads
 * them only from tables whose abi_minor is 1 or more.
 *
 * ABI minor 2 adds batch_size and predict_batch: an instance that predicts
 * several frames at once more cheaply than one by one (a GPU model, a model
 * process fed through a pipe) says how many it takes, and gets the frames
 * that are waiting in one call. framecast reads them only from tables whose
 * abi_minor is 2 or more; a plug-in built for minor 0 or 1 is called frame
 * by frame, as before. */
#ifndef FRAMECAST_PREDICTOR_H
#define FRAMECAST_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FC_PREDICTOR_ABI_MAJOR 1
#define FC_PREDICTOR_ABI_MINOR 2

/* Pixel formats a predictor may ask for. Planes: GRAY8, RGB24 and BGR24 use
 * plane 0; YUV420P uses planes 0 (Y), 1 (U) and 2 (V). */
enum fc_pixfmt {
    FC_PIX_ANY = 0, /* in wants(): no preference, take what the source has (no
                       conversion); frames then arrive as one of the below */
    FC_PIX_GRAY8 = 1,
    FC_PIX_RGB24 = 2,
    FC_PIX_BGR24 = 3,
    FC_PIX_YUV420P = 4,
};

/* A read-only frame, valid only during the predict call. */
typedef struct fc_frame_view {
    const uint8_t *data[3];
    int stride[3];
    int width, height;         /* of this view (after any scaling) */
    int src_width, src_height; /* of the source: boxes are reported in these pixels */
    enum fc_pixfmt format;
    int64_t pts_us; /* presentation time */
    int64_t index;  /* frame number in the stream, from 0 */
} fc_frame_view;

#define FC_LABEL_MAX 32

/* A predictor's state beyond one frame (ABI minor 1). */
enum fc_predictor_state {
    FC_PREDICTOR_OK = 0,         /* working (or working again after a restart) */
    FC_PREDICTOR_FAILING = 1,    /* frames fail; framecast sets it from frame errors */
    FC_PREDICTOR_RESTARTING = 2, /* a part outside the process (a model process)
                                    failed and will be started again */
    FC_PREDICTOR_FAILED = 3,     /* it cannot go on: the stream fails with the reason */
};

/* framecast's side, handed to an instance by attach (ABI minor 1). It lives
 * as long as the instance. */
typedef struct fc_predictor_host fc_predictor_host;
struct fc_predictor_host {
    const char *stream; /* the name of the stream the instance serves (for messages) */
    /* Reports a state change with why (may be NULL for OK). Only from within
     * predict (or predict_batch), on its thread. RESTARTING is counted as a restart; FAILED is
     * final: the stream stops and fails with why as its reason (predict
     * should then fail every frame it still gets, at once). */
    void (*report)(const fc_predictor_host *host, enum fc_predictor_state state, const char *why);
    void *ud; /* framecast's */
};

/* One detection; box is x, y, w, h in source pixels. */
typedef struct fc_detection {
    char label[FC_LABEL_MAX];
    float score;
    float box[4];
} fc_detection;

#define FC_PREDICTOR_THREAD_SAFE 1u

/* The most frames one predict_batch call gets (ABI minor 2). */
#define FC_PREDICTOR_BATCH_MAX 64

/* One frame of a batch and its outcome (ABI minor 2): for each frame, what
 * predict's arguments and return value are. framecast fills every field
 * but count, which predict_batch sets. */
typedef struct fc_batch_item {
    const fc_frame_view *frame; /* read-only, valid only during the call */
    fc_detection *out;          /* room for max detections of this frame */
    int max;
    int count; /* set by predict_batch: as predict's return value, the
                  detections written to out, or a negative value for this
                  frame's error with its text in err */
    char *err; /* errlen bytes, empty on entry */
    size_t errlen;
} fc_batch_item;

typedef struct fc_predictor_api {
    uint32_t abi_major; /* FC_PREDICTOR_ABI_MAJOR */
    uint32_t abi_minor; /* FC_PREDICTOR_ABI_MINOR */
    const char *name;
    uint32_t flags; /* FC_PREDICTOR_THREAD_SAFE */

    /* Creates an instance from an option string ("key=value,..."; may be
     * empty). Returns 0, or non-zero with a message in err. */
    int (*create)(const char *opts, void **instance, char *err, size_t errlen);
    /* The format and size the instance wants; width/height 0 mean "the
     * source's size" (each 0..16384). Called once, after the instances are
     * created, on the first one. */
    void (*wants)(void *instance, enum fc_pixfmt *format, int *width, int *height);
    /* Writes up to max detections into out and returns how many, or a
     * negative value with a message in err (the frame's result then carries
     * the error; the stream goes on). Numbers must be finite; boxes are in
     * source pixels. */
    int (*predict)(void *instance, const fc_frame_view *frame, fc_detection *out, int max,
                   char *err, size_t errlen);
    void (*destroy)(void *instance);

    /* ABI minor 1: read only when abi_minor >= 1; each may be NULL. */
    /* Hands the instance framecast's side. Called once after create, before
     * wants and predict, on the thread that called create. */
    void (*attach)(void *instance, const fc_predictor_host *host);
    /* The name results carry as "model" (e.g. exec:name=yolo), or NULL for
     * the table's name. Called once after create; the string lives as long
     * as the instance. */
    const char *(*model_name)(void *instance);

    /* ABI minor 2: read only when abi_minor >= 2; each may be NULL. */
    /* How many frames the instance takes in one predict_batch call, 1 to
     * FC_PREDICTOR_BATCH_MAX. Called once after create, attach and
     * model_name, on the first instance, which speaks for all; an answer out
     * of range, or above 1 without predict_batch, fails the start. NULL or 1:
     * no batches, predict is called frame by frame. */
    int (*batch_size)(void *instance);
    /* Predicts items[0..n) in one call, 1 <= n <= batch_size(), the frames in
     * stream order. With batch_size() above 1 framecast calls this instead
     * of predict for every frame, with the frames already waiting when a
     * worker takes one (a batch of one when no other is): it never waits to
     * fill a batch. Each item's count is set as predict would return it, and
     * each frame's result carries its own detections or error; an item left
     * without a count fails with an error saying so. The threading contract
     * and the checks are predict's, per frame; report may be called from
     * within it. */
    void (*predict_batch)(void *instance, fc_batch_item *items, int n);
} fc_predictor_api;

typedef const fc_predictor_api *(*fc_predictor_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
