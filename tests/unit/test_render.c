/* Result rendering (src/app/render.c): whatever a predictor returns, the
 * message is valid JSON (checked with cJSON, which, like a browser's
 * JSON.parse, rejects inf and nan), boxes lie inside the frame, scores in
 * 0..1, and what was dropped is said in the error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app/render.h"
#include "predict/worker.h"
#include "source/frame.h"
#include "util/strbuf.h"

#define W 640
#define H 360

static fc_detection det(const char *label, float score, float x, float y, float w, float h) {
    fc_detection d = {.score = score, .box = {x, y, w, h}};
    strncpy(d.label, label, sizeof d.label);
    return d;
}

/* Renders dets and parses the message; the caller deletes it. */
static cJSON *render(const fc_detection *dets, int n, const char *error) {
    fc_frame f = {.view = {.src_width = W, .src_height = H, .index = 7, .pts_us = 1000}};
    fc_result r = {.frame = &f, .dets = dets, .ndets = n, .infer_us = 5, .error = error};
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    fc_result_meta m = {.stream = "cam", .epoch = "e1", .seq = 3, .publish_us = 123, .model = "test"};
    fc_render_result(&sb, &m, &r);
    cJSON *root = cJSON_ParseWithLength(sb.data, sb.len);
    if (!root) fail_msg("not valid JSON: %s", sb.data);
    fc_sb_free(&sb);
    return root;
}

static cJSON *dets_of(cJSON *root) {
    cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "detections");
    assert_true(cJSON_IsArray(d));
    return d;
}

static const char *error_of(cJSON *root) {
    cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    return cJSON_IsString(e) ? e->valuestring : NULL;
}

static double num(cJSON *o, const char *key, int k) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (k >= 0) v = cJSON_GetArrayItem(v, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_good_detections_unchanged(void **state) {
    (void)state;
    fc_detection d[2] = {det("person", 0.5f, 10, 20, 30, 40), det("car", 1, 0, 0, W, H)};
    cJSON *root = render(d, 2, NULL);
    cJSON *arr = dets_of(root);
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    cJSON *a = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(cJSON_GetObjectItem(a, "label")->valuestring, "person");
    assert_true(num(a, "score", -1) == 0.5);
    assert_true(num(a, "box", 0) == 10 && num(a, "box", 1) == 20);
    assert_true(num(a, "box", 2) == 30 && num(a, "box", 3) == 40);
    assert_null(error_of(root));
    cJSON_Delete(root);
}

static void test_non_finite_dropped(void **state) {
    (void)state;
    fc_detection d[5] = {det("inf", INFINITY, 0, 0, 10, 10), det("nan", NAN, 0, 0, 10, 10),
                         det("box", 0.5f, 0, -INFINITY, 10, 10), det("w", 0.5f, 0, 0, NAN, 10),
                         det("ok", 0.5f, 1, 1, 10, 10)};
    cJSON *root = render(d, 5, NULL);
    cJSON *arr = dets_of(root);
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "label")->valuestring,
                        "ok");
    assert_non_null(error_of(root));
    assert_non_null(strstr(error_of(root), "4 of 5 detections dropped"));
    assert_non_null(strstr(error_of(root), "4 with a non-finite number"));
    cJSON_Delete(root);
}

/* Boxes are clipped to the frame; one with nothing inside is dropped. */
static void test_boxes_clipped_to_the_frame(void **state) {
    (void)state;
    fc_detection d[6] = {
        det("neg", 0.5f, -50, -20, 100, 60),       /* -> 0,0,50,40 */
        det("huge", 0.5f, 600, 300, 3e38f, 3e38f), /* -> 600,300,40,60 */
        det("outside", 0.5f, 2000, 2000, 10, 10),  /* nothing inside */
        det("negsize", 0.5f, 100, 100, -20, 10),   /* negative width */
        det("above", 0.5f, 10, -100, 10, 50),      /* wholly above the frame */
        det("score", 7.5f, 1, 1, 2, 2),            /* score clamped to 1 */
    };
    cJSON *root = render(d, 6, NULL);
    cJSON *arr = dets_of(root);
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    cJSON *a = cJSON_GetArrayItem(arr, 0), *b = cJSON_GetArrayItem(arr, 1);
    assert_true(num(a, "box", 0) == 0 && num(a, "box", 1) == 0);
    assert_true(num(a, "box", 2) == 50 && num(a, "box", 3) == 40);
    assert_true(num(b, "box", 0) == 600 && num(b, "box", 1) == 300);
    assert_true(num(b, "box", 2) == 40 && num(b, "box", 3) == 60);
    assert_true(num(cJSON_GetArrayItem(arr, 2), "score", -1) == 1);
    for (int i = 0; i < 3; i++) {
        cJSON *o = cJSON_GetArrayItem(arr, i);
        assert_true(num(o, "box", 0) + num(o, "box", 2) <= W);
        assert_true(num(o, "box", 1) + num(o, "box", 3) <= H);
    }
    assert_non_null(strstr(error_of(root), "3 with no area inside the 640x360 frame"));
    cJSON_Delete(root);
}

/* The predictor's own error is kept, the note about drops follows it. */
static void test_error_kept_with_drops(void **state) {
    (void)state;
    fc_detection d[1] = {det("x", NAN, 0, 0, 1, 1)};
    cJSON *root = render(d, 1, "predictor took 9 ms");
    assert_non_null(strstr(error_of(root), "predictor took 9 ms; 1 of 1 detections dropped"));
    cJSON_Delete(root);
}

/* A count over the limit renders the limit; a negative one none. */
static void test_count_limited(void **state) {
    (void)state;
    fc_detection *d = calloc(FC_MAX_DETECTIONS, sizeof *d);
    for (int i = 0; i < FC_MAX_DETECTIONS; i++) d[i] = det("x", 0.5f, 1, 1, 2, 2);
    /* Only FC_MAX_DETECTIONS exist: ASan fails the test if more are read. */
    cJSON *root = render(d, FC_MAX_DETECTIONS + 100, NULL);
    assert_int_equal(cJSON_GetArraySize(dets_of(root)), FC_MAX_DETECTIONS);
    cJSON_Delete(root);
    root = render(d, -3, NULL);
    assert_int_equal(cJSON_GetArraySize(dets_of(root)), 0);
    cJSON_Delete(root);
    free(d);
}

/* Labels and errors that are not text stay valid JSON strings. */
static void test_label_and_error_bytes(void **state) {
    (void)state;
    fc_detection d[1];
    memset(&d[0], 0, sizeof d[0]);
    memset(d[0].label, 0xFF, sizeof d[0].label); /* 32 bytes, no NUL, not UTF-8 */
    d[0].score = 0.5f;
    d[0].box[2] = d[0].box[3] = 4;
    cJSON *root = render(d, 1, "bad \"quote\" \x01 \xC3");
    cJSON *a = cJSON_GetArrayItem(dets_of(root), 0);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(a, "label")));
    assert_non_null(error_of(root));
    cJSON_Delete(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_detections_unchanged),
        cmocka_unit_test(test_non_finite_dropped),
        cmocka_unit_test(test_boxes_clipped_to_the_frame),
        cmocka_unit_test(test_error_kept_with_drops),
        cmocka_unit_test(test_count_limited),
        cmocka_unit_test(test_label_and_error_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
