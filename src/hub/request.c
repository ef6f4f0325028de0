/* A new connection's HTTP request (see request.h). */
#include "hub/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub/auth.h"
#include "hub/conn.h"
#include "hub/session.h"
#include "hub/writer.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/strbuf.h"

/* Sends a complete HTTP answer and closes after it. */
static void reply(fc_conn *c, int status, const char *status_text, const char *extra_headers,
                  const char *body) {
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    fc_sb_printf(&sb,
                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                 "X-Content-Type-Options: nosniff\r\nConnection: close\r\n%s\r\n%s",
                 status, status_text, strlen(body) + 1, extra_headers ? extra_headers : "", body);
    fc_sb_puts(&sb, "\n");
    fc_writer_send(c, fc_sb_failed(&sb) ? NULL : fc_buf_from(sb.data, sb.len));
    fc_sb_free(&sb);
    c->close_after_flush = 1;
    if (!c->linger) uv_read_stop((uv_stream_t *)&c->tcp);
}

/* Refuses a request whose body is still coming: answered at once, then the
 * connection lingers (see fc_conn.linger). */
static void refuse_body(fc_conn *c, int status, const char *status_text, const char *why) {
    c->linger = 1;
    reply(c, status, status_text, NULL, why);
}

void fc_request_timeout(fc_conn *c) {
    atomic_fetch_add_explicit(&c->lp->hub->refused[FC_HUB_REFUSED_TIMEOUT], 1,
                              memory_order_relaxed);
    if (c->state == FC_CONN_HTTP && c->head_len == 0) {
        fc_conn_close(c);
        return;
    }
    fc_debug("%s: no whole request within --handshake-timeout: 408",
             c->peer_text[0] ? c->peer_text : "a client");
    /* Once written, the connection lingers a second (fc_conn_linger); a
     * client that reads nothing is closed at the next tick, its deadline
     * having passed. */
    refuse_body(c, 408, "Request Timeout", "request not complete within --handshake-timeout");
}

/* 1 if the stream slot serves a stream now (a removed one is not served:
 * acquire, so its name may be read). */
static int served(const fc_hub_stream *s) {
    return atomic_load_explicit(&s->state, memory_order_acquire) == FC_STREAM_LIVE;
}

static int find_stream(const fc_hub *hub, fc_http_slice name) {
    int n = atomic_load_explicit(&hub->nstreams, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (served(&hub->streams[i]) && strlen(hub->streams[i].name) == name.len &&
            memcmp(hub->streams[i].name, name.p, name.len) == 0)
            return i;
    return -1;
}

/* Turns the request away for a reason counted in /metrics; one debug line
 * names the address (never the token). */
static void refuse(fc_conn *c, enum fc_hub_refusal r, int status, const char *status_text,
                   const char *extra_headers, const char *why) {
    atomic_fetch_add_explicit(&c->lp->hub->refused[r], 1, memory_order_relaxed);
    fc_debug("refused %s: %d %s", c->peer_text[0] ? c->peer_text : "a client", status, why);
    reply(c, status, status_text, extra_headers, why);
}

/* Takes one of the hub's max_clients places for c; 0 if none is left. */
static int take_place(fc_conn *c) {
    fc_hub *hub = c->lp->hub;
    int n = atomic_load_explicit(&hub->clients, memory_order_relaxed);
    do {
        if (n >= c->lp->lim.max_clients) return 0;
    } while (!atomic_compare_exchange_weak_explicit(&hub->clients, &n, n + 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    c->counted = 1;
    return 1;
}

/* 1 if the query has key=1. */
static int query_flag(fc_http_slice query, const char *key) {
    fc_http_slice v;
    return fc_http_query_get(query, key, &v) && v.len == 1 && v.p[0] == '1';
}

const char *fc_request_session_opts(fc_http_slice query, fc_session_opts *o, char *epoch_buf) {
    *o = (fc_session_opts){.want_preview = query_flag(query, "preview"),
                           .last = query_flag(query, "last")};
    fc_http_slice v;
    if (fc_http_query_get(query, "since", &v)) {
        if (v.len == 0 || v.len > 19) return "since: expected a result's seq (a decimal number)";
        for (size_t i = 0; i < v.len; i++) {
            if (v.p[i] < '0' || v.p[i] > '9')
                return "since: expected a result's seq (a decimal number)";
            o->since = o->since * 10 + (uint64_t)(v.p[i] - '0');
        }
        o->resume = 1;
    }
    if (fc_http_query_get(query, "epoch", &v)) {
        /* One byte over the longest epoch is enough to never match. */
        size_t n = v.len < FC_HUB_EPOCH_MAX + 1 ? v.len : FC_HUB_EPOCH_MAX + 1;
        memcpy(epoch_buf, v.p, n);
        o->epoch = (fc_http_slice){epoch_buf, n};
    }
    return NULL;
}

/* 404 for a stream that does not exist, saying which streams there are
 * (a typo in a name is the usual cause), of those the claims allow. The
 * name asked for is echoed cut and with only printable ASCII. */
static void unknown_stream(fc_conn *c, fc_http_slice name, const fc_jwt_claims *claims) {
    const fc_hub *hub = c->lp->hub;
    fc_strbuf why;
    fc_sb_init(&why, 128);
    fc_sb_puts(&why, "unknown stream '");
    for (size_t i = 0; i < name.len && i < 64; i++)
        fc_sb_printf(&why, "%c", name.p[i] > 0x20 && name.p[i] < 0x7f ? name.p[i] : '?');
    int n = 0, nstreams = atomic_load_explicit(&hub->nstreams, memory_order_acquire);
    for (int i = 0; i < nstreams; i++) {
        if (!served(&hub->streams[i])) continue;
        const char *s = hub->streams[i].name;
        if (!fc_jwt_allows(claims, s, strlen(s))) continue;
        fc_sb_printf(&why, "%s/ws/%s", n++ ? ", " : "'; the streams are: ", s);
    }
    if (!n) fc_sb_puts(&why, "'; there are no streams");
    reply(c, 404, "Not Found", NULL, fc_sb_str(&why, "unknown stream"));
    fc_sb_free(&why);
}

/* The origin, token and per-address checks before an upgrade; the stream
 * may be unknown (-1). Returns 1 if the upgrade may go on, else answers. On
 * success c->token_exp_ms is set when the token expires. */
static int admit(fc_conn *c, const fc_http_request *req, int stream, fc_http_slice name) {
    fc_hub *hub = c->lp->hub;
    const fc_hub_config *cfg = &hub->cfg;
    /* A browser says where the page that opens the socket comes from; a
     * page elsewhere must not ride on the user's network position or
     * cookies (cross-site WebSocket hijacking). */
    const fc_http_header *origin = fc_http_find(req, "Origin");
    if (!origin && cfg->require_origin) {
        refuse(c, FC_HUB_REFUSED_ORIGIN, 403, "Forbidden", NULL,
               "an Origin header is required (--require-origin)");
        return 0;
    }
    if (origin && cfg->nallowed_origins &&
        !fc_auth_origin_allowed(cfg->allowed_origins, cfg->nallowed_origins, origin->value)) {
        refuse(c, FC_HUB_REFUSED_ORIGIN, 403, "Forbidden", NULL,
               "this origin is not allowed (--allowed-origin)");
        return 0;
    }
    fc_jwt_claims claims;
    fc_jwt_claims_all(&claims);
    if (hub->jwt) {
        int64_t now_ms = fc_now_us() / 1000;
        enum fc_jwt_status st = fc_auth_check(hub->jwt, cfg->auth_leeway_s, req, now_ms, &claims);
        if (st) {
            refuse(c, FC_HUB_REFUSED_UNAUTHORIZED, 401, "Unauthorized",
                   "WWW-Authenticate: Bearer\r\n", fc_jwt_strerror(st));
            return 0;
        }
        if (stream >= 0 && !fc_jwt_allows(&claims, name.p, name.len)) {
            fc_jwt_claims_free(&claims);
            refuse(c, FC_HUB_REFUSED_FORBIDDEN, 403, "Forbidden", NULL,
                   "the token does not allow this stream (its streams claim)");
            return 0;
        }
        /* Closed on the loop's tick once exp + leeway has passed (session.c). */
        if (claims.has_exp) c->token_exp_ms = claims.exp_ms + (int64_t)cfg->auth_leeway_s * 1000;
    }
    if (stream < 0) {
        unknown_stream(c, name, &claims);
        fc_jwt_claims_free(&claims);
        return 0;
    }
    fc_jwt_claims_free(&claims);
    if (hub->peers) {
        int rc = fc_peers_join(hub->peers, &c->peer, (int64_t)uv_now(&c->lp->uv));
        if (rc < 0) {
            char why[96];
            snprintf(why, sizeof why,
                     "too many clients from this address (at most %d: "
                     "--max-clients-per-ip)",
                     cfg->max_clients_per_ip);
            refuse(c, FC_HUB_REFUSED_IP_CLIENTS, 429, "Too Many Requests", "Retry-After: 1\r\n",
                   why);
            return 0;
        }
        c->peer_counted = rc == 1;
    }
    return 1;
}

static void upgrade(fc_conn *c, const fc_http_request *req, fc_http_slice name) {
    int stream = find_stream(c->lp->hub, name);
    fc_jwt_claims all;
    fc_jwt_claims_all(&all);
    /* Without authentication anyone may learn the names from the 404;
     * with it, only a client with a token, and only the names it may read. */
    if (stream < 0 && !c->lp->hub->jwt) {
        unknown_stream(c, name, &all);
        return;
    }
    fc_ws_upgrade up;
    switch (fc_ws_check_upgrade(req, &up)) {
    case 101:
        break;
    case 405:
        reply(c, 405, "Method Not Allowed", "Allow: GET\r\n", up.reason);
        return;
    case 426:
        reply(c, 426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n", up.reason);
        return;
    default:
        reply(c, 400, "Bad Request", NULL, up.reason);
        return;
    }
    fc_session_opts opts;
    char epoch[FC_HUB_EPOCH_MAX + 2];
    const char *bad = fc_request_session_opts(req->query, &opts, epoch);
    if (bad) {
        reply(c, 400, "Bad Request", NULL, bad);
        return;
    }
    if (!admit(c, req, stream, name)) return;
    if (!take_place(c)) { /* before the upgrade, so the client can tell and retry */
        char why[96];
        snprintf(why, sizeof why, "too many clients (at most %d: --max-clients)",
                 c->lp->lim.max_clients);
        refuse(c, FC_HUB_REFUSED_MAX_CLIENTS, 503, "Service Unavailable", "Retry-After: 1\r\n",
               why);
        return;
    }
    char ext[96] = "";
    if (c->lp->hub->cfg.compression) fc_ws_deflate_accept(req, &c->deflate, ext, sizeof ext);
    opts.extensions = c->deflate.on ? ext : NULL;
    size_t extra = c->head_len - req->head_len; /* frames sent right after the head */
    uint8_t early[512];
    int has_early = extra > 0 && extra <= sizeof early;
    if (has_early) memcpy(early, c->head + req->head_len, extra);
    free(c->head);
    c->head = NULL;
    fc_session_start(c, stream, &up, &opts);
    if (has_early)
        fc_session_input(c, early, extra);
    else if (extra)
        fc_session_fail(c, FC_WS_PROTOCOL_ERROR, "too much data before the handshake completed");
}

/* Answers through the HTTP handler; returns 0, or -1 if it has no such path. */
static int handle_http(fc_conn *c, const fc_http_request *req, const uint8_t *body, size_t len) {
    fc_hub *hub = c->lp->hub;
    if (!hub->http_fn) return -1;
    fc_strbuf resp;
    fc_sb_init(&resp, 1024);
    if (hub->http_fn(hub->http_ud, req, body, len, &resp) != 0) {
        fc_sb_free(&resp);
        return -1;
    }
    if (fc_sb_failed(&resp)) {
        fc_writer_send(c, NULL);
    } else {
        if (fc_http_slice_ieq(req->method, "HEAD")) { /* the head, not the body */
            char *end = strstr(resp.data, "\r\n\r\n");
            if (end) resp.len = (size_t)(end + 4 - resp.data);
        }
        fc_writer_send(c, fc_buf_from(resp.data, resp.len));
    }
    fc_sb_free(&resp);
    c->close_after_flush = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    return 0;
}

static void start_body(fc_conn *c, const fc_http_request *req);

/* A complete request head is in c->head. */
static void route(fc_conn *c, const fc_http_request *req) {
    static const char ws_prefix[] = "/ws/";
    const size_t plen = sizeof ws_prefix - 1;
    if (c->rate_wait_s) { /* its address opened connections faster than allowed */
        char why[112], retry[32];
        snprintf(why, sizeof why,
                 "too many connections from this address (at most %d a second: "
                 "--max-connect-rate-per-ip)",
                 c->lp->hub->cfg.max_connect_rate_per_ip);
        snprintf(retry, sizeof retry, "Retry-After: %d\r\n", c->rate_wait_s);
        refuse(c, FC_HUB_REFUSED_IP_RATE, 429, "Too Many Requests", retry, why);
        return;
    }
    if (req->path.len > plen && memcmp(req->path.p, ws_prefix, plen) == 0) {
        upgrade(c, req, (fc_http_slice){req->path.p + plen, req->path.len - plen});
        return;
    }
    if (fc_http_slice_ieq(req->method, "POST")) {
        start_body(c, req);
        return;
    }
    if (!fc_http_slice_ieq(req->method, "GET") && !fc_http_slice_ieq(req->method, "HEAD")) {
        reply(c, 405, "Method Not Allowed", "Allow: GET, POST\r\n",
              "only GET and POST are supported");
        return;
    }
    if (handle_http(c, req, NULL, 0) != 0) reply(c, 404, "Not Found", NULL, "not found");
}

/* The whole body is in: the head is parsed again (its slices point into
 * head, which stayed) and the request goes to the handler. */
static void body_done(fc_conn *c) {
    fc_http_request req;
    if (fc_http_parse_request(c->head, c->req_head_len, &req) <= 0 ||
        handle_http(c, &req, c->body, c->body_len) != 0)
        reply(c, 404, "Not Found", NULL, "not found");
}

void fc_request_body(fc_conn *c, const uint8_t *data, size_t len) {
    size_t n = len < c->body_need - c->body_len ? len : c->body_need - c->body_len;
    memcpy(c->body + c->body_len, data, n);
    c->body_len += n;
    if (c->body_len == c->body_need) {
        c->state = FC_CONN_HTTP; /* answered from here on, as any request */
        body_done(c);
    }
}

/* A POST: Content-Length bytes of body follow the head (no chunked
 * encoding: a producer knows its message's size), at most max_body. Some
 * may have come with the head already. */
static void start_body(fc_conn *c, const fc_http_request *req) {
    const fc_http_header *te = fc_http_find(req, "Transfer-Encoding");
    const fc_http_header *cl = fc_http_find(req, "Content-Length");
    if (te || !cl) {
        refuse_body(c, 411, "Length Required", "send the body with a Content-Length header");
        return;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < cl->value.len; i++) {
        if (cl->value.p[i] < '0' || cl->value.p[i] > '9' || n > ((uint64_t)1 << 40)) {
            refuse_body(c, 400, "Bad Request", "Content-Length: expected a number of bytes");
            return;
        }
        n = n * 10 + (uint64_t)(cl->value.p[i] - '0');
    }
    if (cl->value.len == 0) {
        refuse_body(c, 400, "Bad Request", "Content-Length: expected a number of bytes");
        return;
    }
    if (n > c->lp->lim.max_body) {
        char why[96];
        snprintf(why, sizeof why, "the body is %llu bytes, over the limit of %zu",
                 (unsigned long long)n, c->lp->lim.max_body);
        refuse_body(c, 413, "Content Too Large", why);
        return;
    }
    c->body = malloc(n ? n : 1);
    if (!c->body) {
        reply(c, 503, "Service Unavailable", "Retry-After: 1\r\n", "out of memory");
        return;
    }
    c->body_need = n;
    c->body_len = 0;
    c->req_head_len = req->head_len;
    c->state = FC_CONN_BODY;
    size_t early = c->head_len - req->head_len;
    c->head_len = req->head_len;
    fc_request_body(c, (uint8_t *)c->head + req->head_len, early);
}

void fc_request_input(fc_conn *c, size_t old_len) {
    size_t limit = c->lp->lim.head_limit;
    /* Look for the blank line only in the new bytes (and the 3 before them),
     * so a head sent byte by byte costs linear time. */
    size_t from = old_len > 3 ? old_len - 3 : 0;
    const char *scan = c->head + from;
    size_t scan_len = c->head_len - from;
    if (!memmem(scan, scan_len, "\n\r\n", 3) && !memmem(scan, scan_len, "\n\n", 2)) {
        if (c->head_len >= limit)
            reply(c, 431, "Request Header Fields Too Large", NULL, "request head too large");
        return;
    }
    fc_http_request req;
    int rc = fc_http_parse_request(c->head, c->head_len, &req);
    if (rc == FC_HTTP_INCOMPLETE) { /* e.g. blank lines before the request line */
        if (c->head_len >= limit)
            reply(c, 431, "Request Header Fields Too Large", NULL, "request head too large");
        return;
    }
    if (rc > 0)
        route(c, &req);
    else if (rc == FC_HTTP_ETOO_LARGE)
        reply(c, 431, "Request Header Fields Too Large", NULL, "too many headers");
    else if (rc == FC_HTTP_EVERSION)
        reply(c, 505, "HTTP Version Not Supported", NULL, "expected HTTP/1.1");
    else
        reply(c, 400, "Bad Request", NULL, "malformed request head");
}
