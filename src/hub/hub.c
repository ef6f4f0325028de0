/* The broadcast hub's public API (see hub.h; the rooms are in internal.h). */
#include "hub/hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/random.h>

#include "hub/auth.h"
#include "hub/internal.h"
#include "hub/listener.h"
#include "hub/loop.h"
#include "hub/tls.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

void fc_hub_config_defaults(fc_hub_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->io_threads = 1;
    cfg->head_limit = 8192;
    cfg->handshake_timeout_ms = 10000;
    cfg->ping_interval_ms = 20000;
    cfg->ping_timeout_ms = 20000;
    cfg->close_timeout_ms = 5000;
    cfg->max_message = 65536;
    cfg->queue_bytes = 256 * 1024;
    cfg->queue_msgs = 4096;
    cfg->keep_bytes = 64 * 1024;
    cfg->write_timeout_ms = 30000;
    cfg->max_clients = 1 << 20;
    cfg->max_body = 1 << 20;
    cfg->compression = 1;
    cfg->compression_min = 128;
    cfg->drain_timeout_ms = 5000;
    cfg->auth_leeway_s = 30;
}

const char *fc_hub_close_reason_name(enum fc_hub_close_reason r) {
    static const char *names[] = {"slow_consumer", "control_backlog", "write_timeout",
                                  "ping_timeout", "token_expired"};
    return (unsigned)r < FC_HUB_CLOSE_REASONS ? names[r] : "?";
}

const char *fc_hub_refusal_name(enum fc_hub_refusal r) {
    static const char *names[] = {"max_clients", "fd_limit",   "unauthorized", "forbidden",
                                  "origin",      "ip_clients", "ip_rate",      "handshake_timeout"};
    return (unsigned)r < FC_HUB_REFUSALS ? names[r] : "?";
}

/* The checks of who may connect, made once at start: the key files, the
 * origin patterns, the per-address table. */
static int create_access(fc_hub *hub, char *err, size_t errlen) {
    const fc_hub_config *cfg = &hub->cfg;
    for (int i = 0; i < cfg->nallowed_origins; i++) {
        const char *why = fc_auth_origin_check(cfg->allowed_origins[i]);
        if (why) {
            snprintf(err, errlen,
                     "--allowed-origin: '%s' is not valid: %s (expected SCHEME://HOST[:PORT], "
                     "e.g. https://cams.example.com or https://*.example.com)",
                     cfg->allowed_origins[i], why);
            return FC_EINVAL_OPT;
        }
    }
    if (cfg->auth_secret_file || cfg->auth_public_key) {
        int rc = fc_jwt_verifier_create(&hub->jwt, cfg->auth_secret_file, cfg->auth_public_key, err,
                                        errlen);
        if (rc) return rc;
        fc_info("authentication on: tokens signed with %s; exp and nbf with %d s of leeway",
                fc_jwt_verifier_algs(hub->jwt), cfg->auth_leeway_s);
    }
    if (cfg->max_clients_per_ip > 0 || cfg->max_connect_rate_per_ip > 0) {
        uint64_t seed = (uint64_t)fc_mono_us() * 0x9e3779b97f4a7c15u;
        uint64_t r;
        if (getrandom(&r, sizeof r, 0) == (ssize_t)sizeof r) seed ^= r;
        if (fc_peers_create(&hub->peers, cfg->max_clients_per_ip, cfg->max_connect_rate_per_ip,
                            FC_PEERS_CAPACITY, seed)) {
            snprintf(err, errlen, "out of memory for the per-address table");
            return -ENOMEM;
        }
    }
    return 0;
}

/* The part of cfg that may change while the loops run. */
static fc_loop_limits limits_of(const fc_hub_config *cfg) {
    return (fc_loop_limits){.queue = {.bytes = cfg->queue_bytes,
                                      .msgs = (unsigned)cfg->queue_msgs,
                                      .keep_bytes = cfg->keep_bytes},
                            .head_limit = cfg->head_limit,
                            .max_body = cfg->max_body,
                            .max_message = cfg->max_message,
                            .handshake_timeout_ms = cfg->handshake_timeout_ms,
                            .ping_interval_ms = cfg->ping_interval_ms,
                            .ping_timeout_ms = cfg->ping_timeout_ms,
                            .close_timeout_ms = cfg->close_timeout_ms,
                            .write_timeout_ms = cfg->write_timeout_ms,
                            .drain_timeout_ms = cfg->drain_timeout_ms,
                            .max_clients = cfg->max_clients};
}

int fc_hub_create(fc_hub **out, const fc_hub_config *cfg, char *err, size_t errlen) {
    fc_hub *hub = calloc(1, sizeof *hub);
    if (!hub) return UV_ENOMEM;
    hub->cfg = *cfg;
    if (hub->cfg.io_threads < 1) hub->cfg.io_threads = 1;
    hub->limits = limits_of(cfg);
    pthread_mutex_init(&hub->sync_mu, NULL);
    pthread_cond_init(&hub->sync_cv, NULL);
    int rc = 0;
    if (cfg->tls_cert || cfg->tls_key) {
        if (!cfg->tls_cert || !cfg->tls_key) {
            snprintf(err, errlen, "%s: missing (TLS needs both --tls-cert and --tls-key)",
                     cfg->tls_cert ? "--tls-key" : "--tls-cert");
            rc = FC_EINVAL_OPT;
        } else {
            rc = fc_tls_create(&hub->tls, cfg->tls_cert, cfg->tls_key, cfg->tls_ciphers, err,
                               errlen);
        }
    }
    if (!rc) rc = create_access(hub, err, errlen);
    if (!rc) rc = fc_listener_open(&hub->listener, cfg->host, cfg->port, err, errlen);
    if (rc < 0) {
        fc_tls_destroy(hub->tls);
        fc_jwt_verifier_destroy(hub->jwt);
        fc_peers_destroy(hub->peers);
        pthread_mutex_destroy(&hub->sync_mu);
        pthread_cond_destroy(&hub->sync_cv);
        free(hub);
        return rc;
    }
    *out = hub;
    return 0;
}

static int epoch_valid(const char *e) {
    size_t n = strlen(e);
    if (n == 0 || n > FC_HUB_EPOCH_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", e[i]))
            return 0;
    return 1;
}

int fc_hub_add_stream(fc_hub *hub, const fc_hub_stream_config *sc) {
    size_t len = strlen(sc->name);
    if (len == 0 || len > FC_HUB_NAME_MAX || !epoch_valid(sc->epoch)) return FC_EINVAL_OPT;
    int n = atomic_load(&hub->nstreams), id = -1;
    for (int i = 0; i < n; i++) {
        int state = atomic_load(&hub->streams[i].state);
        if (state != FC_STREAM_FREE && strcmp(hub->streams[i].name, sc->name) == 0)
            return FC_EINVAL_OPT; /* only this thread writes names: no race */
        if (state == FC_STREAM_FREE && id < 0) id = i;
    }
    if (id < 0 && n == FC_HUB_MAX_STREAMS) return FC_EINVAL_OPT;
    if (id < 0) id = n;
    fc_hub_stream *s = &hub->streams[id];
    memcpy(s->name, sc->name, len + 1);
    s->policy = sc->policy;
    s->history = sc->history;
    snprintf(s->epoch, sizeof s->epoch, "%s", sc->epoch);
    s->close_code = 0;
    s->close_reason = NULL;
    s->remote = sc->remote != 0;
    /* The loops' per-stream records of a free slot are clean (zeroed at
     * start, reset at the removal). Release: a loop that sees LIVE sees
     * the fields. */
    atomic_store_explicit(&s->state, FC_STREAM_LIVE, memory_order_release);
    if (id == n) atomic_store_explicit(&hub->nstreams, n + 1, memory_order_release);
    return id;
}

/* Pushes kind (for stream) into every loop and waits until each has acked
 * it: the loops are never waiting for this thread, so this ends. */
static void round_trip(fc_hub *hub, enum fc_item_kind kind, int stream) {
    pthread_mutex_lock(&hub->sync_mu);
    hub->synced = 0;
    pthread_mutex_unlock(&hub->sync_mu);
    for (int i = 0; i < hub->nloops; i++)
        fc_loop_push(&hub->loops[i], (fc_item){.kind = kind, .stream = stream});
    pthread_mutex_lock(&hub->sync_mu);
    while (hub->synced < hub->nloops) pthread_cond_wait(&hub->sync_cv, &hub->sync_mu);
    pthread_mutex_unlock(&hub->sync_mu);
}

/* 1 while the loops' threads run and take items. */
static int loops_running(const fc_hub *hub) {
    return hub->started && !atomic_load(&hub->stopping);
}

void fc_hub_remove_stream(fc_hub *hub, int stream, unsigned code, const char *reason) {
    if (stream < 0 || stream >= atomic_load(&hub->nstreams)) return;
    fc_hub_stream *s = &hub->streams[stream];
    if (atomic_load(&s->state) != FC_STREAM_LIVE) return;
    s->close_code = code;
    s->close_reason = reason;
    /* From now on no loop serves the name, and fc_hub_try_publish refuses
     * the stream (it checks under every inbox lock, so whatever it pushed
     * before is ahead of the removal in every inbox). */
    atomic_store(&s->state, FC_STREAM_REMOVING);
    if (loops_running(hub)) {
        round_trip(hub, FC_IT_REMOVE, stream);
    } else { /* no loop thread runs: this thread may touch their records */
        for (int i = 0; hub->loops && i < hub->nloops; i++)
            fc_loop_remove_stream(&hub->loops[i], stream);
    }
    atomic_store(&s->state, FC_STREAM_FREE);
}

void fc_hub_sync(fc_hub *hub) {
    if (loops_running(hub)) round_trip(hub, FC_IT_SYNC, -1);
}

void fc_hub_update(fc_hub *hub, const fc_hub_config *cfg) {
    /* Written while no loop reads it: between round trips the loops read
     * only their own copies. */
    hub->limits = limits_of(cfg);
    if (loops_running(hub)) round_trip(hub, FC_IT_LIMITS, -1);
}

void fc_hub_set_http_handler(fc_hub *hub, fc_hub_http_fn fn, void *ud) {
    hub->http_fn = fn;
    hub->http_ud = ud;
}

int fc_hub_port(const fc_hub *hub) {
    return fc_listener_port(hub->listener);
}

int fc_hub_tls(const fc_hub *hub) {
    return hub->tls != NULL;
}

int fc_hub_reload_tls(fc_hub *hub, char *err, size_t errlen) {
    if (!hub->tls) {
        snprintf(err, errlen, "TLS is not on (--tls-cert, --tls-key)");
        return FC_EINVAL_OPT;
    }
    return fc_tls_reload(hub->tls, err, errlen);
}

int fc_hub_start(fc_hub *hub) {
    hub->nloops = hub->cfg.io_threads;
    hub->loops = calloc((size_t)hub->nloops, sizeof *hub->loops);
    if (!hub->loops) return UV_ENOMEM;
    for (int i = 0; i < hub->nloops; i++) {
        int rc = fc_loop_init(&hub->loops[i], hub, i);
        if (rc) return rc;
    }
    int rc = fc_listener_start(hub->listener, hub->loops, hub->nloops);
    if (rc) return rc;
    hub->started = 1;
    for (int i = 0; i < hub->nloops; i++) {
        rc = fc_loop_start(&hub->loops[i]);
        if (rc) return rc;
    }
    return 0;
}

const char *fc_hub_reset_reason_name(enum fc_hub_reset_reason r) {
    static const char *names[] = {"epoch", "expired", "future", "overrun"};
    return (unsigned)r < FC_HUB_RESETS ? names[r] : "?";
}

static void push_all(fc_hub *hub, int stream, fc_buf *msg, enum fc_item_kind kind) {
    if (stream < 0 || stream >= atomic_load(&hub->nstreams)) return;
    msg->t_us = fc_mono_us(); /* not yet shared: the loops read it after the push */
    if (msg->deflated) msg->deflated->t_us = msg->t_us;
    fc_buf_ref_n(msg, hub->nloops);
    for (int i = 0; i < hub->nloops; i++)
        fc_loop_push(&hub->loops[i], (fc_item){.kind = kind, .stream = stream, .buf = msg});
}

void fc_hub_wait_room(fc_hub *hub, int stream) {
    if (stream < 0 || stream >= atomic_load(&hub->nstreams)) return;
    for (int i = 0; i < hub->nloops; i++) fc_loop_wait_room(&hub->loops[i], stream);
}

void fc_hub_publish_nowait(fc_hub *hub, int stream, fc_buf *msg) {
    push_all(hub, stream, msg, FC_IT_MSG);
}

void fc_hub_publish(fc_hub *hub, int stream, fc_buf *msg) {
    fc_hub_wait_room(hub, stream);
    push_all(hub, stream, msg, FC_IT_MSG);
}

int fc_hub_try_publish(fc_hub *hub, int stream, fc_buf *msg) {
    if (stream < 0 || stream >= atomic_load(&hub->nstreams)) return FC_EUNKNOWN;
    if (atomic_load(&hub->stopping)) return FC_ESTOPPED;
    msg->t_us = fc_mono_us();
    if (msg->deflated) msg->deflated->t_us = msg->t_us;
    return fc_loop_try_push_all(hub->loops, hub->nloops,
                                (fc_item){.kind = FC_IT_MSG, .stream = stream, .buf = msg});
}

void fc_hub_publish_sticky(fc_hub *hub, int stream, fc_buf *msg) {
    msg->flags |= FC_BUF_KEEP; /* before it is shared */
    fc_hub_wait_room(hub, stream);
    push_all(hub, stream, msg, FC_IT_STICKY);
}

void fc_hub_publish_sticky_nowait(fc_hub *hub, int stream, fc_buf *msg) {
    /* A status published again (an edge's, when the feed comes back) is
     * already shared: its flags are only read then. */
    if (!(msg->flags & FC_BUF_KEEP)) msg->flags |= FC_BUF_KEEP;
    push_all(hub, stream, msg, FC_IT_STICKY);
}

void fc_hub_set_ready(fc_hub *hub, int stream, int ready) {
    if (stream < 0 || stream >= atomic_load(&hub->nstreams) || !hub->started) return;
    for (int i = 0; i < hub->nloops; i++)
        fc_loop_push(&hub->loops[i], (fc_item){.kind = FC_IT_READY, .stream = stream, .fd = ready});
}

void fc_hub_stats_get(const fc_hub *hub, int stream, fc_hub_stats *out) {
    memset(out, 0, sizeof *out);
    int nstreams = atomic_load_explicit(&hub->nstreams, memory_order_acquire);
    for (int i = 0; i < hub->nloops; i++) {
        fc_loop *lp = &hub->loops[i];
        out->accepted += atomic_load_explicit(&lp->accepted, memory_order_relaxed);
        out->flushes += atomic_load_explicit(&lp->flushes, memory_order_relaxed);
        for (int s = 0; s < nstreams; s++) {
            if (stream >= 0 && s != stream) continue;
            fc_lstream *ls = &lp->streams[s];
            out->clients += atomic_load_explicit(&ls->clients, memory_order_relaxed);
            out->sent += atomic_load_explicit(&ls->sent, memory_order_relaxed);
            out->dropped += atomic_load_explicit(&ls->dropped, memory_order_relaxed);
            for (int r = 0; r < FC_HUB_CLOSE_REASONS; r++)
                out->closed[r] += atomic_load_explicit(&ls->closed[r], memory_order_relaxed);
            out->resumes += atomic_load_explicit(&ls->resumes, memory_order_relaxed);
            for (int r = 0; r < FC_HUB_RESETS; r++)
                out->resets[r] += atomic_load_explicit(&ls->resets[r], memory_order_relaxed);
            out->queued_bytes += atomic_load_explicit(&ls->queued_bytes, memory_order_relaxed);
            fc_hist_merge(&out->queue_wait, &ls->queue_wait);
            uint64_t m = atomic_load_explicit(&ls->queued_max, memory_order_relaxed);
            if (m > out->queued_max) out->queued_max = m;
            if (i == 0) { /* every loop keeps the same results */
                out->history_len += atomic_load_explicit(&ls->history_len, memory_order_relaxed);
                out->history_bytes +=
                    atomic_load_explicit(&ls->history_bytes, memory_order_relaxed);
            }
        }
    }
    for (int r = 0; r < FC_HUB_REFUSALS; r++)
        out->refused[r] = atomic_load_explicit(&hub->refused[r], memory_order_relaxed);
    if (hub->peers) {
        out->peers = fc_peers_count(hub->peers);
        out->peers_untracked = fc_peers_untracked(hub->peers);
    }
}

int fc_hub_auth_on(const fc_hub *hub) {
    return hub->jwt != NULL;
}

int fc_hub_authenticate(fc_hub *hub, const fc_http_request *req, fc_jwt_claims *claims,
                        const char **why) {
    if (!hub->jwt) {
        fc_jwt_claims_all(claims);
        return 0;
    }
    enum fc_jwt_status st =
        fc_auth_check(hub->jwt, hub->cfg.auth_leeway_s, req, fc_now_us() / 1000, claims);
    if (st == FC_JWT_OK) return 0;
    *why = fc_jwt_strerror(st);
    fc_hub_count_refusal(hub, FC_HUB_REFUSED_UNAUTHORIZED);
    return 401;
}

void fc_hub_count_refusal(fc_hub *hub, enum fc_hub_refusal r) {
    atomic_fetch_add_explicit(&hub->refused[r], 1, memory_order_relaxed);
}

int64_t fc_hub_stalled_ms(const fc_hub *hub) {
    int64_t now = fc_mono_us(), worst = 0;
    for (int i = 0; i < hub->nloops; i++) {
        int64_t t = atomic_load_explicit(&hub->loops[i].ticked_us, memory_order_relaxed);
        if (now - t > worst) worst = now - t;
    }
    return worst / 1000;
}

size_t fc_hub_compression_min(const fc_hub *hub) {
    return hub->cfg.compression_min;
}

uint64_t fc_hub_deflaters(const fc_hub *hub, int stream) {
    uint64_t n = 0;
    for (int i = 0; i < hub->nloops; i++)
        n += atomic_load_explicit(&hub->loops[i].streams[stream].deflaters, memory_order_relaxed);
    return n;
}

uint64_t fc_hub_previewers(const fc_hub *hub, int stream) {
    uint64_t n = 0;
    for (int i = 0; i < hub->nloops; i++)
        n += atomic_load_explicit(&hub->loops[i].streams[stream].previewers, memory_order_relaxed);
    return n;
}

void fc_hub_stop(fc_hub *hub) {
    if (!hub->started) return;
    atomic_store(&hub->stopping, 1);
    for (int i = 0; i < hub->nloops; i++) { /* release publishers waiting for room */
        fc_inbox *ib = &hub->loops[i].inbox;
        pthread_mutex_lock(&ib->mu);
        pthread_cond_broadcast(&ib->space);
        pthread_mutex_unlock(&ib->mu);
    }
    for (int i = 0; i < hub->nloops; i++)
        fc_loop_push(&hub->loops[i], (fc_item){.kind = FC_IT_STOP});
    for (int i = 0; i < hub->nloops; i++) fc_loop_join(&hub->loops[i]);
    hub->started = 0;
}

void fc_hub_destroy(fc_hub *hub) {
    if (!hub) return;
    fc_hub_stop(hub);
    for (int i = 0; hub->loops && i < hub->nloops; i++) fc_loop_destroy(&hub->loops[i]);
    free(hub->loops);
    fc_listener_close(hub->listener);
    fc_tls_destroy(hub->tls);
    fc_jwt_verifier_destroy(hub->jwt);
    fc_peers_destroy(hub->peers);
    pthread_mutex_destroy(&hub->sync_mu);
    pthread_cond_destroy(&hub->sync_cv);
    free(hub);
}
