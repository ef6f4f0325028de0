/* Origins and tokens of requests (see auth.h). */
#include "hub/auth.h"

#include <string.h>
#include <strings.h>

typedef struct origin {
    int https;
    const char *host; /* may start with "*." in a pattern */
    size_t host_len;
    long port;
} origin;

static int host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

/* Splits [SCHEME://]HOST[:PORT]; a pattern may leave the scheme out and
 * start its host with "*.". Returns NULL or what is wrong. */
static const char *parse(const char *p, size_t len, int pattern, origin *o) {
    const char *end = p + len;
    const char *sep = len >= 3 ? memmem(p, len, "://", 3) : NULL;
    *o = (origin){.https = 1};
    if (sep) {
        size_t sl = (size_t)(sep - p);
        if (sl == 5 && strncasecmp(p, "https", 5) == 0)
            o->https = 1;
        else if (sl == 4 && strncasecmp(p, "http", 4) == 0)
            o->https = 0;
        else
            return "the scheme must be http or https";
        p = sep + 3;
    } else if (!pattern) {
        return "no scheme";
    }
    o->host = p;
    if (p < end && *p == '[') { /* an IPv6 literal */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close) return "an IPv6 address without its ']'";
        for (const char *q = p + 1; q < close; q++)
            if (!strchr("0123456789abcdefABCDEF:.", *q)) return "a bad IPv6 address";
        p = close + 1;
    } else {
        if (pattern && end - p >= 2 && p[0] == '*' && p[1] == '.') p += 2;
        const char *h = p;
        while (p < end && host_char(*p)) p++;
        if (p == h || h[0] == '.' || p[-1] == '.') return "no host name";
    }
    o->host_len = (size_t)(p - o->host);
    o->port = o->https ? 443 : 80;
    if (p < end && *p == ':') {
        long port = 0;
        const char *d = ++p;
        while (p < end && *p >= '0' && *p <= '9' && port <= 65535) port = port * 10 + (*p++ - '0');
        if (p == d || port < 1 || port > 65535) return "a bad port";
        o->port = port;
    }
    if (p != end) return "more than SCHEME://HOST:PORT (an origin has no path, not even '/')";
    return NULL;
}

const char *fc_auth_origin_check(const char *pattern) {
    origin o;
    return parse(pattern, strlen(pattern), 1, &o);
}

static int matches(const origin *pat, const origin *o) {
    if (pat->https != o->https || pat->port != o->port) return 0;
    if (pat->host_len >= 2 && pat->host[0] == '*') {
        /* "*.example.com": o's host ends with ".example.com" and has more */
        size_t sl = pat->host_len - 1; /* ".example.com" */
        return o->host_len > sl &&
               strncasecmp(o->host + o->host_len - sl, pat->host + 1, sl) == 0 &&
               o->host[o->host_len - sl - 1] != '.';
    }
    return pat->host_len == o->host_len && strncasecmp(pat->host, o->host, o->host_len) == 0;
}

int fc_auth_origin_allowed(const char *const *patterns, int n, fc_http_slice value) {
    origin o;
    if (parse(value.p, value.len, 0, &o)) return 0; /* "null", or not an origin */
    for (int i = 0; i < n; i++) {
        origin pat;
        if (!parse(patterns[i], strlen(patterns[i]), 1, &pat) && matches(&pat, &o)) return 1;
    }
    return 0;
}

int fc_auth_token_of(const fc_http_request *req, fc_http_slice *tok) {
    fc_http_slice q;
    int in_query = fc_http_query_get(req->query, "token", &q);
    const fc_http_header *h = fc_http_find(req, "Authorization");
    int in_header = 0;
    if (h && h->value.len > 7 && strncasecmp(h->value.p, "Bearer ", 7) == 0) {
        in_header = 1;
        *tok = (fc_http_slice){h->value.p + 7, h->value.len - 7};
        while (tok->len && *tok->p == ' ') tok->p++, tok->len--;
    } else if (h) { /* another scheme (Basic...): there is a credential, not ours */
        in_header = 1;
        *tok = (fc_http_slice){h->value.p, 0};
    }
    if (in_query && in_header) return -1;
    if (in_query) *tok = q;
    return in_query || in_header;
}

enum fc_jwt_status fc_auth_check(const fc_jwt_verifier *v, int leeway_s, const fc_http_request *req,
                                 int64_t now_ms, fc_jwt_claims *claims) {
    fc_http_slice tok = {0};
    *claims = (fc_jwt_claims){0};
    int n = fc_auth_token_of(req, &tok);
    if (n < 0) return FC_JWT_EMALFORMED;
    if (tok.len == 0) /* "?token=" is none; "Authorization: Basic..." is not ours */
        return n && fc_http_find(req, "Authorization") ? FC_JWT_EMALFORMED : FC_JWT_EMISSING;
    return fc_jwt_verify(v, tok.p, tok.len, now_ms, leeway_s, claims);
}
