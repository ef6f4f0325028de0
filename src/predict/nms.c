/* Greedy non-maximum suppression (see nms.h). O(n log n + n * kept):
 * detectors hand it at most a few thousand candidates after their score
 * threshold. */
#include "predict/nms.h"

#include <stdlib.h>

float fc_nms_iou(const fc_nms_box *a, const fc_nms_box *b) {
    float x0 = a->x > b->x ? a->x : b->x, y0 = a->y > b->y ? a->y : b->y;
    float x1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
    float y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    if (x1 <= x0 || y1 <= y0) return 0;
    float inter = (x1 - x0) * (y1 - y0);
    float uni = a->w * a->h + b->w * b->h - inter;
    return uni > 0 ? inter / uni : 0;
}

struct ranked {
    fc_nms_box box;
    int order;
};

static int by_score(const void *pa, const void *pb) {
    const struct ranked *a = pa, *b = pb;
    if (a->box.score != b->box.score) return a->box.score > b->box.score ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* Descending score, ties in input order. Returns -1 without memory. */
static int sort_by_score(fc_nms_box *b, int n) {
    struct ranked *r = malloc((size_t)n * sizeof *r);
    if (!r) return -1;
    for (int i = 0; i < n; i++) r[i] = (struct ranked){b[i], i};
    qsort(r, (size_t)n, sizeof *r, by_score);
    for (int i = 0; i < n; i++) b[i] = r[i].box;
    free(r);
    return 0;
}

int fc_nms(fc_nms_box *boxes, int n, float iou, int class_wise, int max_keep) {
    if (n <= 0) return 0;
    if (sort_by_score(boxes, n)) return -1;
    int kept = 0;
    for (int i = 0; i < n && (max_keep <= 0 || kept < max_keep); i++) {
        int keep = 1;
        for (int k = 0; k < kept && keep; k++) {
            if (class_wise && boxes[k].cls != boxes[i].cls) continue;
            if (fc_nms_iou(&boxes[k], &boxes[i]) > iou) keep = 0;
        }
        if (keep) {
            fc_nms_box t = boxes[i];
            boxes[i] = boxes[kept];
            boxes[kept++] = t;
        }
    }
    return kept;
}
