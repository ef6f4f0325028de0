/* The preview message header: written and parsed by the server (C) and by
 * the viewer page (JS), against the same vectors (tests/vectors). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/preview.h"
#include "source/frame.h"

static void test_round_trip(void **state) {
    (void)state;
    uint8_t buf[256];
    size_t n = fc_preview_header_write(buf, sizeof buf, "door", 123456789012ull, 1795716466551187ll,
                                       640, 360);
    assert_int_equal(n, FC_PREVIEW_FIXED + 4);
    assert_memory_equal(buf, "FCP1", 4);
    fc_preview_header h;
    assert_int_equal(fc_preview_header_parse(buf, n, &h), 0);
    assert_int_equal(h.seq, 123456789012ull);
    assert_int_equal(h.capture_us, 1795716466551187ll);
    assert_int_equal(h.width, 640);
    assert_int_equal(h.height, 360);
    assert_int_equal(h.stream_len, 4);
    assert_memory_equal(h.stream, "door", 4);
    assert_int_equal(h.header_len, n);
}

static void test_rejects_bad_headers(void **state) {
    (void)state;
    uint8_t buf[64];
    size_t n = fc_preview_header_write(buf, sizeof buf, "x", 1, 2, 3, 4);
    fc_preview_header h;
    assert_int_equal(fc_preview_header_parse(buf, n - 1, &h), -1); /* name cut off */
    buf[0] = 'X';
    assert_int_equal(fc_preview_header_parse(buf, n, &h), -1);              /* magic */
    assert_int_equal(fc_preview_header_write(buf, 10, "x", 1, 2, 3, 4), 0); /* no room */
}

static uint8_t *unhex(const char *hex, size_t *len) {
    *len = strlen(hex) / 2;
    uint8_t *out = malloc(*len + 1);
    for (size_t i = 0; i < *len; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return out;
}

/* The vectors the viewer page's parser is checked against in Chromium. */
static void test_shared_vectors(void **state) {
    (void)state;
    FILE *f = fopen(FC_SOURCE_DIR "/tests/vectors/preview_header.json", "rb");
    if (!f) skip();
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    cJSON *vectors = cJSON_IsArray(root) ? root : cJSON_GetObjectItem(root, "vectors");
    assert_true(cJSON_GetArraySize(vectors) > 0);
    cJSON *v;
    cJSON_ArrayForEach(v, vectors) {
        size_t len;
        uint8_t *bytes = unhex(cJSON_GetObjectItem(v, "hex")->valuestring, &len);
        cJSON *e = cJSON_GetObjectItem(v, "expect");
        fc_preview_header h;
        assert_int_equal(fc_preview_header_parse(bytes, len, &h), 0);
        assert_int_equal(h.seq, (uint64_t)cJSON_GetObjectItem(e, "seq")->valuedouble);
        assert_int_equal(h.capture_us, (int64_t)cJSON_GetObjectItem(e, "capture_us")->valuedouble);
        assert_int_equal(h.width, cJSON_GetObjectItem(e, "width")->valueint);
        assert_int_equal(h.height, cJSON_GetObjectItem(e, "height")->valueint);
        assert_int_equal(h.header_len, cJSON_GetObjectItem(e, "header_len")->valueint);
        const char *name = cJSON_GetObjectItem(e, "stream")->valuestring;
        assert_int_equal(h.stream_len, strlen(name));
        assert_memory_equal(h.stream, name, h.stream_len);
        free(bytes);
    }
    cJSON_Delete(root);
}

static void test_encode_jpeg(void **state) {
    (void)state;
    fc_frame *f = fc_frame_new(FC_PIX_YUV420P, 64, 48);
    memset(f->pixels, 128, 64 * 48 * 3 / 2);
    void *enc = NULL;
    fc_buf *b = fc_preview_encode(&enc, f, "cam", 7, 99, 70);
    assert_non_null(b);
    assert_true(b->flags & FC_BUF_PREVIEW);
    assert_int_equal(b->data[0], 0x82); /* FIN + binary */
    size_t off = (b->data[1] & 0x7F) == 126 ? 4 : 2;
    fc_preview_header h;
    assert_int_equal(fc_preview_header_parse(b->data + off, b->len - off, &h), 0);
    assert_int_equal(h.seq, 7);
    assert_int_equal(h.width, 64);
    const uint8_t *jpeg = b->data + off + h.header_len;
    assert_int_equal(jpeg[0], 0xFF); /* JPEG SOI */
    assert_int_equal(jpeg[1], 0xD8);
    fc_buf_unref(b);
    fc_preview_free(&enc);
    fc_frame_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejects_bad_headers),
        cmocka_unit_test(test_shared_vectors),
        cmocka_unit_test(test_encode_jpeg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
