/* The write path of a loop (uWebSockets' corking): a connection with
 * something to send is marked dirty; once per loop iteration (a uv_check
 * handle) each dirty socket gets one writev of everything it has queued
 * (uv_try_write). When the kernel does not take it all, one uv_write
 * finishes the front message once the socket is writable (the rest of the
 * queue stays droppable by the policy meanwhile), and the next flush
 * writes the others. When a queue drains, a close that was waiting for it
 * happens. Loop thread only. */
#ifndef FC_HUB_WRITER_H
#define FC_HUB_WRITER_H

#include "hub/internal.h"

/* 1 when c has nothing to send and no write in progress. */
int fc_writer_idle(const fc_conn *c);

/* Flushes every connection marked dirty: the loop calls it once per
 * iteration (its uv_check handle). */
void fc_writer_flush_dirty(fc_loop *lp);

/* Marks c to be flushed at the end of this loop iteration. */
void fc_writer_mark(fc_conn *c);

/* Queues a buffer the connection itself sends (a control frame, an HTTP
 * answer; takes the reference), kept whatever the policy, and marks c.
 * NULL (it could not be made: out of memory) closes c at the flush. */
void fc_writer_send(fc_conn *c, fc_buf *b);

/* Writes what c has queued now (used before judging a queue over its
 * bound: messages of the same batch have not been offered to the socket). */
void fc_writer_flush(fc_conn *c);

#endif
