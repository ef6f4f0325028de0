/* Rendering: the bytes of a result message (docs/protocol.md), apart from
 * the sequencer that decides which result goes out (pipeline.c).
 *
 * Pure functions: no locks, no globals; any thread. The caller owns sb. */
#ifndef FC_APP_RENDER_H
#define FC_APP_RENDER_H

#include <stddef.h>
#include <stdint.h>

struct fc_strbuf;
struct fc_result;

/* What the sequencer knows of a result besides the prediction itself. */
typedef struct fc_result_meta {
    const char *stream;
    const char *epoch; /* the stream's seq numbering */
    uint64_t seq;
    int64_t publish_us;
    const char *model;
    uint64_t skipped; /* frames the stream skipped so far */
} fc_result_meta;

/* Appends a pushed result: the server's members (type, stream, epoch, seq,
 * publish_us), then the producer's members as they are (valid JSON object
 * members, checked by the caller). */
void fc_render_pushed(struct fc_strbuf *sb, const fc_result_meta *m, const char *members,
                      size_t len);

/* Appends a result message (JSON, no WebSocket framing) to sb. */
void fc_render_result(struct fc_strbuf *sb, const fc_result_meta *m, const struct fc_result *r);

#endif
