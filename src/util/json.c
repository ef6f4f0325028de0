/* Strict JSON validation (see json.h): a recursive descent over the grammar
 * of RFC 8259, section 2 to 7, that builds nothing. */
#include "util/json.h"

#include <string.h>

typedef struct cursor {
    const char *p, *end;
    const char *why;
} cursor;

static int fail(cursor *c, const char *why) {
    if (!c->why) c->why = why;
    return -1;
}

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int is_digit(char ch) {
    return ch >= '0' && ch <= '9';
}

static int is_hex(char ch) {
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* At the opening quote. */
static int string(cursor *c) {
    c->p++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') return 0;
        if (ch < 0x20) return fail(c, "a control character in a string (escape it)");
        if (ch != '\\') continue;
        if (c->p == c->end) break;
        ch = (unsigned char)*c->p++;
        if (ch == 'u') {
            for (int i = 0; i < 4; i++, c->p++)
                if (c->p == c->end || !is_hex(*c->p)) return fail(c, "a bad \\u escape");
        } else if (!strchr("\"\\/bfnrt", ch) || ch == 0) {
            return fail(c, "a bad escape in a string");
        }
    }
    return fail(c, "an unterminated string");
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int number(cursor *c) {
    if (c->p < c->end && *c->p == '-') c->p++;
    if (c->p == c->end || !is_digit(*c->p)) return fail(c, "a bad number");
    if (*c->p == '0')
        c->p++;
    else
        while (c->p < c->end && is_digit(*c->p)) c->p++;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (c->p == c->end || !is_digit(*c->p)) return fail(c, "a bad number");
        while (c->p < c->end && is_digit(*c->p)) c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (c->p == c->end || !is_digit(*c->p)) return fail(c, "a bad number");
        while (c->p < c->end && is_digit(*c->p)) c->p++;
    }
    return 0;
}

static int literal(cursor *c, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return fail(c, "not JSON (expected a value)");
    c->p += n;
    return 0;
}

static int value(cursor *c, int depth);

/* At '{' or '['. */
static int container(cursor *c, int depth) {
    char close = *c->p == '{' ? '}' : ']';
    if (depth >= FC_JSON_MAX_DEPTH) return fail(c, "nested too deeply");
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (c->p == c->end || *c->p != '"') return fail(c, "not JSON (expected a key)");
            if (string(c)) return -1;
            skip_ws(c);
            if (c->p == c->end || *c->p != ':') return fail(c, "not JSON (expected ':')");
            c->p++;
            skip_ws(c);
        }
        if (value(c, depth + 1)) return -1;
        skip_ws(c);
        if (c->p == c->end) return fail(c, "not JSON (unterminated)");
        if (*c->p == close) {
            c->p++;
            return 0;
        }
        if (*c->p != ',') return fail(c, "not JSON (expected ',')");
        c->p++;
        skip_ws(c);
    }
}

static int value(cursor *c, int depth) {
    if (c->p == c->end) return fail(c, "not JSON (expected a value)");
    switch (*c->p) {
    case '{':
    case '[':
        return container(c, depth);
    case '"':
        return string(c);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        if (*c->p != '-' && !is_digit(*c->p)) return fail(c, "not JSON (expected a value)");
        return number(c);
    }
}

int fc_json_check(const char *s, size_t len, const char **why) {
    cursor c = {s, s + len, NULL};
    skip_ws(&c);
    if (value(&c, 0) == 0) {
        skip_ws(&c);
        if (c.p == c.end) return 0;
        fail(&c, "text after the JSON value");
    }
    *why = c.why;
    return -1;
}
