/* Rendering of result messages (see render.h).
 *
 * What a predictor returns is not trusted: a model or a plug-in may report
 * NaN or infinite numbers (which JSON cannot carry: a browser's JSON.parse
 * rejects the whole message), boxes outside the frame or with negative
 * sizes, scores outside 0..1, and more detections than it was given room
 * for. Every message must stay valid JSON whatever it returned, so the
 * rules of docs/protocol.md are applied here, once, for every predictor:
 * a detection with a non-finite number is dropped, a box is clipped to the
 * frame and dropped when nothing of it is left inside, a score is clamped
 * to 0..1, at most FC_MAX_DETECTIONS are rendered, and the result's error
 * says what was dropped. */
#include "app/render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "predict/worker.h"
#include "source/frame.h"
#include "util/strbuf.h"

static double clampd(double v, double lo, double hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* A detection as it will be sent, or 0 if it has to be dropped
 * (*nonfinite set when that is why). */
static int clean_detection(const fc_detection *d, int frame_w, int frame_h, double *score,
                           double box[4], int *nonfinite) {
    *nonfinite = !isfinite(d->score);
    for (int k = 0; k < 4; k++) *nonfinite |= !isfinite(d->box[k]);
    if (*nonfinite) return 0;
    /* Doubles from here: x + w of two finite floats cannot overflow. */
    double x0 = clampd(d->box[0], 0, frame_w),
           x1 = clampd((double)d->box[0] + d->box[2], 0, frame_w);
    double y0 = clampd(d->box[1], 0, frame_h),
           y1 = clampd((double)d->box[1] + d->box[3], 0, frame_h);
    if (!(x1 > x0 && y1 > y0)) return 0; /* negative size, or wholly outside */
    box[0] = x0;
    box[1] = y0;
    box[2] = x1 - x0;
    box[3] = y1 - y0;
    *score = clampd(d->score, 0, 1);
    return 1;
}

/* Numbers as docs/protocol.md says: a score to 4 decimals, a box
 * coordinate to 2 (an integral one as an integer), trailing zeros left out.
 * Finite by construction (clean_detection). */
#define SCORE_DECIMALS 4
#define BOX_DECIMALS   2

/* The members every result starts with: type, stream, epoch, seq. */
static void put_head(fc_strbuf *sb, const fc_result_meta *m) {
    fc_sb_puts(sb, "{\"type\":\"result\",\"stream\":");
    fc_sb_json_str(sb, m->stream);
    fc_sb_puts(sb, ",\"epoch\":");
    fc_sb_json_str(sb, m->epoch);
    fc_sb_puts(sb, ",\"seq\":");
    fc_sb_u64(sb, m->seq);
}

void fc_render_result(fc_strbuf *sb, const fc_result_meta *m, const fc_result *r) {
    const fc_frame *f = r->frame;
    int fw = f->view.src_width, fh = f->view.src_height;
    put_head(sb, m);
    fc_sb_puts(sb, ",\"capture_us\":");
    fc_sb_i64(sb, f->capture_us);
    fc_sb_puts(sb, ",\"publish_us\":");
    fc_sb_i64(sb, m->publish_us);
    fc_sb_puts(sb, ",\"frame\":{\"index\":");
    fc_sb_i64(sb, f->view.index);
    fc_sb_puts(sb, ",\"width\":");
    fc_sb_i64(sb, fw);
    fc_sb_puts(sb, ",\"height\":");
    fc_sb_i64(sb, fh);
    fc_sb_puts(sb, ",\"pts_us\":");
    fc_sb_i64(sb, f->view.pts_us);
    fc_sb_puts(sb, "},\"model\":");
    fc_sb_json_str(sb, m->model);
    fc_sb_puts(sb, ",\"infer_us\":");
    fc_sb_i64(sb, r->infer_us);
    fc_sb_puts(sb, ",\"detections\":[");
    int n = r->ndets < 0 ? 0 : r->ndets > FC_MAX_DETECTIONS ? FC_MAX_DETECTIONS : r->ndets;
    int sent = 0, nonfinite = 0, outside = 0;
    for (int i = 0; i < n; i++) {
        const fc_detection *d = &r->dets[i];
        double score, box[4];
        int nf;
        if (!clean_detection(d, fw, fh, &score, box, &nf)) {
            nonfinite += nf;
            outside += !nf;
            continue;
        }
        char label[FC_LABEL_MAX + 1];
        memcpy(label, d->label, FC_LABEL_MAX);
        label[FC_LABEL_MAX] = 0; /* a plugin may fill all 32 bytes */
        fc_sb_puts(sb, sent++ ? ",{\"label\":" : "{\"label\":");
        fc_sb_json_str(sb, label);
        fc_sb_puts(sb, ",\"score\":");
        fc_sb_fixed(sb, score, SCORE_DECIMALS);
        fc_sb_puts(sb, ",\"box\":[");
        for (int k = 0; k < 4; k++) {
            if (k) fc_sb_append(sb, ",", 1);
            fc_sb_fixed(sb, box[k], BOX_DECIMALS);
        }
        fc_sb_puts(sb, "]}");
    }
    fc_sb_puts(sb, "],\"skipped\":");
    fc_sb_u64(sb, m->skipped);
    char dropped[160] = "";
    if (nonfinite || outside)
        snprintf(dropped, sizeof dropped,
                 "%d of %d detections dropped (%d with a non-finite number, %d with no area "
                 "inside the %dx%d frame)",
                 nonfinite + outside, n, nonfinite, outside, fw, fh);
    if (r->error || dropped[0]) {
        fc_strbuf e;
        fc_sb_init(&e, 256);
        if (r->error) fc_sb_puts(&e, r->error);
        if (r->error && dropped[0]) fc_sb_puts(&e, "; ");
        fc_sb_puts(&e, dropped);
        fc_sb_puts(sb, ",\"error\":");
        fc_sb_json_str(sb, e.data);
        fc_sb_free(&e);
    }
    fc_sb_puts(sb, "}");
}

void fc_render_pushed(fc_strbuf *sb, const fc_result_meta *m, const char *members, size_t len) {
    put_head(sb, m);
    fc_sb_puts(sb, ",\"publish_us\":");
    fc_sb_i64(sb, m->publish_us);
    if (len) {
        fc_sb_puts(sb, ",");
        fc_sb_append(sb, members, len);
    }
    fc_sb_puts(sb, "}");
}
