/* framecast's configuration (see config.h): one table of options for the
 * command line, the file and SIGHUP.
 *
 * The order of work: the command line is read first (so --config is known
 * and --help answers at once), then the file is applied over the defaults,
 * then the command line over the file. Each value goes through the same
 * setter whatever its origin; only the name in a problem differs
 * ("--workers" or "cams.conf:7: workers"). Streams are merged by name: a
 * --stream NAME replaces the file's [stream NAME], the file's other
 * streams stay. --allowed-origin given on the command line replaces the
 * file's list. */
#include "app/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app/config_file.h"
#include "hub/auth.h"
#include "util/error.h"
#include "util/log.h"
#include "util/opts.h"
#include "util/strbuf.h"

static const char usage[] =
    "usage: framecast [options]\n"
    "       framecast token --secret-file FILE [--streams A,B] [--ttl 1h]  (prints a token)\n"
    "\n"
    "Serves per-frame predictions to WebSocket clients at ws://HOST:PORT/ws/<stream>.\n"
    "\n"
    "  --config FILE            read the options from FILE (INI: KEY = VALUE with the\n"
    "                           options' names, a [stream NAME] section per stream; see\n"
    "                           docs/configuration.md); options given here win. SIGHUP\n"
    "                           reads it again\n"
    "  --check-config           check the file and the options, print every problem, exit\n"
    "                           (0: valid, 2: not)\n"
    "  --listen HOST:PORT       address to serve on (127.0.0.1:8080; port 0 picks one)\n"
    "  --source URL             shorthand for --stream demo=URL\n"
    "  --stream NAME=push       a push stream: producers POST its results to\n"
    "                           /api/streams/NAME/publish (a JSON object, or NDJSON)\n"
    "  --stream NAME=URL[,k=v]  a stream; repeatable. Stream keys: slow=drop|latest|close,\n"
    "                           mode=latest|every, workers=N, scale=W|WxH, wait=N (start\n"
    "                           when N clients are subscribed), history=SPEC,\n"
    "                           predict-timeout=MS, and last, predictor=SPEC (the rest of\n"
    "                           the value is the predictor's); other keys go to the source\n"
    "  --predictor NAME[:OPTS]  predictor of the streams without their own, once (null);\n"
    "                           quote it when it has spaces: --predictor 'exec:cmd=python3\n"
    "                           model.py'\n"
    "  --workers N              predictor workers per stream (1)\n"
    "  --predict-timeout MS     report a frame whose prediction takes longer (5000; 0: off)\n"
    "  --slow-policy P          drop|latest|close: what to do with a client over its queue\n"
    "                           bound (drop)\n"
    "  --io-threads N           I/O threads (number of cores)\n"
    "  --queue-bytes SIZE       per-client queue bound (256KiB)\n"
    "  --queue-msgs N           per-client queue bound in messages (4096)\n"
    "  --max-message SIZE       largest message a client may send (64KiB)\n"
    "  --max-head SIZE          largest HTTP request head (8KiB)\n"
    "  --handshake-timeout MS   time allowed for a whole request, else 408 (10000)\n"
    "  --ping-interval MS       ping a client silent this long (20000)\n"
    "  --ping-timeout MS        close a client that does not answer a ping (20000)\n"
    "  --close-timeout MS       wait this long for the peer's close frame (5000)\n"
    "  --write-timeout MS       close a client whose queue has taken nothing this long (30000)\n"
    "  --compression on|off     permessage-deflate for clients that offer it, each result\n"
    "                           compressed once for all of them (on)\n"
    "  --compression-min SIZE   results shorter than this are sent plain (128)\n"
    "  --drain-timeout MS       at SIGTERM/SIGINT: time to deliver what is queued and close\n"
    "                           every client with 1001 (5000)\n"
    "  --max-body SIZE          largest POST body, for push streams' publish API (1MiB)\n"
    "  --tls-cert FILE          serve https:// and wss:// with this PEM certificate chain\n"
    "  --tls-key FILE           ... and its PEM private key (SIGHUP reloads both)\n"
    "  --tls-ciphers LIST       TLS 1.2 cipher list (ECDHE+AESGCM:ECDHE+CHACHA20)\n"
    "  --auth-secret-file FILE  require a JWT (?token= or Authorization: Bearer) on /ws/,\n"
    "                           /api/ and /metrics, signed HS256 with this secret\n"
    "                           (at least 32 bytes; `framecast token` mints tokens)\n"
    "  --auth-public-key FILE   ... or signed RS256/ES256 by this key's private half (PEM)\n"
    "  --auth-leeway DURATION   tolerance on a token's exp and nbf (30s)\n"
    "  --allowed-origin ORIGIN  browser pages allowed to open WebSockets, repeatable:\n"
    "                           https://host[:port], http://host:port, *.example.com\n"
    "                           (https, any subdomain); others get 403 (any origin)\n"
    "  --require-origin         also refuse upgrades without an Origin header (non-browsers)\n"
    "  --max-clients-per-ip N   WebSocket clients per address (IPv6: per /64); more get 429\n"
    "                           (no limit)\n"
    "  --max-connect-rate-per-ip N\n"
    "                           new connections per second per address, N at once at most;\n"
    "                           more get 429 (no limit). A viewer page load takes 5\n"
    "                           connections: give 10 or more where browsers connect\n"
    "  --history SPEC           results kept per stream for clients that resume\n"
    "                           (?since=SEQ&epoch=E): count:N,bytes:SIZE,age:DURATION or off\n"
    "                           (count:300,bytes:4MiB,age:60s; history= per stream)\n"
    "  --max-clients N          WebSocket clients at once; more are answered 503 (from the\n"
    "                           descriptor limit, leaving room for sources and models)\n"
    "  --log-level L            debug|info|warn|error|off (info)\n"
    "  --log-format F           text|logfmt|json: lines on stderr (text)\n"
    "  --preview SPEC           JPEG previews for the viewer, made only while a client with\n"
    "                           ?preview=1 watches: fps:N,width:N,quality:N, or off\n"
    "                           (fps:10,width:640,quality:70)\n"
    "  --exit-when-done         exit once every stream has ended or failed (batch runs):\n"
    "                           status 0 if every stream ended normally, 3 if any failed\n"
    "  --nats URLS              the cluster's NATS servers, nats://HOST:PORT[,...]\n"
    "                           (docs/cluster.md): streams are published there\n"
    "  --role all|ingest|edge   all: sources and clients (with --nats, published too);\n"
    "                           ingest: the same, --nats required; edge: no sources, serves\n"
    "                           the streams the ingest nodes announce (all)\n"
    "  --nats-creds FILE        NATS credentials (a .creds file: user JWT and NKey seed)\n"
    "  --nats-tls-ca FILE       TLS to NATS, servers' certificates checked against this CA\n"
    "  --nats-tls-cert FILE     ... with this client certificate (PEM), and\n"
    "  --nats-tls-key FILE      ... its private key\n"
    "  --help, --version\n"
    "\n"
    "SIZE: bytes, or with a unit: K, M, G (x1000) or KiB, MiB, GiB (x1024), e.g. 1MiB.\n"
    "Exit status: 0 stopped by a signal or done, 1 cannot start, 2 bad arguments or files,\n"
    "3 a stream failed (--exit-when-done).\n"
    "SIGHUP: reads --config again and applies streams added, removed or changed, the limits\n"
    "and the log level; says which changes need a restart; reloads the TLS files.\n"
    "\n"
    "Sources: synthetic:size=WxH,fps=N|max,objects=N,seed=N,noise=N\n"
    "         FILE|rtsp://...|http(s)://...|v4l2:/dev/videoN followed by ,fps=N,loop=0|1,\n"
    "         realtime=0|1,transport=tcp|udp,timeout=S,retries=N,threads=N\n"
    "Predictors (docs/predictors.md):\n"
    "  null                     no detections\n"
    "  motion[:width=N,threshold=N,min_area=N,alpha=X,dilate=N,absorb_s=X]\n"
    "                           moving objects against a background model (pure C)\n"
    "  cascade:model=FILE[,scale_factor=X,min_neighbors=N,min_size=N,width=N,label=S]\n"
    "                           OpenCV cascades, e.g. haarcascade_frontalface_default.xml\n"
    "  people[:scale=X,pyramid=X,min_score=X,nms=X,stride=N]\n"
    "                           OpenCV's HOG pedestrian detector (upright people)\n"
    "  dnn:model=FILE.onnx[,classes=FILE,format=yolov8|yolov5,size=N,conf=X,nms=X]\n"
    "                           an ONNX detection model (YOLOv8, YOLOv5) through OpenCV DNN\n"
    "  exec:[name=S,format=F,width=N,timeout_ms=N,start_timeout_ms=N,give_up_after=N,]\n"
    "       [batch=N,]cmd=COMMAND\n"
    "                           a model in any language, one child process per worker;\n"
    "                           it answers on file descriptor 3 (docs/predictors.md)\n"
    "  fake:count=N,delay_ms=N,busy_ms=N,jitter_ms=N,seed=N,fail_every=N\n"
    "                           synthetic detections at a chosen speed (tests, benchmarks)\n"
    "  /path/libNAME.so[:OPTS]  a C plugin (include/framecast/predictor.h)\n";

/* --- Problems and owned strings -------------------------------------------- */

void fc_config_problem(fc_config *cfg, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **p = realloc(cfg->problems, (size_t)(cfg->nproblems + 1) * sizeof *p);
    if (!p) {
        cfg->oom = 1;
        return;
    }
    cfg->problems = p;
    if ((p[cfg->nproblems] = strdup(line)))
        cfg->nproblems++;
    else
        cfg->oom = 1;
}

#define problem fc_config_problem

/* Keeps s (NULL: an allocation failed, which the parse then reports). */
static char *own(fc_config *cfg, char *s) {
    if (!s) {
        cfg->oom = 1;
        return NULL;
    }
    if (cfg->nowned == cfg->owned_cap) {
        int cap = cfg->owned_cap ? cfg->owned_cap * 2 : 32;
        char **o = realloc(cfg->owned, (size_t)cap * sizeof *o);
        if (!o) {
            free(s);
            cfg->oom = 1;
            return NULL;
        }
        cfg->owned = o;
        cfg->owned_cap = cap;
    }
    return cfg->owned[cfg->nowned++] = s;
}

static const char *own_copy(fc_config *cfg, const char *s) {
    return own(cfg, strdup(s));
}

/* --- Values ----------------------------------------------------------------- */

/* Each parser writes a problem naming where (the option) and returns -1. */

static int parse_long(fc_config *cfg, const char *where, const char *v, long min, long max,
                      long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max) {
        problem(cfg, "%s: '%s' is not valid (expected an integer from %ld to %ld)", where, v, min,
                max);
        return -1;
    }
    *out = x;
    return 0;
}

/* A size in bytes within [min, max] (fc_parse_bytes: "256KiB", "1M"). */
static int parse_bytes(fc_config *cfg, const char *where, const char *v, long min, long max,
                       uint64_t *out) {
    uint64_t x;
    if (fc_parse_bytes(v, &x) || x < (uint64_t)min || x > (uint64_t)max) {
        problem(cfg,
                "%s: '%s' is not valid (expected a size from %ld to %ld bytes: a number, "
                "optionally with K, M, G (x1000) or KiB, MiB, GiB (x1024), e.g. 256KiB or 1M)",
                where, v, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_bool(fc_config *cfg, const char *where, const char *v, int *out) {
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) return *out = 1, 0;
        if (strcasecmp(v, no[i]) == 0) return *out = 0, 0;
    }
    problem(cfg, "%s: '%s' is not valid (expected true or false)", where, v);
    return -1;
}

/* "a, b or c" */
static void list_names(char *out, size_t len, const char *const *names) {
    out[0] = 0;
    for (int i = 0; names[i]; i++) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s",
                 i == 0         ? ""
                 : names[i + 1] ? ", "
                                : " or ",
                 names[i]);
    }
}

static int parse_enum(fc_config *cfg, const char *where, const char *v, const char *const *names,
                      int *out) {
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0) return *out = i, 0;
    char expected[128];
    list_names(expected, sizeof expected, names);
    problem(cfg, "%s: '%s' is not valid (expected %s)", where, v, expected);
    return -1;
}

static const char *const slow_names[] = {"drop", "latest", "close", NULL}; /* enum fc_slow_policy */
static const char *const level_names[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const format_names[] = {"text", "logfmt", "json", NULL};
static const char *const onoff_names[] = {"off", "on", NULL};
static const char *const mode_names[] = {"latest", "every", NULL};
static const char *const role_names[] = {"all", "ingest", "edge", NULL}; /* enum fc_role */

static const fc_preview_spec preview_default = {10, 640, 70};
static const fc_history_limits history_default = {300, 4 << 20, 60000};

/* "fps:N,width:N,quality:N" (any subset; the rest as preview_default) or "off". */
static int parse_preview(fc_config *cfg, const char *where, const char *v, fc_preview_spec *out) {
    fc_preview_spec p = preview_default;
    if (strcmp(v, "off") == 0) {
        *out = (fc_preview_spec){0};
        return 0;
    }
    char *copy = strdup(v), *save = NULL;
    int bad = !copy;
    if (!copy) cfg->oom = 1;
    for (char *tok = strtok_r(copy, ",", &save); tok && !bad; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':'), *end;
        double x = colon ? strtod(colon + 1, &end) : 0;
        if (colon) *colon = 0;
        if (!colon || *end || end == colon + 1)
            bad = 1;
        else if (strcmp(tok, "fps") == 0 && x > 0 && x <= 60)
            p.fps = x;
        else if (strcmp(tok, "width") == 0 && x >= 16 && x <= 7680)
            p.width = (int)x;
        else if (strcmp(tok, "quality") == 0 && x >= 1 && x <= 100)
            p.quality = (int)x;
        else
            bad = 1;
    }
    free(copy);
    if (bad) {
        problem(cfg,
                "%s: '%s' is not valid (expected off, or fps:N (0-60],width:N (16-7680),"
                "quality:N (1-100), e.g. fps:2,width:640,quality:70)",
                where, v);
        return -1;
    }
    *out = p;
    return 0;
}

/* "count:N,bytes:SIZE,age:DURATION" (any subset; the rest as
 * history_default) or "off". */
static int parse_history(fc_config *cfg, const char *where, const char *v, fc_history_limits *out) {
    fc_history_limits h = history_default;
    if (strcmp(v, "off") == 0) {
        *out = (fc_history_limits){0, 0, 0};
        return 0;
    }
    char *copy = strdup(v), *save = NULL;
    int bad = !copy || !*v;
    if (!copy) cfg->oom = 1;
    for (char *tok = strtok_r(copy, ",", &save); tok && !bad; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        uint64_t n = 0;
        int64_t ms = 0;
        if (!colon) {
            bad = 1;
            continue;
        }
        *colon++ = 0;
        if (strcmp(tok, "count") == 0 && !fc_parse_bytes(colon, &n) && n >= 1 && n <= 1000000)
            h.count = (unsigned)n;
        else if (strcmp(tok, "bytes") == 0 && !fc_parse_bytes(colon, &n) && n >= 1 &&
                 n <= (uint64_t)1 << 40)
            h.bytes = (size_t)n;
        else if (strcmp(tok, "age") == 0 && !fc_parse_duration_ms(colon, &ms) && ms >= 1)
            h.age_ms = ms;
        else
            bad = 1;
    }
    free(copy);
    if (bad) {
        problem(cfg,
                "%s: '%s' is not valid (expected off, or count:N,bytes:SIZE,age:DURATION, "
                "e.g. count:300,bytes:4MiB,age:60s)",
                where, v);
        return -1;
    }
    *out = h;
    return 0;
}

/* --- Streams ------------------------------------------------------------------ */

/* Where each part of the configuration came from, while parsing. */
enum layer { FROM_FILE, FROM_CLI };

typedef struct parser {
    fc_config *cfg;
    enum layer layer;
    /* per stream, while it is being defined */
    enum layer stream_layer[FC_MAX_CONFIG_STREAMS];
    int stream_line[FC_MAX_CONFIG_STREAMS];        /* its [stream NAME] line (file) */
    const char *stream_src[FC_MAX_CONFIG_STREAMS]; /* its source, before the source's keys */
    fc_strbuf stream_opts[FC_MAX_CONFIG_STREAMS];  /* ",k=v" the source takes */
    fc_stream_config scratch;                      /* what a rejected stream's keys go to */
    int section_stream;                            /* the file's current stream, or -1 */
    int in_section;                                /* the file is past a [section] line */
    int cli_origins; /* the command line gave --allowed-origin: the file's are gone */
    int *file_line;  /* per option: the file's line that set it (given twice?) */
    int cli_predictor_given;
    const char *file; /* for where */
} parser;

static int valid_name(const char *s, size_t n) {
    if (n == 0 || n > FC_HUB_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
            return 0;
    return 1;
}

static int find_stream(const fc_config *cfg, const char *name, size_t n) {
    for (int i = 0; i < cfg->nstreams; i++)
        if (strncmp(cfg->streams[i].name, name, n) == 0 && cfg->streams[i].name[n] == 0) return i;
    return -1;
}

/* A new stream named name (n bytes), or the one of that name the file
 * defined when the command line redefines it. Returns its index, or -1
 * (the problem recorded). */
static int new_stream(parser *ps, const char *where, const char *name, size_t n) {
    fc_config *cfg = ps->cfg;
    if (!valid_name(name, n)) {
        problem(cfg,
                "%s: '%.*s' is not a valid stream name (expected 1 to %d letters, digits, "
                "'_', '.', '-')",
                where, (int)n, name, FC_HUB_NAME_MAX);
        return -1;
    }
    int i = find_stream(cfg, name, n);
    if (i >= 0 && ps->stream_layer[i] == ps->layer) {
        if (ps->layer == FROM_FILE)
            problem(cfg, "%s: stream '%.*s' is given twice (first at line %d)", where, (int)n, name,
                    ps->stream_line[i]);
        else
            problem(cfg, "%s: stream '%.*s' is given twice", where, (int)n, name);
        return -1;
    }
    if (i < 0 && cfg->nstreams == FC_MAX_CONFIG_STREAMS) {
        problem(cfg, "%s: too many streams (at most %d)", where, FC_MAX_CONFIG_STREAMS);
        return -1;
    }
    const char *copy = own(cfg, strndup(name, n));
    if (!copy) return -1; /* out of memory: the parse says so */
    if (i < 0)
        i = cfg->nstreams++;
    else
        fc_sb_free(&ps->stream_opts[i]); /* the command line's definition replaces the file's */
    cfg->streams[i] = (fc_stream_config){
        .name = copy, .mode = FC_SLOT_LATEST, .slow = -1, .predict_timeout_ms = -1};
    ps->stream_layer[i] = ps->layer;
    ps->stream_src[i] = NULL;
    fc_sb_init(&ps->stream_opts[i], 64);
    return i;
}

/* One key of a stream: a stream key, or (any other) one for the source. */
static void stream_key(parser *ps, int i, const char *where, const char *key, const char *v) {
    fc_config *cfg = ps->cfg;
    fc_stream_config *s = i >= 0 ? &cfg->streams[i] : &ps->scratch;
    char w[320];
    snprintf(w, sizeof w, "%s%s", where, key);
    long n;
    int e;
    if (strcmp(key, "predictor") == 0) {
        if (!*v)
            problem(cfg, "%s: a predictor is required (e.g. motion, or exec:cmd=...)", w);
        else
            s->predictor = own_copy(cfg, v);
    } else if (strcmp(key, "workers") == 0) {
        if (!parse_long(cfg, w, v, 1, 64, &n)) s->workers = (int)n;
    } else if (strcmp(key, "predict-timeout") == 0) {
        if (!parse_long(cfg, w, v, 0, 3600 * 1000, &n)) s->predict_timeout_ms = (int)n;
    } else if (strcmp(key, "wait") == 0) {
        if (!parse_long(cfg, w, v, 0, 100000, &n)) s->wait_clients = (int)n;
    } else if (strcmp(key, "slow") == 0) {
        if (!parse_enum(cfg, w, v, slow_names, &e)) s->slow = (enum fc_slow_policy)e;
    } else if (strcmp(key, "mode") == 0) {
        if (!parse_enum(cfg, w, v, mode_names, &e)) s->mode = e ? FC_SLOT_EVERY : FC_SLOT_LATEST;
    } else if (strcmp(key, "scale") == 0) {
        char *end;
        long wd = strtol(v, &end, 10);
        if (*end == 0 && wd >= 2 && wd <= 16384) {
            s->scale_w = (int)wd;
            s->scale_h = 0;
        } else if (fc_parse_size(v, &s->scale_w, &s->scale_h)) {
            problem(cfg,
                    "%s: '%s' is not valid (expected a width, keeping the aspect ratio, or WxH)", w,
                    v);
        }
    } else if (strcmp(key, "history") == 0) {
        if (!parse_history(cfg, w, v, &s->history)) s->has_history = 1;
    } else if (strcmp(key, "source") == 0 && ps->layer == FROM_FILE) {
        if (!*v)
            problem(cfg, "%s: a source is required (a file, a URL, synthetic: or push)", w);
        else if (i >= 0)
            ps->stream_src[i] = own_copy(cfg, v);
    } else if (i >= 0) { /* the source's own key, checked when the source opens */
        fc_sb_printf(&ps->stream_opts[i], ",%s=%s", key, v);
    }
}

/* 1 for a token that continues a history= value ("bytes:4MiB"). */
static int history_part(const char *tok) {
    return strncmp(tok, "count:", 6) == 0 || strncmp(tok, "bytes:", 6) == 0 ||
           strncmp(tok, "age:", 4) == 0;
}

/* "NAME=URL[,key=value...]" from the command line (opt: "--stream"). Its
 * keys are the file's stream keys; history= takes the parts after it that
 * are history parts; predictor= takes the rest of the value, commas
 * included (a predictor's options have commas of their own). */
static void cli_stream(parser *ps, const char *opt, const char *v) {
    fc_config *cfg = ps->cfg;
    const char *eq = strchr(v, '=');
    if (!eq || !eq[1]) {
        problem(cfg,
                "%s: '%s' is not valid (expected NAME=URL, NAME of letters, digits, '_', '.', "
                "'-')",
                opt, v);
        return;
    }
    int i = new_stream(ps, opt, v, (size_t)(eq - v));
    char where[128];
    snprintf(where, sizeof where, "%s %.*s: ", opt, (int)(eq - v), v);
    char *copy = strdup(eq + 1);
    if (!copy) {
        cfg->oom = 1;
        return;
    }
    char *pred = strstr(copy, ",predictor=");
    if (pred) { /* the rest is the predictor's */
        *pred = 0;
        stream_key(ps, i, where, "predictor", pred + 11);
    }
    fc_strbuf history;
    fc_sb_init(&history, 64);
    char *save = NULL;
    int first = 1, in_history = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), first = 0) {
        if (first) { /* the URL, with the source's own ':' options (synthetic:size=...) */
            if (i >= 0) ps->stream_src[i] = own_copy(cfg, tok);
            continue;
        }
        if (strncmp(tok, "history=", 8) == 0 || (in_history && history_part(tok))) {
            fc_sb_printf(&history, "%s%s", history.len ? "," : "", in_history ? tok : tok + 8);
            in_history = 1;
            continue;
        }
        in_history = 0;
        char *teq = strchr(tok, '=');
        if (!teq) { /* not a key: part of the source's value */
            if (i >= 0) fc_sb_printf(&ps->stream_opts[i], ",%s", tok);
            continue;
        }
        *teq = 0;
        stream_key(ps, i, where, tok, teq + 1);
    }
    if (history.len) {
        fc_sb_append(&history, "", 1);
        stream_key(ps, i, where, "history", history.data);
    }
    fc_sb_free(&history);
    free(copy);
}

/* --- The options ---------------------------------------------------------------- */

enum kind {
    K_INT,   /* int, within [min, max] */
    K_SIZE,  /* size_t, bytes within [min, max] */
    K_U64,   /* uint64_t, bytes within [min, max] */
    K_STR,   /* const char *, not empty */
    K_BOOL,  /* int: a flag without value; in the file true or false */
    K_ENUM,  /* int: the index of the value in names */
    K_FUNC,  /* set() */
    K_ACTION /* a flag without value the command line acts on (--help) */
};

/* How a K_FUNC option's value is compared and shown (fc_config_diff). */
enum show { S_NONE, S_INT, S_STR, S_ORIGINS };

typedef struct setting {
    const char *name;
    enum kind kind;
    enum fc_config_when when;
    size_t off; /* the field */
    long min, max;
    const char *const *names;
    void (*set)(parser *ps, const struct setting *o, const char *where, const char *v);
    enum show show;
} setting;

#define F(field) offsetof(fc_config, field)

static void set_listen(parser *ps, const setting *o, const char *where, const char *v) {
    (void)o;
    fc_config *cfg = ps->cfg;
    const char *colon = strrchr(v, ':');
    const char *host = v;
    size_t hlen = colon ? (size_t)(colon - v) : 0;
    if (colon && v[0] == '[' && hlen >= 2 && colon[-1] == ']') { /* [::1]:8080 */
        host = v + 1;
        hlen -= 2;
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || hlen == 0 || hlen >= sizeof cfg->host || end == colon + 1 || *end || port < 0 ||
        port > 65535) {
        problem(cfg, "%s: '%s' is not valid (expected HOST:PORT, e.g. 127.0.0.1:8080)", where, v);
        return;
    }
    memcpy(cfg->host, host, hlen);
    cfg->host[hlen] = 0;
    cfg->hub.host = cfg->host;
    cfg->hub.port = (int)port;
    cfg->listen = own_copy(cfg, v);
}

static void set_stream(parser *ps, const setting *o, const char *where, const char *v) {
    if (strcmp(o->name, "source") == 0) { /* --source URL: --stream demo=URL */
        char spec[8192];
        snprintf(spec, sizeof spec, "demo=%s", v);
        cli_stream(ps, where, spec);
    } else {
        cli_stream(ps, where, v);
    }
}

static void set_predictor(parser *ps, const setting *o, const char *where, const char *v) {
    (void)o;
    fc_config *cfg = ps->cfg;
    if (!*v) {
        problem(cfg, "%s: a predictor is required (e.g. motion, or exec:cmd=...)", where);
        return;
    }
    /* A second --predictor used to replace the first without a word: it is
     * the default of every stream, so twice is a mistake. */
    if (ps->layer == FROM_CLI && ps->cli_predictor_given++) {
        problem(cfg,
                "%s: given twice ('%s', then '%s'); it is the predictor of every stream "
                "without its own: give it once, and a stream its own predictor with "
                "--stream NAME=URL,predictor=SPEC (last) or predictor = SPEC in its "
                "[stream NAME] section of --config",
                where, cfg->predictor, v);
        return;
    }
    cfg->predictor = own_copy(cfg, v);
}

static void set_preview(parser *ps, const setting *o, const char *where, const char *v) {
    (void)o;
    parse_preview(ps->cfg, where, v, &ps->cfg->preview);
}

static void set_history(parser *ps, const setting *o, const char *where, const char *v) {
    (void)o;
    parse_history(ps->cfg, where, v, &ps->cfg->history);
}

static void set_leeway(parser *ps, const setting *o, const char *where, const char *v) {
    (void)o;
    int64_t ms;
    if (fc_parse_duration_ms(v, &ms) || ms > 3600 * 1000 || ms % 1000) {
        problem(ps->cfg, "%s: '%s' is not valid (expected whole seconds from 0 to 1h, e.g. 30s)",
                where, v);
        return;
    }
    ps->cfg->hub.auth_leeway_s = (int)(ms / 1000);
}

static void set_origin(parser *ps, const setting *o, const char *where, const char *v) {
    (void)o;
    fc_config *cfg = ps->cfg;
    if (ps->layer == FROM_CLI && !ps->cli_origins++) cfg->hub.nallowed_origins = 0;
    const char *why = fc_auth_origin_check(v);
    if (why) {
        problem(cfg,
                "%s: '%s' is not valid: %s (expected SCHEME://HOST[:PORT] as a browser sends "
                "it, e.g. https://cams.example.com, http://localhost:8080 or "
                "https://*.example.com)",
                where, v, why);
        return;
    }
    if (cfg->hub.nallowed_origins == FC_MAX_ORIGINS) {
        problem(cfg, "%s: at most %d", where, FC_MAX_ORIGINS);
        return;
    }
    cfg->origins[cfg->hub.nallowed_origins++] = own_copy(cfg, v);
    cfg->hub.allowed_origins = cfg->origins;
}

static void action(parser *ps, const setting *o, const char *where, const char *v) {
    (void)o, (void)v;
    problem(ps->cfg, "%s: only on the command line", where);
}

/* Designated initializers: the fields an entry leaves out are 0. */
#define NUM(n, k, w, field, lo, hi)                                                                \
    { .name = n, .kind = k, .when = w, .off = F(field), .min = lo, .max = hi }
#define VAL(n, k, w, field)                                                                        \
    { .name = n, .kind = k, .when = w, .off = F(field) }
#define ENUM(n, w, field, list)                                                                    \
    { .name = n, .kind = K_ENUM, .when = w, .off = F(field), .names = list }
#define FUNC(n, w, fn)                                                                             \
    { .name = n, .kind = K_FUNC, .when = w, .set = fn }
#define SHOWN(n, w, fn, field, how)                                                                \
    { .name = n, .kind = K_FUNC, .when = w, .set = fn, .off = F(field), .show = how }

static const setting settings[] = {
    VAL("config", K_STR, FC_CONFIG_CLI_ONLY, file),
    VAL("check-config", K_BOOL, FC_CONFIG_CLI_ONLY, check_only),
    {.name = "help", .kind = K_ACTION, .when = FC_CONFIG_CLI_ONLY, .set = action},
    {.name = "version", .kind = K_ACTION, .when = FC_CONFIG_CLI_ONLY, .set = action},
    SHOWN("listen", FC_CONFIG_RESTART, set_listen, listen, S_STR),
    FUNC("source", FC_CONFIG_STREAMS, set_stream),
    FUNC("stream", FC_CONFIG_STREAMS, set_stream),
    FUNC("predictor", FC_CONFIG_STREAMS, set_predictor),
    NUM("workers", K_INT, FC_CONFIG_STREAMS, workers, 1, 64),
    NUM("predict-timeout", K_INT, FC_CONFIG_STREAMS, predict_timeout_ms, 0, 3600000),
    ENUM("slow-policy", FC_CONFIG_STREAMS, slow, slow_names),
    FUNC("history", FC_CONFIG_STREAMS, set_history),
    FUNC("preview", FC_CONFIG_STREAMS, set_preview),
    NUM("io-threads", K_INT, FC_CONFIG_RESTART, hub.io_threads, 1, 256),
    NUM("queue-bytes", K_SIZE, FC_CONFIG_AT_ONCE, hub.queue_bytes, 1024, 1L << 30),
    NUM("queue-msgs", K_INT, FC_CONFIG_AT_ONCE, hub.queue_msgs, 1, 1 << 20),
    NUM("max-message", K_U64, FC_CONFIG_AT_ONCE, hub.max_message, 125, 1L << 30),
    NUM("max-head", K_SIZE, FC_CONFIG_AT_ONCE, hub.head_limit, 512, 1 << 20),
    NUM("max-body", K_SIZE, FC_CONFIG_AT_ONCE, hub.max_body, 64, 1L << 30),
    NUM("handshake-timeout", K_INT, FC_CONFIG_AT_ONCE, hub.handshake_timeout_ms, 10, 3600000),
    NUM("ping-interval", K_INT, FC_CONFIG_AT_ONCE, hub.ping_interval_ms, 10, 3600000),
    NUM("ping-timeout", K_INT, FC_CONFIG_AT_ONCE, hub.ping_timeout_ms, 10, 3600000),
    NUM("close-timeout", K_INT, FC_CONFIG_AT_ONCE, hub.close_timeout_ms, 10, 3600000),
    NUM("write-timeout", K_INT, FC_CONFIG_AT_ONCE, hub.write_timeout_ms, 10, 3600000),
    NUM("drain-timeout", K_INT, FC_CONFIG_AT_ONCE, hub.drain_timeout_ms, 0, 3600000),
    NUM("max-clients", K_INT, FC_CONFIG_AT_ONCE, hub.max_clients, 1, 10000000),
    ENUM("log-level", FC_CONFIG_AT_ONCE, log_level, level_names),
    ENUM("log-format", FC_CONFIG_AT_ONCE, log_format, format_names),
    ENUM("compression", FC_CONFIG_RESTART, hub.compression, onoff_names),
    NUM("compression-min", K_SIZE, FC_CONFIG_RESTART, hub.compression_min, 0, 1L << 30),
    VAL("tls-cert", K_STR, FC_CONFIG_RESTART, hub.tls_cert),
    VAL("tls-key", K_STR, FC_CONFIG_RESTART, hub.tls_key),
    VAL("tls-ciphers", K_STR, FC_CONFIG_RESTART, hub.tls_ciphers),
    VAL("auth-secret-file", K_STR, FC_CONFIG_RESTART, hub.auth_secret_file),
    VAL("auth-public-key", K_STR, FC_CONFIG_RESTART, hub.auth_public_key),
    SHOWN("auth-leeway", FC_CONFIG_RESTART, set_leeway, hub.auth_leeway_s, S_INT),
    {.name = "allowed-origin",
     .kind = K_FUNC,
     .when = FC_CONFIG_RESTART,
     .set = set_origin,
     .show = S_ORIGINS},
    VAL("require-origin", K_BOOL, FC_CONFIG_RESTART, hub.require_origin),
    NUM("max-clients-per-ip", K_INT, FC_CONFIG_RESTART, hub.max_clients_per_ip, 1, 1000000),
    NUM("max-connect-rate-per-ip", K_INT, FC_CONFIG_RESTART, hub.max_connect_rate_per_ip, 1,
        1000000),
    VAL("exit-when-done", K_BOOL, FC_CONFIG_RESTART, exit_when_done),
    VAL("nats", K_STR, FC_CONFIG_RESTART, nats),
    ENUM("role", FC_CONFIG_RESTART, role, role_names),
    VAL("nats-creds", K_STR, FC_CONFIG_RESTART, nats_creds),
    VAL("nats-tls-ca", K_STR, FC_CONFIG_RESTART, nats_tls_ca),
    VAL("nats-tls-cert", K_STR, FC_CONFIG_RESTART, nats_tls_cert),
    VAL("nats-tls-key", K_STR, FC_CONFIG_RESTART, nats_tls_key),
};
#define NOPTIONS ((int)(sizeof settings / sizeof settings[0]))

/* Options a file may set more than once (each line adds one). */
static int repeatable(const setting *o) {
    return o->set == set_origin || o->set == set_stream;
}

/* Sets option o from v; where names it in a problem. */
static void apply(parser *ps, const setting *o, const char *where, const char *v) {
    fc_config *cfg = ps->cfg;
    void *field = (char *)cfg + o->off;
    long n;
    uint64_t b;
    int e;
    switch (o->kind) {
    case K_INT:
        if (!parse_long(cfg, where, v, o->min, o->max, &n)) *(int *)field = (int)n;
        break;
    case K_SIZE:
        if (!parse_bytes(cfg, where, v, o->min, o->max, &b)) *(size_t *)field = (size_t)b;
        break;
    case K_U64:
        if (!parse_bytes(cfg, where, v, o->min, o->max, &b)) *(uint64_t *)field = b;
        break;
    case K_STR:
        if (!*v)
            problem(cfg, "%s: a value is required", where);
        else
            *(const char **)field = own_copy(cfg, v);
        break;
    case K_BOOL:
        if (!v)
            *(int *)field = 1;
        else if (!parse_bool(cfg, where, v, &e))
            *(int *)field = e;
        break;
    case K_ENUM:
        if (!parse_enum(cfg, where, v, o->names, &e)) *(int *)field = e;
        break;
    case K_FUNC:
    case K_ACTION:
        o->set(ps, o, where, v);
        break;
    }
}

static const setting *find_option(const char *name) {
    for (int i = 0; i < NOPTIONS; i++)
        if (strcmp(settings[i].name, name) == 0) return &settings[i];
    return NULL;
}

/* --- The file ------------------------------------------------------------------- */

static void file_problem(void *ud, int line, const char *what) {
    parser *ps = ud;
    if (line)
        problem(ps->cfg, "%s:%d: %s", ps->file, line, what);
    else
        problem(ps->cfg, "--config: cannot read '%s': %s", ps->file, what);
}

static void file_section(void *ud, const char *section, int line) {
    parser *ps = ud;
    ps->in_section = 1;
    ps->section_stream = -1;
    char where[600];
    snprintf(where, sizeof where, "%s:%d: [%s]", ps->file, line, section);
    if (strncmp(section, "stream", 6) != 0 || (section[6] != ' ' && section[6] != '\t')) {
        problem(ps->cfg, "%s: unknown section (expected [stream NAME])", where);
        return;
    }
    const char *name = section + 7;
    while (*name == ' ' || *name == '\t') name++;
    int i = new_stream(ps, where, name, strlen(name));
    if (i >= 0) ps->stream_line[i] = line;
    ps->section_stream = i;
}

static void file_entry(void *ud, const char *section, const char *key, const char *value,
                       int line) {
    parser *ps = ud;
    char where[700];
    if (ps->in_section) {
        snprintf(where, sizeof where, "%s:%d: [%s] ", ps->file, line, section);
        stream_key(ps, ps->section_stream, where, key, value);
        return;
    }
    snprintf(where, sizeof where, "%s:%d: %s", ps->file, line, key);
    const setting *o = find_option(key);
    if (!o) {
        char dashed[64];
        snprintf(dashed, sizeof dashed, "%s", key);
        for (char *p = dashed; *p; p++)
            if (*p == '_') *p = '-';
        if (strcmp(dashed, key) != 0 && find_option(dashed))
            problem(ps->cfg, "%s: unknown option (did you mean %s?)", where, dashed);
        else
            problem(ps->cfg,
                    "%s: unknown option (the options are the long command-line options "
                    "without --, see framecast --help; a stream is a [stream NAME] section)",
                    where);
        return;
    }
    if (o->when == FC_CONFIG_CLI_ONLY) {
        problem(ps->cfg, "%s: only on the command line", where);
        return;
    }
    int k = (int)(o - settings);
    if (ps->file_line[k] && !repeatable(o)) {
        problem(ps->cfg, "%s: given twice (first at line %d)", where, ps->file_line[k]);
        return;
    }
    ps->file_line[k] = line;
    apply(ps, o, where, value);
}

/* --- Parsing -------------------------------------------------------------------- */

static void defaults(fc_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    fc_hub_config_defaults(&cfg->hub);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->hub.io_threads = ncpu > 0 ? (int)ncpu : 1;
    snprintf(cfg->host, sizeof cfg->host, "%s", "127.0.0.1");
    cfg->hub.host = cfg->host;
    cfg->listen = "127.0.0.1:8080";
    cfg->predictor = "null";
    cfg->workers = 1;
    cfg->predict_timeout_ms = 5000;
    cfg->slow = FC_SLOW_DROP;
    cfg->log_level = FC_LOG_INFO;
    cfg->preview = preview_default;
    cfg->history = history_default;
    cfg->hub.max_clients = 0; /* derived from the descriptor limit at start */
}

/* Each stream's source with its keys, and the defaults of what it does not
 * set itself. */
static void finish_streams(parser *ps) {
    fc_config *cfg = ps->cfg;
    if (cfg->role == FC_ROLE_EDGE && cfg->nstreams) {
        problem(cfg, "--role edge: an edge runs no streams of its own (it serves those the "
                     "ingest nodes announce on NATS); remove --stream and --source");
    } else if (cfg->nstreams == 0 && cfg->role != FC_ROLE_EDGE) {
        ps->layer = FROM_CLI;
        cli_stream(ps, "--source", "demo=synthetic:size=640x360,fps=30,objects=3,seed=1");
    }
    for (int i = 0; i < cfg->nstreams; i++) {
        fc_stream_config *s = &cfg->streams[i];
        fc_strbuf *opts = &ps->stream_opts[i];
        if (!ps->stream_src[i]) {
            problem(cfg,
                    "%s:%d: [stream %s]: source is missing (a file, a URL, synthetic:... or "
                    "push)",
                    ps->file, ps->stream_line[i], s->name);
        } else if (strcmp(ps->stream_src[i], "push") == 0 && opts->len) {
            problem(cfg, "stream '%s': a push stream takes no source options ('%.*s')", s->name,
                    (int)opts->len - 1, opts->data + 1);
        } else {
            char *src = malloc(strlen(ps->stream_src[i]) + opts->len + 1);
            if (src) {
                strcpy(src, ps->stream_src[i]);
                memcpy(src + strlen(src), opts->data, opts->len);
                src[strlen(ps->stream_src[i]) + opts->len] = 0;
            }
            s->source = own(cfg, src);
        }
        if (!s->source) s->source = "push"; /* a stream with problems: never run */
        if (!s->predictor) s->predictor = cfg->predictor;
        if (!s->workers) s->workers = cfg->workers;
        if ((int)s->slow < 0) s->slow = cfg->slow;
        if (s->predict_timeout_ms < 0) s->predict_timeout_ms = cfg->predict_timeout_ms;
        if (!s->has_history) s->history = cfg->history;
        s->preview = cfg->preview;
    }
}

int fc_config_parse(fc_config *cfg, int argc, char **argv, char *err, size_t errlen) {
    defaults(cfg);
    struct option longopts[NOPTIONS + 1];
    for (int i = 0; i < NOPTIONS; i++)
        longopts[i] = (struct option){settings[i].name,
                                      settings[i].kind == K_BOOL || settings[i].kind == K_ACTION
                                          ? no_argument
                                          : required_argument,
                                      NULL, 256 + i};
    longopts[NOPTIONS] = (struct option){0, 0, 0, 0};
    /* First the command line, kept aside: the file comes under it. */
    struct given {
        const setting *o;
        const char *v;
    } *given = calloc((size_t)argc + 1, sizeof *given);
    if (!given) {
        snprintf(err, errlen, "out of memory while reading the configuration");
        return -ENOMEM;
    }
    int ngiven = 0, file_line[NOPTIONS];
    memset(file_line, 0, sizeof file_line);
    parser ps = {.cfg = cfg, .file_line = file_line, .section_stream = -1};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        if (c == ':') {
            problem(cfg, "%s: missing value (see --help)", argv[optind - 1]);
        } else if (c < 256 || c >= 256 + NOPTIONS) {
            problem(cfg, "%s: unknown option (see --help)", argv[optind - 1]);
        } else if (strcmp(settings[c - 256].name, "help") == 0) {
            fputs(usage, stdout);
            free(given);
            return FC_CONFIG_EXIT;
        } else if (strcmp(settings[c - 256].name, "version") == 0) {
            puts("framecast " FC_VERSION);
            free(given);
            return FC_CONFIG_EXIT;
        } else if (given) {
            given[ngiven++] = (struct given){&settings[c - 256], optarg};
        }
    }
    for (int i = optind; i < argc; i++)
        problem(cfg, "'%s': unexpected argument (options start with --; see --help)", argv[i]);
    for (int i = 0; i < ngiven; i++)
        if (strcmp(given[i].o->name, "config") == 0) cfg->file = given[i].v;
    if (cfg->file) {
        static const fc_config_file_cbs cbs = {file_section, file_entry, file_problem};
        ps.layer = FROM_FILE;
        ps.file = cfg->file;
        int rc = fc_config_file_read(cfg->file, &cbs, &ps);
        if (rc < 0) problem(cfg, "--config: cannot open '%s': %s", cfg->file, strerror(-rc));
    }
    ps.layer = FROM_CLI;
    for (int i = 0; i < ngiven; i++) {
        char where[80];
        snprintf(where, sizeof where, "--%s", given[i].o->name);
        apply(&ps, given[i].o, where, given[i].v);
    }
    free(given);
    finish_streams(&ps);
    for (int i = 0; i < FC_MAX_CONFIG_STREAMS; i++) fc_sb_free(&ps.stream_opts[i]);
    if (!cfg->hub.tls_cert != !cfg->hub.tls_key)
        problem(cfg, "%s: missing (TLS needs both --tls-cert and --tls-key)",
                cfg->hub.tls_cert ? "--tls-key" : "--tls-cert");
    if (cfg->role != FC_ROLE_ALL && !cfg->nats)
        problem(cfg, "--role %s: needs --nats nats://HOST:PORT (the cluster's NATS servers)",
                role_names[cfg->role]);
    if (!cfg->nats_tls_cert != !cfg->nats_tls_key)
        problem(cfg,
                "%s: missing (a client certificate needs both --nats-tls-cert and "
                "--nats-tls-key)",
                cfg->nats_tls_cert ? "--nats-tls-key" : "--nats-tls-cert");
    if (!cfg->nats && (cfg->nats_creds || cfg->nats_tls_ca || cfg->nats_tls_cert))
        problem(cfg, "--nats-creds, --nats-tls-*: only with --nats");
    if (cfg->oom) { /* what was read may be incomplete: nothing is run from it */
        snprintf(err, errlen, "out of memory while reading the configuration");
        return -ENOMEM;
    }
    if (!cfg->nproblems) return FC_CONFIG_OK;
    snprintf(err, errlen, "%s", cfg->problems[0]);
    return FC_EINVAL_OPT;
}

void fc_config_free(fc_config *cfg) {
    for (int i = 0; i < cfg->nowned; i++) free(cfg->owned[i]);
    for (int i = 0; i < cfg->nproblems; i++) free(cfg->problems[i]);
    free(cfg->owned);
    free(cfg->problems);
    cfg->owned = cfg->problems = NULL;
    cfg->nowned = cfg->owned_cap = cfg->nproblems = 0;
}

/* --- Comparing ------------------------------------------------------------------ */

/* The value of option o in cfg, as text. */
static void show(const fc_config *cfg, const setting *o, char *out, size_t len) {
    const void *field = (const char *)cfg + o->off;
    enum kind k = o->kind;
    if (k == K_FUNC) k = o->show == S_INT ? K_INT : o->show == S_STR ? K_STR : K_FUNC;
    switch (k) {
    case K_INT:
    case K_BOOL:
        snprintf(out, len, "%d", *(const int *)field);
        break;
    case K_SIZE:
        snprintf(out, len, "%zu", *(const size_t *)field);
        break;
    case K_U64:
        snprintf(out, len, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case K_STR: {
        const char *s = *(const char *const *)field;
        snprintf(out, len, "%s", s ? s : "(none)");
        break;
    }
    case K_ENUM:
        snprintf(out, len, "%s", o->names[*(const int *)field]);
        break;
    default: /* S_ORIGINS */
        out[0] = 0;
        for (int i = 0; i < cfg->hub.nallowed_origins; i++) {
            size_t used = strlen(out);
            snprintf(out + used, len - used, "%s%s", i ? " " : "", cfg->origins[i]);
        }
        if (!out[0]) snprintf(out, len, "(any)");
    }
}

void fc_config_diff(const fc_config *a, const fc_config *b, fc_config_diff_fn fn, void *ud) {
    for (int i = 0; i < NOPTIONS; i++) {
        const setting *o = &settings[i];
        if (o->when != FC_CONFIG_AT_ONCE && o->when != FC_CONFIG_RESTART) continue;
        if (o->kind == K_FUNC && o->show == S_NONE) continue;
        char x[1024], y[1024];
        show(a, o, x, sizeof x);
        show(b, o, y, sizeof y);
        if (strcmp(x, y) != 0) fn(ud, o->name, o->when, x, y);
    }
}

static int same_str(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

int fc_stream_config_equal(const fc_stream_config *a, const fc_stream_config *b) {
    return same_str(a->name, b->name) && same_str(a->source, b->source) &&
           same_str(a->predictor, b->predictor) && a->workers == b->workers &&
           a->predict_timeout_ms == b->predict_timeout_ms && a->mode == b->mode &&
           a->slow == b->slow && a->scale_w == b->scale_w && a->scale_h == b->scale_h &&
           a->wait_clients == b->wait_clients && a->preview.fps == b->preview.fps &&
           a->preview.width == b->preview.width && a->preview.quality == b->preview.quality &&
           a->history.count == b->history.count && a->history.bytes == b->history.bytes &&
           a->history.age_ms == b->history.age_ms;
}

const fc_stream_config *fc_config_stream(const fc_config *cfg, const char *name) {
    int i = find_stream(cfg, name, strlen(name));
    return i >= 0 ? &cfg->streams[i] : NULL;
}
