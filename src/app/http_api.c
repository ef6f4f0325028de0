/* The viewer page, /api/streams and /metrics (see http_api.h). */
#include "app/http_api.h"

#include <stdio.h>
#include <string.h>

#include "app/web_assets.h"

/* 1 if a Host header's value is a plain HOST[:PORT] (a name, an IPv4 or a
 * bracketed IPv6 address), safe to repeat inside a header. */
static int plain_host(fc_http_slice h) {
    if (h.len == 0 || h.len > 255) return 0;
    for (size_t i = 0; i < h.len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:[]", h.p[i]))
            return 0;
    return 1;
}

/* Headers on every answer. The Content-Security-Policy is the page's own:
 * its script, style and data from this server only, nothing inline, no
 * frames around it, no forms, and WebSockets to this host (CSP 3 lets
 * 'self' cover ws: and wss:; the explicit sources are for browsers that
 * predate it). No Referer leaves the page: its URL may carry ?token=. */
static void security_headers(fc_strbuf *resp, const fc_http_request *req) {
    const fc_http_header *host = fc_http_find(req, "Host");
    fc_sb_puts(resp, "Content-Security-Policy: default-src 'none'; script-src 'self'; "
                     "style-src 'self'; img-src 'self' data:; connect-src 'self'");
    if (host && plain_host(host->value))
        fc_sb_printf(resp, " ws://%.*s wss://%.*s", (int)host->value.len, host->value.p,
                     (int)host->value.len, host->value.p);
    fc_sb_puts(resp, "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
                     "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
                     "X-Frame-Options: DENY\r\nCross-Origin-Resource-Policy: same-origin\r\n");
}

static void respond(fc_strbuf *resp, const fc_http_request *req, int status, const char *type,
                    const void *body, size_t len, const char *cache, const char *extra) {
    const char *text = status == 200 ? "OK" : status == 401 ? "Unauthorized" : "Forbidden";
    fc_sb_printf(resp,
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Cache-Control: %s\r\n%s",
                 status, text, type, len, cache, extra ? extra : "");
    security_headers(resp, req);
    fc_sb_puts(resp, "Connection: close\r\n\r\n");
    fc_sb_append(resp, body, len);
}

/* A 401 or 403 for /api/ and /metrics, saying why in JSON. */
static void deny(fc_strbuf *resp, const fc_http_request *req, int status, const char *why) {
    fc_strbuf body;
    fc_sb_init(&body, 128);
    fc_sb_puts(&body, "{\"error\":");
    fc_sb_json_str(&body, why);
    fc_sb_puts(&body, "}");
    respond(resp, req, status, "application/json", body.data, body.len, "no-store",
            status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL);
    fc_sb_free(&body);
}

/* The streams the claims allow (all without authentication). */
static void api_streams(fc_http_api *api, const fc_jwt_claims *claims, fc_strbuf *out) {
    fc_sb_puts(out, "{\"streams\":[");
    int listed = 0;
    for (int i = 0; i < api->npipes; i++) {
        fc_stream_info info;
        fc_pipeline_info(api->pipes[i], &info);
        if (!fc_jwt_allows(claims, info.name, strlen(info.name))) continue;
        fc_hub_stats st;
        fc_hub_stats_get(api->hub, fc_pipeline_stream_id(api->pipes[i]), &st);
        fc_sb_puts(out, listed++ ? ",{\"name\":" : "{\"name\":");
        fc_sb_json_str(out, info.name);
        fc_sb_puts(out, ",\"source\":");
        fc_sb_json_str(out, info.source);
        fc_sb_puts(out, ",\"state\":");
        fc_sb_json_str(out, info.state);
        if (info.error[0]) {
            fc_sb_puts(out, ",\"error\":");
            fc_sb_json_str(out, info.error);
        }
        fc_sb_printf(out, ",\"width\":%d,\"height\":%d,\"fps\":%.6g,\"predictor\":", info.width,
                     info.height, info.fps);
        fc_sb_json_str(out, info.predictor);
        fc_sb_printf(out, ",\"clients\":%llu,\"results\":%llu,\"preview\":%s",
                     (unsigned long long)st.clients, (unsigned long long)info.results,
                     info.preview ? "true" : "false");
        fc_sb_puts(out, ",\"predictor_state\":");
        fc_sb_json_str(out, info.predictor_state);
        if (info.predictor_error[0]) {
            fc_sb_puts(out, ",\"predictor_error\":");
            fc_sb_json_str(out, info.predictor_error);
        }
        fc_sb_printf(out, ",\"predictor_errors\":%llu,\"predictor_restarts\":%llu}",
                     (unsigned long long)info.predictor_errors,
                     (unsigned long long)info.predictor_restarts);
    }
    fc_sb_puts(out, "]}");
}

static void metric_head(fc_strbuf *out, const char *name, const char *type, const char *help) {
    fc_sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics(fc_http_api *api, const fc_jwt_claims *claims, fc_strbuf *out) {
    (void)claims; /* every stream's: only a token for every stream gets here */
    enum {
        CLIENTS,
        RESULTS,
        STALE,
        PREVIEWS,
        SENT,
        DROPPED,
        HISTORY_LEN,
        HISTORY_BYTES,
        RESUMES,
        QUEUED,
        QUEUED_MAX,
        PRED_ERRORS,
        PRED_RESTARTS,
        NSERIES
    };
    static const char *series[NSERIES][3] = {
        {"framecast_clients", "gauge", "WebSocket clients connected"},
        {"framecast_results_total", "counter", "results published"},
        {"framecast_results_stale_total", "counter",
         "mode=latest: results not published because a newer frame's result already was"},
        {"framecast_previews_total", "counter",
         "JPEG previews published (made only while a client with ?preview=1 watches)"},
        {"framecast_messages_sent_total", "counter",
         "data messages (results, previews) written in full to clients"},
        {"framecast_messages_dropped_total", "counter",
         "data messages skipped by the slow-client policy"},
        {"framecast_history_results", "gauge", "results kept for clients that resume"},
        {"framecast_history_bytes", "gauge", "bytes of the results kept for resumes"},
        {"framecast_resumes_total", "counter",
         "clients that resumed with since= and got every result they missed"},
        {"framecast_queued_bytes", "gauge", "bytes waiting in client queues (sampled)"},
        {"framecast_queued_bytes_max", "gauge",
         "bytes waiting in the fullest client queue (sampled)"},
        {"framecast_predictor_errors_total", "counter",
         "frames the predictor failed on (their results carry an error)"},
        {"framecast_predictor_restarts_total", "counter",
         "times the predictor's model process failed and was scheduled to start again"},
    };
    fc_stream_info info[FC_HUB_MAX_STREAMS];
    fc_hub_stats st[FC_HUB_MAX_STREAMS];
    int n = api->npipes < FC_HUB_MAX_STREAMS ? api->npipes : FC_HUB_MAX_STREAMS;
    for (int i = 0; i < n; i++) {
        fc_pipeline_info(api->pipes[i], &info[i]);
        fc_hub_stats_get(api->hub, fc_pipeline_stream_id(api->pipes[i]), &st[i]);
    }
    for (int k = 0; k < NSERIES; k++) {
        metric_head(out, series[k][0], series[k][1], series[k][2]);
        for (int i = 0; i < n; i++) {
            const uint64_t v[NSERIES] = {st[i].clients,
                                         info[i].results,
                                         info[i].stale,
                                         info[i].previews,
                                         st[i].sent,
                                         st[i].dropped,
                                         st[i].history_len,
                                         st[i].history_bytes,
                                         st[i].resumes,
                                         st[i].queued_bytes,
                                         st[i].queued_max,
                                         info[i].predictor_errors,
                                         info[i].predictor_restarts};
            fc_sb_printf(out, "%s{stream=\"%s\"} %llu\n", series[k][0], info[i].name,
                         (unsigned long long)v[k]);
        }
    }
    metric_head(out, "framecast_clients_closed_total", "counter",
                "clients the server closed, by reason");
    for (int i = 0; i < n; i++)
        for (int r = 0; r < FC_HUB_CLOSE_REASONS; r++)
            fc_sb_printf(out, "framecast_clients_closed_total{stream=\"%s\",reason=\"%s\"} %llu\n",
                         info[i].name, fc_hub_close_reason_name(r),
                         (unsigned long long)st[i].closed[r]);
    metric_head(out, "framecast_resets_total", "counter",
                "resuming clients told what they lost instead, by reason");
    for (int i = 0; i < n; i++)
        for (int r = 0; r < FC_HUB_RESETS; r++)
            fc_sb_printf(out, "framecast_resets_total{stream=\"%s\",reason=\"%s\"} %llu\n",
                         info[i].name, fc_hub_reset_reason_name(r),
                         (unsigned long long)st[i].resets[r]);
    fc_hub_stats all;
    fc_hub_stats_get(api->hub, -1, &all);
    metric_head(out, "framecast_connections_accepted_total", "counter", "TCP connections accepted");
    fc_sb_printf(out, "framecast_connections_accepted_total %llu\n",
                 (unsigned long long)all.accepted);
    metric_head(out, "framecast_connections_refused_total", "counter",
                "connections and requests turned away: 503 at max_clients, accepting paused "
                "for lack of file descriptors, 401 without a good token, 403 for a stream the "
                "token does not allow or an origin not allowed, 429 over a per-address limit");
    for (int r = 0; r < FC_HUB_REFUSALS; r++)
        fc_sb_printf(out, "framecast_connections_refused_total{reason=\"%s\"} %llu\n",
                     fc_hub_refusal_name(r), (unsigned long long)all.refused[r]);
    metric_head(out, "framecast_peer_addresses", "gauge",
                "remote addresses tracked for the per-address limits");
    fc_sb_printf(out, "framecast_peer_addresses %llu\n", (unsigned long long)all.peers);
    metric_head(out, "framecast_peer_addresses_untracked_total", "counter",
                "new addresses let through untracked because the per-address table was full");
    fc_sb_printf(out, "framecast_peer_addresses_untracked_total %llu\n",
                 (unsigned long long)all.peers_untracked);
    metric_head(out, "framecast_flushes_total", "counter",
                "socket flushes: one writev of all queued messages each (libuv may complete a "
                "partial one with writes of its own)");
    fc_sb_printf(out, "framecast_flushes_total %llu\n", (unsigned long long)all.flushes);
}

int fc_http_api_handle(void *ud, const fc_http_request *req, fc_strbuf *resp) {
    fc_http_api *api = ud;
    fc_http_slice path = req->path;
    /* With authentication on these need a token (they name the streams);
     * /metrics names them all, so it needs a token for every stream. */
    static const struct {
        const char *path, *type;
        void (*render)(fc_http_api *, const fc_jwt_claims *, fc_strbuf *);
        int every_stream;
    } dynamic[] = {
        {"/api/streams", "application/json", api_streams, 0},
        {"/metrics", "text/plain; version=0.0.4", metrics, 1},
    };
    for (size_t i = 0; i < sizeof dynamic / sizeof dynamic[0]; i++) {
        if (!fc_http_slice_ieq(path, dynamic[i].path)) continue;
        fc_jwt_claims claims;
        const char *why = NULL;
        if (fc_hub_authenticate(api->hub, req, &claims, &why)) {
            deny(resp, req, 401, why);
            return 0;
        }
        if (dynamic[i].every_stream && !claims.all_streams) {
            fc_jwt_claims_free(&claims);
            fc_hub_count_refusal(api->hub, FC_HUB_REFUSED_FORBIDDEN);
            deny(resp, req, 403, "this needs a token for every stream (streams: [\"*\"])");
            return 0;
        }
        fc_strbuf body;
        fc_sb_init(&body, 2048);
        dynamic[i].render(api, &claims, &body);
        respond(resp, req, 200, dynamic[i].type, body.data, body.len, "no-store", NULL);
        fc_sb_free(&body);
        fc_jwt_claims_free(&claims);
        return 0;
    }
    const char *want = path.len == 1 && path.p[0] == '/' ? "/index.html" : NULL;
    for (const fc_web_asset *a = fc_web_assets; a->path; a++) {
        if (want ? strcmp(a->path, want) == 0
                 : strlen(a->path) == path.len && memcmp(a->path, path.p, path.len) == 0) {
            respond(resp, req, 200, a->type, a->data, a->len, "no-cache", NULL);
            return 0;
        }
    }
    return -1;
}
