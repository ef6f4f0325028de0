#include "source/slot.h"

#include <sched.h>
#include <stdlib.h>

#include "util/error.h"

static int clamp_depth(int depth) {
    return depth < 1 ? 1 : depth > FC_SLOT_MAX ? FC_SLOT_MAX : depth;
}

void fc_slot_init(fc_slot *s, enum fc_slot_mode mode, int depth) {
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->can_take, NULL);
    pthread_cond_init(&s->can_put, NULL);
    s->mode = mode;
    s->depth = clamp_depth(depth);
    s->head = s->len = 0;
    s->closed = s->finished = 0;
    s->put = s->skipped = s->taken = 0;
    s->waiting_takers = 0;
}

void fc_slot_destroy(fc_slot *s) {
    while (s->len) {
        fc_frame_free(s->ring[s->head]);
        s->head = (s->head + 1) % FC_SLOT_MAX;
        s->len--;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->can_take);
    pthread_cond_destroy(&s->can_put);
}

void fc_slot_set_depth(fc_slot *s, int depth) {
    pthread_mutex_lock(&s->mu);
    s->depth = clamp_depth(depth);
    pthread_cond_broadcast(&s->can_put);
    pthread_mutex_unlock(&s->mu);
}

static int put(fc_slot *s, fc_frame *f, int wait) {
    pthread_mutex_lock(&s->mu);
    while (wait && !s->closed && s->len >= s->depth) pthread_cond_wait(&s->can_put, &s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        fc_frame_free(f);
        return FC_ESTOPPED;
    }
    while (s->len >= s->depth) { /* latest: the oldest unclaimed frame goes */
        fc_frame_free(s->ring[s->head]);
        s->head = (s->head + 1) % FC_SLOT_MAX;
        s->len--;
        s->skipped++;
    }
    s->ring[(s->head + s->len) % FC_SLOT_MAX] = f;
    s->len++;
    s->put++;
    int woke = s->waiting_takers > 0;
    pthread_cond_signal(&s->can_take);
    pthread_mutex_unlock(&s->mu);
    /* Linux tends to wake the taker on this CPU (wake-affine) and let it wait
     * until this thread's next decode is preempted, milliseconds later;
     * yielding once lets it run now (measured: decode-to-publish p99 from
     * ~3.4 ms to well under 1 ms at 1080p30, docs/benchmarks.md). */
    if (woke) sched_yield();
    return 0;
}

int fc_slot_put(fc_slot *s, fc_frame *f) {
    return put(s, f, s->mode == FC_SLOT_EVERY);
}

int fc_slot_put_wait(fc_slot *s, fc_frame *f) {
    return put(s, f, 1);
}

/* With mu held: the oldest frame with the next ticket, or NULL. */
static fc_frame *take_locked(fc_slot *s) {
    if (s->closed || !s->len) return NULL;
    fc_frame *f = s->ring[s->head];
    f->ticket = s->taken++;
    s->head = (s->head + 1) % FC_SLOT_MAX;
    s->len--;
    pthread_cond_signal(&s->can_put);
    return f;
}

fc_frame *fc_slot_take(fc_slot *s) {
    pthread_mutex_lock(&s->mu);
    while (!s->closed && !s->finished && s->len == 0) {
        s->waiting_takers++;
        pthread_cond_wait(&s->can_take, &s->mu);
        s->waiting_takers--;
    }
    fc_frame *f = take_locked(s);
    pthread_mutex_unlock(&s->mu);
    return f;
}

fc_frame *fc_slot_try_take(fc_slot *s) {
    pthread_mutex_lock(&s->mu);
    fc_frame *f = take_locked(s);
    pthread_mutex_unlock(&s->mu);
    return f;
}

void fc_slot_close(fc_slot *s) {
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    pthread_cond_broadcast(&s->can_take);
    pthread_cond_broadcast(&s->can_put);
    pthread_mutex_unlock(&s->mu);
}

void fc_slot_finish(fc_slot *s) {
    pthread_mutex_lock(&s->mu);
    s->finished = 1;
    pthread_cond_broadcast(&s->can_take);
    pthread_mutex_unlock(&s->mu);
}

uint64_t fc_slot_skipped(fc_slot *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->skipped;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void fc_slot_counts(fc_slot *s, uint64_t *put, uint64_t *skipped) {
    pthread_mutex_lock(&s->mu);
    *put = s->put;
    *skipped = s->skipped;
    pthread_mutex_unlock(&s->mu);
}
