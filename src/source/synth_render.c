/* The synthetic scene (see synth_render.h). Everything derives from the
 * seed through splitmix64, so no state carries between frames.
 *
 * A frame is its background, copied (rendered once per format in
 * fc_synth_new), the objects drawn over it in order (a later one covers an
 * earlier one), then the noise. The YUV render draws the same objects in
 * colours converted once per object, so it costs what the RGB render costs
 * per byte, on half the bytes. */
#include "source/synth_render.h"

#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

struct object {
    int w, h;
    int64_t x0, y0, vx, vy;
    /* The object's colour and its dark stripes' (red and green 30 lower),
     * as RGB and as full-range YUV. */
    uint8_t rgb[2][3];
    uint8_t yuv[2][3];
};

struct fc_synth {
    fc_synth_config cfg;
    struct object obj[FC_MAX_TRUTH];
    uint8_t *background; /* RGB24, width * height */
    /* The same background as YUV420P, full range: Y (width * height), then
     * U and V (each chroma_w * chroma_h, the halves rounded up), as
     * fc_frame_new lays a frame out. */
    uint8_t *background_yuv;
    int chroma_w, chroma_h;
};

/* Full-range BT.601 (JPEG's) in 1/32768: Y = 0.299 R + 0.587 G + 0.114 B,
 * U = 128 - 0.168736 R - 0.331264 G + 0.5 B, V = 128 + 0.5 R - 0.418688 G
 * - 0.081312 B. Each row of weights sums to 32768 (Y) or 0 (U, V). */
enum { ONE = 32768 };
static const int TO_YUV[3][3] = {
    {9798, 19235, 3735},
    {-5529, -10855, 16384},
    {16384, -13720, -2664},
};

/* Component c (0 Y, 1 U, 2 V) of the mean of n pixels whose channels sum
 * to rgb, rounded. Chroma's offset keeps the sum positive, so division
 * rounds as it should; only U and V can reach 256 (B or R at 255, the rest
 * 0). */
static uint8_t yuv_of(int c, const int rgb[3], int n) {
    int sum = TO_YUV[c][0] * rgb[0] + TO_YUV[c][1] * rgb[1] + TO_YUV[c][2] * rgb[2];
    int v = (sum + (c ? 128 * ONE : 0) * n + ONE / 2 * n) / (ONE * n);
    return (uint8_t)(v > 255 ? 255 : v);
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int rand_range(uint64_t *st, int lo, int hi) { /* inclusive */
    return lo + (int)(splitmix64(st) % (uint64_t)(hi - lo + 1));
}

/* The background's YUV from its RGB: Y per pixel, U and V per 2x2 block
 * from the mean of the block's pixels (fewer at an odd edge). */
static void background_to_yuv(fc_synth *s) {
    int W = s->cfg.width, H = s->cfg.height, CW = s->chroma_w, CH = s->chroma_h;
    uint8_t *Y = s->background_yuv, *U = Y + (size_t)W * H, *V = U + (size_t)CW * CH;
    for (size_t i = 0; i < (size_t)W * H; i++) {
        const uint8_t *p = s->background + 3 * i;
        Y[i] = yuv_of(0, (const int[3]){p[0], p[1], p[2]}, 1);
    }
    for (int cy = 0; cy < CH; cy++)
        for (int cx = 0; cx < CW; cx++) {
            int sum[3] = {0, 0, 0}, n = 0;
            for (int y = 2 * cy; y < 2 * cy + 2 && y < H; y++)
                for (int x = 2 * cx; x < 2 * cx + 2 && x < W; x++, n++) {
                    const uint8_t *p = s->background + ((size_t)y * W + x) * 3;
                    for (int c = 0; c < 3; c++) sum[c] += p[c];
                }
            U[(size_t)cy * CW + cx] = yuv_of(1, sum, n);
            V[(size_t)cy * CW + cx] = yuv_of(2, sum, n);
        }
}

fc_synth *fc_synth_new(const fc_synth_config *cfg) {
    fc_synth *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = *cfg;
    int W = cfg->width, H = cfg->height;
    s->chroma_w = (W + 1) / 2;
    s->chroma_h = (H + 1) / 2;
    s->background = malloc((size_t)W * (size_t)H * 3);
    s->background_yuv = malloc((size_t)W * H + 2 * (size_t)s->chroma_w * s->chroma_h);
    if (!s->background || !s->background_yuv) {
        fc_synth_free(s);
        return NULL;
    }
    uint64_t st = cfg->seed;
    /* Background: 16-pixel tiles of dark grey-blue with a gentle gradient,
     * at least ~35 luma levels below every object pixel, so the objects are
     * there to be found even with noise. */
    uint8_t tiles[64][3];
    for (int i = 0; i < 64; i++) {
        int g = rand_range(&st, 30, 70);
        tiles[i][0] = (uint8_t)g;
        tiles[i][1] = (uint8_t)(g + 10);
        tiles[i][2] = (uint8_t)(g + 25);
    }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const uint8_t *t = tiles[((y / 16) * 7 + (x / 16) * 13) & 63];
            uint8_t *p = s->background + ((size_t)y * W + x) * 3;
            int grad = (x + y) * 20 / (W + H);
            for (int c = 0; c < 3; c++) p[c] = (uint8_t)(t[c] + grad);
        }
    background_to_yuv(s);
    /* Objects: sizes and speeds scale with the frame. */
    int speed = W / 320 > 1 ? W / 320 : 1;
    for (int i = 0; i < cfg->objects; i++) {
        struct object *o = &s->obj[i];
        o->w = rand_range(&st, W / 12 > 4 ? W / 12 : 4, W / 5 > 8 ? W / 5 : 8);
        o->h = rand_range(&st, H / 10 > 4 ? H / 10 : 4, H / 4 > 8 ? H / 4 : 8);
        o->x0 = rand_range(&st, 0, W - o->w);
        o->y0 = rand_range(&st, 0, H - o->h);
        o->vx = rand_range(&st, 1, 4) * speed * (splitmix64(&st) & 1 ? 1 : -1);
        o->vy = rand_range(&st, 1, 3) * speed * (splitmix64(&st) & 1 ? 1 : -1);
        int r = rand_range(&st, 200, 255), g = rand_range(&st, 170, 255);
        int b = rand_range(&st, 0, 200);
        for (int dark = 0; dark < 2; dark++) {
            int rgb[3] = {r - dark * 30, g - dark * 30, b};
            for (int c = 0; c < 3; c++) o->rgb[dark][c] = (uint8_t)rgb[c];
            for (int c = 0; c < 3; c++) o->yuv[dark][c] = yuv_of(c, rgb, 1);
        }
    }
    return s;
}

void fc_synth_free(fc_synth *s) {
    if (!s) return;
    free(s->background);
    free(s->background_yuv);
    free(s);
}

/* Position on [0, span] bouncing between the ends. */
static int fold(int64_t v, int span) {
    if (span <= 0) return 0;
    int64_t period = 2 * (int64_t)span;
    int64_t m = v % period;
    if (m < 0) m += period;
    return (int)(m <= span ? m : period - m);
}

int fc_synth_truth(const fc_synth *s, int64_t index, fc_box *out) {
    for (int i = 0; i < s->cfg.objects; i++) {
        const struct object *o = &s->obj[i];
        out[i] = (fc_box){fold(o->x0 + o->vx * index, s->cfg.width - o->w),
                          fold(o->y0 + o->vy * index, s->cfg.height - o->h), o->w, o->h};
    }
    return s->cfg.objects;
}

/* 1 where box b's pixel (x, y) is in a dark stripe: diagonal stripes 6
 * pixels wide give the object a texture of its own. x counts from the
 * box's left edge, y from the frame's top: the pattern the RGB render has
 * always drawn. */
static int stripe(const fc_box *b, int x, int y) {
    return ((x + y - b->x - b->y) / 6) & 1;
}

/* Adds noise in [-amp, amp] to n bytes: byte k of each draw of st (one
 * draw per 8 bytes) modulo 2 * amp + 1, less amp, the sum clamped. The
 * draws are made a chunk ahead, so the loop that adds them is arithmetic on
 * 16-bit lanes, which the compiler vectorizes: the modulo is a multiply
 * (exact for every byte while the span is below 256), the clamp at 0 a
 * maximum taken before amp is subtracted. */
static void add_noise(uint8_t *px, size_t n, int amp, uint64_t *st) {
    if (amp <= 0) return;
    enum { CHUNK = 256 };
    const uint16_t a = (uint16_t)amp, span = (uint16_t)(2 * amp + 1);
    const uint16_t inverse = (uint16_t)(65536 / span + 1);
    uint8_t draw[CHUNK];
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        for (size_t k = 0; k < m; k += 8) {
            uint64_t r = splitmix64(st);
            for (int j = 0; j < 8; j++) draw[k + j] = (uint8_t)(r >> (8 * j));
        }
        uint8_t *p = px + i;
        for (size_t k = 0; k < m; k++) {
            uint16_t d = draw[k], q = (uint16_t)(((uint32_t)d * inverse) >> 16); /* d / span */
            uint16_t v = (uint16_t)(p[k] + d - q * span);                        /* + d % span */
            v = (uint16_t)((v < a ? a : v) - a);
            p[k] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

static void render_rgb(const fc_synth *s, fc_frame *f, uint64_t *noise) {
    int W = s->cfg.width, H = s->cfg.height;
    uint8_t *px = f->pixels;
    memcpy(px, s->background, (size_t)W * (size_t)H * 3);
    for (int i = 0; i < f->ntruth; i++) {
        const fc_box *b = &f->truth[i];
        const struct object *o = &s->obj[i];
        for (int y = b->y; y < b->y + b->h; y++) {
            uint8_t *row = px + ((size_t)y * W + b->x) * 3;
            for (int x = 0; x < b->w; x++) memcpy(row + 3 * x, o->rgb[stripe(b, x, y)], 3);
        }
    }
    add_noise(px, (size_t)W * H * 3, s->cfg.noise, noise);
}

/* Chroma of a 2x2 block that an object covers only in part: the block is
 * the object's when its top-left pixel is (chroma sited there), else it
 * keeps the background's; the object's stripe is the one at that pixel.
 * Gray predictors read only Y, and in the preview a one-pixel fringe of
 * background colour where a box edge splits a block does not show. */
static void render_yuv(const fc_synth *s, fc_frame *f, uint64_t *noise) {
    int W = s->cfg.width, H = s->cfg.height, CW = s->chroma_w, CH = s->chroma_h;
    uint8_t *Y = f->pixels, *U = Y + (size_t)W * H, *V = U + (size_t)CW * CH;
    memcpy(Y, s->background_yuv, (size_t)W * H + 2 * (size_t)CW * CH);
    for (int i = 0; i < f->ntruth; i++) {
        const fc_box *b = &f->truth[i];
        const struct object *o = &s->obj[i];
        for (int y = b->y; y < b->y + b->h; y++) {
            uint8_t *row = Y + (size_t)y * W + b->x;
            for (int x = 0; x < b->w; x++) row[x] = o->yuv[stripe(b, x, y)][0];
        }
        for (int cy = (b->y + 1) / 2; 2 * cy < b->y + b->h; cy++)
            for (int cx = (b->x + 1) / 2; 2 * cx < b->x + b->w; cx++) {
                const uint8_t *c = o->yuv[stripe(b, 2 * cx - b->x, 2 * cy)];
                U[(size_t)cy * CW + cx] = c[1];
                V[(size_t)cy * CW + cx] = c[2];
            }
    }
    int amp = s->cfg.noise;
    add_noise(Y, (size_t)W * H, (2 * amp + 1) / 3, noise);
    add_noise(U, (size_t)CW * CH, (amp + 2) / 3, noise);
    add_noise(V, (size_t)CW * CH, (amp + 2) / 3, noise);
}

void fc_synth_render(const fc_synth *s, int64_t index, fc_frame *f) {
    f->ntruth = fc_synth_truth(s, index, f->truth);
    uint64_t noise = s->cfg.seed ^ ((uint64_t)index * 0x9E3779B97F4A7C15ull);
    if (f->view.format == FC_PIX_RGB24)
        render_rgb(s, f, &noise);
    else if (f->view.format == FC_PIX_YUV420P)
        render_yuv(s, f, &noise);
    f->view.index = index;
    f->view.pts_us = s->cfg.fps > 0 ? (int64_t)(index * 1e6 / s->cfg.fps) : 0;
    f->capture_us = fc_now_us();
}
