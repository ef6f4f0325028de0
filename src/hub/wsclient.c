#include "hub/wsclient.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hub/http.h"
#include "hub/ws.h"

int fc_ws_url_parse(const char *url, fc_ws_url *out, const char **why) {
    memset(out, 0, sizeof *out);
    if (strncmp(url, "wss://", 6) == 0) {
        out->tls = 1;
    } else if (strncmp(url, "ws://", 5) != 0) {
        *why = "expected a URL of the form ws://HOST:PORT/PATH or wss://HOST:PORT/PATH";
        return -1;
    }
    const char *h = url + (out->tls ? 6 : 5), *slash = strchr(h, '/');
    const char *end = slash ? slash : h + strlen(h);
    const char *hend = end, *port = NULL;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb) {
            *why = "unterminated [IPv6] address";
            return -1;
        }
        h++;
        hend = rb;
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb + 1 != end) {
            *why = "unexpected characters after the [IPv6] address";
            return -1;
        }
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        if (colon) {
            hend = colon;
            port = colon + 1;
        }
    }
    size_t hl = (size_t)(hend - h), pl = port ? (size_t)(end - port) : 0;
    if (hl == 0 || hl >= sizeof out->host || pl >= sizeof out->port || (port && pl == 0)) {
        *why = "missing or too long host or port";
        return -1;
    }
    for (size_t i = 0; i < pl; i++)
        if (port[i] < '0' || port[i] > '9') {
            *why = "the port must be a number";
            return -1;
        }
    memcpy(out->host, h, hl);
    if (port)
        memcpy(out->port, port, pl);
    else
        strcpy(out->port, out->tls ? "443" : "80");
    snprintf(out->path, sizeof out->path, "%s", slash ? slash : "/");
    return 0;
}

int fc_ws_client_request(char *out, size_t cap, const fc_ws_url *url, char key[25]) {
    return fc_ws_client_request_ext(out, cap, url, NULL, key);
}

int fc_ws_client_request_ext(char *out, size_t cap, const fc_ws_url *url, const char *extensions,
                             char key[25]) {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) return -1;
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    int v6 = strchr(url->host, ':') != NULL;
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     url->path, v6 ? "[" : "", url->host, v6 ? "]" : "", url->port, key,
                     extensions ? "Sec-WebSocket-Extensions: " : "", extensions ? extensions : "",
                     extensions ? "\r\n" : "");
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* Parses a response head's headers with the request parser, in buf (a
 * request line put in place of the status line). 0, or -1 with *why. */
static int response_headers(const char *head, size_t len, char *buf, size_t cap,
                            fc_http_request *req, const char **why) {
    const char *nl = memchr(head, '\n', len);
    if (!nl) {
        *why = "malformed response headers";
        return -1;
    }
    size_t rest = len - (size_t)(nl + 1 - head);
    if (rest + 20 > cap) {
        *why = "the server's answer is too large";
        return -1;
    }
    int n = snprintf(buf, cap, "GET / HTTP/1.1\r\n");
    memcpy(buf + n, nl + 1, rest);
    if (fc_http_parse_request(buf, (size_t)n + rest, req) <= 0) {
        *why = "malformed response headers";
        return -1;
    }
    return 0;
}

int fc_ws_client_check(const char *head, size_t len, const char *key, const char **why) {
    int status;
    char line[64];
    const char *nl = memchr(head, '\n', len);
    size_t ll = nl ? (size_t)(nl - head) : len;
    if (ll >= sizeof line) ll = sizeof line - 1;
    memcpy(line, head, ll); /* head need not be NUL-terminated */
    line[ll] = 0;
    /* A status is three digits, 100 to 599 (RFC 9110 15): sscanf's %d alone
     * would pass "-5", "+101" or "1010" on. */
    int at = 0;
    if (len < 12 || sscanf(line, "HTTP/1.%*1[0-9]%n", &at) != 0 || at == 0 || line[at++] != ' ' ||
        !(line[at] >= '1' && line[at] <= '5') || !(line[at + 1] >= '0' && line[at + 1] <= '9') ||
        !(line[at + 2] >= '0' && line[at + 2] <= '9') ||
        (line[at + 3] != ' ' && line[at + 3] != '\r' && line[at + 3] != 0)) {
        *why = "the server's answer is not HTTP";
        return -1;
    }
    status = (line[at] - '0') * 100 + (line[at + 1] - '0') * 10 + (line[at + 2] - '0');
    if (status != 101) {
        *why = "the server refused the upgrade";
        return status;
    }
    /* Reuse the request parser for the headers: skip the status line. */
    char buf[4096];
    fc_http_request req;
    if (response_headers(head, len, buf, sizeof buf, &req, why)) return -1;
    const fc_http_header *up = fc_http_find(&req, "Upgrade");
    const fc_http_header *conn = fc_http_find(&req, "Connection");
    if (!up || !fc_http_has_token(up->value, "websocket") || !conn ||
        !fc_http_has_token(conn->value, "Upgrade")) {
        *why = "the answer lacks 'Upgrade: websocket' or 'Connection: Upgrade'";
        return -1;
    }
    const fc_http_header *h = fc_http_find(&req, "Sec-WebSocket-Accept");
    char expect[FC_WS_ACCEPT_LEN + 1];
    fc_ws_accept(key, strlen(key), expect);
    /* base64 is case-sensitive */
    if (!h || h->value.len != FC_WS_ACCEPT_LEN || memcmp(h->value.p, expect, FC_WS_ACCEPT_LEN)) {
        *why = "wrong Sec-WebSocket-Accept";
        return -1;
    }
    return 101;
}

int fc_ws_client_accepted(const char *head, size_t len, const char *name) {
    char buf[4096];
    fc_http_request req;
    const char *why;
    if (response_headers(head, len, buf, sizeof buf, &req, &why)) return 0;
    const fc_http_header *h = fc_http_find(&req, "Sec-WebSocket-Extensions");
    if (!h) return 0;
    size_t n = strlen(name);
    /* The first token of the first extension: "NAME" or "NAME; params". */
    fc_http_slice v = h->value;
    while (v.len && (*v.p == ' ' || *v.p == '\t')) v.p++, v.len--;
    return v.len >= n && strncasecmp(v.p, name, n) == 0 &&
           (v.len == n || v.p[n] == ';' || v.p[n] == ' ' || v.p[n] == ',');
}
