/* framecast-churn: a stream of short, partly badly behaved WebSocket
 * connections against a framecast server, at a fixed rate for a fixed time,
 * then a report. Loopback only in our use; bounded in time and count; stops
 * by itself. bench/soak.py runs it beside its stable clients.
 *
 *   framecast-churn --url ws://HOST:PORT --streams A,B,... --rate R --duration S
 *                   [--max-inflight N] [--seed N] [--sources K]
 *
 * Each new connection is one of these kinds, chosen at random:
 *   hello    upgrade, read the status and a result, close 1000 (checked)
 *   resume   upgrade with ?since=&epoch= a few results back (from the last
 *            hello on that stream), read up to a result past it or a reset,
 *            close 1000 (checked: the first result is since + 1)
 *   reset    upgrade, read a little, then reset the TCP connection
 *   garbage  upgrade, ping, then an unmasked frame: expect the pong and a
 *            1002 close (checked)
 *   badhttp  a request head that is not HTTP: expect 400 (checked)
 *   slowhead half a request head, then gone after up to 0.5 s
 * The checked kinds must never see a protocol error: every server frame is
 * checked as a client must (no mask, no RSV bits, known opcodes) and every
 * text message must be JSON.
 *
 * Why C: a Python asyncio client opens about 120 such connections a second
 * on one core of this machine, a quarter of the rate the soak asks for. One
 * libuv loop here does each connection in a few callbacks.
 *
 * Connections are begun at the rate given, at most --max-inflight at once
 * (the rest of those due are counted as skipped). Source addresses rotate
 * over --sources loopback addresses (127.0.0.2 up) when the server is on
 * 127.0.0.1, so that short connections' TIME_WAIT states spread over more
 * than one address's ports. A checked connection whose request head went
 * out 10 s or more after its connect began (this process's loop starved on
 * a loaded machine) and that the server then closed is counted "late", not
 * failed: the server's --handshake-timeout ended it (408, or a close), as
 * documented.
 *
 * The report is one JSON object on stdout (see main). Exit status 0 after a
 * completed run, 2 for bad arguments. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "hub/ws.h"
#include "hub/wsclient.h"
#include "util/clock.h"

#define HEAD_MAX     4096
#define MAX_MESSAGE  (4u << 20)
#define TICK_MS      2
#define LAG_TICK_MS  100
#define CONN_LIMIT_S 25   /* a connection still going after this fails */
#define HANDSHAKE_S  10.0 /* the server's --handshake-timeout default */
#define MAX_STREAMS  64
#define MAX_FAILURES 200
#define MAX_LAGS     200

enum kind { K_HELLO, K_RESUME, K_RESET, K_GARBAGE, K_BADHTTP, K_SLOWHEAD, K_COUNT };
static const char *const kind_name[K_COUNT] = {"hello",   "resume",  "reset",
                                               "garbage", "badhttp", "slowhead"};
enum stage { S_CONNECT, S_HEAD, S_FRAME };
static const char *const stage_name[] = {"connect", "head", "frame"};

struct churn;

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* the connection's limit; slowhead's delay */
    uv_connect_t creq;
    struct churn *ch;
    enum kind kind;
    enum stage stage;
    int stream, handles, ended, close_sent, pong;
    int64_t since; /* resume: the seq asked after, -1 otherwise */
    char epoch[64];
    int64_t t_begin, t_connected, t_wrote; /* monotonic us; 0: not yet */
    char key[25];
    char head[HEAD_MAX];
    size_t head_len;
    fc_ws_parser parser;
    uint8_t *msg;
    size_t msg_len, msg_cap;
    int port; /* local port, for the failure list */
};

struct latest {
    int known;
    int64_t seq;
    char epoch[64];
};

struct churn {
    uv_loop_t loop;
    uv_timer_t tick, lag_timer, end_timer;
    fc_ws_url url;
    struct sockaddr_in addr;
    int nsources;
    char *streams[MAX_STREAMS];
    int nstreams;
    struct latest latest[MAX_STREAMS];
    double rate, duration_s;
    long max_inflight;
    int64_t t0, deadline, last_lag_tick;
    long started, opened, inflight;
    long done[K_COUNT], failed[K_COUNT], late[K_COUNT];
    char *first_failure[K_COUNT];
    cJSON *failures, *lags;
    double max_lag_s;
    uint64_t rng;
    uint8_t rbuf[65536];
};

static uint64_t next_rand(struct churn *ch) { /* splitmix64 */
    uint64_t z = (ch->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double secs(int64_t us) {
    return (double)us / 1e6;
}

/* --- Ending a connection ------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
    struct conn *c = h->data;
    if (--c->handles == 0) {
        free(c->msg);
        free(c);
    }
}

static void conn_end(struct conn *c, int reset) {
    if (c->ended) return;
    c->ended = 1;
    c->ch->inflight--;
    if (reset)
        uv_tcp_close_reset(&c->tcp, on_handle_closed);
    else
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void conn_done(struct conn *c) {
    if (c->ended) return;
    c->ch->done[c->kind]++;
    conn_end(c, c->kind == K_RESET);
}

static void conn_fail(struct conn *c, const char *why) {
    struct churn *ch = c->ch;
    if (c->ended) return;
    ch->failed[c->kind]++;
    if (!ch->first_failure[c->kind]) ch->first_failure[c->kind] = strdup(why);
    if (cJSON_GetArraySize(ch->failures) < MAX_FAILURES) {
        int64_t now = fc_mono_us();
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "t", secs(c->t_begin - ch->t0));
        cJSON_AddStringToObject(f, "kind", kind_name[c->kind]);
        cJSON_AddStringToObject(f, "stage", stage_name[c->stage]);
        if (c->t_connected) {
            cJSON_AddNumberToObject(f, "connect_s", secs(c->t_connected - c->t_begin));
            cJSON_AddNumberToObject(f, "after_connect_s", secs(now - c->t_connected));
        }
        if (c->t_wrote) cJSON_AddNumberToObject(f, "head_sent_s", secs(c->t_wrote - c->t_begin));
        cJSON_AddNumberToObject(f, "port", c->port);
        cJSON_AddStringToObject(f, "error", why);
        cJSON_AddItemToArray(ch->failures, f);
    }
    conn_end(c, 0);
}

/* Its head went out at the server's handshake timeout or later (this
 * process's loop starved): the server may end it first, as documented. */
static int head_late(const struct conn *c) {
    return c->t_wrote - c->t_begin >= (int64_t)(HANDSHAKE_S * 1e6);
}

static void conn_late(struct conn *c) {
    c->ch->late[c->kind]++;
    conn_end(c, 0);
}

/* The connection ended under us (EOF, reset, a write error) before the
 * kind's own end. */
static void conn_broken(struct conn *c, const char *why) {
    if (c->kind == K_RESET || c->kind == K_SLOWHEAD) {
        conn_done(c); /* what they do ends the connection anyway */
    } else if (c->stage == S_HEAD && head_late(c)) {
        conn_late(c);
    } else {
        conn_fail(c, why);
    }
}

static void on_limit(uv_timer_t *t) {
    struct conn *c = t->data;
    if (c->kind == K_SLOWHEAD)
        conn_done(c); /* its delay is over: gone */
    else
        conn_fail(c, "timed out");
}

/* --- Writing -------------------------------------------------------------- */

struct wreq {
    uv_write_t req;
    uint8_t data[];
};

static void on_written(uv_write_t *req, int status) {
    (void)status; /* a failed write shows up as a read error */
    free(req);
}

static void conn_write(struct conn *c, const void *data, size_t len) {
    if (c->ended) return;
    struct wreq *w = malloc(sizeof *w + len);
    if (!w) {
        conn_fail(c, "out of memory");
        return;
    }
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
    if (rc) {
        free(w);
        conn_broken(c, uv_strerror(rc));
    }
}

static void send_frame(struct conn *c, int opcode, const void *payload, size_t len, int masked) {
    uint8_t f[FC_WS_MAX_HEADER + FC_WS_MAX_CONTROL], mask[4];
    if (len > FC_WS_MAX_CONTROL) return;
    size_t h;
    if (masked) {
        RAND_bytes(mask, 4);
        h = fc_ws_header_masked(f, opcode, 1, len, mask);
        memcpy(f + h, payload, len);
        fc_ws_mask(f + h, len, mask, 0);
    } else {
        h = fc_ws_header(f, opcode, 1, len);
        memcpy(f + h, payload, len);
    }
    conn_write(c, f, h + len);
}

static void send_close(struct conn *c, unsigned code) {
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    c->close_sent = 1;
    send_frame(c, FC_WS_CLOSE, p, 2, 1);
}

/* --- Messages --------------------------------------------------------------- */

static void on_text(struct conn *c, const uint8_t *m, size_t n) {
    struct churn *ch = c->ch;
    cJSON *j = cJSON_ParseWithLength((const char *)m, n);
    if (!j) {
        conn_fail(c, "protocol: a text message that is not JSON");
        return;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
    const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(j, "epoch");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    if (c->close_sent || (c->kind != K_HELLO && c->kind != K_RESUME)) {
        /* after our close, or a kind that reads no messages */
    } else if (strcmp(t, "reset") == 0 && c->kind == K_RESUME) {
        send_close(c, FC_WS_NORMAL);
    } else if (strcmp(t, "result") == 0) {
        if (!cJSON_IsNumber(seq) || !cJSON_IsString(epoch)) {
            conn_fail(c, "protocol: a result without seq or epoch");
        } else if (c->kind == K_HELLO) {
            struct latest *l = &ch->latest[c->stream];
            l->known = 1;
            l->seq = (int64_t)seq->valuedouble;
            snprintf(l->epoch, sizeof l->epoch, "%s", epoch->valuestring);
            send_close(c, FC_WS_NORMAL);
        } else if ((int64_t)seq->valuedouble != c->since + 1 &&
                   strcmp(epoch->valuestring, c->epoch) == 0) {
            char why[128];
            snprintf(why, sizeof why, "protocol: resumed after %lld at %lld", (long long)c->since,
                     (long long)seq->valuedouble);
            conn_fail(c, why);
        } else {
            send_close(c, FC_WS_NORMAL);
        }
    }
    cJSON_Delete(j);
}

static void ws_on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    struct conn *c = ud;
    if (c->ended) return;
    if (c->msg_len + len > c->msg_cap) {
        size_t cap = c->msg_cap ? c->msg_cap : 4096;
        while (cap < c->msg_len + len) cap *= 2;
        uint8_t *m = realloc(c->msg, cap);
        if (!m) {
            conn_fail(c, "out of memory");
            return;
        }
        c->msg = m;
        c->msg_cap = cap;
    }
    memcpy(c->msg + c->msg_len, data, len);
    c->msg_len += len;
    if (!fin) return;
    if (opcode == FC_WS_TEXT)
        on_text(c, c->msg, c->msg_len);
    else if (c->msg_len < 4 || memcmp(c->msg, "FCP1", 4) != 0)
        conn_fail(c, "protocol: a binary message that is not a preview");
    c->msg_len = 0;
}

static void ws_on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    struct conn *c = ud;
    if (c->ended) return;
    if (opcode == FC_WS_PING) {
        if (!c->close_sent) send_frame(c, FC_WS_PONG, payload, len, 1);
    } else if (opcode == FC_WS_PONG) {
        if (len == 4 && memcmp(payload, "soak", 4) == 0) c->pong = 1;
    } else if (opcode == FC_WS_CLOSE) {
        unsigned code = len >= 2 ? (unsigned)payload[0] << 8 | payload[1] : 1005;
        if (c->kind == K_GARBAGE) {
            if (c->pong && code == FC_WS_PROTOCOL_ERROR) {
                conn_done(c);
            } else {
                char why[128];
                snprintf(why, sizeof why,
                         "protocol: pong %s, close %u (expected the pong and 1002)",
                         c->pong ? "seen" : "missing", code);
                conn_fail(c, why);
            }
        } else if (c->close_sent && code == FC_WS_NORMAL) {
            conn_done(c); /* the answer to our close */
        } else if (c->kind == K_HELLO || c->kind == K_RESUME) {
            char why[96];
            snprintf(why, sizeof why, "the server closed with %u", code);
            conn_fail(c, why);
        } else {
            conn_done(c);
        }
    }
}

static const fc_ws_parser_cbs ws_cbs = {ws_on_data, ws_on_control};

/* --- Reading -------------------------------------------------------------- */

static void frames_input(struct conn *c, uint8_t *data, size_t len) {
    if (c->kind == K_RESET) { /* a little of the stream, perhaps part of a frame: gone */
        conn_done(c);
        return;
    }
    int code = fc_ws_parse(&c->parser, data, len, &ws_cbs, c);
    if (code && !c->ended) {
        char why[192];
        snprintf(why, sizeof why, "protocol: %u %s", (unsigned)code, c->parser.error);
        conn_fail(c, why);
    }
}

static void head_input(struct conn *c, uint8_t *data, size_t len) {
    size_t old = c->head_len, take = len < HEAD_MAX - 1 - old ? len : HEAD_MAX - 1 - old;
    memcpy(c->head + old, data, take);
    c->head_len += take;
    c->head[c->head_len] = 0;
    const char *e = strstr(c->head, "\r\n\r\n");
    if (!e) {
        if (c->head_len == HEAD_MAX - 1) conn_fail(c, "protocol: the answer's head is too large");
        return;
    }
    size_t head_end = (size_t)(e + 4 - c->head);
    if (c->kind == K_BADHTTP) {
        int status = 0;
        int answered = sscanf(c->head, "HTTP/1.%*d %d", &status) == 1;
        if (answered && status == 400)
            conn_done(c);
        else if (answered && status == 408 && head_late(c))
            conn_late(c);
        else
            conn_fail(c, "protocol: expected 400");
        return;
    }
    const char *why = NULL;
    int status = fc_ws_client_check(c->head, head_end, c->key, &why);
    if (status != 101) {
        if (c->kind == K_RESET || c->kind == K_SLOWHEAD) {
            conn_done(c); /* they end the connection anyway (a slow head: 408 at worst) */
        } else if (status == 408 && head_late(c)) {
            conn_late(c);
        } else {
            char msg[192];
            snprintf(msg, sizeof msg, "protocol: no 101 (HTTP %d: %s)", status, why);
            conn_fail(c, msg);
        }
        return;
    }
    c->stage = S_FRAME;
    fc_ws_parser_init(&c->parser, 0, MAX_MESSAGE);
    if (c->kind == K_GARBAGE) {
        send_frame(c, FC_WS_PING, "soak", 4, 1);
        send_frame(c, FC_WS_TEXT, "unmasked", 8, 0);
    }
    size_t used = head_end - old;
    if (len > used && !c->ended) frames_input(c, data + used, len - used);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)c->ch->rbuf, sizeof c->ch->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct conn *c = s->data;
    if (c->ended || nread == 0) return;
    if (nread < 0) {
        conn_broken(c,
                    nread == UV_EOF ? "the server ended the connection" : uv_strerror((int)nread));
        return;
    }
    if (c->stage == S_HEAD)
        head_input(c, (uint8_t *)buf->base, (size_t)nread);
    else
        frames_input(c, (uint8_t *)buf->base, (size_t)nread);
}

/* --- Beginning a connection ------------------------------------------------ */

static void write_head(struct conn *c) {
    struct churn *ch = c->ch;
    char req[2048];
    int n;
    if (c->kind == K_BADHTTP) {
        n = snprintf(req, sizeof req, "\x16\x03\x01 not http at all\r\n\r\n");
    } else if (c->kind == K_SLOWHEAD) {
        n = snprintf(req, sizeof req, "GET /ws/%s HTTP/1.1\r\nHost: x\r\nUpgr",
                     ch->streams[c->stream]);
    } else {
        fc_ws_url u = ch->url;
        if (c->since >= 0)
            snprintf(u.path, sizeof u.path, "/ws/%s?since=%lld&epoch=%s", ch->streams[c->stream],
                     (long long)c->since, c->epoch);
        else
            snprintf(u.path, sizeof u.path, "/ws/%s", ch->streams[c->stream]);
        n = fc_ws_client_request(req, sizeof req, &u, c->key);
    }
    c->t_wrote = fc_mono_us();
    c->stage = S_HEAD;
    conn_write(c, req, (size_t)n);
    if (c->kind == K_SLOWHEAD && !c->ended)
        uv_timer_start(&c->timer, on_limit, next_rand(ch) % 501, 0);
}

static void on_connect(uv_connect_t *req, int status) {
    struct conn *c = req->data;
    if (c->ended) return;
    if (status < 0) {
        conn_broken(c, uv_strerror(status));
        return;
    }
    c->t_connected = fc_mono_us();
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        c->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
        conn_broken(c, "cannot read");
        return;
    }
    write_head(c);
}

static void begin(struct churn *ch) {
    struct conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->ch = ch;
    c->kind = (enum kind)(next_rand(ch) % K_COUNT);
    c->stream = (int)(next_rand(ch) % (uint64_t)ch->nstreams);
    c->since = -1;
    c->t_begin = fc_mono_us();
    const struct latest *l = &ch->latest[c->stream];
    if (c->kind == K_RESUME && !l->known) c->kind = K_HELLO; /* nothing to resume from yet */
    if (c->kind == K_RESUME) {
        c->since = l->seq > 5 ? l->seq - 5 : 0;
        snprintf(c->epoch, sizeof c->epoch, "%s", l->epoch);
    }
    uv_tcp_init(&ch->loop, &c->tcp);
    uv_timer_init(&ch->loop, &c->timer);
    c->tcp.data = c->timer.data = c->creq.data = c;
    c->handles = 2;
    ch->inflight++;
    uv_timer_start(&c->timer, on_limit, CONN_LIMIT_S * 1000, 0);
    if (ch->nsources > 0) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7F000002u + (uint32_t)(ch->opened % ch->nsources));
        uv_tcp_bind(&c->tcp, (const struct sockaddr *)&src, 0);
    }
    int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&ch->addr, on_connect);
    if (rc) conn_broken(c, uv_strerror(rc));
}

/* --- The run ---------------------------------------------------------------- */

static void on_tick(uv_timer_t *t) {
    struct churn *ch = t->data;
    int64_t now = fc_mono_us();
    if (now >= ch->deadline) {
        uv_timer_stop(t);
        return;
    }
    long due = (long)(secs(now - ch->t0) * ch->rate);
    while (ch->started < due) {
        ch->started++;
        if (ch->inflight >= ch->max_inflight) continue; /* skipped: counted as due only */
        ch->opened++;
        begin(ch);
    }
}

/* How late this loop runs: a starved client opens connections and sends
 * nothing for seconds, which the server's handshake timeout rightly ends. */
static void on_lag_tick(uv_timer_t *t) {
    struct churn *ch = t->data;
    int64_t now = fc_mono_us();
    double lag = secs(now - ch->last_lag_tick) - LAG_TICK_MS / 1000.0;
    ch->last_lag_tick = now;
    if (lag > ch->max_lag_s) ch->max_lag_s = lag;
    if (lag >= 1 && cJSON_GetArraySize(ch->lags) < MAX_LAGS) {
        cJSON *p = cJSON_CreateArray();
        cJSON_AddItemToArray(p, cJSON_CreateNumber(secs(now - ch->t0)));
        cJSON_AddItemToArray(p, cJSON_CreateNumber(lag));
        cJSON_AddItemToArray(ch->lags, p);
    }
    if (now >= ch->deadline && ch->inflight == 0) uv_stop(&ch->loop);
}

static void on_end(uv_timer_t *t) { /* in-flight connections had their time */
    uv_stop(&((struct churn *)t->data)->loop);
}

static void close_any(uv_handle_t *h, void *arg) {
    if (uv_is_closing(h)) return;
    uv_close(h, h->data == arg ? NULL : on_handle_closed); /* the run's own, or a connection's */
}

static cJSON *per_kind(const long *v) {
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < K_COUNT; k++) cJSON_AddNumberToObject(o, kind_name[k], (double)v[k]);
    return o;
}

static void usage(void) {
    fprintf(stderr, "usage: framecast-churn --url ws://HOST:PORT --streams A,B,... --rate R "
                    "--duration S [--max-inflight N] [--seed N] [--sources K]\n");
}

int main(int argc, char **argv) {
    static struct churn ch; /* its read buffer is large */
    const char *url = NULL, *streams = NULL;
    ch.max_inflight = 400;
    ch.nsources = 8;
    ch.rng = 1;
    static const struct option lo[] = {{"url", 1, 0, 'u'},          {"streams", 1, 0, 's'},
                                       {"rate", 1, 0, 'r'},         {"duration", 1, 0, 'd'},
                                       {"seed", 1, 0, 'e'},         {"sources", 1, 0, 'a'},
                                       {"max-inflight", 1, 0, 'm'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'u':
            url = optarg;
            break;
        case 's':
            streams = optarg;
            break;
        case 'r':
            ch.rate = atof(optarg);
            break;
        case 'd':
            ch.duration_s = atof(optarg);
            break;
        case 'e':
            ch.rng = strtoull(optarg, NULL, 10);
            break;
        case 'a':
            ch.nsources = atoi(optarg);
            break;
        case 'm':
            ch.max_inflight = atol(optarg);
            break;
        default:
            usage();
            return 2;
        }
    }
    const char *why = NULL;
    if (!url || !streams || !(ch.rate > 0) || !(ch.duration_s > 0) || ch.max_inflight < 1 ||
        ch.nsources < 0 || ch.nsources > 250) {
        usage();
        return 2;
    }
    if (fc_ws_url_parse(url, &ch.url, &why) || ch.url.tls) {
        fprintf(stderr, "framecast-churn: --url '%s': %s\n", url, why ? why : "ws:// only");
        return 2;
    }
    if (uv_ip4_addr(ch.url.host, atoi(ch.url.port), &ch.addr)) {
        fprintf(stderr, "framecast-churn: --url '%s': expected an IPv4 address as its host\n", url);
        return 2;
    }
    if (ch.addr.sin_addr.s_addr != htonl(0x7F000001u)) ch.nsources = 0; /* only beside 127.0.0.1 */
    char *list = strdup(streams);
    for (char *save = NULL, *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (ch.nstreams == MAX_STREAMS) {
            fprintf(stderr, "framecast-churn: --streams: at most %d\n", MAX_STREAMS);
            return 2;
        }
        ch.streams[ch.nstreams++] = s;
    }
    if (!ch.nstreams) {
        usage();
        return 2;
    }
    ch.failures = cJSON_CreateArray();
    ch.lags = cJSON_CreateArray();
    uv_loop_init(&ch.loop);
    ch.t0 = ch.last_lag_tick = fc_mono_us();
    ch.deadline = ch.t0 + (int64_t)(ch.duration_s * 1e6);
    uv_timer_init(&ch.loop, &ch.tick);
    uv_timer_init(&ch.loop, &ch.lag_timer);
    uv_timer_init(&ch.loop, &ch.end_timer);
    ch.tick.data = ch.lag_timer.data = ch.end_timer.data = &ch;
    uv_timer_start(&ch.tick, on_tick, 0, TICK_MS);
    uv_timer_start(&ch.lag_timer, on_lag_tick, LAG_TICK_MS, LAG_TICK_MS);
    uv_timer_start(&ch.end_timer, on_end, (uint64_t)(ch.duration_s * 1000) + CONN_LIMIT_S * 1000,
                   0);
    uv_run(&ch.loop, UV_RUN_DEFAULT);
    double took = secs(fc_mono_us() - ch.t0);
    long unfinished = ch.inflight;

    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "took_s", took);
    cJSON_AddNumberToObject(r, "started", (double)ch.started);
    cJSON_AddNumberToObject(r, "opened", (double)ch.opened);
    cJSON_AddNumberToObject(r, "per_s", (double)ch.started / ch.duration_s);
    cJSON_AddNumberToObject(r, "opened_per_s", (double)ch.opened / ch.duration_s);
    cJSON_AddNumberToObject(r, "unfinished", (double)unfinished);
    cJSON_AddItemToObject(r, "done", per_kind(ch.done));
    cJSON_AddItemToObject(r, "failed", per_kind(ch.failed));
    cJSON_AddItemToObject(r, "late", per_kind(ch.late));
    cJSON *first = cJSON_CreateObject();
    for (int k = 0; k < K_COUNT; k++)
        if (ch.first_failure[k]) cJSON_AddStringToObject(first, kind_name[k], ch.first_failure[k]);
    cJSON_AddItemToObject(r, "first_failure", first);
    cJSON_AddItemToObject(r, "failures", ch.failures);
    cJSON_AddNumberToObject(r, "client_loop_lag_max_s", ch.max_lag_s);
    cJSON_AddItemToObject(r, "client_loop_lags", ch.lags);
    char *text = cJSON_PrintUnformatted(r);
    printf("%s\n", text);
    fflush(stdout);
    /* Whatever is still open goes with the process; close the handles so
     * the loop can be closed cleanly under the sanitizers. */
    uv_walk(&ch.loop, close_any, &ch);
    uv_run(&ch.loop, UV_RUN_DEFAULT);
    uv_loop_close(&ch.loop);
    free(text);
    cJSON_Delete(r);
    for (int k = 0; k < K_COUNT; k++) free(ch.first_failure[k]);
    free(list);
    return 0;
}
