/* Decoded frames as they travel from a source to the predictor workers.
 * A frame is written by the source thread before it is handed over, then
 * only read; whoever holds it last frees it (fc_frame_free). */
#ifndef FC_SOURCE_FRAME_H
#define FC_SOURCE_FRAME_H

#include <stdint.h>

#include "framecast/predictor.h"

#define FC_MAX_TRUTH 16

/* A ground-truth box known to a synthetic source. */
typedef struct fc_box {
    int x, y, w, h;
} fc_box;

typedef struct fc_frame {
    fc_frame_view view;
    int64_t capture_us; /* wall clock when the frame was made or decoded */
    int ntruth;         /* ground truth, synthetic sources only */
    fc_box truth[FC_MAX_TRUTH];
    uint8_t *pixels; /* owned storage behind view.data */
} fc_frame;

/* A frame with w x h RGB24 storage, or NULL. */
fc_frame *fc_frame_new_rgb(int w, int h);
void fc_frame_free(fc_frame *f);

#endif
