/* Strict JSON validation (RFC 8259), for text that is passed on as it is.
 *
 * cJSON parses leniently: it takes "01", "1.", raw control characters in
 * strings and anything after the first value, all of which a browser's
 * JSON.parse refuses. Text that framecast splices into its own messages
 * without serializing it again (a producer's pushed result) must be checked
 * by this first, or one producer could break every viewer's parse.
 * Pure: no allocation, any thread. */
#ifndef FC_UTIL_JSON_H
#define FC_UTIL_JSON_H

#include <stddef.h>

/* Nesting deeper than this is refused (the check recurses). */
#define FC_JSON_MAX_DEPTH 64

/* Checks that s[0..len) is exactly one JSON value with optional white
 * space around it. Returns 0, or -1 with *why saying what is wrong (a
 * static string). Does not check UTF-8 (see fc_utf8_feed); a NUL byte is
 * refused as any control character outside a string. */
int fc_json_check(const char *s, size_t len, const char **why);

#endif
