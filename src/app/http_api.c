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
        fc_sb_printf(out, ",\"clients\":%llu,\"results\":%llu,\"preview\":%s}",
                     (unsigned long long)st.clients, (unsigned long long)info.results,
                     info.preview ? "true" : "false");
    }
    fc_sb_puts(out, "]}");
}

static void metrics(fc_http_api *api, fc_strbuf *out) {
    static const char *help[][3] = {
        {"framecast_clients", "gauge", "WebSocket clients connected"},
        {"framecast_results_total", "counter", "results published"},
        {"framecast_messages_sent_total", "counter", "messages fully written to clients"},
        {"framecast_messages_dropped_total", "counter",
         "messages skipped by the slow-client policy"},
        {"framecast_slow_closed_total", "counter", "clients closed as slow consumers"},
    };
    for (size_t k = 0; k < sizeof help / sizeof help[0]; k++) {
        fc_sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", help[k][0], help[k][2], help[k][0],
                     help[k][1]);
        for (int i = 0; i < api->npipes; i++) {
            fc_stream_info info;
            fc_pipeline_info(api->pipes[i], &info);
            fc_hub_stats st;
            fc_hub_stats_get(api->hub, fc_pipeline_stream_id(api->pipes[i]), &st);
            uint64_t v = k == 0   ? st.clients
                         : k == 1 ? info.results
                         : k == 2 ? st.sent
                         : k == 3 ? st.dropped
                                  : st.slow_closed;
            fc_sb_printf(out, "%s{stream=\"%s\"} %llu\n", help[k][0], info.name,
                         (unsigned long long)v);
        }
    }
    fc_hub_stats all;
    fc_hub_stats_get(api->hub, -1, &all);
    fc_sb_printf(out,
                 "# HELP framecast_connections_accepted_total TCP connections accepted\n"
                 "# TYPE framecast_connections_accepted_total counter\n"
                 "framecast_connections_accepted_total %llu\n"
                 "# HELP framecast_writes_total write system calls to clients\n"
                 "# TYPE framecast_writes_total counter\nframecast_writes_total %llu\n",
                 (unsigned long long)all.accepted, (unsigned long long)all.writes);
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
