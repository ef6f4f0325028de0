#include "util/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fc_sb_init(fc_strbuf *sb, size_t reserve) {
    fc_sb_init_prefixed(sb, 0, reserve);
}

void fc_sb_init_prefixed(fc_strbuf *sb, size_t prefix, size_t reserve) {
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->prefix = prefix;
    sb->failed = 0;
    if (fc_sb_reserve(sb, reserve ? reserve : 64) == 0) sb->data[0] = 0;
}

void fc_sb_free(fc_strbuf *sb) {
    if (sb->data) free(sb->data - sb->prefix);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

void *fc_sb_detach(fc_strbuf *sb) {
    if (sb->failed) {
        fc_sb_free(sb);
        sb->failed = 0;
        return NULL;
    }
    void *base = sb->data ? sb->data - sb->prefix : NULL;
    sb->data = NULL;
    sb->len = sb->cap = 0;
    return base;
}

void fc_sb_reset(fc_strbuf *sb) {
    sb->len = 0;
    sb->failed = 0;
    if (sb->cap) sb->data[0] = 0;
}

int fc_sb_reserve(fc_strbuf *sb, size_t extra) {
    if (sb->failed) return -1;
    if (sb->len + extra + 1 <= sb->cap) return 0;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1) cap *= 2;
    char *p = realloc(sb->data ? sb->data - sb->prefix : NULL, sb->prefix + cap);
    if (!p) {
        sb->failed = 1;
        return -1;
    }
    sb->data = p + sb->prefix;
    sb->cap = cap;
    return 0;
}

void fc_sb_append(fc_strbuf *sb, const void *data, size_t len) {
    if (fc_sb_reserve(sb, len)) return;
    memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = 0;
}

void fc_sb_puts(fc_strbuf *sb, const char *s) {
    fc_sb_append(sb, s, strlen(s));
}

void fc_sb_printf(fc_strbuf *sb, const char *fmt, ...) {
    va_list ap;
    if (fc_sb_reserve(sb, 0)) return; /* data is allocated from here on */
    va_start(ap, fmt);
    int n = vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sb->cap - sb->len) {
        if (fc_sb_reserve(sb, (size_t)n)) {
            sb->data[sb->len] = 0; /* what vsnprintf cut off goes */
            return;
        }
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
    if (fc_sb_reserve(sb, strlen(str) + 2)) return;
    fc_sb_append(sb, "\"", 1);
    while (*s) {
        /* The common case in one copy: printable ASCII that needs no escape. */
        const unsigned char *run = s;
        while (*s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\') s++;
        if (s > run) fc_sb_append(sb, run, (size_t)(s - run));
        if (!*s) break;
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            fc_sb_append(sb, esc, 2);
            s++;
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            fc_sb_append(sb, esc, 6);
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

/* Writes v's digits ending just before end; returns where they start. */
static char *digits(char *end, uint64_t v) {
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                "31323334353637383940414243444546474849505152535455565758596061"
                                "62636465666768697071727374757677787980818283848586878889909192"
                                "93949596979899";
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--end = pairs[i + 1];
        *--end = pairs[i];
    }
    if (v >= 10) {
        *--end = pairs[v * 2 + 1];
        *--end = pairs[v * 2];
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

void fc_sb_u64(fc_strbuf *sb, uint64_t v) {
    char buf[24], *end = buf + sizeof buf;
    char *p = digits(end, v);
    fc_sb_append(sb, p, (size_t)(end - p));
}

void fc_sb_i64(fc_strbuf *sb, int64_t v) {
    if (v < 0) {
        fc_sb_append(sb, "-", 1);
        fc_sb_u64(sb, (uint64_t)0 - (uint64_t)v);
    } else {
        fc_sb_u64(sb, (uint64_t)v);
    }
}

void fc_sb_fixed(fc_strbuf *sb, double v, int decimals) {
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (!(v == v) || v > 1e300 || v < -1e300) { /* NaN or infinite */
        fc_sb_append(sb, "0", 1);
        return;
    }
    if (decimals < 0) decimals = 0;
    if (decimals > 6) decimals = 6;
    double a = v < 0 ? -v : v;
    if (a * scale[decimals] >= 9e15) { /* beyond exact integers: rare, printf is fine */
        fc_sb_printf(sb, "%.17g", v);
        return;
    }
    uint64_t n = (uint64_t)(a * scale[decimals] + 0.5), unit = (uint64_t)scale[decimals];
    uint64_t ip = n / unit, fp = n % unit;
    char buf[48], *end = buf + sizeof buf, *p = end;
    if (fp) {
        int d = decimals;
        while (fp % 10 == 0) fp /= 10, d--; /* trailing zeros go */
        for (int i = 0; i < d; i++, fp /= 10) *--p = (char)('0' + fp % 10);
        *--p = '.';
    }
    p = digits(p, ip);
    if (v < 0 && n) *--p = '-';
    fc_sb_append(sb, p, (size_t)(end - p));
}
