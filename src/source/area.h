/* Area-average downscaling of an RGB24/BGR24 image into a gray one, for the
 * predictors that want GRAY8 (motion, cascade, people): each output pixel is
 * the BT.601 luma of the exact mean of the source area it covers (a source
 * pixel partly inside counts for the part inside), rounded to nearest.
 *
 * Why not libswscale: it converts every source pixel to luma before it
 * scales; this sums the three channels over each area first and converts
 * once per output pixel, a third of libswscale's cost on the source thread
 * (docs/benchmarks.md). Luma is linear, so the result is libswscale's
 * (SWS_AREA, the same weights) up to rounding. From YUV input the gray image
 * is the Y plane and libswscale scales only that plane; it is as cheap as
 * this there, so convert.c leaves it the job.
 *
 * A plan holds the weights for one pair of sizes and one input kind, and is
 * rebuilt only when they change. Plans are plain structs owned by their
 * caller (a source thread's converter); nothing is shared. */
#ifndef FC_SOURCE_AREA_H
#define FC_SOURCE_AREA_H

#include <stdint.h>

/* One axis: for each output index, its first source index and taps integer
 * weights (zero-padded), which sum to den for every output index. */
typedef struct fc_area_axis {
    int taps;
    int *first;  /* out entries */
    uint32_t *w; /* out * taps entries */
    uint32_t den;
} fc_area_axis;

enum fc_area_input {
    FC_AREA_RGB24 = 1, /* packed R, G, B */
    FC_AREA_BGR24,     /* packed B, G, R */
};

typedef struct fc_area_plan {
    int in_w, in_h, out_w, out_h;
    enum fc_area_input input;
    fc_area_axis x, y;
    void *acc;      /* column sums of one output row (uint16_t or uint32_t) */
    uint32_t *luma; /* their luma-weighted sum per column (the common case) */
    int wide;       /* acc holds uint32_t (a vertical sum can pass 65535) */
} fc_area_plan;

/* 1 when a plan can scale in_w x in_h to out_w x out_h: a downscale or the
 * same size on each axis, sizes up to 16384 (upscaling is libswscale's). */
int fc_area_supported(int in_w, int in_h, int out_w, int out_h);

/* (Re)builds plan unless it already matches. Returns 0, or -1 (no memory,
 * or sizes fc_area_supported refuses): the plan is then empty. */
int fc_area_prepare(fc_area_plan *plan, int in_w, int in_h, int out_w, int out_h,
                    enum fc_area_input input);

/* Scales src (stride bytes per row) into the 8-bit dst (dst_stride). */
void fc_area_run(fc_area_plan *plan, const uint8_t *src, int stride, uint8_t *dst, int dst_stride);

void fc_area_free(fc_area_plan *plan);

#endif
