/* The HTTP side of the server: the viewer page (web/, compiled in), the
 * stream list (GET /api/streams) and Prometheus metrics (GET /metrics).
 * The handler runs on I/O threads; it reads pipelines through their
 * snapshot functions and the hub through its counters. */
#ifndef FC_APP_HTTP_API_H
#define FC_APP_HTTP_API_H

#include "app/pipeline.h"
#include "hub/hub.h"

typedef struct fc_http_api {
    fc_hub *hub;
    fc_pipeline **pipes;
    int npipes;
} fc_http_api;

/* An fc_hub_http_fn; ud is an fc_http_api that outlives the hub. */
int fc_http_api_handle(void *ud, const fc_http_request *req, fc_strbuf *resp);

#endif
