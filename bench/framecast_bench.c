/* framecast-bench: a load generator for the broadcast hub. It opens N
 * WebSocket clients on one libuv loop (one thread, non-blocking), measures
 * what they receive during a fixed window and prints throughput, latency,
 * loss, fairness and close figures, plus the server's CPU and memory when
 * given its pid.
 *
 *   framecast-bench --url ws[s]://HOST:PORT/ws/STREAM --clients N [--stalled K]
 *                   [--connect-rate R] [--duration S] [--warmup S]
 *                   [--server-pid PID] [--json] [--connect-timeout S] [--deflate]
 *
 * The run is a fixed sequence of phases, each ended by a timer, so every run
 * ends on its own:
 *   connect  clients are opened at most R per second, with at most
 *            MAX_PENDING handshakes in flight, until all N are open or
 *            --connect-timeout passes (then the run stops, exit status 1);
 *   warmup   nothing is counted;
 *   measure  every figure but the server's RSS covers this window only;
 *   drain    stalled clients read again, at most DRAIN_MS, to learn whether
 *            the server closed them (a client that does not read cannot see a
 *            close frame or an EOF);
 *   close    each client sends a close frame (1000) and waits for the
 *            server's answer, at most CLOSE_GRACE_MS; then every socket is
 *            closed.
 *
 * Data flow: one read buffer shared by all sockets (the loop runs one read
 * callback at a time); the codec, in client role, unmasks nothing and checks
 * framing and UTF-8; a message that arrives whole in one read is scanned
 * where it lies, a fragmented one is gathered in its connection's buffer,
 * which grows to the largest message seen and is reused. Per message the
 * bench does two memmem look-ups ("seq", "publish_us") and one histogram
 * increment: no allocation.
 *
 * --deflate offers permessage-deflate (RFC 7692) as browsers do
 * ("permessage-deflate; client_max_window_bits") and requires it; compressed
 * messages are inflated before they are scanned. A server that answers
 * server_no_context_takeover (framecast) compresses each message on its
 * own, so one inflater serves every connection (reset per message); one
 * that keeps its context (python-websockets' default) gets an inflater
 * per connection. "wire bytes" are what the sockets
 * read (after TLS: the ciphertext), against the messages' own bytes.
 *
 * wss:// URLs speak TLS on memory BIOs, as the server does, without
 * checking the certificate (the bench measures the server, it does not
 * need to trust it).
 *
 * Stalled clients complete the handshake, then stop reading. They ask for a
 * small receive buffer (STALLED_RCVBUF) so that the backlog piles up in the
 * server's per-client queue within seconds, not in the kernel's megabytes.
 *
 * Exit status: 0 after a completed run, 1 when not every client could
 * connect, 2 for bad arguments. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "hub/ws.h"
#include "hub/wsclient.h"
#include "util/clock.h"
#include "util/strbuf.h"

#define READ_BUF_SIZE   65536
#define HEAD_MAX        4096        /* the server's 101 response head */
#define MAX_MESSAGE     (16u << 20) /* a larger message fails the connection (1009) */
#define MSG_MIN_CAP     1024        /* first size of a connection's reassembly buffer */
#define MAX_PENDING     512         /* handshakes in flight at once */
#define CONNECT_TICK_MS 5
#define TICK_MS         100 /* RSS samples and the loop-lag probe */
#define DRAIN_MS        2000
#define CLOSE_GRACE_MS  2000
#define STALLED_RCVBUF  4096
#define FD_RESERVE      64 /* descriptors besides the clients' sockets */
#define MAX_CODE        5000

/* --- Latency histogram -------------------------------------------------- */

/* Log-linear buckets in microseconds: exact below 2 * HIST_SUB, then
 * HIST_SUB buckets per power of two, so a bucket spans at most 1/128 (0.8%)
 * of its values. Values above HIST_MAX_US share the last bucket; max is kept
 * exactly. The highest value is below 2^27, hence 27 - HIST_SUB_BITS - 1
 * halvings above the exact range. */
#define HIST_SUB_BITS 7
#define HIST_SUB      (1 << HIST_SUB_BITS)
#define HIST_MAX_US   100000000LL /* 100 s */
#define HIST_BUCKETS  (2 * HIST_SUB + (27 - HIST_SUB_BITS - 1) * HIST_SUB)

typedef struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    int64_t max;
} hist;

static unsigned hist_index(int64_t v) {
    if (v < 2 * HIST_SUB) return (unsigned)v;
    int msb = 63 - __builtin_clzll((unsigned long long)v);
    int shift = msb - HIST_SUB_BITS;
    return (unsigned)(2 * HIST_SUB + (shift - 1) * HIST_SUB + ((v >> shift) - HIST_SUB));
}

/* The highest value that lands in bucket i. */
static int64_t hist_upper(unsigned i) {
    if (i < 2 * HIST_SUB) return i;
    unsigned k = i - 2 * HIST_SUB;
    int shift = (int)(k / HIST_SUB) + 1;
    int64_t top = (int64_t)(k % HIST_SUB) + HIST_SUB;
    return ((top + 1) << shift) - 1;
}

static void hist_record(hist *h, int64_t v) {
    if (v < 0) v = 0;
    if (v > h->max) h->max = v;
    h->counts[hist_index(v > HIST_MAX_US ? HIST_MAX_US : v)]++;
    h->total++;
}

/* The value at quantile q (0..1): the bound of the first bucket at which q of
 * the samples are at or below it, never above the exact max. */
static int64_t hist_quantile(const hist *h, double q) {
    uint64_t rank = (uint64_t)ceil(q * (double)h->total);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            int64_t u = hist_upper(i);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}

/* --- State -------------------------------------------------------------- */

struct opts {
    const char *url;
    long clients, stalled;
    double connect_rate; /* connections per second */
    double duration_s, warmup_s, connect_timeout_s;
    long server_pid; /* 0: none */
    int json;
    int deflate; /* offer permessage-deflate, and require it */
};

enum phase { P_CONNECT, P_WARMUP, P_MEASURE, P_DRAIN, P_CLOSE, P_DONE };
enum conn_state { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_CLOSED };

struct bench;

struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct bench *b;
    enum conn_state state;
    unsigned stalled : 1, inited : 1, reading : 1, closing : 1;
    unsigned close_sent : 1, close_rcvd : 1, by_server : 1, drained : 1;
    char key[25];
    char *head; /* the response head while the handshake runs */
    size_t head_len;
    fc_ws_parser parser;
    /* The message being received: either still where it lies in the read
     * buffer (whole, valid only inside one fc_ws_parse call) or gathered in
     * msg. */
    const uint8_t *whole;
    size_t whole_len;
    uint8_t *msg;
    size_t msg_len, msg_cap;
    int64_t last_seq; /* the highest seq seen, -1 before the first */
    uint64_t window_msgs;
    /* wss://: TLS on memory BIOs (bytes read go into rbio; what the SSL
     * writes into wbio goes to the socket), as the server does it */
    SSL *ssl;
    BIO *rbio, *wbio;
    int tls_up; /* the TLS handshake is done */
    /* --deflate against a server that keeps its compression context: this
     * connection's own inflater (NULL: the bench's shared one) */
    z_stream *z;
};

struct bench {
    struct opts o;
    uv_loop_t loop;
    fc_ws_url url;
    struct sockaddr_storage addr;
    struct conn *conns;
    enum phase phase;
    uv_timer_t connect_timer, phase_timer, tick_timer;
    /* connect phase */
    int64_t start_mono, last_tick_mono;
    double tokens;
    long launched, pending, connected, failed;
    long handles; /* client handles initialised and not yet closed */
    int settled;  /* the connect phase's outcome is scheduled */
    char first_error[256];
    int exit_code;
    /* measure phase */
    int64_t rx_us; /* CLOCK_REALTIME at the read being processed */
    int64_t t0_mono, t1_mono;
    int64_t last_tick_us; /* for the loop-lag probe; 0 before the first tick */
    int64_t lag_max_us;   /* how late the tick ran at worst during the window */
    struct rusage ru0, ru1;
    hist lat;
    uint64_t deliveries, unparsed, gaps, reorders, negative;
    uint64_t wire_bytes;    /* read by the active clients' sockets */
    uint64_t message_bytes; /* their messages, inflated */
    uint64_t compressed;    /* messages that came compressed */
    /* closes the server started, whenever the bench learnt of them */
    long closed_by_server, closed_stalled, protocol_errors;
    long unanswered; /* connections that ended without answering our close */
    long unfinished; /* still open when CLOSE_GRACE_MS ran out */
    uint32_t codes[MAX_CODE];
    uint32_t codes_other;
    char first_protocol_error[160];
    /* drain phase */
    long drain_pending;
    int64_t drain_start_us;
    /* the server process */
    long long cpu0, cpu1;                         /* utime + stime in clock ticks; -1 unknown */
    long rss_start, rss_peak, rss_end, rss_after; /* kB; -1 unknown */
    uint8_t rbuf[READ_BUF_SIZE];
    SSL_CTX *tls;                /* wss:// */
    uint8_t pbuf[READ_BUF_SIZE]; /* decrypted input */
    /* --deflate: one inflater for every connection (the server's messages
     * carry no context) and the buffer it inflates into */
    z_stream z;
    int z_on;
    uint8_t *ibuf;
    size_t icap;
};

static void conn_close(struct conn *c);
static void start_close(struct bench *b);
static void on_finish(uv_timer_t *t);

/* --- The server process --------------------------------------------------- */

static size_t read_small_file(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return n;
}

/* utime + stime of pid in clock ticks, or -1. */
static long long proc_cpu_ticks(long pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (!read_small_file(path, buf, sizeof buf)) return -1;
    /* The command name may contain spaces and parentheses: skip past the last ')'. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* VmRSS of pid in kB, or -1. */
static long proc_rss_kb(long pid) {
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if (!read_small_file(path, buf, sizeof buf)) return -1;
    const char *p = strstr(buf, "\nVmRSS:");
    return p ? strtol(p + 7, NULL, 10) : -1;
}

/* Samples the server's RSS and measures how late this tick runs: a loop
 * that is busy, or starved of CPU by other processes, delays every receipt
 * timestamp by as much, which the bench's own CPU time alone does not show. */
static void on_tick(uv_timer_t *t) {
    struct bench *b = t->data;
    int64_t now = fc_mono_us();
    if (b->phase == P_MEASURE && b->last_tick_us) {
        int64_t lag = now - b->last_tick_us - TICK_MS * 1000;
        if (lag > b->lag_max_us) b->lag_max_us = lag;
    }
    b->last_tick_us = now;
    if (!b->o.server_pid) return;
    long kb = proc_rss_kb(b->o.server_pid);
    if (kb > b->rss_peak) b->rss_peak = kb;
}

static long long sample_cpu(const struct bench *b) {
    return b->o.server_pid ? proc_cpu_ticks(b->o.server_pid) : -1;
}

/* --- Phases --------------------------------------------------------------- */

/* Phase changes run from the phase timer, never inside a connection's
 * callback, so no callback sees its connection closed under it. */
static void schedule(struct bench *b, uv_timer_cb cb, double seconds) {
    if (b->phase == P_DONE) return;
    uv_timer_start(&b->phase_timer, cb, (uint64_t)(seconds * 1000 + 0.5), 0);
}

static void on_measure_end(uv_timer_t *t);

static void on_warmup_end(uv_timer_t *t) {
    struct bench *b = t->data;
    b->phase = P_MEASURE;
    b->cpu0 = sample_cpu(b);
    getrusage(RUSAGE_SELF, &b->ru0);
    b->t0_mono = fc_mono_us();
    schedule(b, on_measure_end, b->o.duration_s);
}

static void on_connect_settled(uv_timer_t *t) {
    struct bench *b = t->data;
    uv_timer_stop(&b->connect_timer);
    double took = (double)(fc_mono_us() - b->start_mono) / 1e6;
    if (b->connected < b->o.clients) {
        fprintf(stderr,
                "framecast-bench: connected %ld of %ld clients in %.2f s (%ld failed, %ld "
                "still connecting)%s%s\n",
                b->connected, b->o.clients, took, b->failed, b->pending,
                b->first_error[0] ? "; first failure: " : "", b->first_error);
        b->exit_code = 1;
        start_close(b);
        return;
    }
    printf("connected %ld clients in %.2f s\n", b->connected, took);
    fflush(stdout);
    b->phase = P_WARMUP;
    schedule(b, on_warmup_end, b->o.warmup_s);
}

static void check_connect_done(struct bench *b) {
    if (b->phase != P_CONNECT || b->settled) return;
    if (b->connected == b->o.clients || b->connected + b->failed == b->o.clients) {
        b->settled = 1;
        schedule(b, on_connect_settled, 0);
    }
}

static void on_drain_end(uv_timer_t *t) {
    start_close(t->data);
}

static void conn_read_start(struct conn *c);

static void on_measure_end(uv_timer_t *t) {
    struct bench *b = t->data;
    b->t1_mono = fc_mono_us();
    getrusage(RUSAGE_SELF, &b->ru1);
    b->cpu1 = sample_cpu(b);
    if (b->o.server_pid) {
        b->rss_end = proc_rss_kb(b->o.server_pid);
        if (b->rss_end > b->rss_peak) b->rss_peak = b->rss_end;
    }
    b->phase = P_DRAIN;
    b->drain_start_us = fc_now_us();
    b->drain_pending = 0;
    for (long i = 0; i < b->launched; i++) {
        struct conn *c = &b->conns[i];
        if (!c->stalled || c->state != C_OPEN || c->by_server) continue;
        b->drain_pending++;
        conn_read_start(c);
    }
    if (b->drain_pending == 0)
        start_close(b);
    else
        schedule(b, on_drain_end, DRAIN_MS / 1000.0);
}

static void on_close_grace_end(uv_timer_t *t) {
    struct bench *b = t->data;
    for (long i = 0; i < b->launched; i++) {
        struct conn *c = &b->conns[i];
        if (c->state == C_OPEN) b->unfinished++;
        conn_close(c);
    }
}

/* --- Connections: writing ------------------------------------------------- */

struct wreq {
    uv_write_t req; /* first: the request pointer is the wreq pointer */
    uint8_t data[];
};

static void on_written(uv_write_t *req, int status) {
    (void)status; /* a failed write shows up as a read error */
    free(req);
}

static int raw_write(struct conn *c, const void *data, size_t len) {
    if (c->closing) return UV_ECANCELED;
    struct wreq *w = malloc(sizeof *w + len);
    if (!w) return UV_ENOMEM;
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
    if (rc) free(w);
    return rc;
}

/* Sends what the SSL has written (handshake records, encrypted data). */
static int tls_flush(struct conn *c) {
    char *p;
    long n = BIO_get_mem_data(c->wbio, &p);
    int rc = n > 0 ? raw_write(c, p, (size_t)n) : 0;
    (void)BIO_reset(c->wbio);
    return rc;
}

static int conn_write(struct conn *c, const void *data, size_t len) {
    if (!c->ssl) return raw_write(c, data, len);
    size_t done;
    if (c->closing || SSL_write_ex(c->ssl, data, len, &done) != 1) return UV_EPROTO;
    return tls_flush(c);
}

/* Sends a masked control frame, as a client must. */
static int send_frame(struct conn *c, int opcode, const uint8_t *payload, size_t len) {
    uint8_t frame[FC_WS_MAX_HEADER + FC_WS_MAX_CONTROL], mask[4];
    if (len > FC_WS_MAX_CONTROL || RAND_bytes(mask, 4) != 1) return -1;
    size_t h = fc_ws_header_masked(frame, opcode, 1, len, mask);
    memcpy(frame + h, payload, len);
    fc_ws_mask(frame + h, len, mask, 0);
    return conn_write(c, frame, h + len);
}

static void send_close(struct conn *c, unsigned code) {
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    c->close_sent = 1;
    send_frame(c, FC_WS_CLOSE, p, 2);
}

/* --- Connections: life ---------------------------------------------------- */

static void on_closed(uv_handle_t *h) {
    struct conn *c = h->data;
    struct bench *b = c->b;
    SSL_free(c->ssl); /* and its BIOs */
    c->ssl = NULL;
    free(c->head);
    c->head = NULL;
    free(c->msg);
    c->msg = NULL;
    c->msg_cap = c->msg_len = 0;
    if (--b->handles == 0 && b->phase == P_CLOSE) schedule(b, on_finish, 0);
}

static void conn_close(struct conn *c) {
    if (c->closing || !c->inited) return;
    c->closing = 1;
    if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) c->b->pending--;
    c->state = C_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void note_error(char *dst, size_t cap, const char *msg) {
    if (!dst[0]) snprintf(dst, cap, "%s", msg);
}

/* A connection that never completed its handshake. */
static void conn_failed(struct conn *c, const char *what, const char *detail) {
    struct bench *b = c->b;
    char msg[256];
    snprintf(msg, sizeof msg, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    note_error(b->first_error, sizeof b->first_error, msg);
    b->failed++;
    if (c->inited) conn_close(c);
    c->state = C_CLOSED;
    check_connect_done(b);
}

/* The server ended the connection (its own close frame, or EOF before the
 * bench sent one). */
static void server_closed(struct conn *c, unsigned code) {
    struct bench *b = c->b;
    if (c->by_server) return;
    c->by_server = 1;
    b->closed_by_server++;
    if (c->stalled) b->closed_stalled++;
    if (code < MAX_CODE)
        b->codes[code]++;
    else
        b->codes_other++;
    if (b->phase == P_DRAIN && c->stalled && !c->drained) {
        c->drained = 1;
        if (--b->drain_pending == 0) schedule(b, on_drain_end, 0);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)c->b->rbuf, sizeof c->b->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_read_start(struct conn *c) {
    if (c->reading || c->closing) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
}

static void conn_read_stop(struct conn *c) {
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

/* Sends the upgrade request (once TLS is up, for wss://). */
static void send_upgrade(struct conn *c) {
    struct bench *b = c->b;
    char request[2048];
    int n = fc_ws_client_request_ext(
        request, sizeof request, &b->url,
        b->o.deflate ? "permessage-deflate; client_max_window_bits" : NULL, c->key);
    if (n < 0) {
        conn_failed(c, "cannot build the upgrade request", NULL);
        return;
    }
    int rc = conn_write(c, request, (size_t)n);
    if (rc) conn_failed(c, "cannot send the upgrade request", uv_strerror(rc));
}

static void on_connect(uv_connect_t *req, int status) {
    struct conn *c = req->data;
    struct bench *b = c->b;
    if (c->closing) return; /* cancelled by the bench's own close */
    if (status < 0) {
        conn_failed(c, "cannot connect", uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->head = malloc(HEAD_MAX);
    c->head_len = 0;
    if (!c->head) {
        conn_failed(c, "cannot send the upgrade request", uv_strerror(UV_ENOMEM));
        return;
    }
    c->state = C_HANDSHAKE;
    if (b->tls) {
        /* The certificate is not checked: the bench measures the server. */
        c->ssl = SSL_new(b->tls);
        c->rbio = BIO_new(BIO_s_mem());
        c->wbio = BIO_new(BIO_s_mem());
        if (!c->ssl || !c->rbio || !c->wbio) {
            BIO_free(c->rbio);
            BIO_free(c->wbio);
            conn_failed(c, "cannot start TLS", "out of memory");
            return;
        }
        BIO_set_mem_eof_return(c->rbio, -1);
        SSL_set_bio(c->ssl, c->rbio, c->wbio);
        SSL_set_connect_state(c->ssl);
        SSL_set_tlsext_host_name(c->ssl, b->url.host);
        SSL_do_handshake(c->ssl); /* the ClientHello */
        tls_flush(c);
    } else {
        send_upgrade(c);
    }
    conn_read_start(c);
}

static void conn_launch(struct conn *c) {
    struct bench *b = c->b;
    int rc = uv_tcp_init_ex(&b->loop, &c->tcp, b->addr.ss_family);
    if (rc) {
        conn_failed(c, "cannot create a socket", uv_strerror(rc));
        return;
    }
    c->tcp.data = c;
    c->creq.data = c;
    c->inited = 1;
    b->handles++;
    c->state = C_CONNECTING;
    b->pending++;
    if (c->stalled) {
        /* Set before connect, so the window is negotiated for it. */
        int size = STALLED_RCVBUF;
        uv_recv_buffer_size((uv_handle_t *)&c->tcp, &size);
    }
    rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&b->addr, on_connect);
    if (rc) conn_failed(c, "cannot connect", uv_strerror(rc));
}

/* Launches connections at most connect_rate per second: a token bucket that
 * holds at most two ticks' worth, so a stall is not followed by a burst. */
static void on_connect_tick(uv_timer_t *t) {
    struct bench *b = t->data;
    int64_t now = fc_mono_us();
    double burst = b->o.connect_rate * CONNECT_TICK_MS * 2 / 1000.0;
    if (burst < 1) burst = 1;
    b->tokens += b->o.connect_rate * (double)(now - b->last_tick_mono) / 1e6;
    if (b->tokens > burst) b->tokens = burst;
    b->last_tick_mono = now;
    while (b->phase == P_CONNECT && b->tokens >= 1 && b->launched < b->o.clients &&
           b->pending < MAX_PENDING) {
        b->tokens -= 1;
        conn_launch(&b->conns[b->launched++]);
    }
    if (b->launched == b->o.clients || b->phase != P_CONNECT) uv_timer_stop(t);
}

/* --- Connections: messages ------------------------------------------------ */

static void msg_append(struct conn *c, const uint8_t *data, size_t len) {
    if (c->msg_len + len > c->msg_cap) {
        size_t cap = c->msg_cap ? c->msg_cap : MSG_MIN_CAP;
        while (cap < c->msg_len + len) cap *= 2;
        uint8_t *m = realloc(c->msg, cap);
        if (!m) abort(); /* a load generator out of memory has nothing to report */
        c->msg = m;
        c->msg_cap = cap;
    }
    memcpy(c->msg + c->msg_len, data, len);
    c->msg_len += len;
}

/* Finds key in m and parses the integer after it; 1 when found. */
static int scan_int(const uint8_t *m, size_t n, const char *key, size_t klen, int64_t *out) {
    const uint8_t *p = memmem(m, n, key, klen), *end = m + n;
    if (!p) return 0;
    p += klen;
    while (p < end && *p == ' ') p++;
    int neg = p < end && *p == '-';
    p += neg;
    if (p == end || *p < '0' || *p > '9') return 0;
    int64_t v = 0;
    for (int digits = 0; p < end && *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
        v = v * 10 + (*p - '0');
    *out = neg ? -v : v;
    return 1;
}

static void on_message(struct conn *c, const uint8_t *m, size_t n) {
    struct bench *b = c->b;
    int64_t seq, pub;
    int ok = scan_int(m, n, "\"seq\":", 6, &seq) && scan_int(m, n, "\"publish_us\":", 13, &pub);
    int counting = b->phase == P_MEASURE && !c->stalled;
    if (counting) {
        b->deliveries++;
        b->message_bytes += n;
        c->window_msgs++;
        if (!ok) b->unparsed++;
    }
    if (!ok) return;
    if (counting) {
        int64_t lat = b->rx_us - pub;
        if (lat < 0) b->negative++;
        hist_record(&b->lat, lat);
        if (c->last_seq >= 0) {
            if (seq > c->last_seq + 1)
                b->gaps += (uint64_t)(seq - c->last_seq - 1);
            else if (seq <= c->last_seq)
                b->reorders++;
        }
    }
    if (seq > c->last_seq) c->last_seq = seq;
    if (b->phase == P_DRAIN && c->stalled && !c->drained && pub >= b->drain_start_us) {
        c->drained = 1; /* caught up with live messages: the server kept it */
        if (--b->drain_pending == 0) schedule(b, on_drain_end, 0);
    }
}

/* A compressed message, inflated into the bench's buffer: *m and *n then
 * point there. Returns 0, or -1 after failing the connection (1007). */
static int inflate_message(struct conn *c, const uint8_t **m, size_t *n) {
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    struct bench *b = c->b;
    if (b->phase == P_MEASURE && !c->stalled) b->compressed++;
    z_stream *z = c->z ? c->z : &b->z; /* a connection's own keeps its context */
    if (!c->z) inflateReset(z);
    size_t out = 0;
    for (int part = 0; part < 2; part++) {
        z->next_in = (Bytef *)(part ? tail : *m);
        z->avail_in = (uInt)(part ? sizeof tail : *n);
        for (;;) {
            if (out == b->icap) {
                size_t cap = b->icap ? b->icap * 2 : 65536;
                uint8_t *p = cap <= MAX_MESSAGE * 2 ? realloc(b->ibuf, cap) : NULL;
                if (!p) break;
                b->ibuf = p;
                b->icap = cap;
            }
            z->next_out = b->ibuf + out;
            z->avail_out = (uInt)(b->icap - out);
            int rc = inflate(z, Z_SYNC_FLUSH);
            out = b->icap - z->avail_out;
            if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) break;
            if (z->avail_in == 0 && z->avail_out) goto next;
            if (rc == Z_STREAM_END) goto next;
        }
        b->protocol_errors++;
        note_error(b->first_protocol_error, sizeof b->first_protocol_error,
                   "1007 a compressed message does not inflate");
        if (!c->close_sent) send_close(c, FC_WS_INVALID_DATA);
        return -1;
    next:;
    }
    *m = b->ibuf;
    *n = out;
    return 0;
}

static void ws_on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    struct conn *c = ud;
    (void)opcode;
    if (len) {
        if (!c->whole && !c->msg_len) {
            c->whole = data;
            c->whole_len = len;
        } else {
            if (c->whole) msg_append(c, c->whole, c->whole_len);
            c->whole = NULL;
            msg_append(c, data, len);
        }
    }
    if (!fin) return;
    const uint8_t *m = c->whole ? c->whole : c->msg;
    size_t n = c->whole ? c->whole_len : c->msg_len;
    if (!c->parser.msg_compressed || !inflate_message(c, &m, &n)) on_message(c, m, n);
    c->whole = NULL;
    c->msg_len = 0;
}

static void ws_on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    struct conn *c = ud;
    if (opcode == FC_WS_PING) {
        if (!c->close_sent) send_frame(c, FC_WS_PONG, payload, len);
    } else if (opcode == FC_WS_CLOSE) {
        unsigned code = len >= 2 ? (unsigned)payload[0] << 8 | payload[1] : 1005;
        c->close_rcvd = 1;
        /* After ours, only a different code is the server's own decision (a
         * stalled client may read it late, behind its backlog). */
        if (c->close_sent) {
            if (code != FC_WS_NORMAL) server_closed(c, code);
            return;
        }
        server_closed(c, code);
        /* Echo the code; the server then closes the TCP connection. */
        c->close_sent = 1;
        send_frame(c, FC_WS_CLOSE, payload, len >= 2 ? 2 : 0);
    }
}

static const fc_ws_parser_cbs ws_cbs = {ws_on_data, ws_on_control};

static void conn_ws_input(struct conn *c, uint8_t *data, size_t len) {
    struct bench *b = c->b;
    int code = fc_ws_parse(&c->parser, data, len, &ws_cbs, c);
    /* The read buffer is about to be reused: keep a partial message. */
    if (c->whole) msg_append(c, c->whole, c->whole_len);
    c->whole = NULL;
    if (code) {
        b->protocol_errors++;
        char msg[160];
        snprintf(msg, sizeof msg, "%u %s", (unsigned)code, c->parser.error);
        note_error(b->first_protocol_error, sizeof b->first_protocol_error, msg);
        /* The parser now ignores input; the server answers the close or the
         * close phase ends the connection. */
        if (!c->close_sent) send_close(c, (unsigned)code);
    }
}

static void conn_handshake_input(struct conn *c, const uint8_t *data, size_t len) {
    struct bench *b = c->b;
    size_t old = c->head_len;
    size_t take = len < HEAD_MAX - 1 - old ? len : HEAD_MAX - 1 - old;
    memcpy(c->head + old, data, take);
    c->head_len += take;
    c->head[c->head_len] = 0;
    size_t from = old > 3 ? old - 3 : 0;
    const char *e = memmem(c->head + from, c->head_len - from, "\r\n\r\n", 4);
    if (!e) {
        if (c->head_len == HEAD_MAX - 1) conn_failed(c, "the server's answer is too large", NULL);
        return;
    }
    size_t head_end = (size_t)(e + 4 - c->head);
    const char *why = NULL;
    int status = fc_ws_client_check(c->head, head_end, c->key, &why);
    if (status != 101) {
        char detail[160];
        snprintf(detail, sizeof detail, "%s (HTTP %d)", why, status);
        conn_failed(c, "handshake", detail);
        return;
    }
    if (b->o.deflate && !fc_ws_client_accepted(c->head, head_end, "permessage-deflate")) {
        conn_failed(c, "handshake", "the server did not accept permessage-deflate (--deflate)");
        return;
    }
    if (b->o.deflate && !strcasestr(c->head, "server_no_context_takeover")) {
        c->z = calloc(1, sizeof *c->z);
        if (!c->z || inflateInit2(c->z, -15) != Z_OK) {
            free(c->z);
            c->z = NULL;
            conn_failed(c, "handshake", "cannot set up zlib");
            return;
        }
    }
    free(c->head);
    c->head = NULL;
    c->state = C_OPEN;
    b->pending--;
    b->connected++;
    fc_ws_parser_init(&c->parser, 0, MAX_MESSAGE);
    c->parser.rsv1_ok = b->o.deflate;
    size_t used = head_end - old; /* bytes of this read that were head */
    if (len > used) {
        b->rx_us = fc_now_us();
        conn_ws_input(c, (uint8_t *)data + used, len - used);
    }
    if (c->stalled && b->phase < P_DRAIN) conn_read_stop(c);
    check_connect_done(b);
}

/* Plaintext from the server: the response head, then frames. */
static void conn_input(struct conn *c, uint8_t *data, size_t len) {
    if (c->state == C_HANDSHAKE) {
        conn_handshake_input(c, data, len);
        return;
    }
    c->b->rx_us = fc_now_us(); /* one receipt time for every message in this read */
    conn_ws_input(c, data, len);
}

/* wss://: bytes read go through the SSL; the handshake first, then the
 * plaintext to conn_input. */
static void tls_input(struct conn *c, const uint8_t *raw, size_t len) {
    BIO_write(c->rbio, raw, (int)len);
    if (!c->tls_up) {
        int r = SSL_do_handshake(c->ssl);
        tls_flush(c);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                unsigned long code = ERR_get_error();
                conn_failed(c, "TLS handshake", code ? ERR_reason_error_string(code) : NULL);
            }
            return;
        }
        c->tls_up = 1;
        send_upgrade(c);
    }
    size_t got;
    while (!c->closing && SSL_read_ex(c->ssl, c->b->pbuf, sizeof c->b->pbuf, &got) == 1)
        conn_input(c, c->b->pbuf, got);
    if (!c->closing) tls_flush(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    struct conn *c = s->data;
    if (nread == 0 || c->closing) return;
    if (nread < 0) {
        if (c->state == C_HANDSHAKE) {
            conn_failed(c, "connection closed during the handshake",
                        nread == UV_EOF ? NULL : uv_strerror((int)nread));
            return;
        }
        /* EOF or reset without the server's close frame: abnormal, 1006. */
        if (!c->close_rcvd && !c->close_sent)
            server_closed(c, 1006);
        else if (!c->close_rcvd)
            c->b->unanswered++;
        conn_close(c);
        return;
    }
    if (c->b->phase == P_MEASURE && !c->stalled && c->state == C_OPEN)
        c->b->wire_bytes += (uint64_t)nread;
    if (c->ssl) {
        tls_input(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    conn_input(c, (uint8_t *)buf->base, (size_t)nread);
}

/* --- Ending the run ------------------------------------------------------- */

static void start_close(struct bench *b) {
    b->phase = P_CLOSE;
    uv_timer_stop(&b->phase_timer);
    uv_timer_stop(&b->connect_timer);
    for (long i = 0; i < b->launched; i++) {
        struct conn *c = &b->conns[i];
        if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) {
            conn_close(c);
        } else if (c->state == C_OPEN) {
            if (!c->close_sent) send_close(c, FC_WS_NORMAL);
            conn_read_start(c); /* to see the answer */
        }
    }
    if (b->handles == 0)
        schedule(b, on_finish, 0);
    else
        schedule(b, on_close_grace_end, CLOSE_GRACE_MS / 1000.0);
}

static void on_finish(uv_timer_t *t) {
    struct bench *b = t->data;
    b->phase = P_DONE;
    if (b->o.server_pid) b->rss_after = proc_rss_kb(b->o.server_pid);
    uv_close((uv_handle_t *)&b->connect_timer, NULL);
    uv_close((uv_handle_t *)&b->phase_timer, NULL);
    uv_close((uv_handle_t *)&b->tick_timer, NULL);
}

/* --- Report --------------------------------------------------------------- */

static double tv_us(struct timeval tv) {
    return (double)tv.tv_sec * 1e6 + (double)tv.tv_usec;
}

static void json_int(fc_strbuf *sb, const char *key, int have, long long v) {
    if (have)
        fc_sb_printf(sb, ",\"%s\":%lld", key, v);
    else
        fc_sb_printf(sb, ",\"%s\":null", key);
}

static void json_real(fc_strbuf *sb, const char *key, int have, double v) {
    if (have && isfinite(v))
        fc_sb_printf(sb, ",\"%s\":%.3f", key, v);
    else
        fc_sb_printf(sb, ",\"%s\":null", key);
}

static void report(struct bench *b) {
    const struct opts *o = &b->o;
    int measured = b->t1_mono > b->t0_mono;
    double window_s = measured ? (double)(b->t1_mono - b->t0_mono) / 1e6 : 0;
    double per_s = measured ? (double)b->deliveries / window_s : 0;
    long active = o->clients - o->stalled;
    uint64_t min_msgs = UINT64_MAX, max_msgs = 0;
    for (long i = 0; i < o->clients; i++) {
        const struct conn *c = &b->conns[i];
        if (c->stalled) continue;
        if (c->window_msgs < min_msgs) min_msgs = c->window_msgs;
        if (c->window_msgs > max_msgs) max_msgs = c->window_msgs;
    }
    int have_fair = measured && active > 0;
    int have_lat = b->lat.total > 0;
    int64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0;
    if (have_lat) {
        p50 = hist_quantile(&b->lat, 0.50);
        p90 = hist_quantile(&b->lat, 0.90);
        p99 = hist_quantile(&b->lat, 0.99);
        p999 = hist_quantile(&b->lat, 0.999);
    }
    long tck = sysconf(_SC_CLK_TCK);
    int have_cpu = measured && b->cpu0 >= 0 && b->cpu1 >= b->cpu0 && tck > 0;
    double server_cpu_us = have_cpu ? (double)(b->cpu1 - b->cpu0) * 1e6 / (double)tck : 0;
    double bench_cpu_us = measured ? tv_us(b->ru1.ru_utime) - tv_us(b->ru0.ru_utime) +
                                         tv_us(b->ru1.ru_stime) - tv_us(b->ru0.ru_stime)
                                   : 0;
    double bench_pct = measured ? bench_cpu_us / (window_s * 1e6) * 100 : 0;

    fc_strbuf codes;
    fc_sb_init(&codes, 128);
    for (unsigned code = 0; code < MAX_CODE; code++)
        if (b->codes[code])
            fc_sb_printf(&codes, "%s%u x%u", codes.len ? ", " : "", code, b->codes[code]);
    if (b->codes_other) fc_sb_printf(&codes, "%sother x%u", codes.len ? ", " : "", b->codes_other);

    printf("clients           %ld (%ld stalled), %ld connected\n", o->clients, o->stalled,
           b->connected);
    if (measured) {
        printf("window            %.2f s after %.1f s warmup\n", window_s, o->warmup_s);
        printf("deliveries        %llu (%.1f/s) to %ld clients\n",
               (unsigned long long)b->deliveries, per_s, active);
        if (have_lat)
            printf("latency us        p50 %lld  p90 %lld  p99 %lld  p99.9 %lld  max %lld\n",
                   (long long)p50, (long long)p90, (long long)p99, (long long)p999,
                   (long long)b->lat.max);
        if (b->negative)
            printf("latency warning   %llu messages published after their receipt (clock?)\n",
                   (unsigned long long)b->negative);
        if (b->unparsed)
            printf("unparsed          %llu messages without \"seq\" and \"publish_us\"\n",
                   (unsigned long long)b->unparsed);
        printf("seq               gaps %llu  reorders %llu\n", (unsigned long long)b->gaps,
               (unsigned long long)b->reorders);
        if (have_fair)
            printf("fairness          min %llu  max %llu messages per client\n",
                   (unsigned long long)min_msgs, (unsigned long long)max_msgs);
        if (b->deliveries)
            printf("bytes             %.1f on the wire, %.1f of message per delivery (%.3fx); "
                   "%llu compressed\n",
                   (double)b->wire_bytes / (double)b->deliveries,
                   (double)b->message_bytes / (double)b->deliveries,
                   b->message_bytes ? (double)b->wire_bytes / (double)b->message_bytes : 0,
                   (unsigned long long)b->compressed);
    }
    printf("closed by server  %ld (%ld stalled, %ld active)%s%s\n", b->closed_by_server,
           b->closed_stalled, b->closed_by_server - b->closed_stalled, codes.len ? "; codes: " : "",
           codes.len ? codes.data : "");
    if (b->unanswered)
        printf("close handshake   %ld clients saw EOF without an answer to their close frame\n",
               b->unanswered);
    if (b->unfinished)
        printf("close handshake   %ld clients still open after %d ms, closed by the bench\n",
               b->unfinished, CLOSE_GRACE_MS);
    if (b->protocol_errors)
        printf("protocol errors   %ld (first: %s)\n", b->protocol_errors, b->first_protocol_error);
    if (o->server_pid) {
        if (have_cpu)
            printf("server cpu        %.2f us per delivery (%.1f%% of one core)\n",
                   b->deliveries ? server_cpu_us / (double)b->deliveries : 0,
                   server_cpu_us / (window_s * 1e6) * 100);
        else if (measured)
            printf("server cpu        n/a (pid %ld was gone at the end of the window)\n",
                   o->server_pid);
        char kb[4][24];
        const long rss[4] = {b->rss_start, b->rss_peak, b->rss_end, b->rss_after};
        for (int i = 0; i < 4; i++)
            if (rss[i] >= 0)
                snprintf(kb[i], sizeof kb[i], "%ld", rss[i]);
            else
                snprintf(kb[i], sizeof kb[i], "n/a");
        printf("server rss kB     start %s  peak %s  end of window %s  after close %s\n", kb[0],
               kb[1], kb[2], kb[3]);
    }
    if (measured) {
        printf("bench cpu         %.1f%% of one core%s\n", bench_pct,
               bench_pct > 90 ? " (the bench may be the bottleneck)" : "");
        printf("bench loop lag    max %.1f ms%s\n", (double)b->lag_max_us / 1000,
               b->lag_max_us > 50000 ? " (the bench was busy or starved of CPU: latencies include "
                                       "its delay)"
                                     : "");
    }

    if (o->json) {
        fc_strbuf sb;
        fc_sb_init(&sb, 1024);
        fc_sb_printf(&sb, "{\"clients\":%ld,\"stalled\":%ld,\"connected\":%ld", o->clients,
                     o->stalled, b->connected);
        json_real(&sb, "duration_s", 1, window_s);
        json_int(&sb, "deliveries", 1, (long long)b->deliveries);
        json_real(&sb, "deliveries_per_s", 1, per_s);
        json_int(&sb, "p50_us", have_lat, p50);
        json_int(&sb, "p90_us", have_lat, p90);
        json_int(&sb, "p99_us", have_lat, p99);
        json_int(&sb, "p999_us", have_lat, p999);
        json_int(&sb, "max_us", have_lat, b->lat.max);
        json_real(&sb, "wire_bytes_per_delivery", b->deliveries > 0,
                  b->deliveries ? (double)b->wire_bytes / (double)b->deliveries : 0);
        json_real(&sb, "message_bytes_per_delivery", b->deliveries > 0,
                  b->deliveries ? (double)b->message_bytes / (double)b->deliveries : 0);
        json_int(&sb, "compressed", 1, (long long)b->compressed);
        json_int(&sb, "gaps", 1, (long long)b->gaps);
        json_int(&sb, "unparsed", 1, (long long)b->unparsed);
        json_int(&sb, "protocol_errors", 1, b->protocol_errors);
        json_int(&sb, "closed_stalled", 1, b->closed_stalled);
        json_int(&sb, "reorders", 1, (long long)b->reorders);
        json_int(&sb, "min_msgs", have_fair, (long long)min_msgs);
        json_int(&sb, "max_msgs", have_fair, (long long)max_msgs);
        json_int(&sb, "closed_by_server", 1, b->closed_by_server);
        fc_sb_puts(&sb, ",\"close_codes\":{");
        int first = 1;
        for (unsigned code = 0; code < MAX_CODE; code++)
            if (b->codes[code]) {
                fc_sb_printf(&sb, "%s\"%u\":%u", first ? "" : ",", code, b->codes[code]);
                first = 0;
            }
        fc_sb_puts(&sb, "}");
        json_real(&sb, "server_cpu_us_per_delivery", have_cpu && b->deliveries,
                  b->deliveries ? server_cpu_us / (double)b->deliveries : 0);
        json_int(&sb, "server_rss_start_kb", b->rss_start >= 0, b->rss_start);
        json_int(&sb, "server_rss_peak_kb", b->rss_peak >= 0, b->rss_peak);
        json_int(&sb, "server_rss_end_kb", b->rss_end >= 0, b->rss_end);
        json_real(&sb, "bench_cpu_pct", measured, bench_pct);
        json_real(&sb, "bench_loop_lag_max_ms", measured, (double)b->lag_max_us / 1000);
        fc_sb_puts(&sb, "}");
        puts(sb.data);
        fc_sb_free(&sb);
    }
    fc_sb_free(&codes);
    fflush(stdout);
}

/* --- Options -------------------------------------------------------------- */

static const char usage[] =
    "usage: framecast-bench --url ws://HOST:PORT/ws/STREAM --clients N [--stalled K]\n"
    "                       [--connect-rate R] [--duration S] [--warmup S]\n"
    "                       [--server-pid PID] [--json] [--connect-timeout S] [--deflate]\n"
    "Opens N WebSocket clients, K of which stop reading after the handshake, and\n"
    "measures delivery rate, latency (receipt - publish_us), seq gaps, fairness and\n"
    "server-initiated closes over a window of S seconds.\n"
    "  --url URL              the stream to subscribe to (ws:// or wss://)\n"
    "  --clients N            clients to open (1..1000000)\n"
    "  --stalled K            of which never read after the handshake (0)\n"
    "  --connect-rate R       new connections per second at most (2000)\n"
    "  --warmup S             seconds between the last connect and the window (1)\n"
    "  --duration S           length of the measurement window in seconds (10)\n"
    "  --connect-timeout S    give up (exit 1) unless all clients connect in time (30)\n"
    "  --server-pid PID       also report the server's CPU per delivery and RSS\n"
    "  --json                 end with one line holding a JSON object of the figures\n"
    "  --deflate              offer permessage-deflate and require it; messages are\n"
    "                         inflated, and wire bytes are compared with theirs\n"
    "Exit status: 0 after a completed run, 1 when not all clients connect, 2 for bad\n"
    "arguments.\n";

static int bad(const char *opt, const char *value, const char *expected) {
    fprintf(stderr, "framecast-bench: %s: '%s' is not valid (expected %s)\n", opt, value, expected);
    return 2;
}

static int parse_long(const char *opt, const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        char expected[96];
        snprintf(expected, sizeof expected, "an integer from %ld to %ld", min, max);
        return bad(opt, s, expected);
    }
    *out = v;
    return 0;
}

/* Seconds (or a rate): a finite number in [min, max], min itself allowed
 * only when min_ok. */
static int parse_num(const char *opt, const char *s, double min, int min_ok, double max,
                     const char *expected, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || (!min_ok && v == min) || v > max)
        return bad(opt, s, expected);
    *out = v;
    return 0;
}

enum {
    O_URL = 256,
    O_CLIENTS,
    O_STALLED,
    O_RATE,
    O_DURATION,
    O_WARMUP,
    O_PID,
    O_JSON,
    O_TIMEOUT,
    O_DEFLATE,
    O_HELP
};

/* Returns 0, 2 for bad arguments, or -1 after --help. */
static int parse_args(struct opts *o, int argc, char **argv) {
    static const struct option longopts[] = {{"url", required_argument, 0, O_URL},
                                             {"clients", required_argument, 0, O_CLIENTS},
                                             {"stalled", required_argument, 0, O_STALLED},
                                             {"connect-rate", required_argument, 0, O_RATE},
                                             {"duration", required_argument, 0, O_DURATION},
                                             {"warmup", required_argument, 0, O_WARMUP},
                                             {"server-pid", required_argument, 0, O_PID},
                                             {"json", no_argument, 0, O_JSON},
                                             {"connect-timeout", required_argument, 0, O_TIMEOUT},
                                             {"deflate", no_argument, 0, O_DEFLATE},
                                             {"help", no_argument, 0, O_HELP},
                                             {0, 0, 0, 0}};
    *o = (struct opts){.clients = -1,
                       .connect_rate = 2000,
                       .duration_s = 10,
                       .warmup_s = 1,
                       .connect_timeout_s = 30};
    opterr = 0;
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (opt) {
        case O_URL:
            o->url = optarg;
            break;
        case O_CLIENTS:
            rc = parse_long("--clients", optarg, 1, 1000000, &o->clients);
            break;
        case O_STALLED:
            rc = parse_long("--stalled", optarg, 0, 1000000, &o->stalled);
            break;
        case O_RATE:
            rc = parse_num("--connect-rate", optarg, 0, 0, 1e6,
                           "connections per second, > 0 and at most 1000000", &o->connect_rate);
            break;
        case O_DURATION:
            rc = parse_num("--duration", optarg, 0, 0, 86400, "seconds, > 0 and at most 86400",
                           &o->duration_s);
            break;
        case O_WARMUP:
            rc = parse_num("--warmup", optarg, 0, 1, 86400, "seconds, >= 0 and at most 86400",
                           &o->warmup_s);
            break;
        case O_TIMEOUT:
            rc = parse_num("--connect-timeout", optarg, 0, 0, 86400,
                           "seconds, > 0 and at most 86400", &o->connect_timeout_s);
            break;
        case O_PID:
            rc = parse_long("--server-pid", optarg, 1, 4194304, &o->server_pid);
            break;
        case O_JSON:
            o->json = 1;
            break;
        case O_DEFLATE:
            o->deflate = 1;
            break;
        case O_HELP:
            fputs(usage, stdout);
            return -1;
        case ':':
            fprintf(stderr, "framecast-bench: %s: missing value (see --help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "framecast-bench: %s: unknown option (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (rc) return rc;
    if (optind < argc) {
        fprintf(stderr, "framecast-bench: '%s': unexpected argument (options start with --)\n",
                argv[optind]);
        return 2;
    }
    if (!o->url) {
        fprintf(stderr, "framecast-bench: --url is required (e.g. --url "
                        "ws://127.0.0.1:8080/ws/demo)\n");
        return 2;
    }
    if (o->clients < 0) {
        fprintf(stderr, "framecast-bench: --clients is required (a positive integer)\n");
        return 2;
    }
    if (o->stalled > o->clients) {
        fprintf(stderr, "framecast-bench: --stalled: %ld is more than --clients (%ld)\n",
                o->stalled, o->clients);
        return 2;
    }
    if (o->server_pid && proc_cpu_ticks(o->server_pid) < 0) {
        fprintf(stderr,
                "framecast-bench: --server-pid: cannot read /proc/%ld/stat (expected "
                "the pid of a running framecast)\n",
                o->server_pid);
        return 2;
    }
    return 0;
}

/* Raises the descriptor limit to the hard limit; 0 when n clients fit. */
static int raise_nofile(long n) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) return 0; /* unknown: let connects tell */
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
    }
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)(n + FD_RESERVE) > rl.rlim_cur) {
        fprintf(stderr,
                "framecast-bench: --clients: %ld clients need %ld file descriptors, but the "
                "hard limit (RLIMIT_NOFILE) is %llu\n",
                n, n + FD_RESERVE, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

static int resolve(struct bench *b) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(b->url.host, b->url.port, &hints, &res);
    if (rc) {
        fprintf(stderr, "framecast-bench: --url: cannot resolve '%s': %s\n", b->url.host,
                gai_strerror(rc));
        return -1;
    }
    memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int main(int argc, char **argv) {
    struct opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    struct bench *b = calloc(1, sizeof *b);
    if (!b) return 1;
    b->o = o;
    const char *why;
    if (fc_ws_url_parse(o.url, &b->url, &why)) {
        fprintf(stderr, "framecast-bench: --url: '%s': %s\n", o.url, why);
        free(b);
        return 2;
    }
    if (raise_nofile(o.clients)) {
        free(b);
        return 2;
    }
    if (b->url.tls) { /* one context for every client; no verification (see on_connect) */
        b->tls = SSL_CTX_new(TLS_client_method());
        if (!b->tls) {
            fprintf(stderr, "framecast-bench: cannot create a TLS context\n");
            free(b);
            return 1;
        }
        SSL_CTX_set_verify(b->tls, SSL_VERIFY_NONE, NULL);
    }
    if (resolve(b)) {
        free(b);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (o.deflate) {
        if (inflateInit2(&b->z, -15) != Z_OK) {
            fprintf(stderr, "framecast-bench: --deflate: cannot set up zlib\n");
            free(b);
            return 1;
        }
        b->z_on = 1;
    }

    b->conns = calloc((size_t)o.clients, sizeof *b->conns);
    if (!b->conns) {
        fprintf(stderr, "framecast-bench: --clients: cannot allocate %ld clients\n", o.clients);
        free(b);
        return 1;
    }
    for (long i = 0; i < o.clients; i++) {
        struct conn *c = &b->conns[i];
        c->b = b;
        c->last_seq = -1;
        /* Spread the stalled ones evenly over the connect order (and so over
         * the server's I/O threads, which take connections round-robin). */
        c->stalled = (i + 1) * o.stalled / o.clients != i * o.stalled / o.clients;
    }
    b->cpu0 = b->cpu1 = -1;
    b->rss_start = b->rss_peak = b->rss_end = b->rss_after = -1;
    if (o.server_pid) b->rss_start = b->rss_peak = proc_rss_kb(o.server_pid);

    printf("framecast-bench: %s, %ld clients (%ld stalled), connect rate %g/s, warmup %g s, "
           "window %g s\n",
           o.url, o.clients, o.stalled, o.connect_rate, o.warmup_s, o.duration_s);
    fflush(stdout);

    uv_loop_init(&b->loop);
    uv_timer_init(&b->loop, &b->connect_timer);
    uv_timer_init(&b->loop, &b->phase_timer);
    uv_timer_init(&b->loop, &b->tick_timer);
    b->connect_timer.data = b->phase_timer.data = b->tick_timer.data = b;
    b->phase = P_CONNECT;
    b->start_mono = b->last_tick_mono = fc_mono_us();
    b->tokens = 1;
    uv_timer_start(&b->connect_timer, on_connect_tick, 0, CONNECT_TICK_MS);
    uv_timer_start(&b->tick_timer, on_tick, TICK_MS, TICK_MS);
    schedule(b, on_connect_settled, o.connect_timeout_s);

    /* Ends when every handle is closed: on_finish closes the timers last. */
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);

    report(b);
    int exit_code = b->exit_code;
    SSL_CTX_free(b->tls);
    if (b->z_on) inflateEnd(&b->z);
    for (long i = 0; i < o.clients; i++) {
        if (!b->conns[i].z) continue;
        inflateEnd(b->conns[i].z);
        free(b->conns[i].z);
    }
    free(b->ibuf);
    free(b->conns);
    free(b);
    return exit_code;
}
