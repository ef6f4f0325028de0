/* Tests for src/util/opts.c: "key=value,..." option strings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/error.h"
#include "util/opts.h"

#define CTX "--predictor test"

static void opts_empty(void **state) {
    (void)state;
    static const char *empty[] = {NULL, ""};
    for (int k = 0; k < 2; k++) {
        fc_opts o;
        char err[128] = "";
        assert_int_equal(fc_opts_parse(&o, CTX, empty[k], err, sizeof err), 0);
        assert_int_equal(o.n, 0);
        assert_null(fc_opts_get(&o, "a"));
        long v = 0;
        assert_int_equal(fc_opts_int(&o, "a", 7, 0, 10, &v, err, sizeof err), 0);
        assert_int_equal(v, 7);
        double d = 0;
        assert_int_equal(fc_opts_double(&o, "d", 0.25, 0, 1, &d, err, sizeof err), 0);
        assert_true(d == 0.25);
        assert_int_equal(fc_opts_finish(&o, "a, d", err, sizeof err), 0);
        fc_opts_free(&o);
    }
}

static void opts_values(void **state) {
    (void)state;
    fc_opts o;
    char err[128] = "";
    assert_int_equal(fc_opts_parse(&o, CTX, "a=1,,b=two,c=,d=x=y,", err, sizeof err), 0);
    assert_int_equal(o.n, 4);
    assert_string_equal(fc_opts_get(&o, "a"), "1");
    assert_string_equal(fc_opts_get(&o, "b"), "two");
    assert_string_equal(fc_opts_get(&o, "c"), "");
    assert_string_equal(fc_opts_get(&o, "d"), "x=y");
    assert_null(fc_opts_get(&o, "A")); /* keys are case-sensitive */
    assert_int_equal(fc_opts_finish(&o, "a, b, c, d", err, sizeof err), 0);
    fc_opts_free(&o);
    assert_int_equal(o.n, 0);
    fc_opts_free(&o); /* twice is harmless */
}

static void opts_last_wins(void **state) {
    (void)state;
    fc_opts o;
    char err[128] = "";
    assert_int_equal(fc_opts_parse(&o, CTX, "k=1,k=2", err, sizeof err), 0);
    assert_string_equal(fc_opts_get(&o, "k"), "2");
    assert_int_equal(fc_opts_finish(&o, "k", err, sizeof err), 0); /* both marked used */
    fc_opts_free(&o);
}

static void opts_malformed(void **state) {
    (void)state;
    static const struct {
        const char *s, *want;
    } cases[] = {{"a=1,novalue", "'novalue'"}, {"=x", "'=x'"}, {"a=1,=", "'='"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fc_opts o;
        char err[128] = "";
        assert_int_equal(fc_opts_parse(&o, CTX, cases[k].s, err, sizeof err), FC_EINVAL_OPT);
        if (!strstr(err, cases[k].want) || strncmp(err, CTX ":", strlen(CTX) + 1) != 0)
            fail_msg("'%s': message '%s'", cases[k].s, err);
        assert_int_equal(o.n, 0); /* already freed */
        fc_opts_free(&o);
    }
}

static void opts_unknown_key(void **state) {
    (void)state;
    fc_opts o;
    char err[160] = "";
    assert_int_equal(fc_opts_parse(&o, CTX, "size=1,frob=2", err, sizeof err), 0);
    assert_non_null(fc_opts_get(&o, "size"));
    assert_int_equal(fc_opts_finish(&o, "size, fps", err, sizeof err), FC_EINVAL_OPT);
    assert_string_equal(err, CTX ": unknown option 'frob' (expected one of: size, fps)");
    fc_opts_free(&o);
}

static void opts_int(void **state) {
    (void)state;
    fc_opts o;
    char err[160] = "";
    assert_int_equal(fc_opts_parse(&o, CTX,
                                   "ok=42,neg=-5,hex=0x10,junk=4x,empty=,big=99999999999999999999,"
                                   "low=-1,high=11",
                                   err, sizeof err),
                     0);
    long v = 0;
    assert_int_equal(fc_opts_int(&o, "ok", 0, 0, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(fc_opts_int(&o, "neg", 0, -10, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, -5);
    assert_int_equal(fc_opts_int(&o, "absent", 9, 0, 10, &v, err, sizeof err), 0);
    assert_int_equal(v, 9);
    static const char *bad[] = {"hex", "junk", "empty", "big", "low", "high"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        v = 12345;
        err[0] = 0;
        if (fc_opts_int(&o, bad[k], 0, 0, 10, &v, err, sizeof err) != FC_EINVAL_OPT)
            fail_msg("%s was accepted as %ld", bad[k], v);
        assert_int_equal(v, 12345); /* untouched on error */
        assert_non_null(strstr(err, bad[k]));
        assert_non_null(strstr(err, "from 0 to 10"));
    }
    assert_int_equal(fc_opts_int(&o, "high", 0, 0, 10, &v, err, sizeof err), FC_EINVAL_OPT);
    assert_string_equal(err, CTX ": high='11' is not valid (expected an integer from 0 to 10)");
    fc_opts_free(&o);
}

static void opts_double(void **state) {
    (void)state;
    fc_opts o;
    char err[160] = "";
    assert_int_equal(
        fc_opts_parse(&o, CTX, "a=0.5,b=1e-1,c=nan,d=abc,e=2,f=0.5x,g=inf", err, sizeof err), 0);
    double d = 0;
    assert_int_equal(fc_opts_double(&o, "a", 0, 0, 1, &d, err, sizeof err), 0);
    assert_true(d == 0.5);
    assert_int_equal(fc_opts_double(&o, "b", 0, 0, 1, &d, err, sizeof err), 0);
    assert_true(d == 0.1);
    static const char *bad[] = {"c", "d", "e", "f", "g"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        err[0] = 0;
        if (fc_opts_double(&o, bad[k], 0, 0, 1, &d, err, sizeof err) != FC_EINVAL_OPT)
            fail_msg("%s was accepted as %g", bad[k], d);
        assert_non_null(strstr(err, "from 0 to 1"));
    }
    fc_opts_free(&o);
}

static void opts_parse_size(void **state) {
    (void)state;
    int w = 0, h = 0;
    assert_int_equal(fc_parse_size("640x360", &w, &h), 0);
    assert_int_equal(w, 640);
    assert_int_equal(h, 360);
    assert_int_equal(fc_parse_size("1X2", &w, &h), 0);
    assert_int_equal(w, 1);
    assert_int_equal(h, 2);
    assert_int_equal(fc_parse_size("16384x16384", &w, &h), 0);
    static const char *bad[] = {
        "",     "640",      "640x",    "x360",   "0x5",      "5x0",      "-1x5",
        "5x-1", "640x360x", "640*360", "640x3a", "16385x10", "10x16385", "99999999999999999999x1"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        w = h = -7;
        if (fc_parse_size(bad[k], &w, &h) != FC_EINVAL_OPT) fail_msg("'%s' was accepted", bad[k]);
        assert_int_equal(w, -7);
        assert_int_equal(h, -7);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opts_empty),       cmocka_unit_test(opts_values),
        cmocka_unit_test(opts_last_wins),   cmocka_unit_test(opts_malformed),
        cmocka_unit_test(opts_unknown_key), cmocka_unit_test(opts_int),
        cmocka_unit_test(opts_double),      cmocka_unit_test(opts_parse_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
