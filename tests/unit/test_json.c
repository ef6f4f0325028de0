/* Strict JSON validation (src/util/json.c): what RFC 8259 allows passes,
 * and what lenient parsers take but a browser's JSON.parse refuses fails
 * with a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "util/json.h"

static int check(const char *s) {
    const char *why = NULL;
    int rc = fc_json_check(s, strlen(s), &why);
    if (rc) assert_non_null(why);
    return rc;
}

static void valid_texts_pass(void **state) {
    (void)state;
    static const char *const ok[] = {
        "{}",
        " { } ",
        "[]",
        "0",
        "-0",
        "1.5e-3",
        "-12E+2",
        "true",
        "false",
        "null",
        "\"\"",
        "{\"a\":[1,{\"b\":null}],\"c\":\"\\u00e9\\n\\\"\\/\"}",
        "\r\n\t[ 1 , 2 ]\n",
        "\"\xc3\xa9\"", /* UTF-8 is not this check's business */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) assert_int_equal(check(ok[i]), 0);
}

static void lenient_forms_fail(void **state) {
    (void)state;
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "expected a value"},
        {"{\"a\":1} x}", "text after the JSON value"},
        {"{} {}", "text after the JSON value"},
        {"{\"a\":\"x\x01y\"}", "a control character in a string (escape it)"},
        {"{\"a\":\"x\ty\"}", "a control character in a string (escape it)"},
        {"{\"a\":01}", "expected ','"},
        {"{\"a\":1.}", "a bad number"},
        {"{\"a\":.5}", "expected a value"},
        {"{\"a\":+1}", "expected a value"},
        {"{\"a\":1e}", "a bad number"},
        {"{\"a\":-}", "a bad number"},
        {"{\"a\":\"\\x\"}", "a bad escape in a string"},
        {"{\"a\":\"\\u12\"}", "a bad \\u escape"},
        {"{\"a\":\"abc}", "an unterminated string"},
        {"{\"a\" 1}", "expected ':'"},
        {"{a:1}", "expected a key"},
        {"{\"a\":1,}", "expected a key"},
        {"[1,]", "expected a value"},
        {"[1 2]", "expected ','"},
        {"{\"a\":tru}", "expected a value"},
        {"{\"a\":NaN}", "expected a value"},
        {"[", "expected a value"},
        {"{\"a\":1", "unterminated"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        assert_int_equal(fc_json_check(bad[i].text, strlen(bad[i].text), &why), -1);
        assert_non_null(strstr(why, bad[i].why));
    }
    /* A NUL is a control character, inside a string or out. */
    const char *why;
    assert_int_equal(fc_json_check("{\"a\":\"\0\"}", 8, &why), -1);
    assert_int_equal(fc_json_check("{}\0", 3, &why), -1);
}

static void depth_is_bounded(void **state) {
    (void)state;
    char deep[2 * FC_JSON_MAX_DEPTH + 3];
    size_t n = 0;
    for (int i = 0; i < FC_JSON_MAX_DEPTH; i++) deep[n++] = '[';
    for (int i = 0; i < FC_JSON_MAX_DEPTH; i++) deep[n++] = ']';
    const char *why;
    assert_int_equal(fc_json_check(deep, n, &why), 0);
    memmove(deep + 1, deep, n);
    deep[0] = '[';
    deep[n + 1] = ']';
    assert_int_equal(fc_json_check(deep, n + 2, &why), -1);
    assert_string_equal(why, "nested too deeply");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_texts_pass),
        cmocka_unit_test(lenient_forms_fail),
        cmocka_unit_test(depth_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
