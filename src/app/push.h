/* A push stream's input: the body of POST /api/streams/NAME/publish split
 * into results, and each result checked before the pipeline splices its
 * members into a result message (docs/protocol.md, "Push streams").
 *
 * The producer's text is passed on as it is (no second serialization), so
 * what is accepted must be a strict JSON object: fc_push_check is the only
 * gate between a producer's bytes and every viewer's JSON.parse.
 * Pure: no allocation that outlives a call, any thread. */
#ifndef FC_APP_PUSH_H
#define FC_APP_PUSH_H

#include <stddef.h>

/* Walks a body: one JSON object, or NDJSON (one object a line; blank lines,
 * of spaces, tabs and CRs only, are skipped). The body is not copied. */
typedef struct fc_push_reader {
    const char *at, *end;
    int ndjson;
    long line; /* of the result last returned, from 1 */
} fc_push_reader;

void fc_push_reader_init(fc_push_reader *r, const char *body, size_t len, int ndjson);
/* The next result: returns 1 and sets *text, *len (without its newline), or
 * 0 when the body is done. Without NDJSON the whole body is one result. */
int fc_push_next(fc_push_reader *r, const char **text, size_t *len);

/* Checks one result: UTF-8, one strict JSON object (see util/json.h), none
 * of the keys the server sets (type, stream, epoch, seq, publish_us).
 * Returns 0 and sets *members, *mlen to the object's members as sent (the
 * text between its braces, trimmed; empty for {}), -1 with *why, or
 * -ENOMEM (no memory to check it: the text may be fine). */
int fc_push_check(const char *text, size_t len, const char **members, size_t *mlen,
                  const char **why);

#endif
