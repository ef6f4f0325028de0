/* libFuzzer target for the HTTP request-head parser (src/hub/http.c) and the
 * upgrade check that runs on what it parses (src/hub/ws.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/http.h"
#include "hub/ws.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

static void check_slice(fc_http_slice s, const char *buf, size_t head_len) {
    CHECK(s.p != NULL);
    CHECK(s.p >= buf && s.p <= buf + head_len);
    CHECK(s.len <= head_len && s.p + s.len <= buf + head_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    fc_http_request req;
    int rc = fc_http_parse_request(buf, size, &req);
    if (rc <= 0) {
        CHECK(rc == FC_HTTP_INCOMPLETE || rc == FC_HTTP_EBAD || rc == FC_HTTP_ETOO_LARGE ||
              rc == FC_HTTP_EVERSION);
        return 0;
    }
    size_t head_len = (size_t)rc;
    CHECK(req.head_len == head_len && head_len <= size);
    CHECK(head_len >= 2 && buf[head_len - 1] == '\n');
    check_slice(req.method, buf, head_len);
    check_slice(req.target, buf, head_len);
    check_slice(req.path, buf, head_len);
    check_slice(req.query, buf, head_len);
    CHECK(req.method.len > 0 && req.target.len > 0);
    /* path and query split the target at the first '?'. */
    CHECK(req.path.p == req.target.p && req.path.len <= req.target.len);
    CHECK(memchr(req.path.p, '?', req.path.len) == NULL);
    if (req.path.len < req.target.len) {
        CHECK(req.path.p[req.path.len] == '?');
        CHECK(req.query.p == req.path.p + req.path.len + 1);
        CHECK(req.path.len + 1 + req.query.len == req.target.len);
    } else {
        CHECK(req.query.len == 0);
    }
    CHECK(req.minor_version >= 0 && req.minor_version <= 9);
    CHECK(req.nheaders >= 0 && req.nheaders <= FC_HTTP_MAX_HEADERS);
    for (int i = 0; i < req.nheaders; i++) {
        const fc_http_header *h = &req.headers[i];
        check_slice(h->name, buf, head_len);
        check_slice(h->value, buf, head_len);
        CHECK(h->name.len > 0);
        for (size_t k = 0; k < h->value.len; k++) {
            unsigned char c = (unsigned char)h->value.p[k];
            CHECK(c >= 0x20 || c == '\t');
            CHECK(c != 0x7f);
        }
        if (h->value.len) {
            CHECK(h->value.p[0] != ' ' && h->value.p[0] != '\t');
            CHECK(h->value.p[h->value.len - 1] != ' ' && h->value.p[h->value.len - 1] != '\t');
        }
        (void)fc_http_has_token(h->value, "Upgrade");
        CHECK(fc_http_find(&req, "") == NULL);
    }

    /* The head alone parses the same; one byte less is incomplete. */
    fc_http_request again;
    CHECK(fc_http_parse_request(buf, head_len, &again) == rc);
    CHECK(again.nheaders == req.nheaders);
    CHECK(fc_http_parse_request(buf, head_len - 1, &again) == FC_HTTP_INCOMPLETE);

    fc_http_slice v;
    if (fc_http_query_get(req.query, "fps", &v)) check_slice(v, buf, head_len);
    if (req.query.len && fc_http_query_get(req.query, "", &v)) check_slice(v, buf, head_len);

    fc_ws_upgrade up;
    int status = fc_ws_check_upgrade(&req, &up);
    CHECK(status == up.status);
    CHECK(status == 101 || status == 400 || status == 405 || status == 426);
    if (status == 101) {
        CHECK(strlen(up.accept) == FC_WS_ACCEPT_LEN);
        CHECK(up.reason == NULL);
    } else {
        CHECK(up.reason != NULL && up.accept[0] == 0);
    }
    return 0;
}
