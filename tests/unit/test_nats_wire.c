/* Tests for src/cluster/nats_wire.c: subjects, a framed message's payload,
 * a result's seq, and history replies written and read back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/nats_wire.h"
#include "hub/ws.h"

static void test_subject(void **state) {
    (void)state;
    char s[FC_WIRE_SUBJECT_MAX];
    assert_int_equal(fc_wire_subject(s, "door-1_b", "result"), 0);
    assert_string_equal(s, "framecast.door-1_b.result");
    /* A name that would change the subject's tokens is refused. */
    assert_int_equal(fc_wire_subject(s, "a.b", "result"), -1);
    assert_int_equal(fc_wire_subject(s, "a*", "result"), -1);
    assert_int_equal(fc_wire_subject(s, "a>", "result"), -1);
    assert_int_equal(fc_wire_subject(s, "", "result"), -1);
    char long_name[70];
    memset(long_name, 'x', 65);
    long_name[65] = 0;
    assert_int_equal(fc_wire_subject(s, long_name, "preview"), -1);
    long_name[64] = 0;
    assert_int_equal(fc_wire_subject(s, long_name, "preview"), 0);
}

/* The three header lengths of a server frame. */
static void test_payload(void **state) {
    (void)state;
    static uint8_t big[70000];
    const size_t lens[] = {0, 125, 126, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(big, 'a' + (int)i, lens[i]);
        fc_buf *b = fc_ws_frame(FC_WS_TEXT, big, lens[i]);
        assert_non_null(b);
        const uint8_t *p;
        size_t n;
        fc_wire_payload(b, &p, &n);
        assert_int_equal(n, lens[i]);
        if (n) assert_memory_equal(p, big, n);
        fc_buf_unref(b);
    }
}

static void test_seq(void **state) {
    (void)state;
    const char *r = "{\"type\":\"result\",\"stream\":\"d\",\"epoch\":\"3f9c\",\"seq\":42,"
                    "\"publish_us\":1,\"seq_note\":\"\\\"seq\\\":7\"}";
    assert_int_equal(fc_wire_seq((const uint8_t *)r, strlen(r)), 42);
    const char *big = "{\"seq\":1844674407370955160}";
    assert_true(fc_wire_seq((const uint8_t *)big, strlen(big)) == 1844674407370955160ull);
    const char *over = "{\"seq\":99999999999999999999}"; /* not a seq: no wrap-around */
    assert_int_equal(fc_wire_seq((const uint8_t *)over, strlen(over)), 0);
    const char *none = "{\"type\":\"status\",\"state\":\"live\"}";
    assert_int_equal(fc_wire_seq((const uint8_t *)none, strlen(none)), 0);
    const char *bad = "{\"seq\":x}";
    assert_int_equal(fc_wire_seq((const uint8_t *)bad, strlen(bad)), 0);
    const char *cut = "{\"seq\":";
    assert_int_equal(fc_wire_seq((const uint8_t *)cut, strlen(cut)), 0);
}

static void test_history_round_trip(void **state) {
    (void)state;
    fc_strbuf sb;
    fc_sb_init(&sb, 64);
    fc_wire_history_begin(&sb, "e1");
    const char *a = "{\"seq\":5}", *b = "{\"seq\":6,\"x\":\"line\\nbreak\"}";
    fc_wire_history_add(&sb, (const uint8_t *)a, strlen(a));
    fc_wire_history_add(&sb, (const uint8_t *)b, strlen(b));
    fc_wire_history_add(&sb, (const uint8_t *)"", 0);
    fc_wire_history_end(&sb, "0123456789abcdef", 3, 1);
    fc_wire_history h;
    assert_int_equal(fc_wire_history_parse(&h, (const uint8_t *)sb.data, sb.len), 0);
    assert_string_equal(h.epoch, "0123456789abcdef");
    assert_int_equal(h.count, 3);
    assert_int_equal(h.more, 1);
    const uint8_t *p;
    size_t n;
    assert_int_equal(fc_wire_history_next(&h, &p, &n), 1);
    assert_int_equal(n, strlen(a));
    assert_memory_equal(p, a, n);
    assert_int_equal(fc_wire_history_next(&h, &p, &n), 1);
    assert_int_equal(n, strlen(b));
    assert_memory_equal(p, b, n);
    assert_int_equal(fc_wire_history_next(&h, &p, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(fc_wire_history_next(&h, &p, &n), 0);
    fc_sb_free(&sb);
}

static void test_history_malformed(void **state) {
    (void)state;
    fc_wire_history h;
    const char *nohead = "5\n{...}";
    assert_int_equal(fc_wire_history_parse(&h, (const uint8_t *)nohead, strlen(nohead)), -1);
    const char *overlong = "FCH1 e 1 0\n99\n{}";
    assert_int_equal(fc_wire_history_parse(&h, (const uint8_t *)overlong, strlen(overlong)), 0);
    const uint8_t *p;
    size_t n;
    assert_int_equal(fc_wire_history_next(&h, &p, &n), -1); /* claims more than there is */
    const char *nolen = "FCH1 e 1 0\nabc";
    assert_int_equal(fc_wire_history_parse(&h, (const uint8_t *)nolen, strlen(nolen)), 0);
    assert_int_equal(fc_wire_history_next(&h, &p, &n), -1);
    const char *empty = "FCH1 e 0 0\n";
    assert_int_equal(fc_wire_history_parse(&h, (const uint8_t *)empty, strlen(empty)), 0);
    assert_int_equal(fc_wire_history_next(&h, &p, &n), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_seq),
        cmocka_unit_test(test_history_round_trip),
        cmocka_unit_test(test_history_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
