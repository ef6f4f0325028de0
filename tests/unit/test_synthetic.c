/* Tests for src/source/synthetic.c: option parsing, and which render the
 * source hands over (the scene itself: test_synth_render.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/convert.h"
#include "source/synthetic.h"
#include "util/error.h"

static fc_synth_config parse_ok(const char *opts) {
    fc_synth_config cfg;
    char err[256] = "";
    int rc = fc_synth_config_parse(&cfg, opts, err, sizeof err);
    if (rc) fail_msg("'%s': %s", opts, err);
    return cfg;
}

/* --- The source ------------------------------------------------------------ */

struct running {
    fc_source *src;
    fc_slot slot;
    atomic_int stop;
    pthread_t thread;
};

static void *run_source(void *p) {
    struct running *r = p;
    r->src->run(r->src, &r->slot, &r->stop);
    return NULL;
}

/* 1 plane of w * bpp bytes per row, or YUV420P's 3. */
static void assert_same_image(const fc_frame *want, const fc_frame *got) {
    assert_int_equal(got->view.format, want->view.format);
    assert_int_equal(got->view.width, want->view.width);
    assert_int_equal(got->view.height, want->view.height);
    int yuv = want->view.format == FC_PIX_YUV420P, w = want->view.width, h = want->view.height;
    for (int p = 0; p < (yuv ? 3 : 1); p++) {
        int pw = p ? (w + 1) / 2 : w * fc_pixfmt_bpp(want->view.format), ph = p ? (h + 1) / 2 : h;
        for (int y = 0; y < ph; y++)
            if (memcmp(want->view.data[p] + (size_t)y * want->view.stride[p],
                       got->view.data[p] + (size_t)y * got->view.stride[p], (size_t)pw))
                fail_msg("plane %d row %d differs", p, y);
    }
}

/* The frames (and previews) the source hands over for a predictor that
 * wants out are the scene rendered as `rendered`, converted as out asks:
 * YUV for gray, RGB for everything else. */
static void check_source(fc_output_spec out, enum fc_pixfmt rendered) {
    static const char opts[] = "size=96x64,fps=max,seed=4,objects=2,noise=3";
    char url[64], err[256];
    snprintf(url, sizeof url, "synthetic:%s", opts);
    struct running r = {0};
    assert_int_equal(fc_source_open(&r.src, url, err, sizeof err), 0);
    r.src->out = out;
    r.src->preview = (fc_preview_spec){.fps = 1000, .width = 48, .quality = 70};
    fc_slot_init(&r.slot, FC_SLOT_EVERY, 2);
    assert_int_equal(pthread_create(&r.thread, NULL, run_source, &r), 0);

    fc_synth_config cfg = parse_ok(opts);
    fc_synth *s = fc_synth_new(&cfg);
    fc_frame *img = fc_frame_new(rendered, 96, 64);
    fc_convert conv = {0}, preview_conv = {0};
    const fc_output_spec preview = {FC_PIX_YUV420P, 48, 0, 1};
    int av_format = fc_pixfmt_to_av(rendered);
    int previews = 0;
    for (int i = 0; i < 3; i++) {
        fc_frame *f = fc_slot_take(&r.slot);
        assert_non_null(f);
        assert_int_equal(f->view.index, i);
        fc_synth_render(s, i, img);
        const uint8_t *const planes[4] = {img->view.data[0], img->view.data[1], img->view.data[2],
                                          NULL};
        const int strides[4] = {img->view.stride[0], img->view.stride[1], img->view.stride[2], 0};
        fc_frame *want = NULL;
        if (!fc_output_matches(&out, av_format, 96, 64))
            want = fc_convert_image(&conv, planes, strides, av_format, 1, 96, 64, &out);
        assert_same_image(want ? want : img, f);
        assert_int_equal(f->ntruth, img->ntruth);
        assert_memory_equal(f->truth, img->truth, sizeof f->truth);
        if (f->preview) { /* at most one a millisecond, the first at once */
            fc_frame *want_preview =
                fc_convert_image(&preview_conv, planes, strides, av_format, 1, 96, 64, &preview);
            assert_same_image(want_preview, f->preview);
            fc_frame_free(want_preview);
            previews++;
        }
        fc_frame_free(want);
        fc_frame_free(f);
    }
    assert_true(previews > 0);
    atomic_store(&r.stop, 1);
    fc_slot_close(&r.slot);
    pthread_join(r.thread, NULL);
    fc_slot_destroy(&r.slot);
    fc_source_close(r.src);
    fc_convert_free(&conv);
    fc_convert_free(&preview_conv);
    fc_frame_free(img);
    fc_synth_free(s);
}

static void synth_source_renders_yuv_for_gray(void **state) {
    (void)state;
    check_source((fc_output_spec){FC_PIX_GRAY8, 48, 0, 0}, FC_PIX_YUV420P); /* motion */
    check_source((fc_output_spec){FC_PIX_GRAY8, 0, 0, 0}, FC_PIX_YUV420P);  /* people */
    check_source((fc_output_spec){FC_PIX_RGB24, 0, 0, 0}, FC_PIX_RGB24);    /* handed over */
    check_source((fc_output_spec){FC_PIX_ANY, 0, 0, 0}, FC_PIX_RGB24);
    check_source((fc_output_spec){FC_PIX_BGR24, 64, 0, 0}, FC_PIX_RGB24); /* dnn */
    check_source((fc_output_spec){FC_PIX_YUV420P, 0, 0, 0}, FC_PIX_RGB24);
}

static void synth_config_defaults(void **state) {
    (void)state;
    static const char *empty[] = {NULL, ""};
    for (int k = 0; k < 2; k++) {
        fc_synth_config cfg = parse_ok(empty[k]);
        assert_int_equal(cfg.width, 640);
        assert_int_equal(cfg.height, 360);
        assert_true(cfg.fps == 30);
        assert_int_equal(cfg.objects, 3);
        assert_int_equal(cfg.seed, 1);
        assert_int_equal(cfg.noise, 0);
    }
    fc_synth_config cfg = parse_ok("size=320x240,fps=12.5,objects=0,seed=4294967295,noise=64");
    assert_int_equal(cfg.width, 320);
    assert_int_equal(cfg.height, 240);
    assert_true(cfg.fps == 12.5);
    assert_int_equal(cfg.objects, 0);
    assert_int_equal(cfg.seed, 4294967295u);
    assert_int_equal(cfg.noise, 64);
    cfg = parse_ok("fps=max");
    assert_true(cfg.fps == 0);
    cfg = parse_ok("objects=16,size=32x32");
    assert_int_equal(cfg.objects, FC_MAX_TRUTH);
}

/* Each bad option fails with FC_EINVAL_OPT and a message naming it. */
static void synth_config_errors(void **state) {
    (void)state;
    static const struct {
        const char *opts, *want;
    } cases[] = {
        {"size=0x5", "size='0x5'"},
        {"size=16x16", "size='16x16'"},
        {"size=big", "size='big'"},
        {"fps=abc", "fps='abc'"},
        {"fps=0", "fps='0'"},
        {"fps=5000", "fps='5000'"},
        {"fps=30fps", "fps='30fps'"},
        {"objects=99", "objects='99'"},
        {"objects=-1", "objects='-1'"},
        {"seed=x", "seed='x'"},
        {"seed=4294967296", "seed='4294967296'"},
        {"noise=65", "noise='65'"},
        {"color=red", "'color'"},
        {"size=64x64,colour=red", "'colour'"},
        {"size", "'size'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fc_synth_config cfg;
        char err[256] = "";
        int rc = fc_synth_config_parse(&cfg, cases[k].opts, err, sizeof err);
        if (rc != FC_EINVAL_OPT) fail_msg("'%s': got %d, want FC_EINVAL_OPT", cases[k].opts, rc);
        if (!strstr(err, cases[k].want) || strncmp(err, "--source synthetic", 18) != 0)
            fail_msg("'%s': message '%s' does not name %s", cases[k].opts, err, cases[k].want);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(synth_config_defaults),
        cmocka_unit_test(synth_config_errors),
        cmocka_unit_test(synth_source_renders_yuv_for_gray),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
