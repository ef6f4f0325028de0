/* A growable byte string for rendering JSON and HTTP responses.
 * Owned by one thread at a time. An allocation failure is sticky: the
 * string keeps what it had, every later append does nothing, and
 * fc_sb_failed says so; whoever sends or keeps the result checks it once at
 * the end instead of after every append (fc_sb_detach gives NULL). */
#ifndef FC_UTIL_STRBUF_H
#define FC_UTIL_STRBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct fc_strbuf {
    char *data; /* always NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
    size_t prefix; /* bytes allocated before data (fc_sb_init_prefixed) */
    int failed;    /* an allocation failed since the last reset */
} fc_strbuf;

static inline int fc_sb_failed(const fc_strbuf *sb) {
    return sb->failed;
}

/* The text, or fallback when an allocation failed. */
static inline const char *fc_sb_str(const fc_strbuf *sb, const char *fallback) {
    return sb->failed || !sb->data ? fallback : sb->data;
}

void fc_sb_init(fc_strbuf *sb, size_t reserve);
/* Like fc_sb_init, with prefix bytes allocated before data, for a header
 * written once the content is known (a WebSocket message built in place:
 * see fc_ws_frame_sb). */
void fc_sb_init_prefixed(fc_strbuf *sb, size_t prefix, size_t reserve);
/* Hands the whole allocation (prefix, then data) to the caller and leaves
 * sb empty (its next append allocates anew); NULL, freeing it, when an
 * allocation failed. */
void *fc_sb_detach(fc_strbuf *sb);
void fc_sb_free(fc_strbuf *sb);
/* Empties sb and forgets a failure (the storage stays for reuse). */
void fc_sb_reset(fc_strbuf *sb);
/* Room for extra more bytes: 0, or -1 when the allocation failed. */
int fc_sb_reserve(fc_strbuf *sb, size_t extra);
void fc_sb_append(fc_strbuf *sb, const void *data, size_t len);
void fc_sb_puts(fc_strbuf *sb, const char *s);
void fc_sb_printf(fc_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included, escaping as RFC 8259
 * requires. Bytes that are not valid UTF-8 become U+FFFD. */
void fc_sb_json_str(fc_strbuf *sb, const char *s);

/* Numbers without printf (rendering hundreds of them per message is most
 * of its cost): a decimal integer; and a finite double with at most
 * `decimals` (0..6) digits after the point, rounded half away from zero,
 * trailing zeros and a bare point left out, an integral value as an
 * integer ("12", "0.5", "123.37"). Not finite: "0" (JSON has no NaN). */
void fc_sb_u64(fc_strbuf *sb, uint64_t v);
void fc_sb_i64(fc_strbuf *sb, int64_t v);
void fc_sb_fixed(fc_strbuf *sb, double v, int decimals);

#endif
