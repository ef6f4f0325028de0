/* The HTTP side of the server: the viewer page (web/, compiled in), the
 * stream list (GET /api/streams) and Prometheus metrics (GET /metrics).
 * Every answer carries the security headers (a Content-Security-Policy the
 * page satisfies, nosniff, no Referer). With authentication on, /api/
 * needs a token and lists the streams it allows; /metrics needs a token
 * for every stream; the page's files need none (it takes its token from
 * its own URL). The handler runs on I/O threads; it reads pipelines
 * through their snapshot functions and the hub through its counters. */
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
