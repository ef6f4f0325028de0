/* Tests for src/util/strbuf.c: the growable string and its JSON escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sb_init_is_empty_string),
        cmocka_unit_test(sb_append_and_grow),
        cmocka_unit_test(sb_printf),
        cmocka_unit_test(sb_json_escapes),
        cmocka_unit_test(sb_json_utf8),
        cmocka_unit_test(sb_json_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
