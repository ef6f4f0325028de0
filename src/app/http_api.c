/* The viewer page, /api/streams and /metrics (see http_api.h). */
#include "app/http_api.h"

#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "app/push.h"
#include "app/web_assets.h"
#include "cluster/nats_conn.h"
#include "cluster/nats_edge.h"
#include "cluster/nats_ingest.h"
#include "util/error.h"

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
    const char *text = fc_http_reason(status);
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

static void stream_json(fc_http_api *api, fc_pipeline *p, const fc_stream_info *in,
                        fc_strbuf *out) {
    const fc_stream_info info_copy = *in, *info = &info_copy;
    fc_hub_stats st;
    fc_hub_stats_get(api->hub, fc_pipeline_stream_id(p), &st);
    fc_sb_puts(out, "{\"name\":");
    fc_sb_json_str(out, info->name);
    fc_sb_puts(out, ",\"source\":");
    fc_sb_json_str(out, info->source);
    fc_sb_puts(out, ",\"state\":");
    fc_sb_json_str(out, info->state);
    if (info->error[0]) {
        fc_sb_puts(out, ",\"error\":");
        fc_sb_json_str(out, info->error);
    }
    fc_sb_printf(out, ",\"width\":%d,\"height\":%d,\"fps\":%.6g,\"predictor\":", info->width,
                 info->height, info->fps);
    fc_sb_json_str(out, info->predictor);
    fc_sb_printf(out, ",\"clients\":%llu,\"results\":%llu,\"preview\":%s",
                 (unsigned long long)st.clients, (unsigned long long)info->results,
                 info->preview ? "true" : "false");
    fc_sb_puts(out, ",\"predictor_state\":");
    fc_sb_json_str(out, info->predictor_state);
    if (info->predictor_error[0]) {
        fc_sb_puts(out, ",\"predictor_error\":");
        fc_sb_json_str(out, info->predictor_error);
    }
    fc_sb_printf(out, ",\"predictor_errors\":%llu,\"predictor_restarts\":%llu}",
                 (unsigned long long)info->predictor_errors,
                 (unsigned long long)info->predictor_restarts);
}

void fc_http_api_stream_json(fc_http_api *api, fc_pipeline *p, fc_strbuf *out) {
    fc_stream_info info;
    fc_pipeline_info(p, &info);
    stream_json(api, p, &info, out);
}

/* An edge's stream: what its ingest node announced, with this edge's
 * clients, its newest result and its state ("unavailable" while the feed
 * is gone). */
static void edge_stream_json(fc_http_api *api, const fc_edge_view *v, fc_strbuf *out) {
    fc_hub_stats st;
    fc_hub_stats_get(api->hub, v->hub_id, &st);
    cJSON *o = v->info ? cJSON_Parse(v->info) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    static const char *const replaced[] = {"name", "state", "clients", "results"};
    for (size_t i = 0; i < sizeof replaced / sizeof replaced[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(o, replaced[i]);
    cJSON_AddStringToObject(o, "name", v->name);
    cJSON_AddStringToObject(o, "state", v->state);
    cJSON_AddNumberToObject(o, "clients", (double)st.clients);
    cJSON_AddNumberToObject(o, "results", (double)v->last_seq);
    char *text = cJSON_PrintUnformatted(o);
    if (text) fc_sb_puts(out, text);
    free(text);
    cJSON_Delete(o);
}

/* The streams the claims allow (all without authentication). */
static void api_streams(fc_http_api *api, const fc_jwt_claims *claims, fc_strbuf *out) {
    const fc_stream_set *set = fc_streams_snapshot(api->streams);
    fc_sb_puts(out, "{\"streams\":[");
    int listed = 0;
    for (int i = 0; i < set->n; i++) {
        fc_stream_info info;
        fc_pipeline_info(set->pipes[i], &info);
        if (!fc_jwt_allows(claims, info.name, strlen(info.name))) continue;
        if (listed++) fc_sb_puts(out, ",");
        stream_json(api, set->pipes[i], &info, out);
    }
    if (api->edge) {
        fc_edge_view views[FC_HUB_MAX_STREAMS];
        int n = fc_edge_views(api->edge, views, FC_HUB_MAX_STREAMS);
        for (int i = 0; i < n; i++) {
            if (!fc_jwt_allows(claims, views[i].name, strlen(views[i].name))) continue;
            if (listed++) fc_sb_puts(out, ",");
            edge_stream_json(api, &views[i], out);
        }
        fc_edge_views_free(views, n);
    }
    fc_sb_puts(out, "]}");
}

static void metric_head(fc_strbuf *out, const char *name, const char *type, const char *help) {
    fc_sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The process: CPU, memory, descriptors, threads (from /proc/self), and
 * what was built. */
static void process_metrics(fc_strbuf *out) {
    char buf[4096];
    double cpu = 0;
    long rss_kb = 0, threads = 0, fds = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        if (fgets(buf, sizeof buf, f)) {
            char *rp = strrchr(buf, ')'); /* the name may hold spaces */
            unsigned long long ut = 0, stt = 0;
            if (rp && sscanf(rp + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut,
                             &stt) == 2)
                cpu = (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
        }
        fclose(f);
    }
    if ((f = fopen("/proc/self/status", "r"))) {
        while (fgets(buf, sizeof buf, f)) {
            if (strncmp(buf, "VmRSS:", 6) == 0) rss_kb = atol(buf + 6);
            if (strncmp(buf, "Threads:", 8) == 0) threads = atol(buf + 8);
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));) fds += e->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory's own */
    }
    metric_head(out, "process_cpu_seconds_total", "counter", "user and system CPU time");
    fc_sb_printf(out, "process_cpu_seconds_total %.2f\n", cpu);
    metric_head(out, "process_resident_memory_bytes", "gauge", "resident memory");
    fc_sb_printf(out, "process_resident_memory_bytes %ld\n", rss_kb * 1024);
    metric_head(out, "process_open_fds", "gauge", "open file descriptors");
    fc_sb_printf(out, "process_open_fds %ld\n", fds);
    metric_head(out, "framecast_threads", "gauge", "threads of the process");
    fc_sb_printf(out, "framecast_threads %ld\n", threads);
    metric_head(out, "framecast_build_info", "gauge", "1, with the version as a label");
    fc_sb_printf(out, "framecast_build_info{version=\"%s\"} 1\n", FC_VERSION);
}

/* The cluster: the NATS connection, an ingest node's publishing, an edge's
 * feeds (docs/cluster.md). */
static void cluster_metrics(fc_http_api *api, const fc_edge_view *v, int nv, fc_strbuf *out) {
    if (!api->nats) return;
    metric_head(out, "framecast_nats_connected", "gauge", "1 while connected to NATS");
    fc_sb_printf(out, "framecast_nats_connected %d\n", fc_nats_connected(api->nats));
    metric_head(out, "framecast_nats_disconnects_total", "counter", "times NATS was lost");
    fc_sb_printf(out, "framecast_nats_disconnects_total %llu\n",
                 (unsigned long long)atomic_load(&api->nats->disconnects));
    metric_head(out, "framecast_nats_reconnects_total", "counter", "times NATS came back");
    fc_sb_printf(out, "framecast_nats_reconnects_total %llu\n",
                 (unsigned long long)atomic_load(&api->nats->reconnects));
    if (api->ingest) {
        fc_ingest_stats g;
        fc_ingest_stats_get(api->ingest, &g);
        metric_head(out, "framecast_nats_published_total", "counter",
                    "results, previews, status messages and announcements handed to NATS");
        fc_sb_printf(out, "framecast_nats_published_total %llu\n", (unsigned long long)g.published);
        metric_head(out, "framecast_nats_dropped_total", "counter",
                    "messages not published: the publisher's queue was full (queue), or NATS "
                    "refused them while down with its buffer full (nats)");
        fc_sb_printf(out, "framecast_nats_dropped_total{reason=\"queue\"} %llu\n",
                     (unsigned long long)g.dropped_queue);
        fc_sb_printf(out, "framecast_nats_dropped_total{reason=\"nats\"} %llu\n",
                     (unsigned long long)g.dropped_nats);
        metric_head(out, "framecast_nats_history_replies_total", "counter",
                    "history requests from edges answered");
        fc_sb_printf(out, "framecast_nats_history_replies_total %llu\n",
                     (unsigned long long)g.history_replies);
    }
    if (!api->edge) return;
    static const char *series[][2] = {
        {"framecast_edge_results_received_total", "results received from NATS"},
        {"framecast_edge_results_dropped_total",
         "results received but not fanned out (out of memory to hold them)"},
        {"framecast_edge_results_delayed_total",
         "times the I/O loops' inboxes were full and results were held for a tick"},
        {"framecast_edge_gaps_total", "times results were missing from NATS and asked again"},
        {"framecast_edge_results_lost_total",
         "results missing from NATS that the ingest node no longer had (clients got a reset)"},
    };
    for (int k = 0; k < 5; k++) {
        metric_head(out, series[k][0], "counter", series[k][1]);
        for (int i = 0; i < nv; i++) {
            const uint64_t x[5] = {v[i].received, v[i].dropped, v[i].delayed, v[i].gaps, v[i].lost};
            fc_sb_printf(out, "%s{stream=\"%s\"} %llu\n", series[k][0], v[i].name,
                         (unsigned long long)x[k]);
        }
    }
}

static void metrics(fc_http_api *api, const fc_jwt_claims *claims, fc_strbuf *out) {
    (void)claims; /* every stream's: only a token for every stream gets here */
    enum {
        CLIENTS,
        RESULTS,
        STALE,
        LOST,
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
        FRAMES,
        SKIPPED,
        RECONNECTS,
        NSERIES
    };
    static const char *series[NSERIES][3] = {
        {"framecast_clients", "gauge", "WebSocket clients connected"},
        {"framecast_results_total", "counter", "results published"},
        {"framecast_results_stale_total", "counter",
         "mode=latest: results not published because a newer frame's result already was"},
        {"framecast_results_lost_total", "counter", "results not published because memory ran out"},
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
        {"framecast_frames_total", "counter", "frames the source decoded and handed over"},
        {"framecast_frames_skipped_total", "counter",
         "frames replaced by a newer one before a worker took them (mode=latest)"},
        {"framecast_source_reconnects_total", "counter",
         "times the source lost its input and began to reconnect"},
    };
    fc_stream_info info[FC_HUB_MAX_STREAMS];
    fc_hub_stats st[FC_HUB_MAX_STREAMS];
    const fc_stream_set *set = fc_streams_snapshot(api->streams);
    int n = set->n, npipes = set->n;
    for (int i = 0; i < n; i++) {
        fc_pipeline_info(set->pipes[i], &info[i]);
        fc_hub_stats_get(api->hub, fc_pipeline_stream_id(set->pipes[i]), &st[i]);
    }
    /* An edge's streams: the same series, from its hub and its feed. */
    fc_edge_view views[FC_HUB_MAX_STREAMS];
    int nviews = api->edge ? fc_edge_views(api->edge, views, FC_HUB_MAX_STREAMS - n) : 0;
    for (int k = 0; k < nviews; k++, n++) {
        memset(&info[n], 0, sizeof info[n]);
        _Static_assert(sizeof info[n].name == sizeof views[k].name, "names alike");
        _Static_assert(sizeof info[n].state == sizeof views[k].state, "states alike");
        memcpy(info[n].name, views[k].name, sizeof info[n].name);
        memcpy(info[n].state, views[k].state, sizeof info[n].state);
        info[n].results = views[k].last_seq;
        fc_hub_stats_get(api->hub, views[k].hub_id, &st[n]);
    }
    for (int k = 0; k < NSERIES; k++) {
        metric_head(out, series[k][0], series[k][1], series[k][2]);
        for (int i = 0; i < n; i++) {
            const uint64_t v[NSERIES] = {st[i].clients,
                                         info[i].results,
                                         info[i].stale,
                                         info[i].lost,
                                         info[i].previews,
                                         st[i].sent,
                                         st[i].dropped,
                                         st[i].history_len,
                                         st[i].history_bytes,
                                         st[i].resumes,
                                         st[i].queued_bytes,
                                         st[i].queued_max,
                                         info[i].predictor_errors,
                                         info[i].predictor_restarts,
                                         info[i].frames,
                                         info[i].skipped,
                                         info[i].reconnects};
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
    metric_head(out, "framecast_stream_state", "gauge",
                "1 for the stream's current state (connecting, live, failing, reconnecting, "
                "waiting, ended, failed)");
    for (int i = 0; i < n; i++)
        fc_sb_printf(out, "framecast_stream_state{stream=\"%s\",state=\"%s\"} 1\n", info[i].name,
                     info[i].state);
    static const char *hists[][2] = {
        {"framecast_predict_seconds", "time the predictor took per frame"},
        {"framecast_capture_to_publish_seconds",
         "from a frame's capture (or decoding) to its result's publication"},
        {"framecast_queue_wait_seconds",
         "from publication to written in full to a client, one data message in 16"},
    };
    for (int k = 0; k < 3; k++) {
        metric_head(out, hists[k][0], "histogram", hists[k][1]);
        for (int i = 0; i < n; i++) {
            fc_histogram h[2];
            memset(h, 0, sizeof h);
            if (k < 2 && i < npipes) fc_pipeline_histograms(set->pipes[i], &h[0], &h[1]);
            char labels[96];
            snprintf(labels, sizeof labels, "stream=\"%.64s\"", info[i].name);
            fc_hist_render(out, hists[k][0], labels, k == 2 ? &st[i].queue_wait : &h[k]);
        }
    }
    fc_hub_stats all;
    fc_hub_stats_get(api->hub, -1, &all);
    metric_head(out, "framecast_connections_accepted_total", "counter", "TCP connections accepted");
    fc_sb_printf(out, "framecast_connections_accepted_total %llu\n",
                 (unsigned long long)all.accepted);
    metric_head(
        out, "framecast_connections_refused_total", "counter",
        "connections and requests turned away: 503 at max_clients, accepting paused "
        "for lack of file descriptors, 401 without a good token, 403 for a stream the "
        "token does not allow or an origin not allowed, 429 over a per-address limit, "
        "408 for a request not whole by the handshake timeout (or a close, if nothing came)");
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
    cluster_metrics(api, views, nviews, out);
    fc_edge_views_free(views, nviews);
    process_metrics(out);
}

/* An answer with a JSON body and the given status. */
static void respond_json(fc_strbuf *resp, const fc_http_request *req, int status, const char *extra,
                         const fc_strbuf *body) {
    respond(resp, req, status, "application/json", body->data, body->len, "no-store", extra);
}

/* GET /healthz: alive, every loop ticking (a loop stuck in one callback for
 * a few seconds fails it). */
static int healthz(fc_http_api *api, fc_strbuf *out) {
    int64_t stalled = fc_hub_stalled_ms(api->hub);
    if (stalled > FC_HEALTH_STALL_MS) {
        fc_sb_printf(out,
                     "{\"status\":\"fail\",\"reason\":\"an I/O loop has not ticked for %lld ms\"}",
                     (long long)stalled);
        return 503;
    }
    fc_sb_puts(out, "{\"status\":\"ok\"}");
    return 200;
}

/* GET /readyz: listening (it answers), not draining, and every stream past
 * its first connection attempt. */
static int readyz(fc_http_api *api, fc_strbuf *out) {
    fc_strbuf why;
    fc_sb_init(&why, 128);
    if (atomic_load(&api->draining)) fc_sb_puts(&why, "draining: the server is shutting down; ");
    if (api->nats && !fc_nats_connected(api->nats))
        fc_sb_puts(&why, "NATS is not connected (reconnecting); ");
    const fc_stream_set *set = fc_streams_snapshot(api->streams);
    for (int i = 0; i < set->n; i++) {
        fc_stream_info info;
        fc_pipeline_info(set->pipes[i], &info);
        if (strcmp(info.state, "connecting") == 0)
            fc_sb_printf(&why, "stream '%s' has not connected yet; ", info.name);
    }
    int ready = why.len == 0;
    fc_sb_printf(out, "{\"ready\":%s", ready ? "true" : "false");
    if (!ready) {
        why.len -= 2; /* the last "; " */
        fc_sb_puts(out, ",\"reason\":");
        fc_sb_append(&why, "", 1);
        fc_sb_json_str(out, why.data);
    }
    fc_sb_puts(out, "}");
    fc_sb_free(&why);
    return ready ? 200 : 503;
}

static fc_pipeline *find_stream(fc_http_api *api, fc_http_slice name) {
    const fc_stream_set *set = fc_streams_snapshot(api->streams);
    for (int i = 0; i < set->n; i++) {
        const char *s = fc_pipeline_name(set->pipes[i]);
        if (strlen(s) == name.len && memcmp(s, name.p, name.len) == 0) return set->pipes[i];
    }
    return NULL;
}

/* POST /api/streams/NAME/publish: one JSON object, or NDJSON (one object a
 * line) with Content-Type application/x-ndjson. Each is a result of the
 * push stream NAME, published in order. */
static void publish(fc_http_api *api, fc_http_slice name, const fc_http_request *req,
                    const uint8_t *body, size_t len, fc_strbuf *resp) {
    fc_jwt_claims claims;
    const char *unauthorized = NULL;
    if (fc_hub_authenticate(api->hub, req, &claims, &unauthorized)) {
        deny(resp, req, 401, unauthorized);
        return;
    }
    int allowed = claims.publish && fc_jwt_allows(&claims, name.p, name.len);
    fc_jwt_claims_free(&claims);
    if (!allowed) {
        fc_hub_count_refusal(api->hub, FC_HUB_REFUSED_FORBIDDEN);
        deny(resp, req, 403,
             "publishing needs a token with \"publish\": true that allows this stream "
             "(framecast token --publish --streams NAME)");
        return;
    }
    fc_strbuf out;
    fc_sb_init(&out, 256);
    fc_pipeline *p = find_stream(api, name);
    int status = 200;
    if (!p || !fc_pipeline_is_push(p)) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%.*s' is %s", (int)(name.len > 64 ? 64 : name.len), name.p,
                 p ? "not a push stream (declare it with NAME=push)" : "not a stream");
        fc_sb_puts(&out, "{\"error\":");
        fc_sb_json_str(&out, msg);
        fc_sb_puts(&out, "}");
        respond_json(resp, req, 404, NULL, &out);
        fc_sb_free(&out);
        return;
    }
    const fc_http_header *ct = fc_http_find(req, "Content-Type");
    int ndjson = ct && ct->value.len >= 20 && memcmp(ct->value.p, "application/x-ndjson", 20) == 0;
    const char *why = "", *text;
    size_t n;
    long published = 0;
    int64_t first = 0, last = 0;
    fc_push_reader rd;
    fc_push_reader_init(&rd, (const char *)body, len, ndjson);
    while (fc_push_next(&rd, &text, &n)) {
        int64_t seq = fc_pipeline_push(p, text, n, &why);
        if (seq < 0) {
            /* Full: try again shortly; out of memory or shutting down: the
             * server's state, not the body's fault; else the body is bad. */
            status = seq == FC_EFULL ? 429 : seq == -ENOMEM || seq == FC_ESTOPPED ? 503 : 400;
            break;
        }
        if (!first) first = seq;
        last = seq;
        published++;
    }
    if (status == 200 && published == 0) {
        status = 400;
        why = "no JSON object in the body";
    }
    fc_sb_printf(&out, "{\"published\":%ld", published);
    if (published)
        fc_sb_printf(&out, ",\"first_seq\":%lld,\"last_seq\":%lld", (long long)first,
                     (long long)last);
    if (status != 200) {
        fc_sb_puts(&out, ",\"error\":");
        fc_sb_json_str(&out, why);
        if (ndjson) fc_sb_printf(&out, ",\"line\":%ld", rd.line);
    }
    fc_sb_puts(&out, "}");
    respond_json(resp, req, status, status == 429 || status == 503 ? "Retry-After: 1\r\n" : NULL,
                 &out);
    fc_sb_free(&out);
}

int fc_http_api_handle(void *ud, const fc_http_request *req, const uint8_t *body, size_t len,
                       fc_strbuf *resp) {
    fc_http_api *api = ud;
    fc_http_slice path = req->path;
    static const char prefix[] = "/api/streams/", suffix[] = "/publish";
    const size_t pl = sizeof prefix - 1, sl = sizeof suffix - 1;
    if (path.len > pl + sl && memcmp(path.p, prefix, pl) == 0 &&
        memcmp(path.p + path.len - sl, suffix, sl) == 0) {
        fc_http_slice name = {path.p + pl, path.len - pl - sl};
        if (!fc_http_slice_ieq(req->method, "POST")) {
            fc_strbuf out;
            fc_sb_init(&out, 64);
            fc_sb_puts(&out, "{\"error\":\"publish with POST\"}");
            respond_json(resp, req, 405, "Allow: POST\r\n", &out);
            fc_sb_free(&out);
        } else {
            publish(api, name, req, body, len, resp);
        }
        return 0;
    }
    if (fc_http_slice_ieq(req->method, "POST")) return -1; /* nothing else takes a body */
    static const struct {
        const char *path;
        int (*check)(fc_http_api *, fc_strbuf *);
    } probes[] = {{"/healthz", healthz}, {"/readyz", readyz}};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        if (!fc_http_slice_ieq(path, probes[i].path)) continue;
        fc_strbuf out;
        fc_sb_init(&out, 128);
        int status = probes[i].check(api, &out);
        respond_json(resp, req, status, NULL, &out);
        fc_sb_free(&out);
        return 0;
    }
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
            /* framecast.js is a library for pages of any origin (an ES
             * module is fetched with CORS): public, and it holds no secret. */
            const char *cors =
                strcmp(a->path, "/framecast.js") == 0 ? "Access-Control-Allow-Origin: *\r\n" : NULL;
            respond(resp, req, 200, a->type, a->data, a->len, "no-cache", cors);
            return 0;
        }
    }
    return -1;
}
