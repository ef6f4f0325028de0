/* Rendering of result messages (see render.h). */
#include "app/render.h"

#include <string.h>

#include "predict/worker.h"
#include "source/frame.h"
#include "util/strbuf.h"

static void json_num(fc_strbuf *sb, double v) {
    fc_sb_printf(sb, "%.6g", v);
}

void fc_render_result(fc_strbuf *sb, const char *stream, uint64_t seq, int64_t publish_us,
                      const char *model, uint64_t skipped, const fc_result *r) {
    const fc_frame *f = r->frame;
    fc_sb_puts(sb, "{\"type\":\"result\",\"stream\":");
    fc_sb_json_str(sb, stream);
    fc_sb_printf(sb,
                 ",\"seq\":%llu,\"capture_us\":%lld,\"publish_us\":%lld,"
                 "\"frame\":{\"index\":%lld,\"width\":%d,\"height\":%d,\"pts_us\":%lld},"
                 "\"model\":",
                 (unsigned long long)seq, (long long)f->capture_us, (long long)publish_us,
                 (long long)f->view.index, f->view.src_width, f->view.src_height,
                 (long long)f->view.pts_us);
    fc_sb_json_str(sb, model);
    fc_sb_printf(sb, ",\"infer_us\":%lld,\"detections\":[", (long long)r->infer_us);
    for (int i = 0; i < r->ndets; i++) {
        const fc_detection *d = &r->dets[i];
        char label[FC_LABEL_MAX + 1];
        memcpy(label, d->label, FC_LABEL_MAX);
        label[FC_LABEL_MAX] = 0; /* a plugin may fill all 32 bytes */
        fc_sb_puts(sb, i ? ",{\"label\":" : "{\"label\":");
        fc_sb_json_str(sb, label);
        fc_sb_puts(sb, ",\"score\":");
        json_num(sb, d->score);
        fc_sb_puts(sb, ",\"box\":[");
        for (int k = 0; k < 4; k++) {
            if (k) fc_sb_puts(sb, ",");
            json_num(sb, d->box[k]);
        }
        fc_sb_puts(sb, "]}");
    }
    fc_sb_printf(sb, "],\"skipped\":%llu", (unsigned long long)skipped);
    if (r->error) {
        fc_sb_puts(sb, ",\"error\":");
        fc_sb_json_str(sb, r->error);
    }
    fc_sb_puts(sb, "}");
}
