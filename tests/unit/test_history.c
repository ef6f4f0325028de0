/* Tests for src/hub/history.c: a stream's recent results, bounded by count,
 * bytes and age, found by seq. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hub/history.h"

static fc_buf *result(uint64_t seq, size_t len) {
    fc_buf *b = fc_buf_new(len);
    assert_non_null(b);
    b->len = len;
    b->seq = seq;
    return b;
}

/* Pushes seq from..to (inclusive), each len bytes, at time t. */
static void push_range(fc_history *h, uint64_t from, uint64_t to, size_t len, int64_t t,
                       const fc_history_limits *lim) {
    for (uint64_t s = from; s <= to; s++) fc_history_push(h, result(s, len), t, lim);
}

static void test_count_bound(void **state) {
    (void)state;
    fc_history h;
    fc_history_init(&h);
    fc_history_limits lim = {.count = 5, .bytes = 1 << 20, .age_ms = 60000};
    push_range(&h, 1, 12, 10, 0, &lim);
    assert_int_equal(h.len, 5);
    assert_int_equal(fc_history_oldest(&h), 8);
    assert_int_equal(fc_history_newest(&h), 12);
    assert_null(fc_history_get(&h, 7));
    for (uint64_t s = 8; s <= 12; s++) assert_int_equal(fc_history_get(&h, s)->seq, s);
    assert_null(fc_history_get(&h, 13));
    assert_int_equal(h.bytes, 50);
    fc_history_free(&h);
}

static void test_bytes_bound(void **state) {
    (void)state;
    fc_history h;
    fc_history_init(&h);
    fc_history_limits lim = {.count = 100, .bytes = 250, .age_ms = 60000};
    push_range(&h, 1, 10, 100, 0, &lim);
    assert_int_equal(h.len, 2); /* 3 x 100 would be over 250 */
    assert_int_equal(fc_history_oldest(&h), 9);
    /* A result larger than the bound is not kept either. */
    fc_history_push(&h, result(11, 300), 0, &lim);
    assert_int_equal(h.len, 0);
    assert_int_equal(h.bytes, 0);
    assert_int_equal(fc_history_newest(&h), 0);
    fc_history_free(&h);
}

static void test_age_bound(void **state) {
    (void)state;
    fc_history h;
    fc_history_init(&h);
    fc_history_limits lim = {.count = 100, .bytes = 1 << 20, .age_ms = 1000};
    push_range(&h, 1, 5, 10, 0, &lim);
    push_range(&h, 6, 8, 10, 900, &lim);
    fc_history_expire(&h, 1000, &lim); /* exactly the age: kept */
    assert_int_equal(fc_history_oldest(&h), 1);
    fc_history_expire(&h, 1001, &lim);
    assert_int_equal(fc_history_oldest(&h), 6);
    /* Pushing expires too. */
    fc_history_push(&h, result(9, 10), 1950, &lim);
    assert_int_equal(fc_history_oldest(&h), 9);
    fc_history_expire(&h, 5000, &lim);
    assert_int_equal(h.len, 0);
    fc_history_free(&h);
}

static void test_a_new_numbering_restarts_the_ring(void **state) {
    (void)state;
    fc_history h;
    fc_history_init(&h);
    fc_history_limits lim = {.count = 100, .bytes = 1 << 20, .age_ms = 60000};
    push_range(&h, 40, 50, 10, 0, &lim);
    fc_history_push(&h, result(1, 10), 0, &lim); /* seq went back: another numbering */
    assert_int_equal(h.len, 1);
    assert_int_equal(fc_history_oldest(&h), 1);
    fc_history_push(&h, result(3, 10), 0, &lim); /* a gap: not consecutive either */
    assert_int_equal(fc_history_oldest(&h), 3);
    assert_null(fc_history_get(&h, 2));
    fc_history_free(&h);
}

static void test_the_ring_grows_and_wraps(void **state) {
    (void)state;
    fc_history h;
    fc_history_init(&h);
    fc_history_limits lim = {.count = 40, .bytes = 1 << 20, .age_ms = 60000};
    push_range(&h, 1, 1000, 1, 0, &lim);
    assert_int_equal(h.len, 40);
    for (uint64_t s = 961; s <= 1000; s++) assert_int_equal(fc_history_get(&h, s)->seq, s);
    fc_history_free(&h);
}

static void test_no_history(void **state) {
    (void)state;
    fc_history h;
    fc_history_init(&h);
    fc_history_limits lim = {0, 0, 0};
    push_range(&h, 1, 3, 10, 0, &lim);
    assert_int_equal(h.len, 0);
    assert_null(fc_history_get(&h, 1));
    fc_history_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_bound),
        cmocka_unit_test(test_bytes_bound),
        cmocka_unit_test(test_age_bound),
        cmocka_unit_test(test_a_new_numbering_restarts_the_ring),
        cmocka_unit_test(test_the_ring_grows_and_wraps),
        cmocka_unit_test(test_no_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
