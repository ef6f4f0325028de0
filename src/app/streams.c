/* The running streams (see streams.h). */
#include "app/streams.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int fc_streams_init(fc_streams *s, fc_hub *hub, void (*ended)(void *), void *ended_ud) {
    fc_stream_set *set = calloc(1, sizeof *set);
    if (!set) return -ENOMEM;
    *s = (fc_streams){.hub = hub, .ended = ended, .ended_ud = ended_ud};
    atomic_init(&s->current, set);
    return 0;
}

const fc_stream_set *fc_streams_snapshot(fc_streams *s) {
    return atomic_load_explicit(&s->current, memory_order_acquire);
}

/* Publishes next; the old snapshot is freed once no loop can read it. */
static void publish(fc_streams *s, fc_stream_set *next) {
    fc_stream_set *old = atomic_exchange_explicit(&s->current, next, memory_order_acq_rel);
    fc_hub_sync(s->hub);
    free(old);
}

int fc_streams_add(fc_streams *s, const fc_stream_config *cfg, char *err, size_t errlen) {
    const fc_stream_set *cur = fc_streams_snapshot(s);
    if (cur->n == FC_HUB_MAX_STREAMS) {
        snprintf(err, errlen, "stream '%s': too many streams (at most %d)", cfg->name,
                 FC_HUB_MAX_STREAMS);
        return FC_EINVAL_OPT;
    }
    fc_stream_set *next = malloc(sizeof *next);
    if (!next) return -ENOMEM;
    fc_pipeline *p = NULL;
    int rc = fc_pipeline_create(&p, cfg, s->hub, err, errlen);
    if (!rc && s->ingest) {
        s->ingest_add(s->ingest, p, cfg);
        fc_pipeline_set_tap(p, s->ingest_tap, s->ingest);
    }
    if (!rc && s->running) rc = fc_pipeline_start(p, s->ended, s->ended_ud, err, errlen);
    if (rc) {
        if (p) { /* created: the hub serves its name */
            fc_pipeline_stop(p);
            if (s->ingest) s->ingest_remove(s->ingest, p);
            fc_hub_remove_stream(s->hub, fc_pipeline_stream_id(p), 1011, "stream failed to start");
            fc_pipeline_destroy(p);
        }
        free(next);
        if (strncmp(err, "stream '", 8) != 0) { /* say which stream */
            char why[512];
            snprintf(why, sizeof why, "%s", err[0] ? err : fc_strerror(rc));
            snprintf(err, errlen, "stream '%s': %s", cfg->name, why);
        }
        return rc;
    }
    *next = *cur;
    next->pipes[next->n++] = p;
    publish(s, next);
    return 0;
}

int fc_streams_start(fc_streams *s, char *err, size_t errlen) {
    s->running = 1;
    const fc_stream_set *cur = fc_streams_snapshot(s);
    for (int i = 0; i < cur->n; i++) {
        int rc = fc_pipeline_start(cur->pipes[i], s->ended, s->ended_ud, err, errlen);
        if (rc) return rc;
    }
    return 0;
}

int fc_streams_remove(fc_streams *s, const char *name, unsigned code, const char *reason) {
    const fc_stream_set *cur = fc_streams_snapshot(s);
    int k = -1;
    for (int i = 0; i < cur->n && k < 0; i++)
        if (strcmp(fc_pipeline_name(cur->pipes[i]), name) == 0) k = i;
    if (k < 0) return FC_EUNKNOWN;
    fc_stream_set *next = malloc(sizeof *next);
    if (!next) return -ENOMEM;
    fc_pipeline *p = cur->pipes[k];
    next->n = 0;
    for (int i = 0; i < cur->n; i++)
        if (i != k) next->pipes[next->n++] = cur->pipes[i];
    /* Out of the list first: the API no longer finds it, so nothing starts
     * publishing to it; then its own threads stop; then the hub closes its
     * clients, which is the round trip after which no loop can still hold
     * the old list or the pipeline. */
    fc_stream_set *old = atomic_exchange_explicit(&s->current, next, memory_order_acq_rel);
    fc_pipeline_stop(p);
    if (s->ingest) s->ingest_remove(s->ingest, p);
    fc_hub_remove_stream(s->hub, fc_pipeline_stream_id(p), code, reason);
    fc_pipeline_destroy(p);
    free(old);
    return 0;
}

void fc_streams_stop(fc_streams *s) {
    const fc_stream_set *cur = fc_streams_snapshot(s);
    for (int i = 0; i < cur->n; i++) fc_pipeline_stop(cur->pipes[i]);
}

void fc_streams_destroy(fc_streams *s) {
    fc_stream_set *cur = atomic_load(&s->current);
    if (!cur) return;
    for (int i = 0; i < cur->n; i++) fc_pipeline_destroy(cur->pipes[i]);
    free(cur);
    atomic_store(&s->current, NULL);
}
