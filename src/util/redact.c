/* Redaction of credentials (see redact.h). */
#include "util/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

#define MASK "***"

int fc_redact_secret_name(const char *name, size_t len) {
    static const char *const words[] = {"password", "pass", "pwd",       "token",     "key",
                                        "secret",   "auth", "signature", "credential"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t n = strlen(words[w]);
        for (size_t i = 0; i + n <= len; i++)
            if (strncasecmp(name + i, words[w], n) == 0) return 1;
    }
    return 0;
}

/* Appends s[0..len) to out with the value of each secret NAME=VALUE masked.
 * A name starts at s, or after a byte of `before`; it is made of bytes not in
 * `notname`; its value ends at a byte of `after`. */
static void mask_params(fc_strbuf *out, const char *s, size_t len, const char *before,
                        const char *notname, const char *after) {
    size_t i = 0;
    while (i < len) {
        int at_start = i == 0 || strchr(before, s[i - 1]) != NULL;
        size_t n = 0;
        if (at_start)
            while (i + n < len && s[i + n] != '=' && !strchr(notname, s[i + n])) n++;
        if (!at_start || n == 0 || i + n == len || s[i + n] != '=' ||
            !fc_redact_secret_name(s + i, n)) {
            fc_sb_append(out, s + i, 1);
            i++;
            continue;
        }
        fc_sb_append(out, s + i, n + 1); /* NAME= */
        fc_sb_puts(out, MASK);
        i += n + 1;
        while (i < len && !strchr(after, s[i])) i++;
    }
}

/* Appends a redacted url[0..len) to out. */
static void redact_url(fc_strbuf *out, const char *url, size_t len) {
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= len; i++)
        if (memcmp(url + i, "://", 3) == 0) {
            sep = url + i;
            break;
        }
    if (!sep) {
        fc_sb_append(out, url, len);
        return;
    }
    const char *host = sep + 3, *end = url + len;
    fc_sb_append(out, url, (size_t)(host - url));
    /* Userinfo ends at the last '@' before the query or the fragment. */
    const char *q = host;
    while (q < end && *q != '?' && *q != '#') q++;
    const char *at = NULL;
    for (const char *p = host; p < q; p++)
        if (*p == '@') at = p;
    if (at) {
        fc_sb_puts(out, MASK "@");
        host = at + 1;
    }
    /* Path: parameters between '/', '&' and ';' (values end at any of them);
     * query and fragment: between '&' and ';' (a value may hold '/'). A ','
     * ends a value too: it starts framecast's own options. */
    mask_params(out, host, (size_t)(q - host), "/&;", "/&;,", "/&;,");
    mask_params(out, q, (size_t)(end - q), "?&;#", "&;#,", "&;#,");
}

char *fc_redact_url(const char *url) {
    fc_strbuf sb;
    fc_sb_init(&sb, strlen(url) + 8);
    redact_url(&sb, url, strlen(url));
    return fc_sb_detach(&sb);
}

static int scheme_char(char c) {
    return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

char *fc_redact_text(const char *text) {
    static const char url_end[] = " \t\r\n'\"<>";
    static const char word_sep[] = " \t\r\n'\"<>,;&";
    fc_strbuf sb;
    fc_sb_init(&sb, strlen(text) + 8);
    const char *p = text;
    for (const char *sep; (sep = strstr(p, "://"));) {
        const char *start = sep;
        while (start > p && scheme_char(start[-1])) start--;
        const char *end = sep + 3 + strcspn(sep + 3, url_end);
        mask_params(&sb, p, (size_t)(start - p), word_sep, word_sep, word_sep);
        redact_url(&sb, start, (size_t)(end - start));
        p = end;
    }
    mask_params(&sb, p, strlen(p), word_sep, word_sep, word_sep);
    return fc_sb_detach(&sb);
}
