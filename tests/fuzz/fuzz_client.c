/* libFuzzer target for what framecast-client and framecast-bench read from
 * a server (src/hub/wsclient.c, and src/hub/ws.c in the client role).
 *
 * The first byte picks what the rest is:
 *   0: the server's answer to the upgrade: a status, or -1 with a reason;
 *      101 only with the accept value the key calls for;
 *   1: a URL given on the command line: what parses fits its fields, and
 *      the upgrade request written from it fits its buffer;
 *   2: frames a server sends (unmasked): data callbacks stay inside the
 *      bytes given, and a masked frame is a protocol error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/wsclient.h"
#include "hub/ws.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

static const char KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";

static void answer(const char *head, size_t len) {
    const char *why = NULL;
    int rc = fc_ws_client_check(head, len, KEY, &why);
    if (rc != 101) CHECK(why != NULL);
    if (rc == 101) {
        char expect[FC_WS_ACCEPT_LEN + 1];
        fc_ws_accept(KEY, strlen(KEY), expect);
        CHECK(memmem(head, len, expect, FC_WS_ACCEPT_LEN) != NULL);
    }
    int on = fc_ws_client_accepted(head, len, "permessage-deflate");
    CHECK(on == 0 || on == 1);
    if (on) { /* the name is in the head, in any case */
        char *low = malloc(len);
        for (size_t i = 0; i < len; i++)
            low[i] = head[i] >= 'A' && head[i] <= 'Z' ? (char)(head[i] + 32) : head[i];
        CHECK(memmem(low, len, "permessage-deflate", 18) != NULL);
        free(low);
    }
}

static void url(const uint8_t *data, size_t len) {
    char *s = malloc(len + 1);
    memcpy(s, data, len);
    s[len] = 0;
    fc_ws_url u;
    const char *why = NULL;
    if (fc_ws_url_parse(s, &u, &why) == 0) {
        size_t hl = strnlen(u.host, sizeof u.host), pl = strnlen(u.port, sizeof u.port);
        CHECK(hl > 0 && hl < sizeof u.host && pl > 0 && pl < sizeof u.port);
        for (size_t i = 0; i < pl; i++) CHECK(u.port[i] >= '0' && u.port[i] <= '9');
        CHECK(memchr(u.path, 0, sizeof u.path) != NULL && u.path[0] == '/');
        CHECK(u.tls == (strncmp(s, "wss://", 6) == 0));
        char req[1400], key[25];
        int n = fc_ws_client_request_ext(req, sizeof req, &u, "permessage-deflate", key);
        CHECK(n == -1 || (n > 0 && (size_t)n < sizeof req && strlen(req) <= (size_t)n));
        CHECK(strlen(key) == 24);
    } else {
        CHECK(why != NULL);
    }
    free(s);
}

typedef struct span {
    const uint8_t *p;
    size_t len;
    int closed;
} span;

static void on_data(void *ud, int opcode, const uint8_t *data, size_t len, int fin) {
    span *s = ud;
    (void)fin;
    CHECK(!s->closed);
    CHECK(opcode == FC_WS_TEXT || opcode == FC_WS_BINARY);
    if (len) CHECK(data >= s->p && data + len <= s->p + s->len);
}

static void on_control(void *ud, int opcode, const uint8_t *payload, size_t len) {
    span *s = ud;
    CHECK(!s->closed);
    CHECK(len <= FC_WS_MAX_CONTROL);
    uint8_t copy[FC_WS_MAX_CONTROL]; /* readable (the parser may gather it elsewhere) */
    if (len) memcpy(copy, payload, len);
    (void)copy;
    if (opcode == FC_WS_CLOSE) s->closed = 1;
}

static void frames(const uint8_t *data, size_t len) {
    static const fc_ws_parser_cbs cbs = {on_data, on_control};
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    span s = {copy, len, 0};
    fc_ws_parser p;
    fc_ws_parser_init(&p, 0, 4096);
    int rc = fc_ws_parse(&p, copy, len, &cbs, &s);
    CHECK(rc == 0 || rc == FC_WS_PROTOCOL_ERROR || rc == FC_WS_INVALID_DATA || rc == FC_WS_TOO_BIG);
    if (rc) CHECK(p.error != NULL);
    /* A server's first frame masked: refused once its header is in. */
    if (len >= 2 && (data[1] & 0x80)) {
        size_t l = data[1] & 0x7F, hdr = 6 + (l == 126 ? 2 : l == 127 ? 8 : 0);
        if (len >= hdr) CHECK(rc == FC_WS_PROTOCOL_ERROR);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *rest = data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        char *head = malloc(len ? len : 1); /* exactly the head */
        memcpy(head, rest, len);
        answer(head, len);
        free(head);
        break;
    }
    case 1:
        url(rest, len);
        break;
    default:
        frames(rest, len);
        break;
    }
    return 0;
}
