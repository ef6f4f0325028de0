/* Tests for src/util/strbuf.c: the growable string and its JSON escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hub/ws.h"
#include "util/strbuf.h"

/* strbuf.h: data is "always NUL-terminated when cap > 0", fresh ones too. */
static void sb_init_is_empty_string(void **state) {
    (void)state;
    static const size_t reserve[] = {0, 1, 64, 1000};
    for (size_t k = 0; k < 4; k++) {
        fc_strbuf sb;
        fc_sb_init(&sb, reserve[k]);
        assert_non_null(sb.data);
        assert_true(sb.cap > reserve[k]);
        assert_int_equal(sb.len, 0);
        unsigned char c0 = (unsigned char)sb.data[0];
        fc_sb_free(&sb);
        if (c0 != 0)
            fail_msg("fc_sb_init(%zu): data[0] is 0x%02x, not a terminator", reserve[k], c0);
    }
}

static void sb_append_and_grow(void **state) {
    (void)state;
    fc_strbuf sb;
    fc_sb_init(&sb, 0);
    fc_sb_puts(&sb, "abc");
    fc_sb_append(&sb, "def\0ghi", 7);
    assert_int_equal(sb.len, 10);
    assert_memory_equal(sb.data, "abcdef\0ghi", 11);
    for (int i = 0; i < 1000; i++) fc_sb_puts(&sb, "0123456789");
    assert_int_equal(sb.len, 10010);
    assert_true(sb.cap > sb.len);
    assert_int_equal(sb.data[sb.len], 0);
    assert_memory_equal(sb.data + 10000, "0123456789", 10);
    fc_sb_reset(&sb);
    assert_int_equal(sb.len, 0);
    assert_string_equal(sb.data, "");
    fc_sb_free(&sb);
    assert_null(sb.data);
    assert_int_equal(sb.cap, 0);
}

static void sb_printf(void **state) {
    (void)state;
    fc_strbuf sb;
    fc_sb_init(&sb, 8);
    fc_sb_printf(&sb, "%d-%s", 42, "x");
    assert_string_equal(sb.data, "42-x");
    assert_int_equal(sb.len, 4);
    /* Longer than the remaining room: grows and formats again. */
    char big[3000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    fc_sb_printf(&sb, "[%s]", big);
    assert_int_equal(sb.len, 4 + 2 + 2999);
    assert_int_equal(strlen(sb.data), sb.len);
    assert_memory_equal(sb.data, "42-x[bbb", 8);
    assert_string_equal(sb.data + sb.len - 2, "b]");
    /* Exactly filling the room that is left. */
    fc_sb_reset(&sb);
    size_t room = sb.cap - 1;
    char *fill = malloc(room + 1);
    assert_non_null(fill);
    memset(fill, 'c', room);
    fill[room] = 0;
    fc_sb_printf(&sb, "%s", fill);
    free(fill);
    assert_int_equal(sb.len, room);
    assert_int_equal(strlen(sb.data), room);
    fc_sb_printf(&sb, "%s", "d");
    assert_int_equal(sb.len, room + 1);
    assert_int_equal(sb.data[room], 'd');
    assert_int_equal(sb.data[room + 1], 0);
    fc_sb_free(&sb);
}

/* Renders s as a JSON string into a fresh buffer. */
static void json(fc_strbuf *sb, const char *s) {
    fc_sb_reset(sb);
    fc_sb_json_str(sb, s);
    assert_int_equal(strlen(sb->data), sb->len);
    /* Whatever the input, the output is valid UTF-8. */
    fc_utf8_state st = 0;
    assert_int_equal(fc_utf8_feed(&st, (const uint8_t *)sb->data, sb->len), 0);
    assert_int_equal(st, 0);
}

#define FFFD "\xEF\xBF\xBD"

static void sb_json_escapes(void **state) {
    (void)state;
    fc_strbuf sb;
    fc_sb_init(&sb, 0);
    json(&sb, "");
    assert_string_equal(sb.data, "\"\"");
    json(&sb, "plain text");
    assert_string_equal(sb.data, "\"plain text\"");
    json(&sb, "say \"hi\"");
    assert_string_equal(sb.data, "\"say \\\"hi\\\"\"");
    json(&sb, "C:\\dir\\");
    assert_string_equal(sb.data, "\"C:\\\\dir\\\\\"");
    json(&sb, "a\nb\tc\rd\x01\x1f");
    assert_string_equal(sb.data, "\"a\\u000ab\\u0009c\\u000dd\\u0001\\u001f\"");
    json(&sb, "/ and \x7f and ' stay");
    assert_string_equal(sb.data, "\"/ and \x7f and ' stay\"");
    fc_sb_free(&sb);
}

static void sb_json_utf8(void **state) {
    (void)state;
    fc_strbuf sb;
    fc_sb_init(&sb, 0);
    /* Valid UTF-8 of every length passes unchanged. */
    json(&sb, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF");
    assert_string_equal(sb.data, "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"");
    /* Each invalid byte becomes U+FFFD. */
    json(&sb, "a\xFF"
              "b");
    assert_string_equal(sb.data, "\"a" FFFD "b\"");
    json(&sb, "\x80");
    assert_string_equal(sb.data, "\"" FFFD "\"");
    json(&sb, "\xC0\xAF"); /* overlong */
    assert_string_equal(sb.data, "\"" FFFD FFFD "\"");
    json(&sb, "\xED\xA0\x80"); /* surrogate */
    assert_string_equal(sb.data, "\"" FFFD FFFD FFFD "\"");
    json(&sb, "\xF4\x90\x80\x80"); /* above U+10FFFF */
    assert_string_equal(sb.data, "\"" FFFD FFFD FFFD FFFD "\"");
    json(&sb, "x\xC3"); /* truncated by the end of the string */
    assert_string_equal(sb.data, "\"x" FFFD "\"");
    json(&sb, "\xE2\x82"); /* truncated three-byte sequence */
    assert_string_equal(sb.data, "\"" FFFD FFFD "\"");
    json(&sb, "\xE2\x82\"");
    assert_string_equal(sb.data, "\"" FFFD FFFD "\\\"\"");
    fc_sb_free(&sb);
}

static void sb_json_grows(void **state) {
    (void)state;
    fc_strbuf sb;
    fc_sb_init(&sb, 4);
    char in[1001];
    memset(in, '\x02', 1000);
    in[1000] = 0;
    fc_sb_puts(&sb, "x=");
    fc_sb_json_str(&sb, in);
    assert_int_equal(sb.len, 2 + 2 + 6000);
    assert_int_equal(strlen(sb.data), sb.len);
    assert_memory_equal(sb.data, "x=\"\\u0002", 9);
    fc_sb_free(&sb);
}

/* Integers: exactly what printf writes, at the edges and in between. */
static void sb_integers(void **state) {
    (void)state;
    static const uint64_t u[] = {
        0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 1000000007, UINT64_MAX / 3, UINT64_MAX};
    static const int64_t v[] = {0, -1, 42, -42, INT64_MIN, INT64_MAX, 1796163611107191};
    char want[32];
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        fc_strbuf sb;
        fc_sb_init(&sb, 0);
        fc_sb_u64(&sb, u[i]);
        snprintf(want, sizeof want, "%llu", (unsigned long long)u[i]);
        assert_string_equal(sb.data, want);
        fc_sb_free(&sb);
    }
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        fc_strbuf sb;
        fc_sb_init(&sb, 0);
        fc_sb_i64(&sb, v[i]);
        snprintf(want, sizeof want, "%lld", (long long)v[i]);
        assert_string_equal(sb.data, want);
        fc_sb_free(&sb);
    }
}

/* Fixed precision: strtod gives back the value within half a unit of the
 * last decimal, with no trailing zero and no point for integral values;
 * JSON has no NaN or infinity, so those are written 0. */
static void sb_fixed_round_trips(void **state) {
    (void)state;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        int decimals = (int)(x % 7);
        double v;
        switch (i % 4) {
        case 0:
            v = (double)(x >> 11) / (double)(1ull << 53);
            break; /* 0..1 */
        case 1:
            v = (double)(float)((double)(x % 4000000) / 997.0);
            break; /* boxes */
        case 2:
            v = (double)(int64_t)(x % 100000) - 50000;
            break; /* integral */
        default:
            v = ((double)(x >> 11) / (double)(1ull << 53) - 0.5) * 1e9;
            break;
        }
        fc_strbuf sb;
        fc_sb_init(&sb, 0);
        fc_sb_fixed(&sb, v, decimals);
        char *end;
        double back = strtod(sb.data, &end);
        assert_int_equal(*end, 0);
        double unit = 1;
        for (int d = 0; d < decimals; d++) unit /= 10;
        if (fabs(back - v) > unit / 2 * (1 + 1e-9) + fabs(v) * 1e-15)
            fail_msg("%.17g with %d decimals gave '%s'", v, decimals, sb.data);
        const char *dot = strchr(sb.data, '.');
        if (dot) {
            assert_true(sb.data[sb.len - 1] != '0' && sb.data[sb.len - 1] != '.');
            assert_true((int)(sb.len - (size_t)(dot - sb.data) - 1) <= decimals);
        }
        if (v == floor(v)) assert_null(dot);
        assert_true(strcmp(sb.data, "-0") != 0);
        fc_sb_free(&sb);
    }
    const struct {
        double v;
        int d;
        const char *want;
    } cases[] = {
        {0.5, 4, "0.5"},        {1, 4, "1"},         {123.37f, 2, "123.37"}, {0.00004, 4, "0"},
        {0.00005, 4, "0.0001"}, {-0.004, 2, "0"},    {1e18, 2, "1e+18"},     {NAN, 2, "0"},
        {INFINITY, 2, "0"},     {-INFINITY, 4, "0"}, {99.995, 2, "100"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fc_strbuf sb;
        fc_sb_init(&sb, 0);
        fc_sb_fixed(&sb, cases[i].v, cases[i].d);
        assert_string_equal(sb.data, cases[i].want);
        fc_sb_free(&sb);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sb_init_is_empty_string),
        cmocka_unit_test(sb_append_and_grow),
        cmocka_unit_test(sb_printf),
        cmocka_unit_test(sb_json_escapes),
        cmocka_unit_test(sb_json_utf8),
        cmocka_unit_test(sb_json_grows),
        cmocka_unit_test(sb_integers),
        cmocka_unit_test(sb_fixed_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
