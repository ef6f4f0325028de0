/* framecast's configuration: the command line and, with --config FILE, a
 * file (INI, config_file.h) under it: flags win over the file.
 *
 * One table in config.c describes every option once (its name, which is
 * the flag without "--" and the file's key; its type and bounds; where its
 * value goes; when a change takes effect) and serves the command line, the
 * file and SIGHUP alike (reload.c). A stream is "--stream NAME=SOURCE,k=v"
 * on the command line and a "[stream NAME]" section in the file, with the
 * same keys; each stream may have its own predictor.
 *
 * Parsing never stops at the first problem: every one is recorded (the
 * option or FILE:LINE, the value, what is allowed), for --check-config and
 * for the start to list them all. Main thread. */
#ifndef FC_APP_CONFIG_H
#define FC_APP_CONFIG_H

#include <stddef.h>

#include "app/pipeline.h"
#include "hub/hub.h"

#define FC_MAX_CONFIG_STREAMS FC_HUB_MAX_STREAMS
#define FC_MAX_ORIGINS        32

typedef struct fc_config {
    fc_hub_config hub;
    char host[256];
    const char *listen; /* HOST:PORT as given */
    fc_stream_config streams[FC_MAX_CONFIG_STREAMS];
    int nstreams;
    /* Defaults for streams that do not set their own. */
    const char *predictor;
    int workers;
    int predict_timeout_ms;
    enum fc_slow_policy slow;
    fc_preview_spec preview;
    fc_history_limits history;
    int log_level;
    int log_format;                      /* enum fc_log_format */
    int exit_when_done;                  /* exit once every stream has ended or failed */
    const char *origins[FC_MAX_ORIGINS]; /* --allowed-origin, as given (hub.allowed_origins) */
    const char *file;                    /* --config FILE, or NULL */
    int check_only;                      /* --check-config */
    /* The cluster (docs/cluster.md) */
    const char *nats;          /* --nats URLS, or NULL: a single node */
    int role;                  /* enum fc_role */
    const char *nats_creds;    /* --nats-creds FILE */
    const char *nats_tls_ca;   /* --nats-tls-ca FILE: TLS to NATS */
    const char *nats_tls_cert; /* --nats-tls-cert, --nats-tls-key: a client certificate */
    const char *nats_tls_key;
    /* Every problem found, one line each. */
    char **problems;
    int nproblems;
    int oom; /* an allocation failed while parsing: the configuration is incomplete */
    /* Strings the configuration points to (the file's values, stream parts). */
    char **owned;
    int nowned, owned_cap;
} fc_config;

/* --role: all (sources and clients; with --nats also publishes like an
 * ingest node), ingest (needs --nats), edge (no sources; streams from NATS). */
enum fc_role { FC_ROLE_ALL, FC_ROLE_INGEST, FC_ROLE_EDGE };

enum { FC_CONFIG_OK = 0, FC_CONFIG_EXIT = 1 /* --help or --version printed */ };

/* Parses argv (and the file it names). Returns FC_CONFIG_OK,
 * FC_CONFIG_EXIT, or FC_EINVAL_OPT with every problem in cfg->problems and
 * the first also in err. cfg must be freed with fc_config_free whatever the
 * result. */
int fc_config_parse(fc_config *cfg, int argc, char **argv, char *err, size_t errlen);
void fc_config_free(fc_config *cfg);

/* Records a problem found later (a predictor that cannot be created, a key
 * file that cannot be read), formatted like printf. */
void fc_config_problem(fc_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* When a change of each option takes effect (reload.c). */
enum fc_config_when {
    FC_CONFIG_AT_ONCE,  /* applied on SIGHUP (limits, log level) */
    FC_CONFIG_STREAMS,  /* a stream's definition: SIGHUP restarts the streams it changes */
    FC_CONFIG_RESTART,  /* only when framecast starts again */
    FC_CONFIG_CLI_ONLY, /* not an option of the running server (--config, --help) */
};
/* Calls fn for each option of the server (not a stream's) whose value
 * differs between a and b: its name (without "--"), when a change takes
 * effect, and both values as text. */
typedef void (*fc_config_diff_fn)(void *ud, const char *name, enum fc_config_when when,
                                  const char *was, const char *now);
void fc_config_diff(const fc_config *a, const fc_config *b, fc_config_diff_fn fn, void *ud);
/* 1 if two streams are defined alike (their effective settings). */
int fc_stream_config_equal(const fc_stream_config *a, const fc_stream_config *b);
/* The stream named name, or NULL. */
const fc_stream_config *fc_config_stream(const fc_config *cfg, const char *name);

#endif
