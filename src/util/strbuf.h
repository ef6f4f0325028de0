/* A growable byte string for rendering JSON and HTTP responses.
 * Owned by one thread at a time. Allocation failure aborts: a server that
 * cannot allocate a few hundred bytes cannot do anything useful. */
#ifndef FC_UTIL_STRBUF_H
#define FC_UTIL_STRBUF_H

#include <stddef.h>

typedef struct fc_strbuf {
    char *data; /* always NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
} fc_strbuf;

void fc_sb_init(fc_strbuf *sb, size_t reserve);
void fc_sb_free(fc_strbuf *sb);
void fc_sb_reset(fc_strbuf *sb);
void fc_sb_reserve(fc_strbuf *sb, size_t extra);
void fc_sb_append(fc_strbuf *sb, const void *data, size_t len);
void fc_sb_puts(fc_strbuf *sb, const char *s);
void fc_sb_printf(fc_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259
 * requires. Bytes that are not valid UTF-8 become U+FFFD. */
void fc_sb_json_str(fc_strbuf *sb, const char *s);

#endif
