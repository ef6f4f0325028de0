/* Command-line parsing (see config.h). */
#include "app/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hub/auth.h"
#include "util/error.h"
#include "util/log.h"
#include "util/opts.h"

static const char usage[] =
    "usage: framecast [options]\n"
    "       framecast token --secret-file FILE [--streams A,B] [--ttl 1h]  (prints a token)\n"
    "\n"
    "Serves per-frame predictions to WebSocket clients at ws://HOST:PORT/ws/<stream>.\n"
    "\n"
    "  --listen HOST:PORT       address to serve on (127.0.0.1:8080; port 0 picks one)\n"
    "  --source URL             shorthand for --stream demo=URL\n"
    "  --stream NAME=push       a push stream: producers POST its results to\n"
    "                           /api/streams/NAME/publish (a JSON object, or NDJSON)\n"
    "  --stream NAME=URL[,k=v]  a stream; repeatable. Stream keys: slow=drop|latest|close,\n"
    "                           mode=latest|every, workers=N, scale=W|WxH, wait=N (start\n"
    "                           when N clients are subscribed), history=SPEC; other keys\n"
    "                           go to the source\n"
    "  --predictor NAME[:OPTS]  predictor for every stream, once (null); quote it when it\n"
    "                           has spaces: --predictor 'exec:cmd=python3 model.py'\n"
    "  --workers N              predictor workers per stream (1)\n"
    "  --predict-timeout MS     report a frame whose prediction takes longer (5000; 0: off)\n"
    "  --slow-policy P          drop|latest|close: what to do with a client over its queue\n"
    "                           bound (drop)\n"
    "  --io-threads N           I/O threads (number of cores)\n"
    "  --queue-bytes SIZE       per-client queue bound (256KiB)\n"
    "  --queue-msgs N           per-client queue bound in messages (4096)\n"
    "  --max-message SIZE       largest message a client may send (64KiB)\n"
    "  --max-head SIZE          largest HTTP request head (8KiB)\n"
    "  --handshake-timeout MS   time allowed for the request head (10000)\n"
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
    "  --help, --version\n"
    "\n"
    "SIZE: bytes, or with a unit: K, M, G (x1000) or KiB, MiB, GiB (x1024), e.g. 1MiB.\n"
    "Exit status: 0 stopped by a signal or done, 1 cannot start, 2 bad arguments or files,\n"
    "3 a stream failed (--exit-when-done).\n"
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
    "       cmd=COMMAND\n"
    "                           a model in any language, one child process per worker;\n"
    "                           it answers on file descriptor 3 (docs/predictors.md)\n"
    "  fake:count=N,delay_ms=N,busy_ms=N,jitter_ms=N,seed=N,fail_every=N\n"
    "                           synthetic detections at a chosen speed (tests, benchmarks)\n"
    "  /path/libNAME.so[:OPTS]  a C plugin (include/framecast/predictor.h)\n";

static int parse_long(const char *opt, const char *v, long min, long max, long *out, char *err,
                      size_t errlen) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max) {
        snprintf(err, errlen, "%s: '%s' is not valid (expected an integer from %ld to %ld)", opt, v,
                 min, max);
        return FC_EINVAL_OPT;
    }
    *out = x;
    return 0;
}

/* A size in bytes within [min, max] (fc_parse_bytes: "256KiB", "1M"). */
static int parse_bytes(const char *opt, const char *v, long min, long max, long *out, char *err,
                       size_t errlen) {
    uint64_t x;
    if (fc_parse_bytes(v, &x) || x < (uint64_t)min || x > (uint64_t)max) {
        snprintf(err, errlen,
                 "%s: '%s' is not valid (expected a size from %ld to %ld bytes: a number, "
                 "optionally with K, M, G (x1000) or KiB, MiB, GiB (x1024), e.g. 256KiB or 1M)",
                 opt, v, min, max);
        return FC_EINVAL_OPT;
    }
    *out = (long)x;
    return 0;
}

static int parse_listen(fc_config *cfg, const char *v, char *err, size_t errlen) {
    const char *colon = strrchr(v, ':');
    const char *host = v;
    size_t hlen = colon ? (size_t)(colon - v) : 0;
    if (colon && v[0] == '[' && hlen >= 2 && colon[-1] == ']') { /* [::1]:8080 */
        host = v + 1;
        hlen -= 2;
    }
    long port;
    if (!colon || hlen == 0 || hlen >= sizeof cfg->host ||
        parse_long("--listen", colon + 1, 0, 65535, &port, err, errlen)) {
        snprintf(err, errlen,
                 "--listen: '%s' is not valid (expected HOST:PORT, e.g. 127.0.0.1:8080)", v);
        return FC_EINVAL_OPT;
    }
    memcpy(cfg->host, host, hlen);
    cfg->host[hlen] = 0;
    cfg->hub.host = cfg->host;
    cfg->hub.port = (int)port;
    return 0;
}

/* "fps:N,width:N,quality:N" (any subset; the rest as preview_default) or "off". */
static const fc_preview_spec preview_default = {10, 640, 70};

static int parse_preview(fc_config *cfg, const char *v, char *err, size_t errlen) {
    fc_preview_spec p = preview_default;
    if (strcmp(v, "off") == 0) {
        cfg->preview = (fc_preview_spec){0};
        return 0;
    }
    char *copy = strdup(v), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':'), *end;
        double x = colon ? strtod(colon + 1, &end) : 0;
        if (colon) *colon = 0;
        if (!colon || *end || end == colon + 1)
            rc = FC_EINVAL_OPT;
        else if (strcmp(tok, "fps") == 0 && x > 0 && x <= 60)
            p.fps = x;
        else if (strcmp(tok, "width") == 0 && x >= 16 && x <= 7680)
            p.width = (int)x;
        else if (strcmp(tok, "quality") == 0 && x >= 1 && x <= 100)
            p.quality = (int)x;
        else
            rc = FC_EINVAL_OPT;
    }
    free(copy);
    if (rc)
        snprintf(err, errlen,
                 "--preview: '%s' is not valid (expected off, or fps:N (0-60],width:N "
                 "(16-7680),quality:N (1-100), e.g. fps:2,width:640,quality:70)",
                 v);
    else
        cfg->preview = p;
    return rc;
}

static const fc_history_limits history_default = {300, 4 << 20, 60000};

/* "count:N,bytes:SIZE,age:DURATION" (any subset; the rest as
 * history_default) or "off". */
static int parse_history(const char *opt, const char *v, fc_history_limits *out, char *err,
                         size_t errlen) {
    fc_history_limits h = history_default;
    if (strcmp(v, "off") == 0) {
        *out = (fc_history_limits){0, 0, 0};
        return 0;
    }
    char *copy = strdup(v), *save = NULL;
    int rc = copy ? 0 : FC_EINVAL_OPT;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        uint64_t n = 0;
        int64_t ms = 0;
        if (!colon) {
            rc = FC_EINVAL_OPT;
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
            rc = FC_EINVAL_OPT;
    }
    free(copy);
    if (rc)
        snprintf(err, errlen,
                 "%s: '%s' is not valid (expected off, or count:N,bytes:SIZE,age:DURATION, "
                 "e.g. count:300,bytes:4MiB,age:60s)",
                 opt, v);
    else
        *out = h;
    return rc;
}

/* 1 for a token that continues a history= value ("bytes:4MiB"). */
static int history_part(const char *tok) {
    return strncmp(tok, "count:", 6) == 0 || strncmp(tok, "bytes:", 6) == 0 ||
           strncmp(tok, "age:", 4) == 0;
}

static char *own(fc_config *cfg, char *s) {
    cfg->owned[cfg->nowned++] = s;
    return s;
}

static int valid_name(const char *s, size_t n) {
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
            return 0;
    return 1;
}

/* "NAME=URL[,key=value...]": stream keys are taken out, the rest is the source's. */
static int parse_stream(fc_config *cfg, const char *opt, const char *v, char *err, size_t errlen) {
    if (cfg->nstreams == FC_MAX_CONFIG_STREAMS) {
        snprintf(err, errlen, "%s: too many streams (at most %d)", opt, FC_MAX_CONFIG_STREAMS);
        return FC_EINVAL_OPT;
    }
    const char *eq = strchr(v, '=');
    if (!eq || !valid_name(v, (size_t)(eq - v)) || !eq[1]) {
        snprintf(
            err, errlen,
            "%s: '%s' is not valid (expected NAME=URL, NAME of letters, digits, '_', '.', '-')",
            opt, v);
        return FC_EINVAL_OPT;
    }
    fc_stream_config *s = &cfg->streams[cfg->nstreams];
    *s =
        (fc_stream_config){.workers = 0, .mode = FC_SLOT_LATEST, .slow = (enum fc_slow_policy) - 1};
    for (int i = 0; i < cfg->nstreams; i++)
        if (strncmp(cfg->streams[i].name, v, (size_t)(eq - v)) == 0 &&
            cfg->streams[i].name[eq - v] == 0) {
            snprintf(err, errlen, "%s: stream '%.*s' is given twice", opt, (int)(eq - v), v);
            return FC_EINVAL_OPT;
        }
    s->name = own(cfg, strndup(v, (size_t)(eq - v)));
    char *src = own(cfg, malloc(strlen(eq) + 1));
    src[0] = 0;
    char *copy = strdup(eq + 1);
    char *save = NULL;
    char history[256] = "";
    int first = 1, rc = 0, in_history = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        if (!first) {
            long n = 0;
            /* history=count:300,bytes:4MiB,age:60s: its parts follow the key */
            if (strncmp(tok, "history=", 8) == 0 || (in_history && history_part(tok))) {
                in_history = 1;
                size_t used = strlen(history);
                snprintf(history + used, sizeof history - used, "%s%s", used ? "," : "",
                         used ? tok : tok + 8);
                continue;
            }
            in_history = 0;
            if (strncmp(tok, "slow=", 5) == 0) {
                int p = fc_slow_policy_parse(tok + 5);
                if (p < 0) {
                    snprintf(err, errlen,
                             "%s %s: slow='%s' is not valid (expected drop, latest or close)", opt,
                             s->name, tok + 5);
                    rc = FC_EINVAL_OPT;
                }
                s->slow = (enum fc_slow_policy)p;
                continue;
            }
            if (strncmp(tok, "mode=", 5) == 0) {
                if (strcmp(tok + 5, "latest") == 0)
                    s->mode = FC_SLOT_LATEST;
                else if (strcmp(tok + 5, "every") == 0)
                    s->mode = FC_SLOT_EVERY;
                else {
                    snprintf(err, errlen,
                             "%s %s: mode='%s' is not valid (expected latest or every)", opt,
                             s->name, tok + 5);
                    rc = FC_EINVAL_OPT;
                }
                continue;
            }
            if (strncmp(tok, "scale=", 6) == 0) {
                const char *v = tok + 6;
                char *end;
                long w = strtol(v, &end, 10);
                if (*end == 0 && w >= 2 && w <= 16384) {
                    s->scale_w = (int)w;
                } else if (fc_parse_size(v, &s->scale_w, &s->scale_h)) {
                    snprintf(err, errlen,
                             "%s %s: scale='%s' is not valid (expected a width, keeping the aspect "
                             "ratio, or WxH)",
                             opt, s->name, v);
                    rc = FC_EINVAL_OPT;
                }
                continue;
            }
            if (strncmp(tok, "wait=", 5) == 0) {
                char o[128];
                snprintf(o, sizeof o, "%s %s: wait", opt, s->name);
                rc = parse_long(o, tok + 5, 0, 100000, &n, err, errlen);
                s->wait_clients = (int)n;
                continue;
            }
            if (strncmp(tok, "workers=", 8) == 0) {
                char o[128];
                snprintf(o, sizeof o, "%s %s: workers", opt, s->name);
                rc = parse_long(o, tok + 8, 1, 64, &n, err, errlen);
                s->workers = (int)n;
                continue;
            }
            strcat(src, ",");
        }
        strcat(src, tok);
        first = 0;
    }
    free(copy);
    if (!rc && history[0]) {
        char o[128];
        snprintf(o, sizeof o, "%s %s: history", opt, s->name);
        rc = parse_history(o, history, &s->history, err, errlen);
        s->has_history = !rc;
    }
    if (rc) return rc;
    s->source = src;
    cfg->nstreams++;
    return 0;
}

int fc_config_parse(fc_config *cfg, int argc, char **argv, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    fc_hub_config_defaults(&cfg->hub);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->hub.io_threads = ncpu > 0 ? (int)ncpu : 1;
    snprintf(cfg->host, sizeof cfg->host, "%s", "127.0.0.1");
    cfg->hub.host = cfg->host;
    cfg->predictor = "null";
    cfg->workers = 1;
    cfg->predict_timeout_ms = 5000;
    cfg->slow = FC_SLOW_DROP;
    cfg->log_level = FC_LOG_INFO;
    cfg->preview = preview_default;
    cfg->history = history_default;
    cfg->hub.max_clients = 0; /* derived from the descriptor limit at start */

    enum {
        O_LISTEN = 256,
        O_SOURCE,
        O_STREAM,
        O_PREDICTOR,
        O_WORKERS,
        O_SLOW,
        O_IO,
        O_QBYTES,
        O_QMSGS,
        O_MAXMSG,
        O_MAXHEAD,
        O_HS_TO,
        O_PING_IV,
        O_PING_TO,
        O_CLOSE_TO,
        O_LOG,
        O_HELP,
        O_VERSION,
        O_EXIT_DONE,
        O_PREVIEW,
        O_PRED_TO,
        O_WRITE_TO,
        O_MAX_CLIENTS,
        O_HISTORY,
        O_TLS_CERT,
        O_TLS_KEY,
        O_TLS_CIPHERS,
        O_DRAIN_TO,
        O_MAX_BODY,
        O_LOG_FORMAT,
        O_COMPRESSION,
        O_COMPRESSION_MIN,
        O_AUTH_SECRET,
        O_AUTH_KEY,
        O_AUTH_LEEWAY,
        O_ALLOWED_ORIGIN,
        O_REQUIRE_ORIGIN,
        O_MAX_CLIENTS_IP,
        O_MAX_RATE_IP
    };
    static const struct option longopts[] = {
        {"listen", required_argument, 0, O_LISTEN},
        {"source", required_argument, 0, O_SOURCE},
        {"stream", required_argument, 0, O_STREAM},
        {"predictor", required_argument, 0, O_PREDICTOR},
        {"workers", required_argument, 0, O_WORKERS},
        {"slow-policy", required_argument, 0, O_SLOW},
        {"io-threads", required_argument, 0, O_IO},
        {"queue-bytes", required_argument, 0, O_QBYTES},
        {"queue-msgs", required_argument, 0, O_QMSGS},
        {"max-message", required_argument, 0, O_MAXMSG},
        {"max-head", required_argument, 0, O_MAXHEAD},
        {"handshake-timeout", required_argument, 0, O_HS_TO},
        {"ping-interval", required_argument, 0, O_PING_IV},
        {"ping-timeout", required_argument, 0, O_PING_TO},
        {"close-timeout", required_argument, 0, O_CLOSE_TO},
        {"log-level", required_argument, 0, O_LOG},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {"exit-when-done", no_argument, 0, O_EXIT_DONE},
        {"preview", required_argument, 0, O_PREVIEW},
        {"predict-timeout", required_argument, 0, O_PRED_TO},
        {"write-timeout", required_argument, 0, O_WRITE_TO},
        {"max-clients", required_argument, 0, O_MAX_CLIENTS},
        {"history", required_argument, 0, O_HISTORY},
        {"tls-cert", required_argument, 0, O_TLS_CERT},
        {"tls-key", required_argument, 0, O_TLS_KEY},
        {"tls-ciphers", required_argument, 0, O_TLS_CIPHERS},
        {"drain-timeout", required_argument, 0, O_DRAIN_TO},
        {"max-body", required_argument, 0, O_MAX_BODY},
        {"log-format", required_argument, 0, O_LOG_FORMAT},
        {"compression", required_argument, 0, O_COMPRESSION},
        {"compression-min", required_argument, 0, O_COMPRESSION_MIN},
        {"auth-secret-file", required_argument, 0, O_AUTH_SECRET},
        {"auth-public-key", required_argument, 0, O_AUTH_KEY},
        {"auth-leeway", required_argument, 0, O_AUTH_LEEWAY},
        {"allowed-origin", required_argument, 0, O_ALLOWED_ORIGIN},
        {"require-origin", no_argument, 0, O_REQUIRE_ORIGIN},
        {"max-clients-per-ip", required_argument, 0, O_MAX_CLIENTS_IP},
        {"max-connect-rate-per-ip", required_argument, 0, O_MAX_RATE_IP},
        {0, 0, 0, 0},
    };
    opterr = 0;
    optind = 1;
    int c, rc = 0;
    long n = 0;
    while (!rc && (c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        const char *name = c >= O_LISTEN && c <= O_MAX_RATE_IP ? longopts[c - O_LISTEN].name : "";
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", name);
        switch (c) {
        case O_LISTEN:
            rc = parse_listen(cfg, optarg, err, errlen);
            break;
        case O_SOURCE: {
            char *spec = own(cfg, malloc(strlen(optarg) + 6));
            sprintf(spec, "demo=%s", optarg);
            rc = parse_stream(cfg, opt, spec, err, errlen);
            break;
        }
        case O_STREAM:
            rc = parse_stream(cfg, opt, optarg, err, errlen);
            break;
        case O_PREDICTOR:
            /* A second --predictor used to replace the first without a word;
             * one predictor serves every stream, so it is an error. */
            if (cfg->predictor_given) {
                snprintf(err, errlen,
                         "--predictor: given twice ('%s', then '%s'); one predictor serves every "
                         "stream, and per-stream predictors are not supported yet (they will "
                         "come with a configuration file): give --predictor once, or run one "
                         "framecast per predictor",
                         cfg->predictor, optarg);
                rc = FC_EINVAL_OPT;
                break;
            }
            cfg->predictor = optarg;
            cfg->predictor_given = 1;
            break;
        case O_WORKERS:
            rc = parse_long(opt, optarg, 1, 64, &n, err, errlen);
            cfg->workers = (int)n;
            break;
        case O_SLOW:
            if ((n = fc_slow_policy_parse(optarg)) < 0) {
                snprintf(err, errlen,
                         "--slow-policy: '%s' is not valid (expected drop, latest or close)",
                         optarg);
                rc = FC_EINVAL_OPT;
            }
            cfg->slow = (enum fc_slow_policy)n;
            break;
        case O_IO:
            rc = parse_long(opt, optarg, 1, 256, &n, err, errlen);
            cfg->hub.io_threads = (int)n;
            break;
        case O_QBYTES:
            rc = parse_bytes(opt, optarg, 1024, 1L << 30, &n, err, errlen);
            cfg->hub.queue_bytes = (size_t)n;
            break;
        case O_QMSGS:
            rc = parse_long(opt, optarg, 1, 1 << 20, &n, err, errlen);
            cfg->hub.queue_msgs = (int)n;
            break;
        case O_MAXMSG:
            rc = parse_bytes(opt, optarg, 125, 1L << 30, &n, err, errlen);
            cfg->hub.max_message = (uint64_t)n;
            break;
        case O_MAXHEAD:
            rc = parse_bytes(opt, optarg, 512, 1 << 20, &n, err, errlen);
            cfg->hub.head_limit = (size_t)n;
            break;
        case O_HS_TO:
        case O_PING_IV:
        case O_PING_TO:
        case O_CLOSE_TO:
        case O_WRITE_TO:
            rc = parse_long(opt, optarg, 10, 3600 * 1000, &n, err, errlen);
            *(c == O_HS_TO      ? &cfg->hub.handshake_timeout_ms
              : c == O_PING_IV  ? &cfg->hub.ping_interval_ms
              : c == O_PING_TO  ? &cfg->hub.ping_timeout_ms
              : c == O_CLOSE_TO ? &cfg->hub.close_timeout_ms
                                : &cfg->hub.write_timeout_ms) = (int)n;
            break;
        case O_COMPRESSION:
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
                snprintf(err, errlen, "--compression: '%s' is not valid (expected on or off)",
                         optarg);
                rc = FC_EINVAL_OPT;
            }
            cfg->hub.compression = strcmp(optarg, "on") == 0;
            break;
        case O_COMPRESSION_MIN:
            rc = parse_bytes(opt, optarg, 0, 1L << 30, &n, err, errlen);
            cfg->hub.compression_min = (size_t)n;
            break;
        case O_LOG_FORMAT:
            if ((cfg->log_format = fc_log_parse_format(optarg)) < 0) {
                snprintf(err, errlen,
                         "--log-format: '%s' is not valid (expected text, logfmt or json)", optarg);
                rc = FC_EINVAL_OPT;
            }
            break;
        case O_DRAIN_TO:
            rc = parse_long(opt, optarg, 0, 3600 * 1000, &n, err, errlen);
            cfg->hub.drain_timeout_ms = (int)n;
            break;
        case O_MAX_BODY:
            rc = parse_bytes(opt, optarg, 64, 1L << 30, &n, err, errlen);
            cfg->hub.max_body = (size_t)n;
            break;
        case O_TLS_CERT:
            cfg->hub.tls_cert = optarg;
            break;
        case O_TLS_KEY:
            cfg->hub.tls_key = optarg;
            break;
        case O_TLS_CIPHERS:
            cfg->hub.tls_ciphers = optarg;
            break;
        case O_AUTH_SECRET:
            cfg->hub.auth_secret_file = optarg;
            break;
        case O_AUTH_KEY:
            cfg->hub.auth_public_key = optarg;
            break;
        case O_AUTH_LEEWAY: {
            int64_t ms;
            if (fc_parse_duration_ms(optarg, &ms) || ms > 3600 * 1000 || ms % 1000) {
                snprintf(err, errlen,
                         "--auth-leeway: '%s' is not valid (expected whole seconds from 0 to "
                         "1h, e.g. 30s)",
                         optarg);
                rc = FC_EINVAL_OPT;
            }
            cfg->hub.auth_leeway_s = (int)(ms / 1000);
            break;
        }
        case O_ALLOWED_ORIGIN: {
            const char *why = fc_auth_origin_check(optarg);
            if (why || cfg->hub.nallowed_origins == FC_MAX_ORIGINS) {
                if (why)
                    snprintf(err, errlen,
                             "--allowed-origin: '%s' is not valid: %s (expected "
                             "SCHEME://HOST[:PORT] as a browser sends it, e.g. "
                             "https://cams.example.com, http://localhost:8080 or "
                             "https://*.example.com)",
                             optarg, why);
                else
                    snprintf(err, errlen, "--allowed-origin: at most %d", FC_MAX_ORIGINS);
                rc = FC_EINVAL_OPT;
                break;
            }
            cfg->origins[cfg->hub.nallowed_origins++] = optarg;
            cfg->hub.allowed_origins = cfg->origins;
            break;
        }
        case O_REQUIRE_ORIGIN:
            cfg->hub.require_origin = 1;
            break;
        case O_MAX_CLIENTS_IP:
        case O_MAX_RATE_IP:
            rc = parse_long(opt, optarg, 1, 1000000, &n, err, errlen);
            *(c == O_MAX_CLIENTS_IP ? &cfg->hub.max_clients_per_ip
                                    : &cfg->hub.max_connect_rate_per_ip) = (int)n;
            break;
        case O_HISTORY:
            rc = parse_history(opt, optarg, &cfg->history, err, errlen);
            break;
        case O_MAX_CLIENTS:
            rc = parse_long(opt, optarg, 1, 10000000, &n, err, errlen);
            cfg->hub.max_clients = (int)n;
            break;
        case O_LOG:
            if ((cfg->log_level = fc_log_parse_level(optarg)) < 0) {
                snprintf(
                    err, errlen,
                    "--log-level: '%s' is not valid (expected debug, info, warn, error or off)",
                    optarg);
                rc = FC_EINVAL_OPT;
            }
            break;
        case O_EXIT_DONE:
            cfg->exit_when_done = 1;
            break;
        case O_PREVIEW:
            rc = parse_preview(cfg, optarg, err, errlen);
            break;
        case O_PRED_TO:
            rc = parse_long(opt, optarg, 0, 3600 * 1000, &n, err, errlen);
            cfg->predict_timeout_ms = (int)n;
            break;
        case O_HELP:
            fputs(usage, stdout);
            return FC_CONFIG_EXIT;
        case O_VERSION:
            puts("framecast " FC_VERSION);
            return FC_CONFIG_EXIT;
        case ':':
            snprintf(err, errlen, "%s: missing value (see --help)", argv[optind - 1]);
            rc = FC_EINVAL_OPT;
            break;
        default:
            snprintf(err, errlen, "%s: unknown option (see --help)", argv[optind - 1]);
            rc = FC_EINVAL_OPT;
        }
    }
    if (!rc && optind < argc) {
        snprintf(err, errlen, "'%s': unexpected argument (options start with --; see --help)",
                 argv[optind]);
        rc = FC_EINVAL_OPT;
    }
    if (rc) return rc;
    if (cfg->nstreams == 0)
        rc = parse_stream(cfg, "--source", "demo=synthetic:size=640x360,fps=30,objects=3,seed=1",
                          err, errlen);
    for (int i = 0; i < cfg->nstreams; i++) {
        fc_stream_config *s = &cfg->streams[i];
        if (!s->workers) s->workers = cfg->workers;
        if ((int)s->slow < 0) s->slow = cfg->slow;
        s->predictor = cfg->predictor;
        s->preview = cfg->preview;
        s->predict_timeout_ms = cfg->predict_timeout_ms;
        if (!s->has_history) s->history = cfg->history;
    }
    return rc;
}

void fc_config_free(fc_config *cfg) {
    for (int i = 0; i < cfg->nowned; i++) free(cfg->owned[i]);
    cfg->nowned = 0;
}
