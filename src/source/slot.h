/* The hand-off between one source thread and its predictor workers.
 *
 * mode=latest: put never waits; a new frame replaces the oldest one nobody
 * has taken (counted as skipped), so workers always get the freshest frame.
 * mode=every: put waits while the slot is full, so no frame is lost.
 * put_wait waits in either mode (used by sources that run "as fast as the
 * pipeline takes them"). The slot owns the frames it holds.
 * Any thread; one mutex, taken once per frame per side. */
#ifndef FC_SOURCE_SLOT_H
#define FC_SOURCE_SLOT_H

#include <pthread.h>
#include <stdint.h>

#include "source/frame.h"

enum fc_slot_mode { FC_SLOT_LATEST, FC_SLOT_EVERY };

/* The most frames a slot holds: a batching predictor's largest batch
 * (FC_PREDICTOR_BATCH_MAX), so that many can wait for it in mode=every. */
#define FC_SLOT_MAX 64

typedef struct fc_slot {
    pthread_mutex_t mu;
    pthread_cond_t can_take, can_put;
    enum fc_slot_mode mode;
    int depth; /* frames held at most (1..FC_SLOT_MAX) */
    fc_frame *ring[FC_SLOT_MAX];
    int head, len;
    int waiting_takers; /* takers blocked in fc_slot_take */
    int closed;         /* stopped: takers get NULL at once */
    int finished;       /* no more frames: takers drain, then get NULL */
    uint64_t put, skipped;
    uint64_t taken; /* the next frame's ticket */
} fc_slot;

void fc_slot_init(fc_slot *s, enum fc_slot_mode mode, int depth);
void fc_slot_destroy(fc_slot *s); /* frees frames still held */
/* Holds up to depth frames from now on (clamped to 1..FC_SLOT_MAX): set
 * once the predictor's batch size is known, before the source runs. */
void fc_slot_set_depth(fc_slot *s, int depth);
/* Takes ownership of f. Returns 0, or FC_ESTOPPED (f freed) once closed. */
int fc_slot_put(fc_slot *s, fc_frame *f);
int fc_slot_put_wait(fc_slot *s, fc_frame *f);
/* Waits for the oldest frame and hands it over, with the next ticket
 * (0, 1, 2, ... in the order frames are taken); NULL once closed. */
fc_frame *fc_slot_take(fc_slot *s);
/* The same without waiting: the oldest frame already held, or NULL when
 * there is none (or the slot is closed). A batching worker fills its batch
 * with it after a blocking take, so a batch holds only frames that were
 * already waiting. */
fc_frame *fc_slot_try_take(fc_slot *s);
/* Wakes every waiter; puts and takes fail from now on. */
void fc_slot_close(fc_slot *s);
/* The source has ended: takers get the frames still held, then NULL. */
void fc_slot_finish(fc_slot *s);
uint64_t fc_slot_skipped(fc_slot *s);
/* Frames put so far, and of those skipped; any thread. */
void fc_slot_counts(fc_slot *s, uint64_t *put, uint64_t *skipped);

#endif
