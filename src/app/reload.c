/* SIGHUP (see reload.h). */
#include "app/reload.h"

#include <stdlib.h>
#include <string.h>

#include "app/check.h"
#include "util/error.h"
#include "util/log.h"

/* Close codes for the clients of a stream that goes (docs/protocol.md). */
#define CLOSE_REMOVED   1001 /* going away: the stream is no longer served */
#define CLOSE_RESTARTED 1012 /* service restart: reconnect, it is served again */

static void log_restart_needed(void *ud, const char *name, enum fc_config_when when,
                               const char *was, const char *now) {
    (void)ud;
    if (when == FC_CONFIG_RESTART)
        fc_log_each(FC_LOG_WARN,
                    "SIGHUP: %s changed ('%s', running with '%s'): it takes effect when "
                    "framecast restarts",
                    name, now, was);
}

static void log_applied(void *ud, const char *name, enum fc_config_when when, const char *was,
                        const char *now) {
    int *changed = ud;
    if (when != FC_CONFIG_AT_ONCE) return;
    fc_info("SIGHUP: %s: %s -> %s", name, was, now);
    (*changed)++;
}

/* Removes next's stream i (it could not start): the next SIGHUP tries it
 * again as a new stream. */
static void forget_stream(fc_config *next, int i) {
    memmove(&next->streams[i], &next->streams[i + 1],
            (size_t)(next->nstreams - i - 1) * sizeof next->streams[0]);
    next->nstreams--;
}

static void apply_streams(fc_running *r, fc_config *next) {
    const fc_config *cur = r->current;
    char err[512];
    for (int i = 0; i < cur->nstreams; i++) {
        const char *name = cur->streams[i].name;
        const fc_stream_config *now = fc_config_stream(next, name);
        if (now && fc_stream_config_equal(now, &cur->streams[i])) continue;
        if (fc_streams_remove(r->streams, name, now ? CLOSE_RESTARTED : CLOSE_REMOVED,
                              now ? "stream restarted" : "stream removed") == 0 &&
            !now)
            fc_info("SIGHUP: stream '%s' removed", name);
    }
    for (int i = 0; i < next->nstreams; i++) {
        const fc_stream_config *s = &next->streams[i];
        const fc_stream_config *was = fc_config_stream(cur, s->name);
        if (was && fc_stream_config_equal(was, s)) continue;
        err[0] = 0;
        if (fc_streams_add(r->streams, s, err, sizeof err) == 0) {
            fc_info("SIGHUP: stream '%s' %s (predictor %s)", s->name,
                    was ? "restarted with its new definition" : "added",
                    strcmp(s->source, "push") == 0 ? "none: push" : s->predictor);
        } else {
            fc_log_each(FC_LOG_ERROR, "SIGHUP: %s (the stream is not served)", err);
            forget_stream(next, i--);
        }
    }
}

int fc_reload(fc_running *r) {
    fc_config *next = calloc(1, sizeof *next);
    if (!next) return -1;
    char err[512];
    int rc = fc_config_parse(next, r->argc, r->argv, err, sizeof err);
    if (rc != FC_CONFIG_EXIT) fc_check_config(next, r->current); /* every problem, not some */
    if (rc != FC_CONFIG_OK || next->nproblems) {
        for (int i = 0; i < next->nproblems; i++)
            fc_log_each(FC_LOG_ERROR, "SIGHUP: %s", next->problems[i]);
        /* Each SIGHUP is answered, however close together they come. */
        fc_log_each(FC_LOG_ERROR, "SIGHUP: %d problem%s in the configuration: nothing was changed",
                    next->nproblems, next->nproblems == 1 ? "" : "s");
        fc_config_free(next);
        free(next);
        return FC_EINVAL_OPT;
    }
    r->plan(next, 0);
    fc_config_diff(r->boot, next, log_restart_needed, NULL);
    int changed = 0;
    fc_config_diff(r->current, next, log_applied, &changed);
    fc_log_set_level((enum fc_log_level)next->log_level);
    fc_log_set_format((enum fc_log_format)next->log_format);
    if (changed) fc_hub_update(r->hub, &next->hub);
    apply_streams(r, next);
    fc_running_free(r);
    r->current = next;
    return 0;
}

void fc_running_free(fc_running *r) {
    if (r->current && r->current != r->boot) {
        fc_config_free(r->current);
        free(r->current);
    }
    r->current = NULL;
}
