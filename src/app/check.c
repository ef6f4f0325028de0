/* Checks beyond parsing (see check.h). */
#include "app/check.h"

#include <string.h>

#include "hub/jwt.h"
#include "hub/tls.h"
#include "predict/registry.h"
#include "source/source.h"

/* A stream's problem: the predictor's and source's own messages name the
 * command-line option ("--predictor motion: ..."); the stream may come
 * from a file, where the key has no dashes. */
static void stream_problem(fc_config *cfg, const fc_stream_config *s, const char *err,
                           const char *fallback) {
    if (!err[0]) err = fallback;
    if (strncmp(err, "--", 2) == 0) err += 2;
    fc_config_problem(cfg, "stream '%s': %s", s->name, err);
}

static void check_stream(fc_config *cfg, const fc_stream_config *s) {
    char err[512] = "";
    if (strcmp(s->source, "push") == 0) return; /* no source, no predictor */
    const fc_predictor_api *api = NULL;
    const char *opts = NULL;
    void *plugin = NULL, *instance = NULL;
    if (fc_predictor_lookup(s->predictor, &api, &opts, &plugin, err, sizeof err)) {
        stream_problem(cfg, s, err, "the predictor cannot be found");
    } else if (api->create(opts, &instance, err, sizeof err)) {
        stream_problem(cfg, s, err, "the predictor cannot be created");
    } else {
        api->destroy(instance);
    }
    fc_predictor_unload(plugin);
    fc_source *src = NULL;
    err[0] = 0;
    if (fc_source_open(&src, s->source, err, sizeof err))
        stream_problem(cfg, s, err, "the source cannot be opened");
    fc_source_close(src);
}

void fc_check_config(fc_config *cfg, const fc_config *running) {
    for (int i = 0; i < cfg->nstreams; i++) {
        const fc_stream_config *s = &cfg->streams[i];
        const fc_stream_config *was = running ? fc_config_stream(running, s->name) : NULL;
        if (!was || !fc_stream_config_equal(s, was)) check_stream(cfg, s);
    }
    if (running) return;
    char err[512] = "";
    const fc_hub_config *h = &cfg->hub;
    if (h->tls_cert && h->tls_key) {
        fc_tls *tls = NULL;
        if (fc_tls_create(&tls, h->tls_cert, h->tls_key, h->tls_ciphers, err, sizeof err))
            fc_config_problem(cfg, "%s", err);
        fc_tls_destroy(tls);
    }
    if (h->auth_secret_file || h->auth_public_key) {
        fc_jwt_verifier *v = NULL;
        err[0] = 0;
        if (fc_jwt_verifier_create(&v, h->auth_secret_file, h->auth_public_key, err, sizeof err))
            fc_config_problem(cfg, "%s", err);
        fc_jwt_verifier_destroy(v);
    }
}
