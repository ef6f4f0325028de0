/* framecast-client: subscribes to a stream and prints each message as one
 * line on stdout. A plain blocking client: one socket, poll() for deadlines.
 *
 *   framecast-client [--count N] [--timeout SECONDS] [--resume] ws://HOST:PORT/ws/STREAM
 *
 * It stops after --count results (status messages and previews are printed
 * but not counted), when the stream ends (a status "ended" or "failed"), or
 * when the server closes. With --resume it reconnects by itself instead
 * (0.5 s doubling to 5 s), asking for what it missed (?since=SEQ&epoch=E),
 * and says on stderr which results it lost, if any: those a reset message
 * names, and seq gaps (a slow client's dropped results).
 * Exit status: 0 after --count results, at the stream's end or a normal
 * close by the server; 1 when it cannot connect or the connection fails;
 * 2 for bad arguments; 3 when --timeout passes first; 4 when the stream
 * failed. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hub/ws.h"
#include "hub/wsclient.h"
#include "util/clock.h"
#include "util/strbuf.h"

struct client {
    int fd;
    SSL_CTX *tls; /* wss:// */
    SSL *ssl;     /* this connection's, on fd */
    fc_ws_parser parser;
    fc_strbuf msg;       /* the message being reassembled */
    long count, limit;   /* results */
    int ended;           /* 1: the stream ended, 2: it failed */
    int closed;          /* the server's close frame arrived */
    unsigned close_code; /* its code, 1005 when none */
    int64_t deadline_us; /* 0: none */
    /* across reconnections (--resume) */
    unsigned long long last_seq; /* 0 before the first result */
    char epoch[64];
};

static const char usage[] =
    "usage: framecast-client [--count N] [--timeout SECONDS] [--resume] [--ca FILE]\n"
    "                        [--insecure] ws[s]://HOST:PORT/ws/STREAM\n"
    "Prints each message of the stream as one line on stdout, until --count results\n"
    "(status messages are printed, not counted), the stream's end, or --timeout.\n"
    "--resume reconnects by itself, resuming where it left off, and prints the\n"
    "results it lost, if any, on stderr. wss:// checks the server's certificate\n"
    "against the system's authorities, or --ca FILE; --insecure does not check.\n"
    "Exit status: 0 done or the stream ended, 1 connection failed, 2 bad arguments,\n"
    "3 timeout, 4 the stream failed.\n";

static int send_all(struct client *c, const void *data, size_t len) {
    const char *p = data;
    if (c->ssl) {
        size_t done;
        return SSL_write_ex(c->ssl, data, len, &done) == 1 ? 0 : -1;
    }
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads what is there (at most len bytes); 0 at the end, < 0 on error. */
static ssize_t recv_some(struct client *c, void *buf, size_t len) {
    if (!c->ssl) return recv(c->fd, buf, len, 0);
    size_t got;
    if (SSL_read_ex(c->ssl, buf, len, &got) == 1) return (ssize_t)got;
    return SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

/* Sends a masked frame, as a client must. */
static int send_frame(struct client *c, int opcode, const uint8_t *payload, size_t len) {
    uint8_t frame[FC_WS_MAX_HEADER + FC_WS_MAX_CONTROL], mask[4];
    if (len > FC_WS_MAX_CONTROL || RAND_bytes(mask, 4) != 1) return -1;
    size_t h = fc_ws_header_masked(frame, opcode, 1, len, mask);
    memcpy(frame + h, payload, len);
    fc_ws_mask(frame + h, len, mask, 0);
    return send_all(c, frame, h + len);
}

static int send_close(struct client *c, unsigned code) {
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return send_frame(c, FC_WS_CLOSE, p, 2);
}

static double number(const cJSON *m, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A result: counted; a gap in seq is a loss, said on stderr. */
static void on_result_msg(struct client *c, const cJSON *m) {
    c->count++;
    unsigned long long seq = (unsigned long long)number(m, "seq");
    const char *epoch = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "epoch"));
    if (!seq || !epoch) return;
    if (c->last_seq && strcmp(epoch, c->epoch) == 0 && seq > c->last_seq + 1)
        fprintf(stderr, "framecast-client: lost results %llu..%llu (dropped: a slow client)\n",
                c->last_seq + 1, seq - 1);
    c->last_seq = seq;
    snprintf(c->epoch, sizeof c->epoch, "%s", epoch);
}

/* A reset: what a resume could not get back. */
static void on_reset_msg(struct client *c, const cJSON *m) {
    const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "reason"));
    const char *epoch = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "epoch"));
    unsigned long long oldest = (unsigned long long)number(m, "oldest_seq");
    reason = reason ? reason : "?";
    if (strcmp(reason, "epoch") == 0)
        fprintf(stderr,
                "framecast-client: the stream's numbering changed (epoch %s, was %s): lost what "
                "came after seq %llu of the old one\n",
                epoch ? epoch : "?", c->epoch, c->last_seq);
    else if (oldest > c->last_seq + 1)
        fprintf(stderr, "framecast-client: lost results %llu..%llu (%s)\n", c->last_seq + 1,
                oldest - 1, reason);
    else
        fprintf(stderr, "framecast-client: reset (%s)\n", reason);
    c->last_seq = 0; /* the next result starts the count again */
}

/* Counts a result; notes the end of the stream (a final status). */
static void classify(struct client *c, const char *json, size_t len) {
    cJSON *m = cJSON_ParseWithLength(json, len);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "type"));
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "state"));
    if (type && strcmp(type, "result") == 0) {
        on_result_msg(c, m);
    } else if (type && strcmp(type, "reset") == 0) {
        on_reset_msg(c, m);
    } else if (type && strcmp(type, "status") == 0 && state) {
        const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "error"));
        if (strcmp(state, "ended") == 0) {
            c->ended = 1;
        } else if (strcmp(state, "failed") == 0) {
            c->ended = 2;
            fprintf(stderr, "framecast-client: the stream failed: %s\n", error ? error : "");
        }
    }
    cJSON_Delete(m);
}

static void on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    struct client *c = ud;
    if (len) fc_sb_append(&c->msg, data, len);
    if (!fin) return;
    if ((c->limit > 0 && c->count >= c->limit) || c->ended) {
        fc_sb_reset(&c->msg); /* done: what came in the same read is not printed */
        return;
    }
    if (opcode == FC_WS_TEXT) {
        /* One message, one line: JSON never contains a raw newline. */
        fwrite(c->msg.data, 1, c->msg.len, stdout);
        fputc('\n', stdout);
        classify(c, c->msg.data, c->msg.len);
    } else {
        printf("{\"type\":\"binary\",\"bytes\":%zu}\n", c->msg.len);
    }
    fflush(stdout);
    fc_sb_reset(&c->msg);
}

static void on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    struct client *c = ud;
    if (opcode == FC_WS_PING) {
        send_frame(c, FC_WS_PONG, payload, len);
    } else if (opcode == FC_WS_CLOSE) {
        c->closed = 1;
        c->close_code = len >= 2 ? (unsigned)payload[0] << 8 | payload[1] : 1005;
        if (len > 2)
            fprintf(stderr, "framecast-client: server closed: %u %.*s\n", c->close_code,
                    (int)len - 2, payload + 2);
        send_frame(c, FC_WS_CLOSE, payload, len >= 2 ? 2 : 0);
    }
}

/* Waits for the socket to be readable; returns 1, 0 on deadline, -1 on error. */
static int wait_readable(struct client *c) {
    if (c->ssl && SSL_pending(c->ssl) > 0) return 1; /* decrypted, not yet read */
    int timeout = -1;
    if (c->deadline_us) {
        int64_t left = c->deadline_us - fc_mono_us();
        if (left <= 0) return 0;
        timeout = (int)(left / 1000) + 1;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int r;
    while ((r = poll(&pfd, 1, timeout)) < 0 && errno == EINTR) {
    }
    return r;
}

static int connect_to(const fc_ws_url *u, const char *url) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc) {
        fprintf(stderr, "framecast-client: cannot resolve '%s': %s\n", u->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) fprintf(stderr, "framecast-client: cannot connect to %s: %s\n", url, strerror(e));
    return fd;
}

/* wss://: TLS on the connected socket, the server's certificate checked
 * against the system's authorities (or --ca FILE) and its name, unless
 * --insecure. Returns 0, or -1 with a message. */
static int start_tls(struct client *c, const fc_ws_url *u, const char *url) {
    struct timeval tv = {10, 0}; /* a server that never answers the handshake */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    c->ssl = SSL_new(c->tls);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
        SSL_set_tlsext_host_name(c->ssl, u->host) != 1 || SSL_set1_host(c->ssl, u->host) != 1) {
        fprintf(stderr, "framecast-client: %s: cannot start TLS\n", url);
        return -1;
    }
    if (SSL_connect(c->ssl) != 1) {
        long v = SSL_get_verify_result(c->ssl);
        unsigned long e = ERR_get_error();
        fprintf(stderr, "framecast-client: %s: TLS handshake failed: %s\n", url,
                v != X509_V_OK ? X509_verify_cert_error_string(v)
                : e            ? ERR_reason_error_string(e)
                               : "the server closed the connection");
        return -1;
    }
    tv.tv_sec = 0;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return 0;
}

static void end_conn(struct client *c) {
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
}

/* One connection: handshake, then messages until the count, the stream's
 * end, a close, a loss or the deadline. Returns the exit status it means;
 * lost is set when the connection was lost or closed by the server before
 * the stream ended (--resume may reconnect then). */
static int run_session(struct client *c, const fc_ws_url *u, const char *url, int *lost) {
    static uint8_t buf[65536];
    *lost = 0;
    c->closed = 0;
    if ((c->fd = connect_to(u, url)) < 0) {
        *lost = 1;
        return 1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (u->tls && start_tls(c, u, url)) {
        end_conn(c);
        *lost = 1;
        return 1;
    }
    char req[2048], key[25];
    const char *why;
    int n = fc_ws_client_request(req, sizeof req, u, key);
    if (n < 0 || send_all(c, req, (size_t)n)) {
        fprintf(stderr, "framecast-client: cannot send the handshake to %s\n", url);
        end_conn(c);
        *lost = 1;
        return 1;
    }

    /* Read the response head; bytes after it are the first frames. */
    size_t have = 0, head_len = 0;
    int rc = 1;
    while (!head_len) {
        int w = wait_readable(c);
        if (w <= 0) {
            fprintf(stderr, "framecast-client: %s: no handshake answer in time\n", url);
            end_conn(c);
            return 3;
        }
        ssize_t r = recv_some(c, buf + have, sizeof buf - have - 1);
        if (r <= 0) {
            fprintf(stderr, "framecast-client: %s: connection closed during the handshake\n", url);
            end_conn(c);
            *lost = 1;
            return 1;
        }
        have += (size_t)r;
        buf[have] = 0;
        char *e = strstr((char *)buf, "\r\n\r\n");
        if (e)
            head_len = (size_t)(e + 4 - (char *)buf);
        else if (have == sizeof buf - 1)
            break;
    }
    int status = fc_ws_client_check((char *)buf, head_len, key, &why);
    if (status != 101) {
        const char *body = (char *)buf + head_len;
        fprintf(stderr, "framecast-client: %s: %s (HTTP %d%s%.*s)\n", url, why, status,
                *body ? ": " : "", (int)strcspn(body, "\r\n"), body);
        *lost = status == 503; /* at capacity: worth another try */
        end_conn(c);
        return 1;
    }

    fc_ws_parser_init(&c->parser, 0, 64u << 20);
    fc_sb_reset(&c->msg);
    static const fc_ws_parser_cbs cbs = {on_data, on_control};
    size_t pending = have - head_len;
    memmove(buf, buf + head_len, pending);
    for (;;) {
        if (pending) {
            int code = fc_ws_parse(&c->parser, buf, pending, &cbs, c);
            pending = 0;
            if (code) {
                fprintf(stderr, "framecast-client: protocol error from server: %s\n",
                        c->parser.error);
                send_close(c, (unsigned)code);
                break;
            }
        }
        if ((c->limit > 0 && c->count >= c->limit) || c->ended) {
            send_close(c, FC_WS_NORMAL);
            rc = c->ended == 2 ? 4 : 0;
            break;
        }
        if (c->closed) {
            rc = c->close_code == FC_WS_NORMAL || c->close_code == FC_WS_GOING_AWAY ||
                         c->close_code == 1005
                     ? 0
                     : 1;
            *lost = 1;
            break;
        }
        int w = wait_readable(c);
        if (w == 0) {
            fprintf(stderr, "framecast-client: timeout after %ld results\n", c->count);
            rc = 3;
            break;
        }
        ssize_t r = w < 0 ? -1 : recv_some(c, buf, sizeof buf);
        if (r <= 0) {
            fprintf(stderr, "framecast-client: connection lost after %ld results\n", c->count);
            *lost = 1;
            break;
        }
        pending = (size_t)r;
    }
    end_conn(c);
    return rc;
}

/* url with since/epoch added to its query, for a resume. */
static void resume_url(const fc_ws_url *base, const struct client *c, fc_ws_url *out) {
    *out = *base;
    if (!c->last_seq) return;
    size_t n = strlen(out->path);
    snprintf(out->path + n, sizeof out->path - n, "%ssince=%llu&epoch=%s",
             strchr(base->path, '?') ? "&" : "?", c->last_seq, c->epoch);
}

int main(int argc, char **argv) {
    struct client c = {.fd = -1, .limit = -1};
    double timeout_s = 0;
    static const struct option longopts[] = {{"count", required_argument, 0, 'n'},
                                             {"timeout", required_argument, 0, 't'},
                                             {"resume", no_argument, 0, 'r'},
                                             {"ca", required_argument, 0, 'c'},
                                             {"insecure", no_argument, 0, 'k'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int opt;
    char *end;
    int resume = 0, insecure = 0;
    const char *ca = NULL;
    while ((opt = getopt_long(argc, argv, "n:t:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            ca = optarg;
            break;
        case 'k':
            insecure = 1;
            break;
        case 'r':
            resume = 1;
            break;
        case 'n':
            c.limit = strtol(optarg, &end, 10);
            if (*end || end == optarg || c.limit < 1) {
                fprintf(stderr,
                        "framecast-client: --count: '%s' is not valid (expected a positive "
                        "number of results)\n",
                        optarg);
                return 2;
            }
            break;
        case 't':
            timeout_s = strtod(optarg, &end);
            if (*end || end == optarg || timeout_s <= 0) {
                fprintf(stderr,
                        "framecast-client: --timeout: '%s' is not valid (expected seconds > 0)\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(usage, stderr);
        return 2;
    }
    const char *url = argv[optind], *why;
    fc_ws_url u;
    if (fc_ws_url_parse(url, &u, &why)) {
        fprintf(stderr, "framecast-client: '%s': %s\n", url, why);
        return 2;
    }
    if (timeout_s > 0) c.deadline_us = fc_mono_us() + (int64_t)(timeout_s * 1e6);
    signal(SIGPIPE, SIG_IGN); /* a write to a closed TLS connection is an error, not a death */
    if (u.tls) {
        c.tls = SSL_CTX_new(TLS_client_method());
        if (!c.tls) return 1;
        SSL_CTX_set_min_proto_version(c.tls, TLS1_2_VERSION);
        SSL_CTX_set_verify(c.tls, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
        if ((ca && SSL_CTX_load_verify_locations(c.tls, ca, NULL) != 1) ||
            (!ca && SSL_CTX_set_default_verify_paths(c.tls) != 1)) {
            fprintf(stderr,
                    "framecast-client: --ca: cannot load '%s' (expected PEM certificates)\n",
                    ca ? ca : "the system's authorities");
            SSL_CTX_free(c.tls);
            return 2;
        }
    }

    fc_sb_init(&c.msg, 4096);
    int rc, lost;
    int64_t backoff_ms = 500;
    for (;;) {
        fc_ws_url now;
        resume_url(&u, &c, &now);
        long before = c.count;
        rc = run_session(&c, &now, url, &lost);
        if (!resume || !lost || rc == 3) break;
        if (c.count > before) backoff_ms = 500; /* it was working: retry soon */
        if (c.deadline_us && fc_mono_us() + backoff_ms * 1000 >= c.deadline_us) {
            fprintf(stderr, "framecast-client: timeout after %ld results\n", c.count);
            rc = 3;
            break;
        }
        fprintf(stderr, "framecast-client: reconnecting in %lld ms\n", (long long)backoff_ms);
        struct timespec ts = {backoff_ms / 1000, (backoff_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
    }
    fc_sb_free(&c.msg);
    SSL_CTX_free(c.tls);
    return rc;
}
