/* The listening socket (see listener.h). */
#include "hub/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub/loop.h"
#include "util/error.h"
#include "util/log.h"

#define ACCEPT_BATCH   64
#define PAUSE_FIRST_MS 100  /* out of descriptors: first pause, doubling to */
#define PAUSE_MAX_MS   1000 /* this */

struct fc_listener {
    int fd;
    int port;
    fc_loop *loops;
    int nloops;
    /* loop 0's thread only */
    unsigned next; /* round-robin */
    uv_poll_t poll;
    uv_timer_t retry;     /* ends a pause */
    uint64_t pause_ms;    /* the last pause, 0 when accepting normally */
    uint64_t pauses;      /* since the last log line */
    uint64_t last_log_ms; /* of the last line about pauses */
};

int fc_listener_open(fc_listener **out, const char *host, int port, char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "--listen: cannot resolve '%s': %s", host, gai_strerror(rc));
        return FC_EINVAL_OPT;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "--listen: cannot listen on %s:%d: %s%s", host, port, strerror(e),
                 e == EADDRINUSE ? " (another process uses this port; pick another with --listen)"
                                 : "");
        return -e;
    }
    fc_listener *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return -ENOMEM;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    l->fd = fd;
    l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    *out = l;
    return 0;
}

int fc_listener_port(const fc_listener *l) {
    return l->port;
}

static void on_accept(uv_poll_t *h, int status, int events);

static void on_retry(uv_timer_t *t) {
    fc_listener *l = t->data;
    uv_poll_start(&l->poll, UV_READABLE, on_accept);
}

/* Out of descriptors (or kernel memory): the listener stays readable while
 * connections wait, so polling it would spin. Stop watching it for a while
 * (100 ms doubling to 1 s) and keep serving the connected clients; the
 * waiting connections stay in the kernel's backlog until then. One log line
 * a second at most, with a count. */
static void pause_accepting(fc_listener *l, int err) {
    fc_loop *lp = &l->loops[0];
    uv_poll_stop(&l->poll);
    l->pause_ms = l->pause_ms ? l->pause_ms * 2 : PAUSE_FIRST_MS;
    if (l->pause_ms > PAUSE_MAX_MS) l->pause_ms = PAUSE_MAX_MS;
    uv_timer_start(&l->retry, on_retry, l->pause_ms, 0);
    atomic_fetch_add_explicit(&lp->hub->refused[FC_HUB_REFUSED_FD_LIMIT], 1, memory_order_relaxed);
    l->pauses++;
    uint64_t now = uv_now(&lp->uv);
    if (l->last_log_ms == 0 || now - l->last_log_ms >= 1000) {
        fc_warn("accept: %s: not accepting for %llu ms (%llu pauses since the last message; "
                "raise the descriptor limit or lower --max-clients)",
                strerror(err), (unsigned long long)l->pause_ms, (unsigned long long)l->pauses);
        l->last_log_ms = now;
        l->pauses = 0;
    }
}

static void on_accept(uv_poll_t *h, int status, int events) {
    fc_listener *l = h->data;
    (void)events;
    if (status < 0) return;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == EPERM)
                continue; /* that connection only */
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
                pause_accepting(l, e);
            else if (e != EAGAIN && e != EWOULDBLOCK)
                fc_debug("accept: %s", strerror(e));
            return;
        }
        l->pause_ms = 0;
        fc_loop_hand_over(&l->loops[0], &l->loops[l->next++ % (unsigned)l->nloops], fd);
    }
}

int fc_listener_start(fc_listener *l, fc_loop *loops, int nloops) {
    l->loops = loops;
    l->nloops = nloops;
    int rc = uv_poll_init(&loops[0].uv, &l->poll, l->fd);
    if (rc) return rc;
    l->poll.data = l;
    if ((rc = uv_timer_init(&loops[0].uv, &l->retry))) return rc;
    l->retry.data = l;
    return uv_poll_start(&l->poll, UV_READABLE, on_accept);
}

void fc_listener_close(fc_listener *l) {
    if (!l) return;
    close(l->fd);
    free(l);
}
