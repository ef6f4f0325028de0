/* framecast: wires the configuration, the hub and one pipeline per stream,
 * then waits on the main thread for signals: SIGHUP reloads (reload.h),
 * SIGINT/SIGTERM shut down in the reverse order of the data flow (sources
 * first, the hub last). --check-config checks and exits.
 *
 * Exit status (README, "Exit status"): 0 after a signal, or with
 * --exit-when-done once every stream ended normally; 1 when framecast
 * cannot start (a port in use, no threads); 2 for bad arguments or a file
 * named on the command line that is not what was expected (a cascade
 * model); 3 with --exit-when-done when any stream failed (its source, or
 * its model for good). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "app/check.h"
#include "app/config.h"
#include "app/http_api.h"
#include "app/pipeline.h"
#include "app/reload.h"
#include "app/streams.h"
#include "app/token.h"
#include "cluster/nats_conn.h"
#include "cluster/nats_edge.h"
#include "cluster/nats_ingest.h"
#include "hub/hub.h"
#include "hub/tls.h"
#include "util/error.h"
#include "util/log.h"
#include "util/redact.h"

enum { EXIT_OK = 0, EXIT_START = 1, EXIT_USAGE = 2, EXIT_STREAM_FAILED = 3 };

static void on_signal(uv_signal_t *s, int signum) {
    fc_http_api *api = s->data;
    (void)signum;
    if (api) atomic_store(&api->draining, 1); /* /readyz says so from now on */
    uv_stop(s->loop);
}

/* SIGHUP: the configuration file is read again and applied (reload.h);
 * the TLS certificate and key are read again (open connections keep
 * theirs). */
static void on_sighup(uv_signal_t *s, int signum) {
    fc_running *r = s->data;
    char err[512] = "";
    (void)signum;
    if (r->boot->file) fc_reload(r);
    if (fc_hub_tls(r->hub)) {
        if (fc_hub_reload_tls(r->hub, err, sizeof err) == 0)
            fc_info("SIGHUP: reloaded the TLS certificate and key");
        else
            fc_error("SIGHUP: %s; the previous certificate stays", err);
    }
    if (!r->boot->file && !fc_hub_tls(r->hub))
        fc_info("SIGHUP: nothing to reload (no --config, no TLS)");
}

/* Streams that end by themselves (--exit-when-done): checked on the main
 * thread each time one ends. Push streams end only with the server. */
struct ended {
    uv_async_t async;
    int exit_when_done;
    fc_streams *streams;
};

static int failed_streams(fc_streams *streams) {
    const fc_stream_set *set = fc_streams_snapshot(streams);
    int failed = 0;
    for (int i = 0; i < set->n; i++) failed += fc_pipeline_failed(set->pipes[i]);
    return failed;
}

static void on_stream_ended(void *ud) { /* a source thread */
    struct ended *e = ud;
    uv_async_send(&e->async);
}

static void on_ended_async(uv_async_t *a) {
    struct ended *e = a->data;
    if (!e->exit_when_done) return;
    const fc_stream_set *set = fc_streams_snapshot(e->streams);
    int total = 0;
    for (int i = 0; i < set->n; i++) {
        if (fc_pipeline_is_push(set->pipes[i])) continue;
        if (!fc_pipeline_ended(set->pipes[i])) return;
        total++;
    }
    if (!total) return;
    int failed = failed_streams(e->streams);
    if (failed)
        fc_error("every stream has ended; %d of %d failed (exit status %d)", failed, total,
                 EXIT_STREAM_FAILED);
    else
        fc_info("every stream has ended");
    uv_stop(a->loop);
}

/* Descriptors are a resource: take the hard limit, and keep enough of them
 * out of the clients' share for what else needs one (standard streams, the
 * listener, each loop's epoll and wake-up descriptors, sources, a model's
 * pipes per worker). Without a share, running out would surface as accept
 * failures on the loop that serves the clients. */
static void plan_descriptors(fc_config *cfg, int at_start) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (at_start && rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    long limit =
        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1 << 24) ? 1 << 24 : (long)rl.rlim_cur;
    long workers = 0;
    for (int i = 0; i < cfg->nstreams; i++) workers += cfg->streams[i].workers;
    long reserve = 32 + 4L * cfg->hub.io_threads + 8L * cfg->nstreams + 4 * workers;
    int derived = cfg->hub.max_clients == 0;
    if (derived) cfg->hub.max_clients = limit - reserve > 1 ? (int)(limit - reserve) : 1;
    if (at_start)
        fc_info("descriptor limit %ld: at most %d clients%s", limit, cfg->hub.max_clients,
                derived ? " (the limit less what sources, models and loops need; --max-clients)"
                        : "");
}

/* --- The cluster (docs/cluster.md) ---------------------------------------- */

static void ingest_tap(void *ud, int stream, int kind, fc_buf *msg) {
    fc_ingest_offer(ud, stream, (enum fc_ingest_kind)kind, msg);
}

static void ingest_add(void *ud, fc_pipeline *p, const fc_stream_config *cfg) {
    fc_ingest_add_stream(ud, fc_pipeline_stream_id(p), fc_pipeline_name(p), fc_pipeline_epoch(p),
                         &cfg->history);
}

static void ingest_remove(void *ud, fc_pipeline *p) {
    fc_ingest_remove_stream(ud, fc_pipeline_stream_id(p));
}

/* Once a second: each stream's description, for the edges. */
static void on_announce(uv_timer_t *t) {
    fc_http_api *api = t->data;
    const fc_stream_set *set = fc_streams_snapshot(api->streams);
    fc_strbuf sb;
    fc_sb_init(&sb, 1024);
    for (int i = 0; i < set->n; i++) {
        fc_sb_reset(&sb);
        fc_http_api_stream_json(api, set->pipes[i], &sb);
        fc_ingest_announce(api->ingest, fc_pipeline_stream_id(set->pipes[i]), sb.data, sb.len);
    }
    fc_sb_free(&sb);
}

/* --check-config: the problems, or what would run. */
static int check_only(fc_config *cfg) {
    fc_check_config(cfg, NULL);
    if (cfg->nproblems) {
        for (int i = 0; i < cfg->nproblems; i++)
            fprintf(stderr, "framecast: %s\n", cfg->problems[i]);
        fprintf(stderr, "framecast: %d problem%s in the configuration\n", cfg->nproblems,
                cfg->nproblems == 1 ? "" : "s");
        return EXIT_USAGE;
    }
    printf("framecast: the configuration is valid%s%s%s: listen %s, %d stream%s\n",
           cfg->file ? " (" : "", cfg->file ? cfg->file : "", cfg->file ? " and the options)" : "",
           cfg->listen, cfg->nstreams, cfg->nstreams == 1 ? "" : "s");
    for (int i = 0; i < cfg->nstreams; i++) {
        const fc_stream_config *s = &cfg->streams[i];
        int push = strcmp(s->source, "push") == 0;
        char *source = fc_redact_url(s->source), *predictor = fc_redact_text(s->predictor);
        printf("framecast: stream '%s': source %s, predictor %s\n", s->name, source,
               push ? "none (push)" : predictor);
        free(source);
        free(predictor);
    }
    return EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "token") == 0) return fc_token_main(argc - 1, argv + 1);
    char err[512] = "";
    fc_config cfg;
    int rc = fc_config_parse(&cfg, argc, argv, err, sizeof err);
    if (rc == FC_CONFIG_EXIT) {
        fc_config_free(&cfg);
        return EXIT_OK;
    }
    if (rc == -ENOMEM) {
        fprintf(stderr, "framecast: %s\n", err);
        fc_config_free(&cfg);
        return EXIT_FAILURE;
    }
    if (cfg.check_only) {
        int code = check_only(&cfg);
        fc_config_free(&cfg);
        return code;
    }
    if (rc < 0) { /* every problem, not only the first: those of the streams too */
        fc_check_config(&cfg, NULL);
        for (int i = 0; i < cfg.nproblems; i++) fprintf(stderr, "framecast: %s\n", cfg.problems[i]);
        fc_config_free(&cfg);
        return EXIT_USAGE;
    }
    if (cfg.nats) fc_nats_prepare();
    fc_log_set_level((enum fc_log_level)cfg.log_level);
    fc_log_set_format((enum fc_log_format)cfg.log_format);
    signal(SIGPIPE, SIG_IGN);
    plan_descriptors(&cfg, 1);

    fc_hub *hub = NULL;
    fc_streams streams = {0};
    int exit_code = EXIT_START;
    uv_loop_t *loop = uv_default_loop();
    struct ended ended = {.exit_when_done = cfg.exit_when_done, .streams = &streams};
    uv_async_init(loop, &ended.async, on_ended_async);
    ended.async.data = &ended;
    static fc_http_api api; /* outlives the hub; the signal handlers mark it draining */
    fc_running running = {.argc = argc,
                          .argv = argv,
                          .boot = &cfg,
                          .current = &cfg,
                          .streams = &streams,
                          .plan = plan_descriptors};
    uv_signal_t sigint, sigterm, sighup;
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    sigint.data = sigterm.data = &api;
    uv_signal_init(loop, &sighup);
    sighup.data = &running;
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);

    static fc_nats nats; /* its callbacks may run until fc_nats_shutdown */
    fc_ingest *ingest = NULL;
    fc_edge *edge = NULL;
    uv_timer_t announce;
    uv_timer_init(loop, &announce);
    announce.data = &api;
    if ((rc = fc_hub_create(&hub, &cfg.hub, err, sizeof err)) < 0) goto fail;
    running.hub = hub;
    if ((rc = fc_streams_init(&streams, hub, on_stream_ended, &ended)) < 0) goto fail;
    if (cfg.nats) {
        char node[300], host[256] = "";
        gethostname(host, sizeof host - 1);
        snprintf(node, sizeof node, "framecast %s %s:%d pid %d",
                 cfg.role == FC_ROLE_EDGE ? "edge" : "ingest", host, fc_hub_port(hub),
                 (int)getpid());
        fc_nats_config nc = {.urls = cfg.nats,
                             .creds = cfg.nats_creds,
                             .tls_ca = cfg.nats_tls_ca,
                             .tls_cert = cfg.nats_tls_cert,
                             .tls_key = cfg.nats_tls_key,
                             .name = node};
        if ((rc = fc_nats_open(&nats, &nc, err, sizeof err)) < 0) goto fail;
        api.nats = &nats;
        if (cfg.role != FC_ROLE_EDGE) {
            if ((rc = fc_ingest_create(&ingest, &nats, node, err, sizeof err)) < 0) goto fail;
            api.ingest = ingest;
            streams.ingest = ingest;
            streams.ingest_tap = ingest_tap;
            streams.ingest_add = ingest_add;
            streams.ingest_remove = ingest_remove;
        }
    }
    if (fc_hub_tls(hub)) fc_info("TLS on (TLS 1.2 and 1.3); %s", fc_tls_offload());
    for (int i = 0; i < cfg.nstreams; i++)
        if ((rc = fc_streams_add(&streams, &cfg.streams[i], err, sizeof err)) < 0) goto fail;
    if (cfg.nats && cfg.role == FC_ROLE_EDGE) { /* before the loops run: they read api */
        fc_edge_config ec;
        fc_edge_config_defaults(&ec);
        ec.slow = cfg.slow;
        ec.history = cfg.history;
        rc = fc_edge_create(&edge, &nats, hub, loop, &ec, err, sizeof err);
        api.edge = edge;
        if (rc < 0) goto fail;
    }
    api.hub = hub;
    api.streams = &streams;
    fc_hub_set_http_handler(hub, fc_http_api_handle, &api);
    if ((rc = fc_hub_start(hub)) < 0) {
        snprintf(err, sizeof err, "cannot start the I/O threads: %s", uv_strerror(rc));
        goto fail;
    }
    if ((rc = fc_streams_start(&streams, err, sizeof err)) < 0) goto fail;
    if (ingest) uv_timer_start(&announce, on_announce, 0, 1000);
    uv_signal_start(&sighup, on_sighup, SIGHUP); /* once everything runs */

    /* The URL lines are the interface of `make run` and of the tests. */
    const char *host = cfg.hub.host;
    int v6 = strchr(host, ':') != NULL, tls = fc_hub_tls(hub);
    printf("framecast: listening on %s://%s%s%s:%d/ (%d I/O threads)\n", tls ? "https" : "http",
           v6 ? "[" : "", host, v6 ? "]" : "", fc_hub_port(hub), cfg.hub.io_threads);
    printf("framecast: open %s://%s%s%s:%d/ in a browser to watch the streams live\n",
           tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", fc_hub_port(hub));
    for (int i = 0; i < cfg.nstreams; i++)
        printf("framecast: stream '%s' at %s://%s%s%s:%d/ws/%s\n", cfg.streams[i].name,
               tls ? "wss" : "ws", v6 ? "[" : "", host, v6 ? "]" : "", fc_hub_port(hub),
               cfg.streams[i].name);
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    /* Back to the default actions: a second signal ends the process at once
     * (the loop that handled the first one no longer runs). */
    uv_signal_stop(&sigint);
    uv_signal_stop(&sigterm);
    uv_signal_stop(&sighup);
    fc_hub_stats st;
    fc_hub_stats_get(hub, -1, &st);
    fc_info("shutting down: sources stop; %llu clients get what is queued for them and close "
            "1001, within %d ms",
            (unsigned long long)st.clients, running.current->hub.drain_timeout_ms);
    exit_code = EXIT_OK;
    /* A batch run says how it ended: a failed stream is not a success. */
    if (cfg.exit_when_done && failed_streams(&streams)) exit_code = EXIT_STREAM_FAILED;
    goto out;

fail:
    fprintf(stderr, "framecast: %s\n", err[0] ? err : fc_strerror(rc));
    if (rc == FC_EINVAL_OPT || rc == FC_EUNKNOWN) exit_code = EXIT_USAGE; /* bad arguments */
out:
    if (streams.current) fc_streams_stop(&streams);
    /* The cluster before the hub: nothing publishes into it from NATS once
     * nats.c's threads have ended. */
    uv_timer_stop(&announce);
    fc_ingest_stop(ingest);
    fc_edge_stop(edge);
    if (cfg.nats) {
        fc_nats_close(&nats);
        fc_nats_shutdown();
    }
    if (hub) fc_hub_stop(hub);
    if (streams.current) fc_streams_destroy(&streams);
    fc_ingest_destroy(ingest);
    fc_hub_destroy(hub);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sighup, NULL);
    uv_close((uv_handle_t *)&ended.async, NULL);
    uv_close((uv_handle_t *)&announce, NULL);
    uv_run(loop, UV_RUN_DEFAULT); /* close callbacks */
    uv_loop_close(loop);
    fc_edge_destroy(edge);
    fc_running_free(&running);
    fc_config_free(&cfg);
    return exit_code;
}
