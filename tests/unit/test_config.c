/* Tests for src/app/config.c: the command line as framecast parses it (byte
 * sizes with units, a repeated --predictor). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "app/config.h"
#include "util/error.h"

/* Parses the arguments after "framecast"; returns the code, cfg filled. */
static int parse(fc_config *cfg, char *err, size_t errlen, int n, const char **args) {
    char *argv[16] = {"framecast"};
    for (int i = 0; i < n; i++) argv[i + 1] = (char *)args[i];
    int rc = fc_config_parse(cfg, n + 1, argv, err, errlen);
    return rc;
}

static void byte_sizes_take_units(void **state) {
    (void)state;
    static const struct {
        const char *value;
        size_t bytes;
    } cases[] = {
        {"262144", 262144}, {"256KiB", 262144}, {"256kib", 262144},   {"256 KiB", 262144},
        {"300K", 300000},   {"300k", 300000},   {"300kB", 300000},    {"1M", 1000000},
        {"1MB", 1000000},   {"1MiB", 1048576},  {"1GiB", 1073741824}, {"1024b", 1024},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fc_config cfg;
        char err[512] = "";
        const char *args[] = {"--queue-bytes", cases[i].value};
        assert_int_equal(parse(&cfg, err, sizeof err, 2, args), 0);
        assert_int_equal(cfg.hub.queue_bytes, cases[i].bytes);
        fc_config_free(&cfg);
    }
    fc_config cfg;
    char err[512] = "";
    const char *args[] = {"--max-message", "64KiB", "--max-head", "16k"};
    assert_int_equal(parse(&cfg, err, sizeof err, 4, args), 0);
    assert_int_equal(cfg.hub.max_message, 65536);
    assert_int_equal(cfg.hub.head_limit, 16000);
    fc_config_free(&cfg);
}

static void bad_byte_sizes_say_what_is_expected(void **state) {
    (void)state;
    static const char *bad[] = {"",     "K",    "1X",   "1.5M", "-1K",
                                "0x10", "2GiB", "1000", " 5",   "5KiBs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fc_config cfg;
        char err[512] = "";
        const char *args[] = {"--queue-bytes", bad[i]};
        assert_int_equal(parse(&cfg, err, sizeof err, 2, args), FC_EINVAL_OPT);
        char want[64];
        snprintf(want, sizeof want, "--queue-bytes: '%s' is not valid", bad[i]);
        assert_non_null(strstr(err, want));
        assert_non_null(strstr(err, "from 1024 to 1073741824 bytes"));
        fc_config_free(&cfg);
    }
}

static void predictor_given_twice_is_an_error(void **state) {
    (void)state;
    fc_config cfg;
    char err[512] = "";
    const char *once[] = {"--predictor", "motion"};
    assert_int_equal(parse(&cfg, err, sizeof err, 2, once), 0);
    assert_string_equal(cfg.streams[0].predictor, "motion");
    fc_config_free(&cfg);
    const char *twice[] = {"--predictor", "motion", "--predictor", "null"};
    assert_int_equal(parse(&cfg, err, sizeof err, 4, twice), FC_EINVAL_OPT);
    assert_non_null(strstr(err, "--predictor: given twice ('motion', then 'null')"));
    fc_config_free(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(byte_sizes_take_units),
        cmocka_unit_test(bad_byte_sizes_say_what_is_expected),
        cmocka_unit_test(predictor_given_twice_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
