/* The running streams: one pipeline per stream, added and removed while
 * the server runs (SIGHUP), and the list of them the HTTP API reads on the
 * I/O threads.
 *
 * The list is a snapshot: an immutable array published through an atomic
 * pointer. A reader on an I/O thread loads it and uses it, and the
 * pipelines in it, until its callback returns. The main thread publishes a
 * new snapshot, then waits for a round trip through every I/O loop
 * (fc_hub_sync, or the one fc_hub_remove_stream makes) before it frees the
 * old snapshot or a removed pipeline: by then no callback that could have
 * loaded them is still running. This is read-copy-update, with the loops'
 * inboxes as the grace period; no lock is taken on the I/O threads.
 *
 * A removed stream goes in this order: out of the snapshot (the API stops
 * listing it and publishing to it), its pipeline stopped (the source and
 * workers joined: nothing publishes any more), out of the hub (its clients
 * get a close frame), then freed.
 *
 * Everything here on the main thread, but fc_streams_snapshot (any
 * thread, see above). */
#ifndef FC_APP_STREAMS_H
#define FC_APP_STREAMS_H

#include <stdatomic.h>

#include "app/pipeline.h"
#include "hub/hub.h"

typedef struct fc_stream_set {
    int n;
    fc_pipeline *pipes[FC_HUB_MAX_STREAMS];
} fc_stream_set;

typedef struct fc_streams {
    fc_hub *hub;
    _Atomic(fc_stream_set *) current;
    void (*ended)(void *); /* a stream ended by itself; on its source thread */
    void *ended_ud;
    int running; /* fc_streams_start was called: new streams start at once */
    /* An ingest node's publisher (cluster), or NULL: each stream's messages
     * are tapped into it. */
    void *ingest;
    fc_pipeline_tap_fn ingest_tap;
    void (*ingest_add)(void *ingest, fc_pipeline *p, const fc_stream_config *cfg);
    void (*ingest_remove)(void *ingest, fc_pipeline *p);
} fc_streams;

/* Returns 0 or -ENOMEM. */
int fc_streams_init(fc_streams *s, fc_hub *hub, void (*ended)(void *), void *ended_ud);
/* Creates the stream's pipeline (its source opened, its predictor
 * instances created, its name served by the hub) and lists it; starts it
 * when the streams run. On error nothing is left and err says why. */
int fc_streams_add(fc_streams *s, const fc_stream_config *cfg, char *err, size_t errlen);
/* Starts every stream (after fc_hub_start); new ones start as added. */
int fc_streams_start(fc_streams *s, char *err, size_t errlen);
/* Removes the stream named name (see above): its clients are closed with
 * code and reason (a string that outlives the call). 0, or FC_EUNKNOWN. */
int fc_streams_remove(fc_streams *s, const char *name, unsigned code, const char *reason);
/* The current list; see above for how long it may be used. */
const fc_stream_set *fc_streams_snapshot(fc_streams *s);
/* Shutdown: stops every pipeline (before fc_hub_stop). */
void fc_streams_stop(fc_streams *s);
/* Frees the pipelines and the list (after fc_hub_stop). */
void fc_streams_destroy(fc_streams *s);

#endif
