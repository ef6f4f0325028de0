/* Reference-counted immutable byte buffers: the unit of fan-out.
 *
 * The sequencer renders one framed WebSocket message into an fc_buf and every
 * I/O loop, client queue and history slot holds a reference instead of a copy.
 * Once published a buffer is never written again, so any thread may read it;
 * counts are atomic, and the last fc_buf_unref frees it. */
#ifndef FC_UTIL_BUF_H
#define FC_UTIL_BUF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* fc_buf.flags */
/* An expendable preview: only for clients that asked, dropped first, never
 * more than one waiting. */
#define FC_BUF_PREVIEW 1u
/* Never dropped by a slow-client policy: control frames, HTTP answers, a
 * stream's status. */
#define FC_BUF_KEEP 2u
/* A result for the history only, sent to no client: an edge node's copy of
 * what the ingest node published before the edge subscribed (cluster). */
#define FC_BUF_HISTORY 4u

typedef struct fc_buf {
    atomic_int refs;
    unsigned flags;          /* FC_BUF_*, set before the buffer is shared */
    uint64_t seq;            /* a result's seq (> 0), so the hub need not parse it; 0 otherwise */
    int64_t t_us;            /* monotonic time the hub took it (for the queue-wait histogram) */
    struct fc_buf *deflated; /* the same message compressed (permessage-deflate), owned,
                                or NULL */
    uint8_t *data;           /* first byte of the content, inside storage */
    size_t len;              /* content length */
    size_t cap;              /* storage size */
    uint8_t storage[];
} fc_buf;

/* A buffer with cap bytes of storage, one reference, data = storage, len = 0.
 * Returns NULL when out of memory. */
fc_buf *fc_buf_new(size_t cap);
/* A buffer holding a copy of len bytes. */
fc_buf *fc_buf_from(const void *data, size_t len);
/* Makes a buffer of memory the caller allocated with malloc (at least
 * offsetof(fc_buf, storage) + cap bytes) and gives up: one reference, data = storage,
 * len = 0. For content built in place before the buffer exists. */
fc_buf *fc_buf_adopt(void *mem, size_t cap);

static inline fc_buf *fc_buf_ref(fc_buf *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

/* Adds n references at once (one atomic operation for a whole fan-out). */
static inline void fc_buf_ref_n(fc_buf *b, int n) {
    atomic_fetch_add_explicit(&b->refs, n, memory_order_relaxed);
}

void fc_buf_unref(fc_buf *b);

#endif
