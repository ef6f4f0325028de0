/* A stream's pipeline: source thread -> slot -> predictor workers ->
 * sequencer -> hub. One per stream; it owns its source, slot and workers.
 *
 * The sequencer is the only critical section between workers: it puts
 * results in the order their frames were taken (mode=every: each exactly
 * once; mode=latest: an older result than one published is dropped and
 * counted as stale), assigns seq (1, 2, 3, ... per stream), stamps publish_us, renders
 * the JSON and its WebSocket frame header once into one fc_buf, and hands
 * that to fc_hub_publish.
 *
 * The source thread also owns the end of the stream: when the source ends it
 * lets the workers drain, joins them, and publishes the final status
 * (ended/failed), so clients see it after the last result. Status changes
 * are published as sticky messages: a client that subscribes later gets the
 * current status first. Each status message also carries the predictor's
 * state (ok, failing, restarting, failed), which the workers report; a
 * predictor that fails for good (an exec model that cannot start) stops the
 * source, and the stream ends as failed with the predictor's reason.
 * create/start/stop/destroy on the main thread. */
#ifndef FC_APP_PIPELINE_H
#define FC_APP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "hub/hub.h"
#include "util/histogram.h"
#include "source/slot.h"
#include "source/source.h"

typedef struct fc_stream_config {
    const char *name;
    const char *source;    /* URL with the source's own options, or "push" */
    const char *predictor; /* "NAME[:OPTIONS]": each stream has its own */
    int workers;
    int predict_timeout_ms; /* report a frame whose prediction takes longer (0: never) */
    enum fc_slot_mode mode;
    enum fc_slow_policy slow;
    int scale_w, scale_h;      /* scale=W or WxH for the predictor's frames (0: as is) */
    int wait_clients;          /* wait=N: start the source once N clients are subscribed */
    fc_preview_spec preview;   /* JPEG previews for viewers (fps 0: off) */
    fc_history_limits history; /* results kept for clients that resume */
    int has_history;           /* history= was given for this stream */
} fc_stream_config;

typedef struct fc_pipeline fc_pipeline;

/* Opens the source, creates the predictor instances and registers the
 * stream with the hub (started or not). The pipeline keeps copies of cfg's
 * strings. */
int fc_pipeline_create(fc_pipeline **out, const fc_stream_config *cfg, fc_hub *hub, char *err,
                       size_t errlen);
/* Starts the source. When it ends by itself (not through stop) the pipeline
 * calls ended(ended_ud) from its source thread, after the final status
 * (fc_pipeline_failed then says which). */
int fc_pipeline_start(fc_pipeline *p, void (*ended)(void *), void *ended_ud, char *err,
                      size_t errlen);
/* Stops the source, lets the workers finish, joins every thread. */
void fc_pipeline_stop(fc_pipeline *p);
void fc_pipeline_destroy(fc_pipeline *p);

/* What /api/streams shows of a stream; a snapshot, any thread. */
typedef struct fc_stream_info {
    char name[65];
    char source[512]; /* credentials removed */
    char predictor[128];
    char state[16];
    char error[256];
    int width, height;
    double fps;
    int preview;
    uint64_t results;
    uint64_t stale;              /* mode=latest: results dropped as older than one published */
    uint64_t lost;               /* results not published: memory ran out */
    uint64_t previews;           /* JPEG previews published */
    char predictor_state[16];    /* ok, failing, restarting, failed */
    char predictor_error[256];   /* why, when not ok: the last error */
    uint64_t predictor_errors;   /* frames the predictor failed on */
    uint64_t predictor_restarts; /* times its model process was restarted */
    uint64_t frames;             /* frames the source handed over */
    uint64_t skipped;            /* of which replaced before a worker took them (mode=latest) */
    uint64_t reconnects;         /* times the source went to reconnecting */
} fc_stream_info;
void fc_pipeline_info(fc_pipeline *p, fc_stream_info *out);

/* Adds the stream's latency histograms into the caller's: the
 * predictor's time per frame, and capture to publish. Any thread. */
void fc_pipeline_histograms(fc_pipeline *p, fc_histogram *infer, fc_histogram *latency);

/* 1 for a push stream (its source is "push"): no video, no predictor;
 * producers publish its results over HTTP. */
int fc_pipeline_is_push(const fc_pipeline *p);
/* Publishes one result of a push stream, given as a JSON object (UTF-8,
 * without the keys the server sets: type, stream, epoch, seq,
 * publish_us), through the hub like any result: its members are spliced
 * after the server's own. Never waits: on an I/O thread. Returns its seq
 * (> 0), FC_EINVAL_OPT (what is wrong in *why), or FC_EFULL when the
 * stream's inboxes are full (nothing published). */
int64_t fc_pipeline_push(fc_pipeline *p, const char *json, size_t len, const char **why);
int fc_pipeline_stream_id(const fc_pipeline *p);
/* The stream's epoch (its seq numbering). Any thread. */
const char *fc_pipeline_epoch(const fc_pipeline *p);
/* A tap sees every message the pipeline publishes (kind 0: a result, 1: a
 * preview, 2: a status message), right after the hub got it, in the order
 * the hub got them; it must never wait (it may run under the sequencer's
 * lock, or on an I/O thread for a push stream). With a tap, previews are
 * made whether or not a local client asked for them. Set before start. */
typedef void (*fc_pipeline_tap_fn)(void *ud, int stream, int kind, fc_buf *msg);
void fc_pipeline_set_tap(fc_pipeline *p, fc_pipeline_tap_fn fn, void *ud);
/* After the stream ended by itself: 1 if it failed (its source, or its
 * predictor for good), 0 if it ended normally. Any thread. */
int fc_pipeline_failed(const fc_pipeline *p);
/* 1 once the stream ended by itself (not through stop). Any thread. */
int fc_pipeline_ended(const fc_pipeline *p);
/* The stream's name. Any thread. */
const char *fc_pipeline_name(const fc_pipeline *p);

#endif
