/* Redaction (src/util/redact.c) over the URL shapes cameras and services
 * use: no credential survives, everything else does. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "util/redact.h"

static const struct {
    const char *in, *out;
} urls[] = {
    /* userinfo, up to the last '@' of the authority */
    {"rtsp://admin:secret@192.168.1.10:554/stream1", "rtsp://***@192.168.1.10:554/stream1"},
    {"rtsp://admin:p@ss@host/x", "rtsp://***@host/x"},
    {"rtsp://admin@host/x", "rtsp://***@host/x"},
    {"rtsp://:pw@host/x", "rtsp://***@host/x"},
    {"rtsps://u:p@[fe80::1]:322/live", "rtsps://***@[fe80::1]:322/live"},
    {"http://u:a/b@host/x.m3u8", "http://***@host/x.m3u8"}, /* '/' in a password */
    {"rtsp://u:p@host", "rtsp://***@host"},
    /* query parameters that carry secrets, any case */
    {"rtsp://cam/x?user=bob&password=hunter2", "rtsp://cam/x?user=bob&password=***"},
    {"rtsp://admin:p@ss@host/x?user=bob&password=hunter2",
     "rtsp://***@host/x?user=bob&password=***"},
    {"http://cam/cgi?PWD=abc&chn=1", "http://cam/cgi?PWD=***&chn=1"},
    {"http://cam/v.mjpg?pass=1234", "http://cam/v.mjpg?pass=***"},
    {"https://cdn/live.m3u8?token=eyJh.b/c&x=1", "https://cdn/live.m3u8?token=***&x=1"},
    {"https://cdn/live.m3u8?access_token=abc", "https://cdn/live.m3u8?access_token=***"},
    {"https://h/a?api_key=k1;Secret=s2", "https://h/a?api_key=***;Secret=***"},
    {"https://h/a?X-Amz-Signature=ff&X-Amz-Credential=AK/2024",
     "https://h/a?X-Amz-Signature=***&X-Amz-Credential=***"},
    {"http://h/a?auth=basic&Authorization=x", "http://h/a?auth=***&Authorization=***"},
    {"http://h/a?password=", "http://h/a?password=***"},
    {"http://h/a#access_token=abc", "http://h/a#access_token=***"},
    /* credentials in the path (XMEye-style cameras) */
    {"rtsp://10.0.0.2:554/user=admin&password=xyz&channel=1&stream=0.sdp",
     "rtsp://10.0.0.2:554/user=admin&password=***&channel=1&stream=0.sdp"},
    /* framecast's own options after the URL stay readable */
    {"rtsp://u:p@cam/x?token=abc,timeout=3", "rtsp://***@cam/x?token=***,timeout=3"},
    /* nothing to hide */
    {"rtsp://cam.local:554/h264?channel=1", "rtsp://cam.local:554/h264?channel=1"},
    {"http://h/mail@example/x?e=a@b", "http://***@example/x?e=a@b"}, /* hides more, never less */
    {"/videos/lobby@home.mp4", "/videos/lobby@home.mp4"},
    {"v4l2:/dev/video0", "v4l2:/dev/video0"},
    {"synthetic:size=640x360", "synthetic:size=640x360"},
    {"", ""},
};

static void test_url_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char *r = fc_redact_url(urls[i].in);
        assert_non_null(r);
        if (strcmp(r, urls[i].out) != 0)
            fail_msg("redact('%s') = '%s', expected '%s'", urls[i].in, r, urls[i].out);
        free(r);
    }
}

static void test_text(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
    } texts[] = {
        {"cannot open 'rtsp://admin:pw@cam/x?password=y': Connection refused",
         "cannot open 'rtsp://***@cam/x?password=***': Connection refused"},
        {"[rtsp @ 0x55] url rtsp://a:b@h/x and http://c:d@k/y done",
         "[rtsp @ 0x55] url rtsp://***@h/x and http://***@k/y done"},
        {"python3 model.py --token=abc --threshold=0.4 API_KEY=zz",
         "python3 model.py --token=*** --threshold=0.4 API_KEY=***"},
        {"exec:width=160,cmd=python3 m.py --password=hunter2",
         "exec:width=160,cmd=python3 m.py --password=***"},
        {"motion:width=320,threshold=25", "motion:width=320,threshold=25"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *r = fc_redact_text(texts[i].in);
        if (strcmp(r, texts[i].out) != 0)
            fail_msg("redact_text('%s') = '%s', expected '%s'", texts[i].in, r, texts[i].out);
        free(r);
    }
}

static void test_secret_names(void **state) {
    (void)state;
    assert_true(fc_redact_secret_name("Password", 8));
    assert_true(fc_redact_secret_name("x-auth-token", 12));
    assert_false(fc_redact_secret_name("channel", 7));
    assert_false(fc_redact_secret_name("user", 4));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_table),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_secret_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
