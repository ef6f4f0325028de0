/* A stream's pipeline (see pipeline.h). */
#include "app/pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "app/preview.h"
#include "app/push.h"
#include "app/render.h"
#include "hub/deflate.h"
#include "hub/ws.h"
#include "predict/registry.h"
#include "predict/worker.h"
#include "source/source.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/strbuf.h"

/* Frames a mode=every stream holds for its workers (more for a model that
 * takes bigger batches): enough to ride out a slow prediction or two. */
enum { EVERY_DEPTH = 4 };

struct fc_pipeline {
    fc_stream_config cfg; /* its strings are the pipeline's own: */
    char *name, *source_spec, *predictor_spec;
    fc_hub *hub;
    int stream_id;
    fc_source *source;
    const fc_predictor_api *api;
    const char *predictor_opts;
    void *plugin; /* dlopen handle, or NULL */
    fc_slot slot;
    fc_workers *workers;
    pthread_t source_thread;
    int source_started;
    void (*ended)(void *);
    void *ended_ud;
    atomic_int stop; /* fc_pipeline_stop: no final status */
    /* What the source watches: set by stop, and by a predictor that failed
     * for good (then the stream ends as failed with its reason). */
    atomic_int halt;
    atomic_int failed; /* the stream ended as failed (fc_pipeline_failed) */
    atomic_int done;   /* the stream ended by itself (fc_pipeline_ended) */
    fc_predictor_watch watch;
    char predictor_failed[512]; /* why, once the predictor failed; source thread reads after join */
    char *model; /* the name results carry: the predictor's, or its model's (exec:name=yolo) */
    /* sequencer */
    pthread_mutex_t seq_mu;
    pthread_cond_t turn;             /* mode=every: the next ticket's result may go */
    uint64_t next_ticket;            /* ticket of the next result to publish */
    atomic_uint_fast64_t seq;        /* written under seq_mu, read by the API without it */
    atomic_uint_fast64_t stale;      /* mode=latest: results older than one published */
    atomic_uint_fast64_t lost;       /* results not published: out of memory */
    atomic_uint_fast64_t previews;   /* JPEG previews published */
    atomic_uint_fast64_t reconnects; /* status changes to reconnecting */
    fc_histogram infer, latency;     /* predictor time per frame; capture to publish */
    char epoch[17];                  /* names this run's seq numbering: results resume against it */
    int push;                        /* source "push": results come from producers over HTTP */
    fc_deflater *deflater; /* compresses results once, under seq_mu (when clients want it) */
    fc_strbuf sb;          /* the message being rendered, framed in place (fc_ws_frame_sb) */
    size_t last_len;       /* the last one's size: the next is usually alike */
    fc_strbuf status_sb;   /* under status_mu */
    /* Status messages come from the source thread and, for the predictor's
     * state, from workers: one at a time, so the sticky message is always
     * the last state. Recursive: on_predictor holds it around its call to
     * publish_status, so the stream state it re-sends is still current. */
    pthread_mutex_t status_mu;
    int status_from_worker;     /* under status_mu: the source's fields are not ours to read */
    pthread_mutex_t preview_mu; /* the JPEG encoder, and the order of previews */
    /* What the HTTP API reads from I/O threads: written by the source thread
     * on each status change, read as one snapshot (a short lock, not a queue:
     * readers want the current state, not every change). */
    pthread_mutex_t info_mu;
    fc_stream_info info;
    void *jpeg;
    fc_pipeline_tap_fn tap; /* the cluster's ingest (set before start), or NULL */
    void *tap_ud;
};

static void tap(fc_pipeline *p, int kind, fc_buf *msg) {
    if (p->tap) p->tap(p->tap_ud, p->stream_id, kind, msg);
}

/* permessage-deflate: the result compressed once for every client that
 * negotiated it (a twin of the plain frame), while there are some. Under
 * seq_mu: the deflater is the stream's. */
static void compress_once(fc_pipeline *p, fc_buf *msg) {
    if (!msg || !fc_hub_deflaters(p->hub, p->stream_id)) return;
    if (!p->deflater && !(p->deflater = fc_deflater_new(6))) return;
    fc_deflater_twin(p->deflater, msg, fc_hub_compression_min(p->hub));
}

/* Encodes and publishes the preview of the result just published as seq.
 * Entered with preview_mu held, which the caller took while it still held
 * seq_mu: previews therefore leave in the order of their results, while
 * the JPEG encoding (milliseconds) runs outside the sequencer. */
static void publish_preview(fc_pipeline *p, const fc_frame *f, uint64_t seq) {
    fc_buf *pv = fc_preview_encode(&p->jpeg, f->preview, p->name, seq, f->capture_us,
                                   p->cfg.preview.quality);
    if (pv) {
        atomic_fetch_add_explicit(&p->previews, 1, memory_order_relaxed);
        fc_hub_publish_nowait(p->hub, p->stream_id, pv); /* one per result: bounded */
        tap(p, 1, pv);
        fc_buf_unref(pv);
    }
    pthread_mutex_unlock(&p->preview_mu);
}

/* The sequencer: runs on worker threads, one at a time.
 *
 * Tickets number frames in the order workers took them from the slot. In
 * mode=every results leave in ticket order, each exactly once (a failed
 * prediction is an error result, never a gap): a worker whose frame is
 * ahead waits here for its turn. The reorder buffer is thus the waiting
 * workers themselves, at most workers - 1 results, each holding only its
 * own frame. In mode=latest nobody waits: a result older than one already
 * published is dropped and counted as stale (its newer successor already
 * told the clients more). */
static void on_result(void *ud, const fc_result *r) {
    fc_pipeline *p = ud;
    const fc_frame *f = r->frame;
    /* The hub's backpressure is waited out here, holding no lock: under
     * seq_mu publishing never waits. */
    fc_hub_wait_room(p->hub, p->stream_id);
    pthread_mutex_lock(&p->seq_mu);
    if (p->cfg.mode == FC_SLOT_EVERY) {
        while (f->ticket != p->next_ticket) pthread_cond_wait(&p->turn, &p->seq_mu);
    } else if (f->ticket < p->next_ticket) {
        pthread_mutex_unlock(&p->seq_mu);
        atomic_fetch_add_explicit(&p->stale, 1, memory_order_relaxed);
        return;
    }
    p->next_ticket = f->ticket + 1;
    /* The seq is taken only once the message exists: out of memory, a
     * result is lost (counted as failed), never a number. */
    uint64_t seq = atomic_load_explicit(&p->seq, memory_order_relaxed) + 1;
    int64_t now = fc_now_us();
    fc_hist_observe(&p->infer, r->infer_us);
    fc_hist_observe(&p->latency, now - f->capture_us);
    fc_sb_reserve(&p->sb, p->last_len + 256); /* usually no growth while rendering */
    fc_result_meta meta = {.stream = p->name,
                           .epoch = p->epoch,
                           .seq = seq,
                           .publish_us = now,
                           .model = p->model,
                           .skipped = fc_slot_skipped(&p->slot)};
    fc_render_result(&p->sb, &meta, r);
    p->last_len = p->sb.len;
    /* Framed once, in place (the header goes in the room kept before the
     * text): one buffer shared by every client. */
    fc_buf *msg = fc_ws_frame_sb(FC_WS_TEXT, &p->sb);
    compress_once(p, msg);
    if (msg) {
        atomic_store_explicit(&p->seq, seq, memory_order_relaxed);
        msg->seq = seq; /* before it is shared: the hub keeps results by seq */
        fc_hub_publish_nowait(p->hub, p->stream_id, msg);
        tap(p, 0, msg); /* under seq_mu: in seq order */
        fc_buf_unref(msg);
    } else {
        atomic_fetch_add_explicit(&p->lost, 1, memory_order_relaxed);
        fc_log_stream(FC_LOG_WARN, p->name, "stream '%s': out of memory: a result is lost",
                      p->name);
    }
    if (f->preview) pthread_mutex_lock(&p->preview_mu); /* lock order: seq_mu, preview_mu */
    if (p->cfg.mode == FC_SLOT_EVERY) pthread_cond_broadcast(&p->turn);
    pthread_mutex_unlock(&p->seq_mu);
    if (f->preview && msg)
        publish_preview(p, f, seq);
    else if (f->preview)
        pthread_mutex_unlock(&p->preview_mu);
}

/* The predictor's part of a status message. */
static void put_predictor(fc_pipeline *p, fc_strbuf *sb) {
    pthread_mutex_lock(&p->info_mu);
    fc_sb_puts(sb, ",\"predictor_state\":");
    fc_sb_json_str(sb, p->info.predictor_state);
    if (p->info.predictor_error[0]) {
        fc_sb_puts(sb, ",\"predictor_error\":");
        fc_sb_json_str(sb, p->info.predictor_error);
    }
    pthread_mutex_unlock(&p->info_mu);
}

/* Publishes a status message; sticky, so later subscribers get it first.
 * Called on the source thread, and by on_predictor on a worker. */
static void publish_status(fc_pipeline *p, const char *state, const char *error, int attempt,
                           int retry_ms) {
    pthread_mutex_lock(&p->status_mu);
    fc_strbuf *sb = &p->status_sb;
    fc_sb_reset(sb);
    fc_sb_puts(sb, "{\"type\":\"status\",\"stream\":");
    fc_sb_json_str(sb, p->name);
    fc_sb_puts(sb, ",\"state\":");
    fc_sb_json_str(sb, state);
    if (error) {
        fc_sb_puts(sb, ",\"error\":");
        fc_sb_json_str(sb, error);
    }
    put_predictor(p, sb);
    fc_sb_printf(sb, ",\"attempt\":%d,\"retry_ms\":%d,\"time_us\":%lld}", attempt, retry_ms,
                 (long long)fc_now_us());
    if (strcmp(state, "reconnecting") == 0 && strcmp(p->info.state, "reconnecting") != 0)
        atomic_fetch_add_explicit(&p->reconnects, 1, memory_order_relaxed);
    pthread_mutex_lock(&p->info_mu);
    snprintf(p->info.state, sizeof p->info.state, "%s", state);
    snprintf(p->info.error, sizeof p->info.error, "%s", error ? error : "");
    if (!p->status_from_worker && p->source && p->source->width) { /* known once opened */
        p->info.width = p->source->width;
        p->info.height = p->source->height;
        p->info.fps = p->source->fps;
    }
    pthread_mutex_unlock(&p->info_mu);
    fc_buf *msg = fc_sb_failed(sb) ? NULL : fc_ws_frame(FC_WS_TEXT, sb->data, sb->len);
    if (!msg)
        fc_log_stream(FC_LOG_WARN, p->name, "stream '%s': out of memory: a status is lost",
                      p->name);
    if (msg) {
        fc_hub_publish_sticky(p->hub, p->stream_id, msg);
        tap(p, 2, msg);
        fc_buf_unref(msg);
    }
    if (!p->status_from_worker) { /* on_predictor logs its own changes */
        if (error)
            fc_log_stream(FC_LOG_INFO, p->name, "stream '%s': %s: %s", p->name, state, error);
        else
            fc_log_stream(FC_LOG_INFO, p->name, "stream '%s': %s", p->name, state);
    }
    pthread_mutex_unlock(&p->status_mu);
}

/* The predictor's state, from a worker (the pool makes the calls one at a
 * time, before the result of the frame concerned). Every call updates what
 * /api/streams shows; a change also goes to the clients as a status message
 * with the stream's own state unchanged. FAILED stops the source: the
 * stream then ends as failed with the predictor's reason (source_main). */
static void on_predictor(void *ud, enum fc_predictor_state state, const char *why, int changed) {
    fc_pipeline *p = ud;
    pthread_mutex_lock(&p->status_mu);
    pthread_mutex_lock(&p->info_mu);
    snprintf(p->info.predictor_state, sizeof p->info.predictor_state, "%s",
             fc_predictor_state_name(state));
    snprintf(p->info.predictor_error, sizeof p->info.predictor_error, "%s",
             state == FC_PREDICTOR_OK || !why ? "" : why);
    char stream_state[sizeof p->info.state], stream_error[sizeof p->info.error];
    memcpy(stream_state, p->info.state, sizeof stream_state);
    memcpy(stream_error, p->info.error, sizeof stream_error);
    pthread_mutex_unlock(&p->info_mu);
    if (changed) {
        if (state == FC_PREDICTOR_FAILED) {
            snprintf(p->predictor_failed, sizeof p->predictor_failed, "%s",
                     why && *why ? why : "the predictor failed");
            atomic_store(&p->halt, 1);
        } else if (state != FC_PREDICTOR_OK) {
            fc_log_stream(FC_LOG_WARN, p->name, "stream '%s': predictor %s: %s", p->name,
                          fc_predictor_state_name(state), why ? why : "");
        } else {
            fc_info("stream '%s': predictor ok", p->name);
        }
        p->status_from_worker = 1;
        publish_status(p, stream_state, stream_error[0] ? stream_error : NULL, 0, 0);
        p->status_from_worker = 0;
    }
    pthread_mutex_unlock(&p->status_mu);
}

static int preview_wanted(void *ud) {
    fc_pipeline *p = ud;
    return p->tap || fc_hub_previewers(p->hub, p->stream_id) > 0;
}

static void on_source_status(void *ud, const char *state, const char *error, int attempt,
                             int retry_ms) {
    publish_status(ud, state, error, attempt, retry_ms);
}

static void *source_main(void *arg) {
    fc_pipeline *p = arg;
    if (p->cfg.wait_clients > 0) {
        publish_status(p, "waiting", NULL, 0, 0);
        for (;;) { /* polled: this happens once per stream, before anything runs */
            fc_hub_stats st;
            fc_hub_stats_get(p->hub, p->stream_id, &st);
            if (st.clients >= (uint64_t)p->cfg.wait_clients) break;
            if (fc_source_sleep_until(fc_mono_us() + 10000, &p->halt)) break;
        }
    }
    int rc = atomic_load(&p->halt) ? 0 : p->source->run(p->source, &p->slot, &p->halt);
    fc_slot_finish(&p->slot); /* workers drain what is left, then end */
    fc_workers_join(p->workers);
    p->workers = NULL;
    if (!atomic_load(&p->stop)) {
        if (rc) {
            fc_log_stream(FC_LOG_ERROR, p->name, "stream '%s': %s", p->name, p->source->error);
            atomic_store(&p->failed, 1);
            publish_status(p, "failed", p->source->error[0] ? p->source->error : "source failed", 0,
                           0);
        } else if (p->predictor_failed[0]) { /* written before halt was set */
            atomic_store(&p->failed, 1);
            publish_status(p, "failed", p->predictor_failed, 0, 0);
        } else if (atomic_load(&p->watch.errors) && !atomic_load(&p->watch.predicted)) {
            /* Frames went through, the predictor failed on each: a batch run
             * that produced nothing but errors did not end normally. */
            char why[sizeof p->predictor_failed + 96];
            pthread_mutex_lock(&p->info_mu);
            snprintf(why, sizeof why,
                     "the predictor failed on every frame (%llu); the last error: %s",
                     (unsigned long long)atomic_load(&p->watch.errors), p->info.predictor_error);
            pthread_mutex_unlock(&p->info_mu);
            atomic_store(&p->failed, 1);
            publish_status(p, "failed", why, 0, 0);
        } else {
            publish_status(p, "ended", NULL, 0, 0);
        }
        atomic_store(&p->done, 1);
        if (p->ended) p->ended(p->ended_ud);
    }
    return NULL;
}

/* A fresh epoch: 16 hex digits from the kernel's random source, so two runs
 * (a restart) never share one. */
static void new_epoch(char out[17]) {
    uint8_t r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) { /* no entropy yet: time and pid */
        uint64_t t = (uint64_t)fc_now_us() ^ (uint64_t)getpid() << 40;
        memcpy(r, &t, sizeof r);
    }
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
}

int fc_pipeline_is_push(const fc_pipeline *p) {
    return p->push;
}

int64_t fc_pipeline_push(fc_pipeline *p, const char *json, size_t len, const char **why) {
    const char *m;
    size_t mlen;
    /* Spliced as they are, no second serialization: checked strictly. */
    int bad = fc_push_check(json, len, &m, &mlen, why);
    if (bad == -ENOMEM) *why = "out of memory";
    if (bad) return bad == -ENOMEM ? -ENOMEM : FC_EINVAL_OPT;
    /* An I/O thread: publishing must not wait, so the seq is taken only
     * when every loop has room (seq_mu is this stream's alone). */
    pthread_mutex_lock(&p->seq_mu);
    uint64_t seq = atomic_load_explicit(&p->seq, memory_order_relaxed) + 1;
    fc_sb_reserve(&p->sb, mlen + 256);
    fc_result_meta meta = {
        .stream = p->name, .epoch = p->epoch, .seq = seq, .publish_us = fc_now_us()};
    fc_render_pushed(&p->sb, &meta, m, mlen);
    fc_buf *msg = fc_ws_frame_sb(FC_WS_TEXT, &p->sb);
    compress_once(p, msg);
    int rc = msg ? 0 : -ENOMEM;
    if (msg) {
        msg->seq = seq;
        rc = fc_hub_try_publish(p->hub, p->stream_id, msg);
        if (!rc) tap(p, 0, msg);
        fc_buf_unref(msg);
    }
    if (!rc) atomic_store_explicit(&p->seq, seq, memory_order_relaxed);
    pthread_mutex_unlock(&p->seq_mu);
    *why = rc == FC_EFULL  ? "the stream's clients are behind: try again shortly"
           : rc == -ENOMEM ? "out of memory"
                           : "stopped";
    return rc ? rc : (int64_t)seq;
}

int fc_pipeline_create(fc_pipeline **out, const fc_stream_config *cfg, fc_hub *hub, char *err,
                       size_t errlen) {
    fc_pipeline *p = calloc(1, sizeof *p);
    if (p) {
        p->cfg = *cfg;
        p->name = strdup(cfg->name);
        p->source_spec = strdup(cfg->source);
        p->predictor_spec = strdup(cfg->predictor);
    }
    if (!p || !p->name || !p->source_spec || !p->predictor_spec) {
        if (p) {
            free(p->name);
            free(p->source_spec);
            free(p->predictor_spec);
        }
        free(p);
        snprintf(err, errlen, "--stream %s: out of memory", cfg->name);
        return -ENOMEM;
    }
    p->cfg.name = p->name; /* the caller's configuration may go */
    p->cfg.source = p->source_spec;
    p->cfg.predictor = p->predictor_spec;
    cfg = &p->cfg;
    new_epoch(p->epoch);
    p->hub = hub;
    pthread_mutex_init(&p->seq_mu, NULL);
    pthread_cond_init(&p->turn, NULL);
    pthread_mutex_init(&p->preview_mu, NULL);
    pthread_mutex_init(&p->info_mu, NULL);
    pthread_mutexattr_t recursive;
    pthread_mutexattr_init(&recursive);
    pthread_mutexattr_settype(&recursive, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&p->status_mu, &recursive);
    pthread_mutexattr_destroy(&recursive);
    snprintf(p->info.name, sizeof p->info.name, "%s", cfg->name);
    snprintf(p->info.predictor_state, sizeof p->info.predictor_state, "ok");
    p->watch.stream = p->name;
    p->watch.fn = on_predictor;
    p->watch.ud = p;
    char *redacted = fc_redact_url(cfg->source);
    snprintf(p->info.source, sizeof p->info.source, "%s", redacted ? redacted : "(hidden)");
    free(redacted);
    redacted = fc_redact_text(cfg->predictor); /* exec:cmd=model --token=... */
    snprintf(p->info.predictor, sizeof p->info.predictor, "%s", redacted ? redacted : "(hidden)");
    free(redacted);
    snprintf(p->info.state, sizeof p->info.state, "connecting");
    p->info.preview = cfg->preview.fps > 0;
    fc_sb_init_prefixed(&p->sb, FC_WS_FRAME_PREFIX, 1024);
    fc_sb_init(&p->status_sb, 256);
    fc_slot_init(&p->slot, cfg->mode, cfg->mode == FC_SLOT_EVERY ? EVERY_DEPTH : 1);
    p->push = strcmp(cfg->source, "push") == 0;
    int rc = 0;
    if (p->push) { /* results come from producers (POST /api/streams/NAME/publish) */
        snprintf(p->info.predictor, sizeof p->info.predictor, "none (push)");
    } else {
        rc = fc_predictor_lookup(cfg->predictor, &p->api, &p->predictor_opts, &p->plugin, err,
                                 errlen);
        if (!rc) rc = fc_source_open(&p->source, cfg->source, err, errlen);
        /* Predictor instances are created now so bad options fail at start-up;
         * the worker threads wait on the slot until the source runs. */
        if (!rc)
            rc = fc_workers_start(&p->workers, cfg->workers, p->api, p->predictor_opts,
                                  cfg->predict_timeout_ms, &p->slot, on_result, p, &p->watch, err,
                                  errlen);
        if (!rc && !(p->model = strdup(fc_workers_model(p->workers)))) rc = -ENOMEM;
        /* mode=every: a batching model's whole batch may wait for it. */
        if (!rc && cfg->mode == FC_SLOT_EVERY && fc_workers_batch(p->workers) > EVERY_DEPTH)
            fc_slot_set_depth(&p->slot, fc_workers_batch(p->workers));
    }
    if (!rc) {
        fc_hub_stream_config sc = {
            .name = cfg->name, .policy = cfg->slow, .history = cfg->history, .epoch = p->epoch};
        p->stream_id = fc_hub_add_stream(hub, &sc);
        if (p->stream_id < 0) {
            snprintf(err, errlen,
                     "stream '%s': cannot be served (a stream of that name is served, or %d "
                     "streams are)",
                     cfg->name, FC_HUB_MAX_STREAMS);
            rc = p->stream_id;
        }
    }
    if (rc) {
        fc_pipeline_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

int fc_pipeline_start(fc_pipeline *p, void (*ended)(void *), void *ended_ud, char *err,
                      size_t errlen) {
    p->ended = ended;
    p->ended_ud = ended_ud;
    if (p->push) { /* ready for producers; it ends only with the server */
        publish_status(p, "live", NULL, 0, 0);
        return 0;
    }
    /* The source converts each frame once into what the predictor wants. */
    fc_output_spec *o = &p->source->out;
    fc_workers_wants(p->workers, &o->format, &o->width, &o->height);
    if (!o->width && !o->height) {
        o->width = p->cfg.scale_w;
        o->height = p->cfg.scale_h;
    }
    p->source->preview = p->cfg.preview;
    p->source->preview_wanted = preview_wanted;
    p->source->preview_ud = p;
    p->source->on_status = on_source_status;
    p->source->status_ud = p;
    if (fc_fault("source_thread") || pthread_create(&p->source_thread, NULL, source_main, p)) {
        snprintf(err, errlen, "stream '%s': cannot start the source thread", p->name);
        return -1;
    }
    p->source_started = 1;
    return 0;
}

void fc_pipeline_stop(fc_pipeline *p) {
    atomic_store(&p->stop, 1);
    atomic_store(&p->halt, 1);
    fc_slot_close(&p->slot);
    if (p->source_started) pthread_join(p->source_thread, NULL); /* it joins the workers */
    p->source_started = 0;
    fc_workers_join(p->workers); /* when the source thread never started */
    p->workers = NULL;
}

void fc_pipeline_info(fc_pipeline *p, fc_stream_info *out) {
    pthread_mutex_lock(&p->info_mu);
    *out = p->info;
    pthread_mutex_unlock(&p->info_mu);
    /* Not seq_mu: a worker may hold it while it waits for the hub's inbox,
     * and this runs on an I/O thread that must keep draining it. */
    out->results = atomic_load_explicit(&p->seq, memory_order_relaxed);
    out->stale = atomic_load_explicit(&p->stale, memory_order_relaxed);
    out->lost = atomic_load_explicit(&p->lost, memory_order_relaxed);
    out->previews = atomic_load_explicit(&p->previews, memory_order_relaxed);
    out->predictor_errors = atomic_load_explicit(&p->watch.errors, memory_order_relaxed);
    out->predictor_restarts = atomic_load_explicit(&p->watch.restarts, memory_order_relaxed);
    out->reconnects = atomic_load_explicit(&p->reconnects, memory_order_relaxed);
    fc_slot_counts(&p->slot, &out->frames, &out->skipped);
}

void fc_pipeline_histograms(fc_pipeline *p, fc_histogram *infer, fc_histogram *latency) {
    fc_hist_merge(infer, &p->infer);
    fc_hist_merge(latency, &p->latency);
}

const char *fc_pipeline_epoch(const fc_pipeline *p) {
    return p->epoch;
}

void fc_pipeline_set_tap(fc_pipeline *p, fc_pipeline_tap_fn fn, void *ud) {
    p->tap = fn;
    p->tap_ud = ud;
}

int fc_pipeline_stream_id(const fc_pipeline *p) {
    return p->stream_id;
}

int fc_pipeline_failed(const fc_pipeline *p) {
    return atomic_load(&p->failed);
}

int fc_pipeline_ended(const fc_pipeline *p) {
    return atomic_load(&p->done);
}

const char *fc_pipeline_name(const fc_pipeline *p) {
    return p->name;
}

void fc_pipeline_destroy(fc_pipeline *p) {
    if (!p) return;
    fc_pipeline_stop(p);
    fc_source_close(p->source);
    fc_preview_free(&p->jpeg);
    pthread_mutex_destroy(&p->preview_mu);
    pthread_mutex_destroy(&p->info_mu);
    pthread_mutex_destroy(&p->status_mu);
    fc_slot_destroy(&p->slot);
    fc_predictor_unload(p->plugin); /* after the workers destroyed their instances */
    fc_sb_free(&p->sb);
    fc_sb_free(&p->status_sb);
    pthread_mutex_destroy(&p->seq_mu);
    pthread_cond_destroy(&p->turn);
    fc_deflater_free(p->deflater);
    free(p->model);
    free(p->name);
    free(p->source_spec);
    free(p->predictor_spec);
    free(p);
}
