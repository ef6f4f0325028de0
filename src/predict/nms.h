/* Greedy non-maximum suppression for the detectors that propose many
 * overlapping boxes (people, dnn): boxes sorted by score, each kept unless
 * it overlaps an already kept box (of the same class, when class-wise) by
 * more than an IoU threshold. Pure functions; any thread. */
#ifndef FC_PREDICT_NMS_H
#define FC_PREDICT_NMS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fc_nms_box {
    float x, y, w, h; /* any consistent pixel units; w, h >= 0 */
    float score;
    int cls; /* class index (compared only when class-wise) */
} fc_nms_box;

/* Intersection over union of two boxes (0 when either is empty). */
float fc_nms_iou(const fc_nms_box *a, const fc_nms_box *b);

/* Reorders boxes[0..n) so the kept boxes come first, by descending score
 * (ties keep their input order), and returns how many were kept. A box is
 * dropped when its IoU with a kept box of higher score exceeds iou (of the
 * same class only, when class_wise). At most max_keep are kept (<= 0: no
 * limit). Returns -1 when out of memory (boxes unchanged). */
int fc_nms(fc_nms_box *boxes, int n, float iou, int class_wise, int max_keep);

#ifdef __cplusplus
}
#endif

#endif
