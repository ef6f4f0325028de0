/* An I/O loop: one libuv loop on its own thread, owning its connections.
 *
 * Its inbox is the only place threads meet: publishers push messages (one
 * reference each), loop 0 pushes accepted sockets, the hub pushes the stop;
 * uv_async_send wakes the loop, which swaps the inbox out whole and
 * dispatches each item (a message to every subscriber of its stream, a
 * socket to adopt). The loop also turns socket reads into request or
 * session input, and runs a tick for deadlines and keepalive.
 *
 * Backpressure, per stream: a publisher that can wait first waits until
 * the inbox holds fewer than FC_LOOP_INBOX_MSGS messages of its stream
 * (fc_loop_wait_room: no lock of the caller's held), then pushes without
 * waiting; so a fast stream slows to what fan-out takes, the inbox holds at
 * most FC_LOOP_INBOX_MSGS plus the number of concurrent publishers per
 * stream, and one stream's backlog never holds up another's. Callers that
 * must never wait (I/O threads) use fc_loop_try_push_all. Sockets and stops
 * never wait.
 *
 * The loop also answers the hub's round trips (a stream removed, new
 * limits): it does what the item says on its own thread, then acks.
 *
 * init/start/join/destroy on the hub's thread; push on any thread;
 * hand_over on loop 0's thread. */
#ifndef FC_HUB_LOOP_H
#define FC_HUB_LOOP_H

#include "hub/internal.h"

#define FC_LOOP_INBOX_MSGS 32

/* Initializes lp's libuv loop and handles (no thread yet). On failure
 * returns a negative libuv code; fc_loop_destroy undoes what was done. */
int fc_loop_init(fc_loop *lp, fc_hub *hub, int index);
/* Starts the loop's thread. */
int fc_loop_start(fc_loop *lp);
/* Hands an item to the loop (takes its buffer reference); never waits. A
 * message is released instead once the hub stops; out of memory, a message
 * is released and a connection closed (control items always fit). */
void fc_loop_push(fc_loop *lp, fc_item it);
/* Waits while the inbox holds FC_LOOP_INBOX_MSGS messages of stream (or
 * until the hub stops). */
void fc_loop_wait_room(fc_loop *lp, int stream);
/* Pushes a message into all n loops, adding n references, if every one has
 * room for its stream; otherwise pushes nothing. Returns 0 or FC_EFULL. */
int fc_loop_try_push_all(fc_loop *loops, int n, fc_item it);
/* A socket accepted on loop `from`, for loop `to`: adopted at once when it
 * is the same loop, else through its inbox. */
void fc_loop_hand_over(fc_loop *from, fc_loop *to, int fd);
/* Closes the stream's clients on this loop with the code and reason its
 * slot holds (after what is queued for them; they leave the stream at
 * once), and resets the loop's record of the stream: history, sticky
 * message, counters. On the loop's thread (FC_IT_REMOVE), or on the hub's
 * when the loop's thread does not run. */
void fc_loop_remove_stream(fc_loop *lp, int stream);
/* Waits for the thread after a FC_IT_STOP was pushed. */
void fc_loop_join(fc_loop *lp);
/* Frees what the loop holds (after join, or when its thread never ran). */
void fc_loop_destroy(fc_loop *lp);

#endif
