/* Tests for the inbox of src/hub/loop.c: backpressure is per stream, so a
 * stream whose messages fill a loop's inbox never holds up another stream's
 * publisher; a stream being removed takes no more messages. The loop is initialized but its thread
 * never runs, so nothing drains the inbox: what waits, waits for good. Blocking is checked with a
 * helper thread and a grace period, as in test_slot.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "hub/internal.h"
#include "hub/loop.h"
#include "util/error.h"

#define GRACE_MS 200

typedef struct waiter {
    fc_loop *lp;
    int stream;
    atomic_int done;
} waiter;

static void *wait_main(void *arg) {
    waiter *w = arg;
    fc_loop_wait_room(w->lp, w->stream);
    atomic_store(&w->done, 1);
    return NULL;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* 1 if fc_loop_wait_room(lp, stream) returns within GRACE_MS; a waiter
 * still blocked is released by stopping the hub. */
static int has_room(fc_loop *lp, int stream, pthread_t *t, waiter *w) {
    *w = (waiter){.lp = lp, .stream = stream};
    assert_int_equal(pthread_create(t, NULL, wait_main, w), 0);
    for (int i = 0; i < GRACE_MS / 10 && !atomic_load(&w->done); i++) sleep_ms(10);
    return atomic_load(&w->done);
}

static void push_msg(fc_loop *lp, int stream) {
    fc_buf *b = fc_buf_new(8);
    assert_non_null(b);
    fc_loop_push(lp, (fc_item){.kind = FC_IT_MSG, .stream = stream, .buf = b});
}

static void test_one_streams_backlog_never_holds_up_another(void **state) {
    (void)state;
    fc_hub hub = {.nstreams = 2};
    fc_hub_config_defaults(&hub.cfg);
    atomic_store(&hub.streams[0].state, FC_STREAM_LIVE);
    atomic_store(&hub.streams[1].state, FC_STREAM_LIVE);
    fc_loop lp = {0};
    assert_int_equal(fc_loop_init(&lp, &hub, 0), 0);
    for (int i = 0; i < FC_LOOP_INBOX_MSGS; i++) push_msg(&lp, 0); /* stream 0 is full */

    pthread_t t0, t1;
    waiter w0, w1;
    assert_true(has_room(&lp, 1, &t1, &w1));  /* stream 1: at once */
    assert_false(has_room(&lp, 0, &t0, &w0)); /* stream 0: waits for the loop */

    /* The non-blocking publish says so instead of waiting. */
    fc_buf *b = fc_buf_new(8);
    assert_int_equal(
        fc_loop_try_push_all(&lp, 1, (fc_item){.kind = FC_IT_MSG, .stream = 0, .buf = b}),
        FC_EFULL);
    assert_int_equal(
        fc_loop_try_push_all(&lp, 1, (fc_item){.kind = FC_IT_MSG, .stream = 1, .buf = b}), 0);
    /* A stream being removed takes nothing more, room or not. */
    atomic_store(&hub.streams[1].state, FC_STREAM_REMOVING);
    assert_int_equal(
        fc_loop_try_push_all(&lp, 1, (fc_item){.kind = FC_IT_MSG, .stream = 1, .buf = b}),
        FC_EFULL);
    fc_buf_unref(b);

    /* Stopping releases the waiter. */
    atomic_store(&hub.stopping, 1);
    pthread_mutex_lock(&lp.inbox.mu);
    pthread_cond_broadcast(&lp.inbox.space);
    pthread_mutex_unlock(&lp.inbox.mu);
    pthread_join(t0, NULL);
    pthread_join(t1, NULL);
    assert_true(atomic_load(&w0.done));
    fc_loop_destroy(&lp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_streams_backlog_never_holds_up_another),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
