/* Tests for src/source/slot.c: the source -> worker hand-off. Blocking is
 * checked with helper threads and deadlines: a call that should block must
 * not have returned after a grace period, and must return within a deadline
 * once unblocked. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "source/slot.h"
#include "util/error.h"

#define GRACE_MS    100  /* how long a blocked call must stay blocked */
#define DEADLINE_MS 5000 /* how long an unblocked call may take to return */

static fc_frame *frame(int64_t index) {
    fc_frame *f = fc_frame_new_rgb(2, 2);
    assert_non_null(f);
    f->view.index = index;
    return f;
}

/* Takes a frame that must be there, checks its index and frees it. */
static void take_expect(fc_slot *s, int64_t index) {
    fc_frame *f = fc_slot_take(s);
    assert_non_null(f);
    assert_int_equal(f->view.index, index);
    fc_frame_free(f);
}

/* One blocking call (put, put_wait or take) on its own thread. */
typedef struct call {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    enum { PUT, PUT_WAIT, TAKE, TRY_TAKE } op;
    fc_slot *slot;
    fc_frame *frame; /* in: for put; out: from take */
    int rc;
} call;

static void *call_main(void *arg) {
    call *c = arg;
    int rc = 0;
    fc_frame *f = NULL;
    if (c->op == PUT)
        rc = fc_slot_put(c->slot, c->frame);
    else if (c->op == PUT_WAIT)
        rc = fc_slot_put_wait(c->slot, c->frame);
    else if (c->op == TAKE)
        f = fc_slot_take(c->slot);
    else
        f = fc_slot_try_take(c->slot);
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    if (c->op == TAKE || c->op == TRY_TAKE) c->frame = f;
    c->done = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void call_start(call *c, fc_slot *s, int op, fc_frame *f) {
    *c = (call){.op = op, .slot = s, .frame = f};
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
}

/* Waits up to ms for the call to return; returns whether it did. */
static int call_wait(call *c, int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (!c->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    int done = c->done;
    pthread_mutex_unlock(&c->mu);
    return done;
}

static void call_join(call *c) {
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

/* The call must still be blocked after the grace period. */
static void assert_blocked(call *c) {
    assert_false(call_wait(c, GRACE_MS));
}

/* The call must return within the deadline; if not, close the slot so the
 * thread can be joined before failing. */
static void assert_returns(call *c) {
    int done = call_wait(c, DEADLINE_MS);
    if (!done) {
        fc_slot_close(c->slot);
        call_join(c);
        fail_msg("a blocked call did not return within %d ms", DEADLINE_MS);
    }
    call_join(c);
}

/* A mode=every slot of depth 1 holding frame 0 (that put returned at
 * once), and a put of frame 1 blocked on it. */
static void blocked_put(fc_slot *s, call *c) {
    fc_slot_init(s, FC_SLOT_EVERY, 1);
    assert_int_equal(fc_slot_put(s, frame(0)), 0);
    call_start(c, s, PUT, frame(1));
    assert_blocked(c);
}

static void slot_latest_replaces(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_LATEST, 1);
    for (int i = 0; i < 5; i++) assert_int_equal(fc_slot_put(&s, frame(i)), 0);
    assert_int_equal(fc_slot_skipped(&s), 4);
    take_expect(&s, 4);
    assert_int_equal(fc_slot_put(&s, frame(5)), 0);
    take_expect(&s, 5);
    assert_int_equal(fc_slot_skipped(&s), 4);
    assert_int_equal(s.put, 6);
    fc_slot_destroy(&s);
}

static void slot_latest_depth(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_LATEST, 3);
    for (int i = 0; i < 10; i++) assert_int_equal(fc_slot_put(&s, frame(i)), 0);
    assert_int_equal(fc_slot_skipped(&s), 7);
    take_expect(&s, 7); /* oldest first among the kept ones */
    take_expect(&s, 8);
    assert_int_equal(fc_slot_put(&s, frame(10)), 0);
    assert_int_equal(fc_slot_put(&s, frame(11)), 0);
    assert_int_equal(fc_slot_skipped(&s), 7);
    assert_int_equal(fc_slot_put(&s, frame(12)), 0);
    assert_int_equal(fc_slot_skipped(&s), 8);
    take_expect(&s, 10);
    take_expect(&s, 11);
    take_expect(&s, 12);
    /* Frames still held are freed by destroy (the leak checker watches). */
    assert_int_equal(fc_slot_put(&s, frame(13)), 0);
    fc_slot_destroy(&s);
}

static void slot_depth_clamped(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_LATEST, 0);
    assert_int_equal(s.depth, 1);
    fc_slot_destroy(&s);
    fc_slot_init(&s, FC_SLOT_LATEST, 100);
    assert_int_equal(s.depth, FC_SLOT_MAX);
    for (int i = 0; i < FC_SLOT_MAX + 12; i++) assert_int_equal(fc_slot_put(&s, frame(i)), 0);
    assert_int_equal(fc_slot_skipped(&s), 12);
    take_expect(&s, 12);
    fc_slot_destroy(&s);
}

/* A slot grows to a batching model's batch (so the whole batch can wait)
 * and is clamped like its first depth; shrunk below what it holds, the
 * next put in mode=latest keeps only the newest frames. */
static void slot_set_depth(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_LATEST, 4);
    fc_slot_set_depth(&s, 16);
    assert_int_equal(s.depth, 16);
    for (int i = 0; i < 20; i++) assert_int_equal(fc_slot_put(&s, frame(i)), 0);
    assert_int_equal(fc_slot_skipped(&s), 4);
    for (int i = 4; i < 20; i++) take_expect(&s, i);
    fc_slot_set_depth(&s, 0);
    assert_int_equal(s.depth, 1);
    fc_slot_set_depth(&s, 1000);
    assert_int_equal(s.depth, FC_SLOT_MAX);
    /* Shrunk below what it holds: the next put keeps only the newest. */
    for (int i = 0; i < 10; i++) assert_int_equal(fc_slot_put(&s, frame(100 + i)), 0);
    fc_slot_set_depth(&s, 2);
    assert_int_equal(fc_slot_put(&s, frame(110)), 0);
    take_expect(&s, 109);
    take_expect(&s, 110);
    assert_null(fc_slot_try_take(&s));
    fc_slot_destroy(&s);
}

/* mode=every: a put waiting on a full slot goes on once the slot grows. */
static void slot_set_depth_releases_a_waiting_put(void **state) {
    (void)state;
    fc_slot s;
    call c;
    blocked_put(&s, &c);
    fc_slot_set_depth(&s, 2);
    assert_returns(&c); /* and joined */
    assert_int_equal(c.rc, 0);
    take_expect(&s, 0);
    take_expect(&s, 1);
    assert_int_equal(fc_slot_skipped(&s), 0);
    fc_slot_destroy(&s);
}

static void slot_every_blocks_putter(void **state) {
    (void)state;
    fc_slot s;
    call c;
    blocked_put(&s, &c);
    take_expect(&s, 0);
    assert_returns(&c);
    assert_int_equal(c.rc, 0);
    take_expect(&s, 1);
    assert_int_equal(fc_slot_skipped(&s), 0);
    fc_slot_destroy(&s);
}

static void slot_every_keeps_order(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_EVERY, 2);
    assert_int_equal(fc_slot_put(&s, frame(0)), 0);
    assert_int_equal(fc_slot_put(&s, frame(1)), 0);
    call c;
    call_start(&c, &s, PUT, frame(2));
    assert_blocked(&c);
    take_expect(&s, 0);
    assert_returns(&c);
    take_expect(&s, 1);
    take_expect(&s, 2);
    assert_int_equal(fc_slot_skipped(&s), 0);
    fc_slot_destroy(&s);
}

static void slot_put_wait_blocks_in_latest_mode(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_LATEST, 1);
    assert_int_equal(fc_slot_put_wait(&s, frame(0)), 0);
    call c;
    call_start(&c, &s, PUT_WAIT, frame(1));
    assert_blocked(&c);
    take_expect(&s, 0);
    assert_returns(&c);
    assert_int_equal(c.rc, 0);
    take_expect(&s, 1);
    assert_int_equal(fc_slot_skipped(&s), 0);
    fc_slot_destroy(&s);
}

static void slot_take_waits_for_put(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_LATEST, 1);
    call c;
    call_start(&c, &s, TAKE, NULL);
    assert_blocked(&c);
    assert_int_equal(fc_slot_put(&s, frame(42)), 0);
    assert_returns(&c);
    assert_non_null(c.frame);
    assert_int_equal(c.frame->view.index, 42);
    fc_frame_free(c.frame);
    fc_slot_destroy(&s);
}

static void slot_finish_drains_then_null(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_EVERY, 3);
    assert_int_equal(fc_slot_put(&s, frame(0)), 0);
    assert_int_equal(fc_slot_put(&s, frame(1)), 0);
    fc_slot_finish(&s);
    /* Takes run on a thread so a take that wrongly blocks fails the test. */
    for (int i = 0; i < 4; i++) {
        call c;
        call_start(&c, &s, TAKE, NULL);
        assert_returns(&c);
        if (i < 2) {
            assert_non_null(c.frame);
            assert_int_equal(c.frame->view.index, i);
            fc_frame_free(c.frame);
        } else {
            assert_null(c.frame);
        }
    }
    fc_slot_destroy(&s);
}

static void slot_finish_wakes_taker(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_LATEST, 1);
    call c;
    call_start(&c, &s, TAKE, NULL);
    assert_blocked(&c);
    fc_slot_finish(&s);
    assert_returns(&c);
    assert_null(c.frame);
    fc_slot_destroy(&s);
}

static void slot_close_wakes_taker(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_EVERY, 1);
    call c;
    call_start(&c, &s, TAKE, NULL);
    assert_blocked(&c);
    fc_slot_close(&s);
    assert_returns(&c);
    assert_null(c.frame);
    fc_slot_destroy(&s);
}

static void slot_close_wakes_putter(void **state) {
    (void)state;
    fc_slot s;
    call c;
    blocked_put(&s, &c);
    fc_slot_close(&s);
    assert_returns(&c);
    assert_int_equal(c.rc, FC_ESTOPPED); /* and the frame was freed */
    fc_slot_destroy(&s);                 /* frees frame 0 */
}

static void slot_closed_refuses(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_LATEST, 2);
    assert_int_equal(fc_slot_put(&s, frame(0)), 0);
    fc_slot_close(&s);
    /* Takers get NULL at once, even with a frame held. */
    call c;
    call_start(&c, &s, TAKE, NULL);
    assert_returns(&c);
    assert_null(c.frame);
    assert_int_equal(fc_slot_put(&s, frame(1)), FC_ESTOPPED);
    assert_int_equal(fc_slot_put_wait(&s, frame(2)), FC_ESTOPPED);
    fc_slot_destroy(&s);
}

/* try_take never waits: NULL from an empty slot, even before the source
 * has finished. Run on a thread so a try_take that wrongly blocks fails. */
static void slot_try_take_never_waits(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_EVERY, 4);
    call c;
    call_start(&c, &s, TRY_TAKE, NULL);
    assert_returns(&c);
    assert_null(c.frame);
    fc_slot_destroy(&s);
}

/* A batch: one blocking take, then the frames already waiting, oldest
 * first, with the tickets that follow the first frame's. */
static void slot_try_take_fills_a_batch_in_order(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_EVERY, 4);
    for (int i = 0; i < 3; i++) assert_int_equal(fc_slot_put(&s, frame(i)), 0);
    fc_frame *batch[4];
    int n = 0;
    batch[n++] = fc_slot_take(&s);
    while (n < 4 && (batch[n] = fc_slot_try_take(&s))) n++;
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++) {
        assert_int_equal(batch[i]->view.index, i);
        assert_int_equal(batch[i]->ticket, i);
        fc_frame_free(batch[i]);
    }
    /* The next frame's ticket follows the batch's. */
    assert_int_equal(fc_slot_put(&s, frame(3)), 0);
    fc_frame *f = fc_slot_try_take(&s);
    assert_non_null(f);
    assert_int_equal(f->view.index, 3);
    assert_int_equal(f->ticket, 3);
    fc_frame_free(f);
    assert_int_equal(fc_slot_skipped(&s), 0);
    fc_slot_destroy(&s);
}

/* In mode=every a full slot blocks the source; a try_take makes room and
 * wakes it, as a take does. */
static void slot_try_take_wakes_the_putter(void **state) {
    (void)state;
    fc_slot s;
    call c;
    blocked_put(&s, &c);
    fc_frame *f = fc_slot_try_take(&s);
    assert_non_null(f);
    assert_int_equal(f->view.index, 0);
    fc_frame_free(f);
    assert_returns(&c);
    assert_int_equal(c.rc, 0);
    take_expect(&s, 1);
    fc_slot_destroy(&s);
}

/* After close, try_take gets nothing, even with a frame held; after finish
 * it drains what is held, then gets NULL. */
static void slot_try_take_after_close_and_finish(void **state) {
    (void)state;
    fc_slot s;
    fc_slot_init(&s, FC_SLOT_EVERY, 2);
    assert_int_equal(fc_slot_put(&s, frame(0)), 0);
    assert_int_equal(fc_slot_put(&s, frame(1)), 0);
    fc_slot_finish(&s);
    fc_frame *f = fc_slot_try_take(&s);
    assert_non_null(f);
    assert_int_equal(f->view.index, 0);
    fc_frame_free(f);
    fc_slot_close(&s);
    assert_null(fc_slot_try_take(&s));
    fc_slot_destroy(&s); /* frees frame 1 */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slot_latest_replaces),
        cmocka_unit_test(slot_latest_depth),
        cmocka_unit_test(slot_depth_clamped),
        cmocka_unit_test(slot_set_depth),
        cmocka_unit_test(slot_set_depth_releases_a_waiting_put),
        cmocka_unit_test(slot_every_blocks_putter),
        cmocka_unit_test(slot_every_keeps_order),
        cmocka_unit_test(slot_put_wait_blocks_in_latest_mode),
        cmocka_unit_test(slot_take_waits_for_put),
        cmocka_unit_test(slot_finish_drains_then_null),
        cmocka_unit_test(slot_finish_wakes_taker),
        cmocka_unit_test(slot_close_wakes_taker),
        cmocka_unit_test(slot_close_wakes_putter),
        cmocka_unit_test(slot_closed_refuses),
        cmocka_unit_test(slot_try_take_never_waits),
        cmocka_unit_test(slot_try_take_fills_a_batch_in_order),
        cmocka_unit_test(slot_try_take_wakes_the_putter),
        cmocka_unit_test(slot_try_take_after_close_and_finish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
