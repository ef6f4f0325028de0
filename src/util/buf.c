#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

fc_buf *fc_buf_new(size_t cap) {
    return fc_buf_adopt(malloc(sizeof(fc_buf) + cap), cap);
}

fc_buf *fc_buf_adopt(void *mem, size_t cap) {
    fc_buf *b = mem;
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->flags = 0;
    b->seq = 0;
    b->deflated = NULL;
    b->t_us = 0;
    b->data = b->storage;
    b->len = 0;
    b->cap = cap;
    return b;
}

fc_buf *fc_buf_from(const void *data, size_t len) {
    fc_buf *b = fc_buf_new(len);
    if (!b) return NULL;
    memcpy(b->storage, data, len);
    b->len = len;
    return b;
}

void fc_buf_unref(fc_buf *b) {
    if (!b) return;
    /* acq_rel: the freeing thread must see every write made before the other
     * references were dropped. */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        fc_buf_unref(b->deflated);
        free(b);
    }
}
