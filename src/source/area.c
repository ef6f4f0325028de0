/* Area-average downscaling into a gray image (see area.h).
 *
 * Exact integer weights: on an axis of in source pixels scaled to out, with
 * g = gcd(in, out), measure lengths in units where a source pixel is out/g
 * long and an output pixel in/g long. Output pixel o covers
 * [o*in/g, (o+1)*in/g), source pixel s covers [s*out/g, (s+1)*out/g), every
 * overlap is an integer and an output pixel's weights sum to den = in/g.
 * The weighted sums of an output pixel's channels over both axes are at
 * most 255 * den_x * den_y each; its luma is their weighted sum over
 * 32768 * den_x * den_y, rounded once at the end.
 *
 * Rows first: for each output row the source rows it covers are summed,
 * weighted, column by column into acc (contiguous bytes in, 16-bit sums out
 * whenever they cannot overflow: the loop the compiler vectorizes, and the
 * one that touches every source byte), then each output pixel sums its
 * columns of acc. */
#include "source/area.h"

#include <stdlib.h>
#include <string.h>

/* Full-range BT.601 luma weights in 1/32768 (0.299, 0.587, 0.114), as
 * libswscale converts RGB to full-range gray. */
enum { RY = 9798, GY = 19235, BY = 3735, LUMA_ONE = 32768 };

static int gcd(int a, int b) {
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void axis_free(fc_area_axis *a) {
    free(a->first);
    free(a->w);
    memset(a, 0, sizeof *a);
}

static int axis_build(fc_area_axis *a, int in, int out) {
    int g = gcd(in, out);
    int64_t in_g = in / g, out_g = out / g;
    a->den = (uint32_t)in_g;
    /* An output pixel is in_g units long: at most in_g / out_g + 2 source
     * pixels overlap it. */
    int taps = (int)(in_g / out_g) + 2;
    a->first = malloc((size_t)out * sizeof *a->first);
    a->w = calloc((size_t)out * (size_t)taps, sizeof *a->w);
    if (!a->first || !a->w) {
        axis_free(a);
        return -1;
    }
    int widest = 1;
    for (int o = 0; o < out; o++) {
        int64_t lo = o * in_g, hi = lo + in_g;
        int s = (int)(lo / out_g), k = 0;
        a->first[o] = s;
        for (; s < in && (int64_t)s * out_g < hi; s++, k++) {
            int64_t s_lo = (int64_t)s * out_g, s_hi = s_lo + out_g;
            int64_t l = s_lo > lo ? s_lo : lo, h = s_hi < hi ? s_hi : hi;
            a->w[(size_t)o * taps + k] = (uint32_t)(h - l);
        }
        if (k > widest) widest = k;
    }
    /* Repack to the widest pixel's count: no loop runs over zero weights
     * that no pixel needs. */
    for (int o = 1; o < out && widest < taps; o++)
        memmove(a->w + (size_t)o * widest, a->w + (size_t)o * taps, widest * sizeof *a->w);
    a->taps = widest;
    /* A pixel whose last taps would read past the end starts earlier with
     * leading zero weights instead, so every read stays inside the plane. */
    for (int o = 0; o < out; o++) {
        int over = a->first[o] + a->taps - in;
        if (over <= 0) continue;
        uint32_t *w = a->w + (size_t)o * a->taps;
        memmove(w + over, w, (size_t)(a->taps - over) * sizeof *w);
        memset(w, 0, (size_t)over * sizeof *w);
        a->first[o] -= over;
    }
    return 0;
}

int fc_area_supported(int in_w, int in_h, int out_w, int out_h) {
    return in_w > 0 && in_h > 0 && out_w > 0 && out_h > 0 && out_w <= in_w && out_h <= in_h &&
           in_w <= 16384 && in_h <= 16384;
}

void fc_area_free(fc_area_plan *p) {
    axis_free(&p->x);
    axis_free(&p->y);
    free(p->acc);
    free(p->luma);
    memset(p, 0, sizeof *p);
}

int fc_area_prepare(fc_area_plan *p, int in_w, int in_h, int out_w, int out_h,
                    enum fc_area_input input) {
    if (p->acc && p->in_w == in_w && p->in_h == in_h && p->out_w == out_w && p->out_h == out_h &&
        p->input == input)
        return 0;
    fc_area_free(p);
    if (!fc_area_supported(in_w, in_h, out_w, out_h) ||
        (input != FC_AREA_RGB24 && input != FC_AREA_BGR24))
        return -1;
    if (axis_build(&p->x, in_w, out_w) || axis_build(&p->y, in_h, out_h)) goto fail;
    p->in_w = in_w;
    p->in_h = in_h;
    p->out_w = out_w;
    p->out_h = out_h;
    p->input = input;
    p->wide = 255u * p->y.den > 65535u;
    p->acc = malloc((size_t)in_w * 3 * (p->wide ? sizeof(uint32_t) : sizeof(uint16_t)));
    p->luma = malloc((size_t)in_w * sizeof *p->luma);
    if (!p->acc || !p->luma) goto fail;
    return 0;
fail:
    fc_area_free(p);
    return -1;
}

/* acc[i] = sum over taps rows of w[k] * row_k[i], n bytes per row. Written
 * so that the compiler vectorizes the inner loops (restrict: acc never
 * aliases the frame). */
static void sum_rows16(const uint32_t *w, int taps, const uint8_t *src, int stride, size_t n,
                       uint16_t *restrict acc) {
    const uint8_t *restrict row = src;
    uint16_t w0 = (uint16_t)w[0];
    for (size_t i = 0; i < n; i++) acc[i] = (uint16_t)(w0 * row[i]);
    for (int k = 1; k < taps; k++) {
        uint16_t wk = (uint16_t)w[k];
        row += stride;
        if (wk == 1)
            for (size_t i = 0; i < n; i++) acc[i] = (uint16_t)(acc[i] + row[i]);
        else if (wk)
            for (size_t i = 0; i < n; i++) acc[i] = (uint16_t)(acc[i] + wk * row[i]);
    }
}

static void sum_rows32(const uint32_t *w, int taps, const uint8_t *src, int stride, size_t n,
                       uint32_t *restrict acc) {
    const uint8_t *restrict row = src;
    for (size_t i = 0; i < n; i++) acc[i] = w[0] * row[i];
    for (int k = 1; k < taps; k++) {
        uint32_t wk = w[k];
        row += stride;
        if (wk)
            for (size_t i = 0; i < n; i++) acc[i] += wk * row[i];
    }
}

/* num / den rounded to nearest (halves up), for num < 2^51 and a quotient
 * below 2^9: a multiplication by inv = 1 / den, corrected to the exact
 * quotient (a 64-bit division per pixel cost as much as the rest). */
static inline uint64_t round_div(uint64_t num, uint64_t den, double inv) {
    uint64_t n2 = 2 * num + den, d2 = 2 * den;
    uint64_t q = (uint64_t)((double)num * inv + 0.5);
    if (q * d2 > n2)
        q--;
    else if ((q + 1) * d2 <= n2)
        q++;
    return q;
}

/* One output row from the column sums in acc (ACC: uint16_t or uint32_t).
 * The luma sum is at most 32768 * 255 * den, below 2^51. */
#define OUTPUT_ROW(ACC)                                                                            \
    do {                                                                                           \
        const ACC *a = (const ACC *)p->acc;                                                        \
        const int taps = p->x.taps;                                                                \
        for (int ox = 0; ox < p->out_w; ox++) {                                                    \
            const uint32_t *w = p->x.w + (size_t)ox * taps;                                        \
            const ACC *c = a + (size_t)p->x.first[ox] * 3;                                         \
            uint64_t t0 = 0, t1 = 0, t2 = 0;                                                       \
            for (int k = 0; k < taps; k++) {                                                       \
                t0 += (uint64_t)w[k] * c[3 * k];                                                   \
                t1 += (uint64_t)w[k] * c[3 * k + 1];                                               \
                t2 += (uint64_t)w[k] * c[3 * k + 2];                                               \
            }                                                                                      \
            uint64_t r = bgr ? t2 : t0, b = bgr ? t0 : t2;                                         \
            uint64_t v = round_div(RY * r + GY * t1 + BY * b, luma_den, inv);                      \
            out[ox] = (uint8_t)(v > 255 ? 255 : v);                                                \
        }                                                                                          \
    } while (0)

/* The common case of OUTPUT_ROW (den below 512: 1920 -> 320 is 36), about
 * twice as fast. Luma is linear, so each column's three sums become one
 * luma-weighted sum first (a loop the compiler vectorizes), and an output
 * pixel sums taps of those instead of three times taps; every sum stays
 * below 32768 * 255 * 512 = 2^32. The rounding division is a
 * multiplication by magic = ceil(2^64 / d2), exact when n2 * d2 < 2^64
 * (the error, n2 * (magic * d2 - 2^64) / 2^64, stays below 1 / d2). */
static void output_row_fast(const fc_area_plan *p, const uint16_t *restrict a, int bgr,
                            uint8_t *out, uint64_t luma_den, uint64_t magic) {
    const uint32_t w0 = bgr ? BY : RY, w2 = bgr ? RY : BY;
    uint32_t *restrict l = p->luma;
    for (int i = 0; i < p->in_w; i++)
        l[i] = w0 * a[3 * i] + GY * (uint32_t)a[3 * i + 1] + w2 * a[3 * i + 2];
    const int taps = p->x.taps;
    for (int ox = 0; ox < p->out_w; ox++) {
        const uint32_t *w = p->x.w + (size_t)ox * taps;
        const uint32_t *c = l + p->x.first[ox];
        uint32_t t = 0;
        for (int k = 0; k < taps; k++) t += w[k] * c[k];
        uint64_t v = (uint64_t)(((unsigned __int128)(2 * (uint64_t)t + luma_den) * magic) >> 64);
        out[ox] = (uint8_t)(v > 255 ? 255 : v);
    }
}

void fc_area_run(fc_area_plan *p, const uint8_t *src, int stride, uint8_t *dst, int dst_stride) {
    const int bgr = p->input == FC_AREA_BGR24;
    const size_t n = (size_t)p->in_w * 3;
    const uint64_t den = (uint64_t)p->x.den * p->y.den, luma_den = den * LUMA_ONE;
    const double inv = 1.0 / (double)luma_den;
    /* The fast row: sums below 2^32 (den < 512), so n2 < 2^33 and
     * d2 = 2^16 * den < 2^25: n2 * d2 < 2^64. */
    const uint64_t d2 = 2 * luma_den;
    const int fast = !p->wide && den < 512 && p->luma;
    const uint64_t magic =
        fast ? (uint64_t)((((unsigned __int128)1 << 64) + d2 - 1) / d2) : 0; /* ceil */
    for (int oy = 0; oy < p->out_h; oy++) {
        const uint32_t *wy = p->y.w + (size_t)oy * p->y.taps;
        const uint8_t *rows = src + (size_t)p->y.first[oy] * stride;
        uint8_t *out = dst + (size_t)oy * dst_stride;
        if (fast) {
            sum_rows16(wy, p->y.taps, rows, stride, n, p->acc);
            output_row_fast(p, p->acc, bgr, out, luma_den, magic);
        } else if (!p->wide) {
            sum_rows16(wy, p->y.taps, rows, stride, n, p->acc);
            OUTPUT_ROW(uint16_t);
        } else {
            sum_rows32(wy, p->y.taps, rows, stride, n, p->acc);
            OUTPUT_ROW(uint32_t);
        }
    }
}
