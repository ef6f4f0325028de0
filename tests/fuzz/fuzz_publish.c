/* libFuzzer target for publish bodies (src/app/push.c) and the strict JSON
 * check under them (src/util/json.c).
 *
 * Input: one byte (bit 0: NDJSON), then a body. The body is split as the
 * server splits it: every result lies in the body, holds no newline under
 * NDJSON and is not blank. Each accepted result is rendered as the server
 * renders it (fc_render_pushed) and the message must be one strict JSON
 * object, which cJSON reads with the server's five members first and the
 * producer's after them, as many as the producer sent: nothing a producer
 * sends can break a viewer's parse or add a member it did not send.
 * Whatever the strict check accepts cJSON accepts too (but for \u escapes
 * cJSON refuses, lone surrogates). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/push.h"
#include "app/render.h"
#include "util/json.h"
#include "util/strbuf.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

/* cJSON on a NUL-terminated copy, nothing after the value allowed. */
static cJSON *parse_exact(const char *s, size_t len) {
    char *z = malloc(len + 1);
    memcpy(z, s, len);
    z[len] = 0;
    cJSON *v = cJSON_ParseWithOpts(z, NULL, 1);
    free(z);
    return v;
}

static void result(const char *text, size_t len) {
    const char *m = NULL, *why = NULL;
    size_t mlen = 0;
    int rc = fc_push_check(text, len, &m, &mlen, &why);
    /* -ENOMEM only when memory ran out: a refusal by cJSON of strict JSON
     * is always the lone surrogate the check names. */
    CHECK(rc == 0 || rc == -1);
    if (rc) {
        CHECK(why != NULL && why[0] != 0);
        return;
    }
    CHECK(m >= text && m + mlen <= text + len);
    fc_strbuf sb;
    fc_sb_init(&sb, 128);
    fc_result_meta meta = {.stream = "cam", .epoch = "e1", .seq = 7, .publish_us = 1};
    fc_render_pushed(&sb, &meta, m, mlen);
    CHECK(fc_json_check(sb.data, sb.len, &why) == 0);
    cJSON *msg = parse_exact(sb.data, sb.len), *in = parse_exact(text, len);
    CHECK(cJSON_IsObject(msg) && cJSON_IsObject(in));
    static const char *const server[] = {"type", "stream", "epoch", "seq", "publish_us"};
    const cJSON *it = msg->child;
    for (int i = 0; i < 5; i++, it = it->next) CHECK(it && strcmp(it->string, server[i]) == 0);
    CHECK(cJSON_GetArraySize(msg) == 5 + cJSON_GetArraySize(in));
    CHECK(cJSON_GetObjectItemCaseSensitive(msg, "seq")->valuedouble == 7);
    cJSON_Delete(msg);
    cJSON_Delete(in);
    fc_sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int ndjson = data[0] & 1;
    size_t len = size - 1;
    char *body = malloc(len ? len : 1); /* exactly the body */
    memcpy(body, data + 1, len);

    /* The strict check alone, on anything. */
    const char *why = NULL;
    int strict = fc_json_check(body, len, &why);
    CHECK(strict == 0 || (strict == -1 && why != NULL));
    if (strict == 0 && !memmem(body, len, "\\u", 2) && !memchr(body, 0, len)) {
        cJSON *v = parse_exact(body, len);
        CHECK(v != NULL);
        cJSON_Delete(v);
    }

    fc_push_reader rd;
    fc_push_reader_init(&rd, body, len, ndjson);
    const char *text;
    size_t n;
    long line = 0;
    while (fc_push_next(&rd, &text, &n)) {
        CHECK(text >= body && text + n <= body + len);
        CHECK(rd.line > line);
        line = rd.line;
        if (ndjson) {
            CHECK(memchr(text, '\n', n) == NULL);
            int blank = 1;
            for (size_t i = 0; i < n; i++)
                if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') blank = 0;
            CHECK(!blank);
        } else {
            CHECK(text == body && n == len && rd.line == 1);
        }
        result(text, n);
    }
    free(body);
    return 0;
}
