#include "util/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fc_sb_init(fc_strbuf *sb, size_t reserve) {
    sb->data = NULL;
    sb->len = sb->cap = 0;
    fc_sb_reserve(sb, reserve ? reserve : 64);
    sb->data[0] = 0;
}

void fc_sb_free(fc_strbuf *sb) {
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

void fc_sb_reset(fc_strbuf *sb) {
    sb->len = 0;
    if (sb->cap) sb->data[0] = 0;
}

void fc_sb_reserve(fc_strbuf *sb, size_t extra) {
    if (sb->len + extra + 1 <= sb->cap) return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1) cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) abort();
    sb->data = p;
    sb->cap = cap;
}

void fc_sb_append(fc_strbuf *sb, const void *data, size_t len) {
    fc_sb_reserve(sb, len);
    memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = 0;
}

void fc_sb_puts(fc_strbuf *sb, const char *s) {
    fc_sb_append(sb, s, strlen(s));
}

void fc_sb_printf(fc_strbuf *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sb->cap - sb->len) {
        fc_sb_reserve(sb, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
    }
    sb->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}

void fc_sb_json_str(fc_strbuf *sb, const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    fc_sb_reserve(sb, strlen(str) + 2);
    fc_sb_append(sb, "\"", 1);
    while (*s) {
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            fc_sb_append(sb, esc, 2);
            s++;
        } else if (c < 0x20) {
            fc_sb_printf(sb, "\\u%04x", c);
            s++;
        } else {
            size_t n = utf8_seq_len(s); /* reads stop at NUL: it fails the checks */
            if (n == 0) {
                fc_sb_puts(sb, "\xEF\xBF\xBD");
                s++;
            } else {
                fc_sb_append(sb, s, n);
                s += n;
            }
        }
    }
    fc_sb_append(sb, "\"", 1);
}
