/* What framecast nodes send each other over NATS (docs/cluster.md): pure
 * functions, no NATS, no threads; any thread.
 *
 * Subjects: framecast.<stream>.result, .preview, .status carry the message
 * as clients get it, without the WebSocket header (a result's JSON with
 * the seq, epoch and publish_us the ingest node set; a preview's binary
 * header and JPEG; a status message's JSON). framecast.<stream>.history is
 * a request ("SINCE EPOCH") answered with the results after SINCE that the
 * ingest node still keeps, in the format below. framecast.announce carries
 * each stream's description once a second. */
#ifndef FC_CLUSTER_NATS_WIRE_H
#define FC_CLUSTER_NATS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/strbuf.h"

#define FC_WIRE_SUBJECT_MAX 96 /* "framecast." + a stream name (64) + ".preview" */
#define FC_WIRE_ANNOUNCE    "framecast.announce"

/* "framecast.<stream>.<what>" into out; 0, or -1 if the name cannot be a
 * subject token (only letters, digits, '-' and '_'). */
int fc_wire_subject(char out[FC_WIRE_SUBJECT_MAX], const char *stream, const char *what);

/* The payload of a server-framed WebSocket message (no mask): its bytes
 * after the header. */
void fc_wire_payload(const fc_buf *framed, const uint8_t **p, size_t *len);

/* The seq of a result message: the value of its first "seq" member, which
 * the server renders among its own leading members (render.c), before any
 * producer's. 0 if there is none. */
uint64_t fc_wire_seq(const uint8_t *json, size_t len);

/* A history reply: a header line "FCH1 EPOCH COUNT MORE\n", then COUNT
 * entries "LEN\n" + LEN bytes (a result's JSON). MORE is 1 when the reply
 * stopped at its size bound before the newest result: ask again after the
 * last one. */
void fc_wire_history_begin(fc_strbuf *sb, const char *epoch);
void fc_wire_history_add(fc_strbuf *sb, const uint8_t *json, size_t len);
void fc_wire_history_end(fc_strbuf *sb, const char *epoch, unsigned count, int more);
#define FC_WIRE_HISTORY_HEAD 64 /* room reserved for the header line */

typedef struct fc_wire_history {
    char epoch[33];
    unsigned count;
    int more;
    const uint8_t *at, *end; /* the entries not read yet */
} fc_wire_history;
/* 0, or -1 if data is not a history reply. */
int fc_wire_history_parse(fc_wire_history *h, const uint8_t *data, size_t len);
/* The next entry: 1 with *json, *len set; 0 at the end; -1 if malformed. */
int fc_wire_history_next(fc_wire_history *h, const uint8_t **json, size_t *len);

#endif
