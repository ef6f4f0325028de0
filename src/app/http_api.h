/* The HTTP side of the server: the viewer page (web/, compiled in), the
 * stream list (GET /api/streams), Prometheus metrics (GET /metrics), health
 * and readiness (GET /healthz, /readyz), and the publish API of push
 * streams (POST /api/streams/NAME/publish). Every answer carries the
 * security headers (a Content-Security-Policy the page satisfies, nosniff,
 * no Referer). With authentication on, /api/ needs a token and lists the
 * streams it allows; /metrics needs a token for every stream; publishing
 * needs a token for the stream; the page's files and the probes need none
 * (the page takes its token from its own URL); /framecast.js, the client
 * module, may be imported by pages of any origin (CORS). The handler runs
 * on I/O threads; it reads the list of streams as one snapshot per answer
 * (streams.h), pipelines through their snapshot functions and the hub
 * through its counters. */
#ifndef FC_APP_HTTP_API_H
#define FC_APP_HTTP_API_H

#include <stdatomic.h>

#include "app/pipeline.h"
#include "app/streams.h"
#include "hub/hub.h"

typedef struct fc_http_api {
    fc_hub *hub;
    fc_streams *streams; /* each answer reads one snapshot of them */
    atomic_int draining; /* set by the main thread on SIGTERM/SIGINT: not ready */
    /* The cluster (docs/cluster.md), NULL on a single node: the NATS
     * connection (/readyz needs it up), an ingest node's publisher, an edge
     * node's streams (listed and measured like local ones). */
    struct fc_nats *nats;
    struct fc_ingest *ingest;
    struct fc_edge *edge;
} fc_http_api;

/* A stream as /api/streams shows it (one JSON object), for the cluster's
 * announcements too. */
void fc_http_api_stream_json(fc_http_api *api, fc_pipeline *p, fc_strbuf *out);

/* A loop that has not ticked for this long fails /healthz. */
#define FC_HEALTH_STALL_MS 3000

/* An fc_hub_http_fn; ud is an fc_http_api that outlives the hub. */
int fc_http_api_handle(void *ud, const fc_http_request *req, const uint8_t *body, size_t len,
                       fc_strbuf *resp);

#endif
