/* A push stream's input (see push.h). */
#include "app/push.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "hub/ws.h"
#include "util/json.h"

void fc_push_reader_init(fc_push_reader *r, const char *body, size_t len, int ndjson) {
    *r = (fc_push_reader){.at = body, .end = body + len, .ndjson = ndjson};
}

static int blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

int fc_push_next(fc_push_reader *r, const char **text, size_t *len) {
    while (r->at < r->end) {
        const char *nl = r->ndjson ? memchr(r->at, '\n', (size_t)(r->end - r->at)) : NULL;
        const char *stop = nl ? nl : r->end;
        const char *line = r->at;
        size_t n = (size_t)(stop - line);
        r->at = nl ? nl + 1 : r->end;
        r->line++;
        if (r->ndjson && blank(line, n)) continue;
        *text = line;
        *len = n;
        return 1;
    }
    return 0;
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* 1 when text, already strict JSON, holds a \u escape of half a UTF-16
 * surrogate pair without the other half (cJSON refuses those). */
static int lone_surrogate(const char *text, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\') continue;
        if (text[i + 1] != 'u') {
            i++; /* a two-character escape */
            continue;
        }
        int cp = hex4(text + i + 2);
        i += 5;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return 1;
        if (cp < 0xD800 || cp > 0xDBFF) continue;
        if (i + 6 >= len || text[i + 1] != '\\' || text[i + 2] != 'u') return 1;
        int lo = hex4(text + i + 3);
        if (lo < 0xDC00 || lo > 0xDFFF) return 1;
        i += 6;
    }
    return 0;
}

int fc_push_check(const char *text, size_t len, const char **members, size_t *mlen,
                  const char **why) {
    static const char *const reserved[] = {"type", "stream", "epoch", "seq", "publish_us"};
    fc_utf8_state u = 0;
    if (fc_utf8_feed(&u, (const uint8_t *)text, len) || u) {
        *why = "not UTF-8";
        return -1;
    }
    if (fc_json_check(text, len, why)) return -1;
    /* Strict JSON with white space trimmed: an object starts with '{' and
     * ends with '}'. */
    const char *b = text, *e = text + len;
    while (b < e && is_ws(*b)) b++;
    while (e > b && is_ws(e[-1])) e--;
    if (b == e || *b != '{') {
        *why = "not a JSON object";
        return -1;
    }
    /* Keys are compared decoded ("s\u0065q" is "seq"): cJSON decodes them. */
    cJSON *obj = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        /* Strict JSON that cJSON refuses: half a surrogate pair, or no
         * memory for the parse. */
        if (!lone_surrogate(text, len)) return -ENOMEM;
        *why = "a \\u escape names half of a UTF-16 surrogate pair without the other half "
               "(expected a pair, such as \\ud83d\\ude00, or the character itself)";
        return -1;
    }
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (cJSON_GetObjectItemCaseSensitive(obj, reserved[i])) {
            cJSON_Delete(obj);
            *why = "a key the server sets (type, stream, epoch, seq, publish_us)";
            return -1;
        }
    cJSON_Delete(obj);
    b++, e--;
    while (b < e && is_ws(*b)) b++;
    while (e > b && is_ws(e[-1])) e--;
    *members = b;
    *mlen = (size_t)(e - b);
    return 0;
}
