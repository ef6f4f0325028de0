/* The listening socket: bound and listening when the hub is created (so a
 * port in use fails before anything starts), watched by loop 0, which
 * accepts in batches and spreads the connections round-robin over the
 * loops (its own adopts at once, others through their inboxes).
 * open/port/close on the main thread; the accepting runs on loop 0. */
#ifndef FC_HUB_LISTENER_H
#define FC_HUB_LISTENER_H

#include <stddef.h>

#include "hub/internal.h"

typedef struct fc_listener fc_listener;

/* Binds host:port and listens. On error returns a negative code and writes
 * a message naming the address into err. */
int fc_listener_open(fc_listener **out, const char *host, int port, char *err, size_t errlen);
/* The bound port (useful with port 0). */
int fc_listener_port(const fc_listener *l);
/* Starts accepting on loops[0] (before its thread runs). The loop's stop
 * closes the handles. */
int fc_listener_start(fc_listener *l, fc_loop *loops, int nloops);
/* Closes the socket and frees l, after loop 0 has stopped. */
void fc_listener_close(fc_listener *l);

#endif
