/* The viewer page, /api/streams and /metrics (see http_api.h). */
#include "app/http_api.h"

#include <stdio.h>
#include <string.h>

#include "app/web_assets.h"

static void respond(fc_strbuf *resp, const char *type, const void *body, size_t len,
                    const char *cache) {
    fc_sb_printf(resp,
                 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n"
                 "Connection: close\r\n\r\n",
                 type, len, cache);
    fc_sb_append(resp, body, len);
}

static void api_streams(fc_http_api *api, fc_strbuf *out) {
    fc_sb_puts(out, "{\"streams\":[");
    for (int i = 0; i < api->npipes; i++) {
        fc_stream_info info;
        fc_pipeline_info(api->pipes[i], &info);
        fc_hub_stats st;
        fc_hub_stats_get(api->hub, fc_pipeline_stream_id(api->pipes[i]), &st);
        fc_sb_puts(out, i ? ",{\"name\":" : "{\"name\":");
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

static void metrics(fc_http_api *api, fc_strbuf *out) {
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
                "connections turned away: 503 at max_clients, or accepting paused for lack of "
                "file descriptors");
    for (int r = 0; r < FC_HUB_REFUSALS; r++)
        fc_sb_printf(out, "framecast_connections_refused_total{reason=\"%s\"} %llu\n",
                     fc_hub_refusal_name(r), (unsigned long long)all.refused[r]);
    metric_head(out, "framecast_flushes_total", "counter",
                "socket flushes: one writev of all queued messages each (libuv may complete a "
                "partial one with writes of its own)");
    fc_sb_printf(out, "framecast_flushes_total %llu\n", (unsigned long long)all.flushes);
}

int fc_http_api_handle(void *ud, const fc_http_request *req, fc_strbuf *resp) {
    fc_http_api *api = ud;
    fc_http_slice path = req->path;
    static const struct {
        const char *path, *type;
        void (*render)(fc_http_api *, fc_strbuf *);
    } dynamic[] = {
        {"/api/streams", "application/json", api_streams},
        {"/metrics", "text/plain; version=0.0.4", metrics},
    };
    for (size_t i = 0; i < sizeof dynamic / sizeof dynamic[0]; i++) {
        if (!fc_http_slice_ieq(path, dynamic[i].path)) continue;
        fc_strbuf body;
        fc_sb_init(&body, 2048);
        dynamic[i].render(api, &body);
        respond(resp, dynamic[i].type, body.data, body.len, "no-store");
        fc_sb_free(&body);
        return 0;
    }
    const char *want = path.len == 1 && path.p[0] == '/' ? "/index.html" : NULL;
    for (const fc_web_asset *a = fc_web_assets; a->path; a++) {
        if (want ? strcmp(a->path, want) == 0
                 : strlen(a->path) == path.len && memcmp(a->path, path.p, path.len) == 0) {
            respond(resp, a->type, a->data, a->len, "no-cache");
            return 0;
        }
    }
    return -1;
}
