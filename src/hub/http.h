/* HTTP/1.x request-head parser: request line and headers, nothing else.
 *
 * Written here rather than taken from llhttp because the hub needs only a
 * bounded GET head (no bodies, no chunking, no pipelining past the upgrade)
 * parsed from one contiguous buffer, with pointers into that buffer instead
 * of callbacks; this is ~150 lines and fuzzed (tests/fuzz/fuzz_http.c).
 * Pure: no allocation, any thread. */
#ifndef FC_HUB_HTTP_H
#define FC_HUB_HTTP_H

#include <stddef.h>

#define FC_HTTP_MAX_HEADERS 64

enum {
    FC_HTTP_INCOMPLETE = 0,
    FC_HTTP_EBAD = -1,       /* malformed: answer 400 */
    FC_HTTP_ETOO_LARGE = -2, /* too many headers: answer 431 */
    FC_HTTP_EVERSION = -3,   /* not HTTP/1.x: answer 505 */
};

typedef struct fc_http_slice {
    const char *p;
    size_t len;
} fc_http_slice;

typedef struct fc_http_header {
    fc_http_slice name, value; /* value without surrounding white space */
} fc_http_header;

typedef struct fc_http_request {
    fc_http_slice method, target, path, query; /* path and query split target at '?' */
    int minor_version;                         /* HTTP/1.<minor> */
    fc_http_header headers[FC_HTTP_MAX_HEADERS];
    int nheaders;
    size_t head_len; /* bytes up to and including the blank line */
} fc_http_request;

/* Parses the head at buf[0..len). Returns its length (> 0) when complete,
 * FC_HTTP_INCOMPLETE when more bytes are needed, or a negative FC_HTTP_E*.
 * The caller enforces the head size limit (431) on INCOMPLETE. */
int fc_http_parse_request(const char *buf, size_t len, fc_http_request *req);

/* The first header named name (case-insensitive), or NULL. */
const fc_http_header *fc_http_find(const fc_http_request *req, const char *name);
/* 1 if a comma-separated token list contains token (case-insensitive). */
int fc_http_has_token(fc_http_slice list, const char *token);
/* 1 if s equals the NUL-terminated str, case-insensitive. */
int fc_http_slice_ieq(fc_http_slice s, const char *str);
/* Looks up key in a query string ("a=1&b=2"): returns 1 and sets *value, or 0. */
int fc_http_query_get(fc_http_slice query, const char *key, fc_http_slice *value);
/* The reason phrase of a status this server sends ("Not Found"). */
const char *fc_http_reason(int status);

#endif
