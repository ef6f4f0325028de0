/* Tests for src/source/synthetic.c: determinism, ground truth that matches
 * the pixels, and option parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "source/synthetic.h"
#include "util/error.h"

static fc_synth_config parse_ok(const char *opts) {
    fc_synth_config cfg;
    char err[256] = "";
    int rc = fc_synth_config_parse(&cfg, opts, err, sizeof err);
    if (rc) fail_msg("'%s': %s", opts, err);
    return cfg;
}

static fc_frame *render(const fc_synth *s, const fc_synth_config *cfg, int64_t index) {
    fc_frame *f = fc_frame_new_rgb(cfg->width, cfg->height);
    assert_non_null(f);
    fc_synth_render(s, index, f);
    return f;
}

static size_t frame_bytes(const fc_synth_config *cfg) {
    return (size_t)cfg->width * (size_t)cfg->height * 3;
}

static void synth_deterministic(void **state) {
    (void)state;
    fc_synth_config cfg = parse_ok("size=160x120,seed=7,objects=4,fps=max");
    fc_synth *a = fc_synth_new(&cfg), *b = fc_synth_new(&cfg);
    assert_non_null(a);
    assert_non_null(b);
    static const int64_t idx[] = {0, 1, 1000};
    for (size_t k = 0; k < 3; k++) {
        fc_frame *fa = render(a, &cfg, idx[k]), *fb = render(b, &cfg, idx[k]);
        assert_memory_equal(fa->pixels, fb->pixels, frame_bytes(&cfg));
        assert_int_equal(fa->ntruth, 4);
        assert_int_equal(fb->ntruth, 4);
        assert_memory_equal(fa->truth, fb->truth, sizeof(fc_box) * 4);
        assert_int_equal(fa->view.index, idx[k]);
        fc_frame_free(fa);
        fc_frame_free(fb);
    }
    /* Consecutive frames differ: the objects move. */
    fc_frame *f0 = render(a, &cfg, 0), *f1 = render(a, &cfg, 1);
    assert_memory_not_equal(f0->pixels, f1->pixels, frame_bytes(&cfg));
    fc_frame_free(f1);

    /* Another seed gives another picture. */
    fc_synth_config other = parse_ok("size=160x120,seed=8,objects=4,fps=max");
    fc_synth *c = fc_synth_new(&other);
    fc_frame *g0 = render(c, &other, 0);
    assert_memory_not_equal(f0->pixels, g0->pixels, frame_bytes(&cfg));
    fc_frame_free(f0);
    fc_frame_free(g0);
    fc_synth_free(a);
    fc_synth_free(b);
    fc_synth_free(c);
}

static void synth_deterministic_with_noise(void **state) {
    (void)state;
    fc_synth_config cfg = parse_ok("size=64x48,seed=3,noise=16");
    fc_synth_config clean = parse_ok("size=64x48,seed=3");
    fc_synth *a = fc_synth_new(&cfg), *b = fc_synth_new(&cfg), *c = fc_synth_new(&clean);
    for (int64_t i = 0; i < 3; i++) {
        fc_frame *fa = render(a, &cfg, i), *fb = render(b, &cfg, i), *fc = render(c, &clean, i);
        assert_memory_equal(fa->pixels, fb->pixels, frame_bytes(&cfg));
        assert_memory_not_equal(fa->pixels, fc->pixels, frame_bytes(&cfg));
        /* Noise stays within its amplitude. */
        for (size_t k = 0; k < frame_bytes(&cfg); k++) {
            int d = (int)fa->pixels[k] - (int)fc->pixels[k];
            if (d < -16 || d > 16) fail_msg("byte %zu differs by %d with noise=16", k, d);
        }
        fc_frame_free(fa);
        fc_frame_free(fb);
        fc_frame_free(fc);
    }
    fc_synth_free(a);
    fc_synth_free(b);
    fc_synth_free(c);
}

static int inside(const fc_box *b, int x, int y, int margin) {
    return x >= b->x - margin && x < b->x + b->w + margin && y >= b->y - margin &&
           y < b->y + b->h + margin;
}

static int inside_any(const fc_frame *f, int x, int y, int margin) {
    for (int i = 0; i < f->ntruth; i++)
        if (inside(&f->truth[i], x, y, margin)) return 1;
    return 0;
}

static void synth_truth_in_frame(void **state) {
    (void)state;
    fc_synth_config cfg = parse_ok("size=200x100,seed=11,objects=16");
    fc_synth *s = fc_synth_new(&cfg);
    fc_box first[FC_MAX_TRUTH], box[FC_MAX_TRUTH];
    assert_int_equal(fc_synth_truth(s, 0, first), 16);
    int moved = 0;
    for (int64_t i = 0; i < 2000; i += 7) {
        assert_int_equal(fc_synth_truth(s, i, box), 16);
        for (int k = 0; k < 16; k++) {
            const fc_box *b = &box[k];
            if (b->x < 0 || b->y < 0 || b->x + b->w > 200 || b->y + b->h > 100 || b->w < 1 ||
                b->h < 1)
                fail_msg("frame %lld box %d (%d,%d %dx%d) leaves the 200x100 frame", (long long)i,
                         k, b->x, b->y, b->w, b->h);
            assert_int_equal(b->w, first[k].w); /* sizes do not change */
            assert_int_equal(b->h, first[k].h);
            moved |= b->x != first[k].x || b->y != first[k].y;
        }
    }
    assert_true(moved);
    /* render reports the same truth. */
    fc_frame *f = render(s, &cfg, 77);
    assert_int_equal(fc_synth_truth(s, 77, box), f->ntruth);
    assert_memory_equal(box, f->truth, sizeof(fc_box) * 16);
    fc_frame_free(f);
    fc_synth_free(s);
}

/* The objects are drawn where the truth says, and nowhere else. */
static void synth_truth_matches_pixels(void **state) {
    (void)state;
    fc_synth_config cfg = parse_ok("size=320x180,seed=5,objects=3");
    fc_synth_config bare = cfg;
    bare.objects = 0; /* same seed, same background, no objects */
    fc_synth *s = fc_synth_new(&cfg), *bg = fc_synth_new(&bare);
    fc_frame *back = render(bg, &bare, 0);
    assert_int_equal(back->ntruth, 0);
    fc_frame *f0 = render(s, &cfg, 0), *f50 = render(s, &cfg, 50);
    const int W = cfg.width, H = cfg.height;
    const fc_frame *frames[] = {f0, f50};
    for (int fi = 0; fi < 2; fi++) {
        const fc_frame *f = frames[fi];
        assert_int_equal(f->ntruth, 3);
        for (int k = 0; k < f->ntruth; k++) {
            const fc_box *b = &f->truth[k];
            for (int y = b->y; y < b->y + b->h; y++)
                for (int x = b->x; x < b->x + b->w; x++) {
                    size_t o = ((size_t)y * W + x) * 3;
                    if (memcmp(f->pixels + o, back->pixels + o, 3) == 0)
                        fail_msg("frame %d: pixel (%d,%d) in box %d is background", fi ? 50 : 0, x,
                                 y, k);
                }
        }
    }
    /* Well outside every box of both frames, both equal the background. */
    size_t compared = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (inside_any(f0, x, y, 2) || inside_any(f50, x, y, 2)) continue;
            size_t o = ((size_t)y * W + x) * 3;
            if (memcmp(f0->pixels + o, f50->pixels + o, 3) != 0 ||
                memcmp(f0->pixels + o, back->pixels + o, 3) != 0)
                fail_msg("pixel (%d,%d), outside every box, changed", x, y);
            compared++;
        }
    assert_true(compared > (size_t)W * H / 4);
    /* The truth moved between the two frames. */
    assert_memory_not_equal(f0->truth, f50->truth, sizeof(fc_box) * 3);
    fc_frame_free(back);
    fc_frame_free(f0);
    fc_frame_free(f50);
    fc_synth_free(s);
    fc_synth_free(bg);
}

static void synth_timestamps(void **state) {
    (void)state;
    fc_synth_config cfg = parse_ok("size=32x32,fps=25");
    fc_synth *s = fc_synth_new(&cfg);
    fc_frame *f = render(s, &cfg, 50);
    assert_int_equal(f->view.index, 50);
    assert_int_equal(f->view.pts_us, 2000000);
    assert_int_equal(f->view.width, 32);
    assert_int_equal(f->view.format, FC_PIX_RGB24);
    fc_frame_free(f);
    fc_synth_free(s);
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
        cmocka_unit_test(synth_deterministic),  cmocka_unit_test(synth_deterministic_with_noise),
        cmocka_unit_test(synth_truth_in_frame), cmocka_unit_test(synth_truth_matches_pixels),
        cmocka_unit_test(synth_timestamps),     cmocka_unit_test(synth_config_defaults),
        cmocka_unit_test(synth_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
