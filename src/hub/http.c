/* HTTP/1.x request-head parser (see http.h for why it is hand-written).
 * Strict where laxness would let a request mean two things (bad characters,
 * obsolete line folding, spaces before a colon), lenient where it costs
 * nothing (bare LF line endings). */
#include "hub/http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c) {
    if (isalnum(c)) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Finds the end of the line starting at p; sets *next past the line break.
 * Returns the line length without the break, or -1 if no break yet. */
static long line_end(const char *p, const char *end, const char **next) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return -1;
    *next = nl + 1;
    if (nl > p && nl[-1] == '\r') nl--;
    return nl - p;
}

static int parse_request_line(const char *p, size_t n, fc_http_request *req) {
    const char *end = p + n, *s = p;
    while (s < end && is_tchar((unsigned char)*s)) s++;
    if (s == p || s >= end || *s != ' ') return FC_HTTP_EBAD;
    req->method = (fc_http_slice){p, (size_t)(s - p)};
    const char *t = ++s;
    while (s < end && *s != ' ') {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f) return FC_HTTP_EBAD;
        s++;
    }
    if (s == t || s >= end) return FC_HTTP_EBAD;
    req->target = (fc_http_slice){t, (size_t)(s - t)};
    s++;
    if (end - s != 8 || memcmp(s, "HTTP/", 5) != 0 || !isdigit((unsigned char)s[5]) ||
        s[6] != '.' || !isdigit((unsigned char)s[7]))
        return FC_HTTP_EBAD;
    if (s[5] != '1') return FC_HTTP_EVERSION;
    req->minor_version = s[7] - '0';
    const char *q = memchr(t, '?', req->target.len);
    if (q) {
        req->path = (fc_http_slice){t, (size_t)(q - t)};
        req->query = (fc_http_slice){q + 1, req->target.len - req->path.len - 1};
    } else {
        req->path = req->target;
        req->query = (fc_http_slice){t + req->target.len, 0};
    }
    return 0;
}

static int parse_header(const char *p, size_t n, fc_http_header *h) {
    const char *end = p + n, *s = p;
    while (s < end && is_tchar((unsigned char)*s)) s++;
    if (s == p || s >= end || *s != ':') return FC_HTTP_EBAD; /* also rejects obs-fold */
    h->name = (fc_http_slice){p, (size_t)(s - p)};
    s++;
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    const char *v = s;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f) return FC_HTTP_EBAD;
    }
    while (s > v && (s[-1] == ' ' || s[-1] == '\t')) s--;
    h->value = (fc_http_slice){v, (size_t)(s - v)};
    return 0;
}

int fc_http_parse_request(const char *buf, size_t len, fc_http_request *req) {
    const char *p = buf, *end = buf + len, *next;
    memset(req, 0, sizeof *req);
    /* RFC 9112 2.2: ignore at least one empty line before the request line. */
    while (p < end && (*p == '\r' || *p == '\n')) p++;
    long n = line_end(p, end, &next);
    if (n < 0) return FC_HTTP_INCOMPLETE;
    int rc = parse_request_line(p, (size_t)n, req);
    if (rc) return rc;
    for (p = next;;) {
        n = line_end(p, end, &next);
        if (n < 0) return FC_HTTP_INCOMPLETE;
        if (n == 0) break;
        if (req->nheaders == FC_HTTP_MAX_HEADERS) return FC_HTTP_ETOO_LARGE;
        rc = parse_header(p, (size_t)n, &req->headers[req->nheaders]);
        if (rc) return rc;
        req->nheaders++;
        p = next;
    }
    req->head_len = (size_t)(next - buf);
    return (int)req->head_len;
}

int fc_http_slice_ieq(fc_http_slice s, const char *str) {
    return strlen(str) == s.len && strncasecmp(s.p, str, s.len) == 0;
}

const fc_http_header *fc_http_find(const fc_http_request *req, const char *name) {
    for (int i = 0; i < req->nheaders; i++)
        if (fc_http_slice_ieq(req->headers[i].name, name)) return &req->headers[i];
    return NULL;
}

int fc_http_has_token(fc_http_slice list, const char *token) {
    const char *p = list.p, *end = list.p + list.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) p++;
        const char *t = p;
        while (p < end && *p != ',') p++;
        const char *e = p;
        while (e > t && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e > t && fc_http_slice_ieq((fc_http_slice){t, (size_t)(e - t)}, token)) return 1;
    }
    return 0;
}

int fc_http_query_get(fc_http_slice query, const char *key, fc_http_slice *value) {
    size_t klen = strlen(key);
    const char *p = query.p, *end = query.p + query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *kend = eq ? eq : e;
        if ((size_t)(kend - p) == klen && memcmp(p, key, klen) == 0) {
            *value = eq ? (fc_http_slice){eq + 1, (size_t)(e - eq - 1)} : (fc_http_slice){e, 0};
            return 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

const char *fc_http_reason(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}
