/* A stream's recent results, kept for clients that resume: a ring of
 * references to the framed messages the loop already holds (no copy, no
 * second serialization), bounded by count, bytes and age.
 *
 * Entries are results in publish order with consecutive seq (every loop
 * receives every result of its streams), so a seq is found by its offset
 * from the oldest. A pure data structure (the caller passes the time);
 * one I/O thread owns each ring. */
#ifndef FC_HUB_HISTORY_H
#define FC_HUB_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct fc_history_limits {
    unsigned count; /* results kept at most; 0: no history */
    size_t bytes;   /* framed bytes kept at most */
    int64_t age_ms; /* results older than this are released */
} fc_history_limits;

typedef struct fc_history_entry {
    fc_buf *buf; /* a result: buf->seq > 0 */
    int64_t t_ms;
} fc_history_entry;

typedef struct fc_history {
    fc_history_entry *ring;
    unsigned cap, head, len; /* cap is 0 or a power of two */
    size_t bytes;
} fc_history;

void fc_history_init(fc_history *h);
void fc_history_free(fc_history *h);

/* Appends a result published at now_ms, taking the caller's reference, then
 * releases what the limits no longer allow. A result whose seq does not
 * follow the newest restarts the ring (a new numbering). When the ring
 * cannot grow, the oldest result makes room (out of memory: a shorter
 * history, never a crash). */
void fc_history_push(fc_history *h, fc_buf *b, int64_t now_ms, const fc_history_limits *lim);

/* Releases results older than the age limit. */
void fc_history_expire(fc_history *h, int64_t now_ms, const fc_history_limits *lim);

/* seq of the oldest and newest results kept; 0 when empty. */
uint64_t fc_history_oldest(const fc_history *h);
uint64_t fc_history_newest(const fc_history *h);

/* The result with this seq (borrowed), or NULL if it is not kept. */
fc_buf *fc_history_get(const fc_history *h, uint64_t seq);

#endif
