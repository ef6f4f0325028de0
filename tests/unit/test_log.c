/* Tests for src/util/log.c: the three formats and the rate limit on
 * repeated warnings. stderr is redirected to a file the test reads back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static char path[] = "/tmp/fc-test-log-XXXXXX";
static int saved = -1;

/* Sends stderr to a fresh file. */
static void capture(void) {
    fflush(stderr);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    saved = dup(2);
    dup2(fd, 2);
    close(fd);
}

/* Restores stderr; returns what was written (the caller frees it). */
static char *captured(void) {
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    unlink(path);
    strcpy(path, "/tmp/fc-test-log-XXXXXX");
    return strdup(buf);
}

static int lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void test_json_lines_have_stable_keys(void **state) {
    (void)state;
    fc_log_set_format(FC_LOG_JSON);
    capture();
    fc_log_stream(FC_LOG_INFO, "door", "stream 'door': %s \"quoted\"", "live");
    fc_info("plain line");
    char *out = captured();
    char *second = strchr(out, '\n') + 1;
    cJSON *a = cJSON_Parse(out), *b = cJSON_Parse(second);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(cJSON_GetObjectItem(a, "level")->valuestring, "info");
    assert_string_equal(cJSON_GetObjectItem(a, "stream")->valuestring, "door");
    assert_string_equal(cJSON_GetObjectItem(a, "msg")->valuestring,
                        "stream 'door': live \"quoted\"");
    assert_non_null(cJSON_GetObjectItem(a, "time"));
    assert_null(cJSON_GetObjectItem(b, "stream"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(out);
}

static void test_logfmt_quotes_what_needs_it(void **state) {
    (void)state;
    fc_log_set_format(FC_LOG_LOGFMT);
    capture();
    fc_log_stream(FC_LOG_WARN, "cam-1", "a \"b\" c=d");
    char *out = captured();
    assert_non_null(strstr(out, "level=warning msg=\"a \\\"b\\\" c=d\" stream=cam-1\n"));
    assert_int_equal(strncmp(out, "time=", 5), 0);
    free(out);
}

static void test_repeated_warnings_are_counted_not_repeated(void **state) {
    (void)state;
    fc_log_set_format(FC_LOG_TEXT);
    capture();
    for (int i = 0; i < 100; i++) fc_warn("the same trouble, attempt %d", i);
    fc_warn("another trouble");          /* another call: not held back */
    struct timespec ts = {1, 100000000}; /* past the one-second window */
    nanosleep(&ts, NULL);
    for (int i = 0; i < 2; i++) fc_warn("the same trouble, attempt %d", 100 + i);
    char *out = captured();
    assert_int_equal(lines(out), 3);
    assert_non_null(strstr(out, "attempt 0\n"));
    assert_non_null(strstr(out, "another trouble\n"));
    assert_non_null(strstr(out, "attempt 100 (and 99 more like it in the last second)\n"));
    free(out);
}

/* The lines of a list told at once (every problem of a configuration at
 * SIGHUP) are all written, however many come from one call. */
static void test_each_line_of_a_list_is_written(void **state) {
    (void)state;
    fc_log_set_format(FC_LOG_TEXT);
    capture();
    for (int i = 0; i < 5; i++) fc_log_each(FC_LOG_ERROR, "problem %d", i);
    char *out = captured();
    assert_int_equal(lines(out), 5);
    assert_non_null(strstr(out, "error: problem 4\n"));
    assert_null(strstr(out, "more like it"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines_have_stable_keys),
        cmocka_unit_test(test_logfmt_quotes_what_needs_it),
        cmocka_unit_test(test_repeated_warnings_are_counted_not_repeated),
        cmocka_unit_test(test_each_line_of_a_list_is_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
