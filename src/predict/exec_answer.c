/* The exec predictor's answers (see exec_answer.h). */
#include "predict/exec_answer.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>

/* A JSON number as a float. Converting a double outside float's range is
 * undefined behaviour in C, so those become infinities; the renderer drops
 * detections with non-finite numbers (docs/protocol.md). */
static float to_float(double v) {
    if (isnan(v)) return NAN;
    if (v > FLT_MAX) return INFINITY;
    if (v < -FLT_MAX) return -INFINITY;
    return (float)v;
}

int fc_exec_answer_parse(const char *line, size_t len, const fc_frame_view *f, fc_detection *out,
                         int max, char *err, size_t errlen) {
    cJSON *root = cJSON_ParseWithLength(line, len);
    int n = 0;
    int shown = len < 80 ? (int)len : 80; /* line is not NUL-terminated */
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "exec: the model's answer is not a JSON object: %.*s", shown, line);
        n = FC_EXEC_ANSWER_BROKEN;
        goto out;
    }
    cJSON *frame = cJSON_GetObjectItemCaseSensitive(root, "frame");
    if (!cJSON_IsNumber(frame)) {
        snprintf(err, errlen,
                 "exec: the model's answer does not name its frame (expected \"frame\":%lld): "
                 "%.*s",
                 (long long)f->index, shown, line);
        n = FC_EXEC_ANSWER_BROKEN;
        goto out;
    }
    if (frame->valuedouble != (double)f->index) {
        snprintf(err, errlen,
                 "exec: the model answered frame %.0f when frame %lld was asked (one answer per "
                 "frame, in order)",
                 frame->valuedouble, (long long)f->index);
        n = FC_EXEC_ANSWER_BROKEN;
        goto out;
    }
    cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsString(e)) {
        snprintf(err, errlen, "model: %s", e->valuestring);
        n = FC_EXEC_ANSWER_ERROR;
        goto out;
    }
    cJSON *dets = cJSON_GetObjectItemCaseSensitive(root, "detections");
    if (!cJSON_IsArray(dets)) {
        snprintf(err, errlen,
                 "exec: the model's answer has neither a \"detections\" array nor an \"error\": "
                 "%.*s",
                 shown, line);
        n = FC_EXEC_ANSWER_BROKEN;
        goto out;
    }
    double sx = (double)f->src_width / f->width, sy = (double)f->src_height / f->height;
    cJSON *d;
    cJSON_ArrayForEach(d, dets) {
        if (n == max) break;
        cJSON *label = cJSON_GetObjectItemCaseSensitive(d, "label");
        cJSON *score = cJSON_GetObjectItemCaseSensitive(d, "score");
        cJSON *box = cJSON_GetObjectItemCaseSensitive(d, "box");
        if (!cJSON_IsArray(box) || cJSON_GetArraySize(box) != 4) {
            snprintf(err, errlen, "exec: a detection needs \"box\":[x,y,w,h]: %.*s", shown, line);
            n = FC_EXEC_ANSWER_BROKEN;
            goto out;
        }
        fc_detection *o = &out[n++];
        snprintf(o->label, sizeof o->label, "%s",
                 cJSON_IsString(label) ? label->valuestring : "object");
        o->score = cJSON_IsNumber(score) ? to_float(score->valuedouble) : 1.0f;
        for (int k = 0; k < 4; k++) {
            cJSON *v = cJSON_GetArrayItem(box, k);
            double x = cJSON_IsNumber(v) ? v->valuedouble : 0;
            o->box[k] = to_float(x * (k % 2 == 0 ? sx : sy));
        }
    }
out:
    cJSON_Delete(root);
    return n;
}
