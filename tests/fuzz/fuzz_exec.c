/* libFuzzer target for the exec predictor's answers (src/predict/
 * exec_answer.c): one line of JSON from a model process, any program.
 *
 * Input: one byte choosing the frame asked for and the scale from frame to
 * source pixels, one byte choosing how many detections fit, then the line.
 * Whatever the line, the result is a count within bounds or a failure with
 * a message; labels are NUL-terminated; and the message, once escaped as
 * the server sends it (a status message's "error"), is UTF-8 and a strict
 * JSON string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/ws.h"
#include "predict/exec_answer.h"
#include "util/json.h"
#include "util/strbuf.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    static const int64_t indexes[] = {0, 1, 7, 4294967296ll, -1, 9007199254740993ll, 12, 100};
    static const int dims[][4] = {
        {640, 360, 640, 360}, {320, 180, 1920, 1080}, {1, 1, 7, 3}, {0, 0, 640, 360}};
    const int *d = dims[(data[0] >> 3) % 4];
    fc_frame_view f = {.width = d[0],
                       .height = d[1],
                       .src_width = d[2],
                       .src_height = d[3],
                       .format = FC_PIX_RGB24,
                       .index = indexes[data[0] & 7]};
    int max = data[1] % 9;
    size_t len = size - 2;
    char *line = malloc(len ? len : 1); /* exactly the line: no NUL after it */
    memcpy(line, data + 2, len);

    fc_detection out[8];
    memset(out, 0xAA, sizeof out);
    char err[256];
    memset(err, 0xAA, sizeof err);
    int n = fc_exec_answer_parse(line, len, &f, out, max, err, sizeof err);
    CHECK(n == FC_EXEC_ANSWER_ERROR || n == FC_EXEC_ANSWER_BROKEN || (n >= 0 && n <= max));
    if (n >= 0) {
        CHECK(len >= 2); /* an object at least: {} */
        for (int i = 0; i < n; i++) CHECK(memchr(out[i].label, 0, sizeof out[i].label) != NULL);
    } else {
        CHECK(memchr(err, 0, sizeof err) != NULL && err[0] != 0);
        fc_strbuf sb;
        fc_sb_init(&sb, 64);
        fc_sb_json_str(&sb, err);
        fc_utf8_state u = 0;
        CHECK(fc_utf8_feed(&u, (const uint8_t *)sb.data, sb.len) == 0 && u == 0);
        const char *why;
        CHECK(fc_json_check(sb.data, sb.len, &why) == 0);
        fc_sb_free(&sb);
    }
    free(line);
    return 0;
}
