/* SIGHUP: the configuration is read again (the same command line, the file
 * as it is now), checked whole, and applied only if it has no problem:
 *   - streams: a stream no longer configured is removed (its clients get
 *     close 1001 "stream removed"), a new one is added, and one whose
 *     definition changed (its source, predictor, workers, any key) is
 *     restarted with the new one (its clients get close 1012 "stream
 *     restarted"; they reconnect to the new stream, which has a new epoch);
 *     the others run on untouched;
 *   - the limits (queue bounds, timeouts, sizes, --max-clients) and the log
 *     level and format change at once;
 *   - anything else (--listen, --io-threads, TLS and token files, origins,
 *     per-address limits, compression) takes effect at the next start: each
 *     such change is logged, saying so.
 * With problems, each is logged and nothing changes. Main thread. */
#ifndef FC_APP_RELOAD_H
#define FC_APP_RELOAD_H

#include "app/config.h"
#include "app/streams.h"
#include "hub/hub.h"

typedef struct fc_running {
    int argc;
    char **argv;
    const fc_config *boot; /* what the hub was created with (it keeps pointers into it) */
    fc_config *current;    /* the configuration applied last: boot, or a reload's (owned) */
    fc_hub *hub;
    fc_streams *streams;
    /* Fills in what the configuration leaves to the machine (the derived
     * --max-clients); at_start 0 on a reload. */
    void (*plan)(fc_config *cfg, int at_start);
} fc_running;

/* Returns 0 when the configuration was applied, or FC_EINVAL_OPT when it
 * has problems (each one logged; nothing changed). */
int fc_reload(fc_running *r);
/* Frees what fc_reload kept (the current configuration, unless boot). */
void fc_running_free(fc_running *r);

#endif
