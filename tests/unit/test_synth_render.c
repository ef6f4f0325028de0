/* Tests for src/source/synth_render.c: determinism, ground truth that
 * matches the pixels, and the YUV render showing the RGB render's picture. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "source/synthetic.h"

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

/* --- The YUV render -------------------------------------------------------- */

static fc_frame *render_yuv(const fc_synth *s, const fc_synth_config *cfg, int64_t index) {
    fc_frame *f = fc_frame_new(FC_PIX_YUV420P, cfg->width, cfg->height);
    assert_non_null(f);
    fc_synth_render(s, index, f);
    return f;
}

static size_t yuv_bytes(const fc_synth_config *cfg) {
    size_t cw = (size_t)(cfg->width + 1) / 2, ch = (size_t)(cfg->height + 1) / 2;
    return (size_t)cfg->width * (size_t)cfg->height + 2 * cw * ch;
}

static uint8_t at(const fc_frame *f, int plane, int x, int y) {
    return f->view.data[plane][(size_t)y * f->view.stride[plane] + x];
}

/* Full-range BT.601 of an RGB colour (the mean of a block's pixels), as
 * doubles: c 0 Y, 1 U, 2 V. */
static double yuv_of(int c, double r, double g, double b) {
    static const double k[3][3] = {
        {0.299, 0.587, 0.114}, {-0.168736, -0.331264, 0.5}, {0.5, -0.418688, -0.081312}};
    return k[c][0] * r + k[c][1] * g + k[c][2] * b + (c ? 128 : 0);
}

static void assert_near(double want, int got, const char *what, int x, int y, int64_t index) {
    if (fabs(want - got) > 1)
        fail_msg("frame %lld: %s at (%d,%d) is %d, the RGB render's is %.2f", (long long)index,
                 what, x, y, got, want);
}

static void synth_yuv_deterministic(void **state) {
    (void)state;
    fc_synth_config cfg = parse_ok("size=160x120,seed=7,objects=4,fps=25,noise=16");
    fc_synth *a = fc_synth_new(&cfg), *b = fc_synth_new(&cfg);
    assert_non_null(a);
    assert_non_null(b);
    static const int64_t idx[] = {0, 1, 1000};
    for (size_t k = 0; k < 3; k++) {
        fc_frame *fa = render_yuv(a, &cfg, idx[k]), *fb = render_yuv(b, &cfg, idx[k]);
        fc_frame *rgb = render(a, &cfg, idx[k]);
        assert_memory_equal(fa->pixels, fb->pixels, yuv_bytes(&cfg));
        assert_int_equal(fa->view.format, FC_PIX_YUV420P);
        assert_int_equal(fa->view.index, idx[k]);
        assert_int_equal(fa->view.pts_us, idx[k] * 40000);
        /* The truth is the RGB render's. */
        assert_int_equal(fa->ntruth, 4);
        assert_int_equal(rgb->ntruth, 4);
        assert_memory_equal(fa->truth, rgb->truth, sizeof fa->truth);
        fc_frame_free(fa);
        fc_frame_free(fb);
        fc_frame_free(rgb);
    }
    /* Consecutive frames differ: the objects move, the noise is drawn anew. */
    fc_frame *f0 = render_yuv(a, &cfg, 0), *f1 = render_yuv(a, &cfg, 1);
    assert_memory_not_equal(f0->pixels, f1->pixels, yuv_bytes(&cfg));
    fc_frame_free(f1);
    /* Another seed gives another picture. */
    fc_synth_config other = parse_ok("size=160x120,seed=8,objects=4,fps=25,noise=16");
    fc_synth *c = fc_synth_new(&other);
    fc_frame *g0 = render_yuv(c, &other, 0);
    assert_memory_not_equal(f0->pixels, g0->pixels, yuv_bytes(&cfg));
    fc_frame_free(f0);
    fc_frame_free(g0);
    fc_synth_free(a);
    fc_synth_free(b);
    fc_synth_free(c);
}

/* Without noise, Y is the luma of the RGB render's pixel, and U and V are
 * the colour of the block's top-left pixel where an object covers it, else
 * the mean of the background's four pixels (synth_render.c's rule), each
 * within 1. Odd sizes too: the last chroma column and row cover one pixel. */
static void check_yuv_is_rgb(const char *opts) {
    fc_synth_config cfg = parse_ok(opts), bare = cfg;
    bare.objects = 0; /* same seed, same background, no objects */
    fc_synth *s = fc_synth_new(&cfg), *bg = fc_synth_new(&bare);
    fc_frame *back = render(bg, &bare, 0);
    const int W = cfg.width, H = cfg.height;
    for (int64_t i = 0; i < 40; i += 13) {
        fc_frame *rgb = render(s, &cfg, i), *yuv = render_yuv(s, &cfg, i);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const uint8_t *p = rgb->pixels + ((size_t)y * W + x) * 3;
                assert_near(yuv_of(0, p[0], p[1], p[2]), at(yuv, 0, x, y), "Y", x, y, i);
            }
        for (int y = 0; y < H; y += 2)
            for (int x = 0; x < W; x += 2) {
                double r = 0, g = 0, b = 0;
                int n = 0;
                const fc_frame *from = inside_any(rgb, x, y, 0) ? rgb : back;
                int w = inside_any(rgb, x, y, 0) ? 1 : 2;
                for (int dy = 0; dy < w && y + dy < H; dy++)
                    for (int dx = 0; dx < w && x + dx < W; dx++, n++) {
                        const uint8_t *p = from->pixels + ((size_t)(y + dy) * W + x + dx) * 3;
                        r += p[0], g += p[1], b += p[2];
                    }
                assert_near(yuv_of(1, r / n, g / n, b / n), at(yuv, 1, x / 2, y / 2), "U", x, y, i);
                assert_near(yuv_of(2, r / n, g / n, b / n), at(yuv, 2, x / 2, y / 2), "V", x, y, i);
            }
        fc_frame_free(rgb);
        fc_frame_free(yuv);
    }
    fc_frame_free(back);
    fc_synth_free(s);
    fc_synth_free(bg);
}

static void synth_yuv_is_the_rgb_picture(void **state) {
    (void)state;
    check_yuv_is_rgb("size=320x180,seed=5,objects=3");
    check_yuv_is_rgb("size=65x49,seed=9,objects=16"); /* odd, and objects over objects */
    check_yuv_is_rgb("size=200x101,seed=2,objects=6");
}

/* The objects stand out of the background in Y by more than 30 levels
 * (motion's threshold is 25), and outside them Y is the background's. */
static void synth_yuv_objects_visible(void **state) {
    (void)state;
    fc_synth_config cfg = parse_ok("size=320x180,seed=5,objects=5"), bare = cfg;
    bare.objects = 0;
    fc_synth *s = fc_synth_new(&cfg), *bg = fc_synth_new(&bare);
    fc_frame *back = render_yuv(bg, &bare, 0);
    for (int64_t i = 0; i < 100; i += 33) {
        fc_frame *f = render_yuv(s, &cfg, i);
        size_t inside = 0;
        for (int y = 0; y < cfg.height; y++)
            for (int x = 0; x < cfg.width; x++) {
                int v = at(f, 0, x, y), b = at(back, 0, x, y);
                if (!inside_any(f, x, y, 0)) {
                    if (v != b)
                        fail_msg("frame %d: Y at (%d,%d), outside every box, is %d, not %d", (int)i,
                                 x, y, v, b);
                    continue;
                }
                if (v <= b + 30)
                    fail_msg("frame %d: Y at (%d,%d) in a box is %d, background %d", (int)i, x, y,
                             v, b);
                inside++;
            }
        assert_true(inside > 0);
        fc_frame_free(f);
    }
    fc_frame_free(back);
    fc_synth_free(s);
    fc_synth_free(bg);
}

/* Noise on every plane, within its amplitude: (2 * 16 + 1) / 3 = 11 on Y,
 * (16 + 2) / 3 = 6 on U and V. */
static void synth_yuv_noise(void **state) {
    (void)state;
    fc_synth_config cfg = parse_ok("size=64x48,seed=3,noise=16");
    fc_synth_config clean = parse_ok("size=64x48,seed=3");
    fc_synth *a = fc_synth_new(&cfg), *c = fc_synth_new(&clean);
    const size_t luma = 64 * 48, chroma = 32 * 24;
    for (int64_t i = 0; i < 3; i++) {
        fc_frame *fa = render_yuv(a, &cfg, i), *fc = render_yuv(c, &clean, i);
        for (int p = 0; p < 3; p++) {
            size_t off = p ? luma + (p - 1) * chroma : 0, n = p ? chroma : luma;
            int amp = p ? 6 : 11, max = 0;
            for (size_t k = off; k < off + n; k++) {
                int d = abs((int)fa->pixels[k] - (int)fc->pixels[k]);
                if (d > amp) fail_msg("plane %d byte %zu differs by %d with noise=16", p, k, d);
                if (d > max) max = d;
            }
            assert_true(max >= amp - 1); /* the noise is there, at about its amplitude */
        }
        fc_frame_free(fa);
        fc_frame_free(fc);
    }
    fc_synth_free(a);
    fc_synth_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(synth_deterministic),
        cmocka_unit_test(synth_deterministic_with_noise),
        cmocka_unit_test(synth_truth_in_frame),
        cmocka_unit_test(synth_truth_matches_pixels),
        cmocka_unit_test(synth_timestamps),
        cmocka_unit_test(synth_yuv_deterministic),
        cmocka_unit_test(synth_yuv_is_the_rgb_picture),
        cmocka_unit_test(synth_yuv_objects_visible),
        cmocka_unit_test(synth_yuv_noise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
