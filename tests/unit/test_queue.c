/* Tests for src/hub/queue.c: a client's outgoing queue and the slow-client
 * policies, without sockets or clocks. Each message is a buffer whose first
 * byte is its id, so a queue's contents read as a list of ids. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "hub/queue.h"

static const fc_queue_limits LIM = {.bytes = 300, .msgs = 100, .keep_bytes = 250};

static fc_buf *msg(uint8_t id, size_t len, unsigned flags) {
    fc_buf *b = fc_buf_new(len);
    assert_non_null(b);
    memset(b->data, id, len);
    b->len = len;
    b->flags = flags;
    return b;
}

/* Offers a new message and drops the test's own reference. */
static enum fc_queue_verdict offer(fc_queue *q, uint8_t id, size_t len, unsigned flags,
                                   enum fc_slow_policy policy) {
    fc_buf *b = msg(id, len, flags);
    enum fc_queue_verdict v = fc_queue_offer(q, b, policy, &LIM);
    fc_buf_unref(b);
    return v;
}

/* The ids in the queue, front first, as a string of digits ("123"). */
static const char *ids(const fc_queue *q) {
    static char out[64];
    struct iovec iov[32];
    unsigned n = fc_queue_iov(q, iov, 32);
    for (unsigned i = 0; i < n; i++) out[i] = (char)('0' + ((uint8_t *)iov[i].iov_base)[0]);
    out[n] = 0;
    return out;
}

/* The byte counts must always equal what the entries hold. */
static void check_bytes(const fc_queue *q) {
    struct iovec iov[64];
    unsigned n = fc_queue_iov(q, iov, 64);
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) total += iov[i].iov_len;
    assert_int_equal(n, q->len);
    assert_int_equal(total, q->bytes);
}

static void test_drop_skips_new_messages_and_keeps_the_oldest(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    for (uint8_t id = 1; id <= 3; id++)
        assert_int_equal(offer(&q, id, 100, 0, FC_SLOW_DROP), FC_QUEUE_OK);
    assert_int_equal(offer(&q, 4, 100, 0, FC_SLOW_DROP), FC_QUEUE_SKIPPED);
    assert_int_equal(offer(&q, 5, 100, 0, FC_SLOW_DROP), FC_QUEUE_SKIPPED);
    assert_string_equal(ids(&q), "123"); /* the gap comes after the oldest */
    assert_int_equal(q.dropped, 2);
    check_bytes(&q);
    /* Once the client takes one, the next message fits again. */
    assert_int_equal(fc_queue_consume(&q, 100), 1);
    assert_int_equal(offer(&q, 6, 100, 0, FC_SLOW_DROP), FC_QUEUE_OK);
    assert_string_equal(ids(&q), "236");
    fc_queue_free(&q);
}

static void test_latest_keeps_the_newest_first(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    for (uint8_t id = 1; id <= 3; id++) offer(&q, id, 100, 0, FC_SLOW_LATEST);
    assert_int_equal(offer(&q, 4, 100, 0, FC_SLOW_LATEST), FC_QUEUE_OK);
    assert_string_equal(ids(&q), "4"); /* the gap comes before the newest */
    assert_int_equal(q.dropped, 3);
    offer(&q, 5, 100, 0, FC_SLOW_LATEST);
    offer(&q, 6, 100, 0, FC_SLOW_LATEST);
    assert_string_equal(ids(&q), "456"); /* then it continues */
    offer(&q, 7, 100, 0, FC_SLOW_LATEST);
    assert_string_equal(ids(&q), "7");
    assert_int_equal(q.dropped, 6);
    check_bytes(&q);
    fc_queue_free(&q);
}

static void test_latest_spares_the_entry_being_written(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    for (uint8_t id = 1; id <= 3; id++) offer(&q, id, 100, 0, FC_SLOW_LATEST);
    q.busy = 1; /* a write owns entry 0 */
    offer(&q, 4, 100, 0, FC_SLOW_LATEST);
    assert_string_equal(ids(&q), "14");
    /* A partly written front entry is spared too (a frame cannot be cut). */
    assert_int_equal(fc_queue_consume(&q, 100), 1);
    assert_int_equal(q.busy, 0);
    offer(&q, 5, 100, 0, FC_SLOW_LATEST);
    offer(&q, 6, 100, 0, FC_SLOW_LATEST);
    assert_string_equal(ids(&q), "456");
    assert_int_equal(fc_queue_consume(&q, 30), 0);
    offer(&q, 7, 100, 0, FC_SLOW_LATEST);
    assert_string_equal(ids(&q), "47");
    check_bytes(&q);
    fc_queue_free(&q);
}

static void test_close_releases_what_waits(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    for (uint8_t id = 1; id <= 3; id++) offer(&q, id, 100, 0, FC_SLOW_CLOSE);
    offer(&q, 8, 10, FC_BUF_KEEP, FC_SLOW_CLOSE);
    assert_int_equal(offer(&q, 4, 100, 0, FC_SLOW_CLOSE), FC_QUEUE_CLOSE);
    assert_string_equal(ids(&q), "8"); /* a status message stays */
    assert_int_equal(q.dropped, 4);    /* the three waiting and the one offered */
    check_bytes(&q);
    fc_queue_free(&q);
}

static void test_keep_entries_are_never_dropped_and_bounded_alone(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    offer(&q, 1, 100, 0, FC_SLOW_LATEST);
    offer(&q, 2, 100, FC_BUF_KEEP, FC_SLOW_LATEST);
    offer(&q, 3, 100, 0, FC_SLOW_LATEST);
    offer(&q, 4, 100, 0, FC_SLOW_LATEST); /* over: latest drops 1 and 3, not 2 */
    assert_string_equal(ids(&q), "24");
    /* Keep entries have their own bound (250): over it, close. */
    assert_int_equal(offer(&q, 5, 100, FC_BUF_KEEP, FC_SLOW_DROP), FC_QUEUE_OK);
    assert_int_equal(q.keep_bytes, 200);
    assert_int_equal(offer(&q, 6, 100, FC_BUF_KEEP, FC_SLOW_DROP), FC_QUEUE_CLOSE);
    assert_string_equal(ids(&q), "245");
    /* Written keep entries free their share; they are not data messages. */
    assert_int_equal(fc_queue_consume(&q, 100), 0);
    assert_int_equal(q.keep_bytes, 100);
    assert_int_equal(q.sent, 0);
    check_bytes(&q);
    fc_queue_free(&q);
}

static void test_an_empty_queue_takes_a_message_over_the_bound(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    assert_int_equal(offer(&q, 1, 1000, 0, FC_SLOW_CLOSE), FC_QUEUE_OK);
    assert_int_equal(offer(&q, 2, 1000, FC_BUF_KEEP, FC_SLOW_CLOSE), FC_QUEUE_OK);
    assert_int_equal(offer(&q, 3, 1, 0, FC_SLOW_DROP), FC_QUEUE_SKIPPED);
    assert_string_equal(ids(&q), "12");
    fc_queue_free(&q);
}

static void test_the_message_count_bounds_too(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    fc_queue_limits lim = LIM;
    lim.msgs = 2;
    fc_buf *b[3] = {msg(1, 1, 0), msg(2, 1, 0), msg(3, 1, 0)};
    assert_int_equal(fc_queue_offer(&q, b[0], FC_SLOW_DROP, &lim), FC_QUEUE_OK);
    assert_int_equal(fc_queue_offer(&q, b[1], FC_SLOW_DROP, &lim), FC_QUEUE_OK);
    assert_int_equal(fc_queue_offer(&q, b[2], FC_SLOW_DROP, &lim), FC_QUEUE_SKIPPED);
    for (int i = 0; i < 3; i++) fc_buf_unref(b[i]);
    assert_string_equal(ids(&q), "12");
    fc_queue_free(&q);
}

static void test_previews_are_expendable(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    offer(&q, 1, 50, 0, FC_SLOW_CLOSE);
    offer(&q, 2, 50, FC_BUF_PREVIEW, FC_SLOW_CLOSE);
    offer(&q, 3, 50, FC_BUF_PREVIEW, FC_SLOW_CLOSE); /* replaces 2 */
    assert_string_equal(ids(&q), "13");
    assert_int_equal(q.dropped, 1);
    /* Over the bound, waiting previews go before the policy is asked. */
    offer(&q, 4, 150, 0, FC_SLOW_CLOSE);
    assert_int_equal(offer(&q, 5, 100, 0, FC_SLOW_CLOSE), FC_QUEUE_OK);
    assert_string_equal(ids(&q), "145");
    /* A preview that does not fit is skipped, whatever the policy. */
    assert_int_equal(offer(&q, 6, 50, FC_BUF_PREVIEW, FC_SLOW_CLOSE), FC_QUEUE_SKIPPED);
    assert_string_equal(ids(&q), "145");
    check_bytes(&q);
    fc_queue_free(&q);
}

static void test_consume_counts_whole_data_messages(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    offer(&q, 1, 100, 0, FC_SLOW_DROP);
    offer(&q, 2, 10, FC_BUF_KEEP, FC_SLOW_DROP);
    offer(&q, 3, 100, FC_BUF_PREVIEW, FC_SLOW_DROP);
    assert_int_equal(fc_queue_consume(&q, 60), 0);
    struct iovec iov[4];
    assert_int_equal(fc_queue_iov(&q, iov, 4), 3);
    assert_int_equal(iov[0].iov_len, 40); /* the rest of entry 0 */
    assert_int_equal(fc_queue_consume(&q, 40 + 10 + 99), 1);
    assert_int_equal(fc_queue_consume(&q, 1), 1);
    assert_true(fc_queue_empty(&q));
    assert_int_equal(q.sent, 2);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.keep_bytes, 0);
    fc_queue_free(&q);
}

static void test_pushed_entries_ignore_the_bound(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    for (uint8_t id = 1; id <= 9; id++) fc_queue_push(&q, msg(id, 100, FC_BUF_KEEP));
    assert_string_equal(ids(&q), "123456789");
    assert_int_equal(q.keep_bytes, 900);
    check_bytes(&q);
    fc_queue_free(&q);
}

static void test_the_ring_grows_in_order(void **state) {
    (void)state;
    fc_queue q;
    fc_queue_init(&q);
    fc_queue_limits lim = {.bytes = 1 << 20, .msgs = 1000, .keep_bytes = 1 << 20};
    /* Wrap the ring before it grows: consume from the front as we go. */
    for (int i = 0; i < 40; i++) {
        fc_buf *b = msg((uint8_t)i, 1, 0);
        fc_queue_offer(&q, b, FC_SLOW_DROP, &lim);
        fc_buf_unref(b);
        if (i % 3 == 0) fc_queue_consume(&q, 1);
    }
    struct iovec iov[64];
    unsigned n = fc_queue_iov(&q, iov, 64);
    assert_int_equal(n, 26);
    for (unsigned i = 1; i < n; i++)
        assert_int_equal(((uint8_t *)iov[i].iov_base)[0], ((uint8_t *)iov[i - 1].iov_base)[0] + 1);
    fc_queue_free(&q);
}

static void test_policy_names(void **state) {
    (void)state;
    for (int p = FC_SLOW_DROP; p <= FC_SLOW_CLOSE; p++)
        assert_int_equal(fc_slow_policy_parse(fc_slow_policy_name(p)), p);
    assert_int_equal(fc_slow_policy_parse("newest"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_skips_new_messages_and_keeps_the_oldest),
        cmocka_unit_test(test_latest_keeps_the_newest_first),
        cmocka_unit_test(test_latest_spares_the_entry_being_written),
        cmocka_unit_test(test_close_releases_what_waits),
        cmocka_unit_test(test_keep_entries_are_never_dropped_and_bounded_alone),
        cmocka_unit_test(test_an_empty_queue_takes_a_message_over_the_bound),
        cmocka_unit_test(test_the_message_count_bounds_too),
        cmocka_unit_test(test_previews_are_expendable),
        cmocka_unit_test(test_consume_counts_whole_data_messages),
        cmocka_unit_test(test_pushed_entries_ignore_the_bound),
        cmocka_unit_test(test_the_ring_grows_in_order),
        cmocka_unit_test(test_policy_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
