/* Tests for src/predict/nms.c: greedy non-maximum suppression, plain and
 * class-wise. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "predict/nms.h"

static void test_iou(void **state) {
    (void)state;
    fc_nms_box a = {0, 0, 10, 10, 1, 0}, b = {5, 0, 10, 10, 1, 0}, c = {20, 20, 5, 5, 1, 0};
    assert_true(fabsf(fc_nms_iou(&a, &b) - 50.0f / 150.0f) < 1e-6f);
    assert_true(fc_nms_iou(&a, &c) == 0);
    assert_true(fabsf(fc_nms_iou(&a, &a) - 1.0f) < 1e-6f);
    fc_nms_box empty = {0, 0, 0, 0, 1, 0};
    assert_true(fc_nms_iou(&empty, &empty) == 0);
}

/* The weaker of two overlapping boxes goes; a box that overlaps only a
 * dropped one stays (greedy: only kept boxes suppress); output by score. */
static void test_suppression_order(void **state) {
    (void)state;
    fc_nms_box b[] = {
        {0, 0, 10, 10, 0.5f, 0},   /* overlaps the 0.9 box by 0.67: dropped */
        {2, 0, 10, 10, 0.9f, 0},   /* kept first */
        {50, 50, 10, 10, 0.7f, 0}, /* alone: kept */
        {-3, 0, 10, 10, 0.6f, 0},  /* IoU 0.33 with the 0.9 box, 0.54 with the dropped 0.5: kept */
    };
    int n = fc_nms(b, 4, 0.45f, 0, 0);
    assert_int_equal(n, 3);
    assert_true(b[0].score == 0.9f && b[1].score == 0.7f && b[2].score == 0.6f);
    assert_true(b[2].x == -3);
}

static void test_class_wise(void **state) {
    (void)state;
    fc_nms_box b[] = {{0, 0, 10, 10, 0.9f, 0}, {0, 0, 10, 10, 0.8f, 1}, {1, 0, 10, 10, 0.7f, 1}};
    fc_nms_box c[3];
    for (int i = 0; i < 3; i++) c[i] = b[i];
    assert_int_equal(fc_nms(b, 3, 0.45f, 1, 0), 2); /* one per class */
    assert_int_equal(b[0].cls, 0);
    assert_int_equal(b[1].cls, 1);
    assert_true(b[1].score == 0.8f);
    assert_int_equal(fc_nms(c, 3, 0.45f, 0, 0), 1); /* across classes: the best only */
}

static void test_limits(void **state) {
    (void)state;
    fc_nms_box b[] = {{0, 0, 1, 1, 0.1f, 0}, {10, 0, 1, 1, 0.3f, 0}, {20, 0, 1, 1, 0.2f, 0}};
    assert_int_equal(fc_nms(b, 3, 0.5f, 0, 2), 2); /* max_keep */
    assert_true(b[0].score == 0.3f && b[1].score == 0.2f);
    assert_int_equal(fc_nms(b, 0, 0.5f, 0, 0), 0);
    /* Equal scores keep their input order. */
    fc_nms_box t[] = {{0, 0, 1, 1, 0.5f, 0}, {10, 0, 1, 1, 0.5f, 0}, {20, 0, 1, 1, 0.5f, 0}};
    assert_int_equal(fc_nms(t, 3, 0.5f, 0, 0), 3);
    assert_true(t[0].x == 0 && t[1].x == 10 && t[2].x == 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iou),
        cmocka_unit_test(test_suppression_order),
        cmocka_unit_test(test_class_wise),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
