// The people predictor: OpenCV's HOG pedestrian detector (Dalal and
// Triggs' linear SVM, HOGDescriptor::getDefaultPeopleDetector; its weights
// are compiled into libopencv_objdetect, nothing to download) behind the C
// predictor table, with non-maximum suppression over the raw windows.
//
// The detector looks for upright people about 96 pixels tall (a 64x128
// window with a margin) and larger ones through an image pyramid. Smaller
// people need the frame enlarged first: scale= (2 finds people about 48
// pixels tall, at about four times the cost). A window's box includes the
// margin the SVM was trained with; boxes are shrunk to the person inside
// as OpenCV's own sample (peopledetect.cpp) does: 80 % of the width and of
// the height, 10 % in from the left, 7 % down from the top.
//
// Options: scale (1; the frame is resized by it before detection),
// pyramid (1.05, the pyramid step), min_score (0.5: a window's SVM margin m
// scores m / (m + 1), so 0.5 keeps margins of 1 and more), nms (0.3, IoU
// above which the weaker of two boxes is dropped), stride (8, window step
// in pixels). Gray frames at the source's size (the source thread's
// cheapest preparation: its Y plane). One instance per worker:
// detectMultiScale is not documented as thread-safe.
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <cmath>
#include <cstdio>
#include <exception>
#include <vector>

#include "predict/guard.hpp"

extern "C" {
#include "predict/nms.h"
#include "predict/registry.h"
#include "util/error.h"
#include "util/opts.h"
}

namespace {

struct People {
    cv::HOGDescriptor hog;
    double scale = 1;
    double pyramid = 1.05;
    double nms = 0.3;
    double min_score = 0.5;
    int stride = 8;
    std::vector<fc_nms_box> boxes; // reused across frames
};

int create_instance(const char *opts, void **instance, char *err, size_t errlen) {
    fc_opts o;
    if (fc_opts_parse(&o, "--predictor people", opts, err, errlen)) return FC_EINVAL_OPT;
    auto *p = new People();
    long stride = 8;
    int rc = fc_opts_double(&o, "scale", 1, 0.25, 4, &p->scale, err, errlen);
    if (!rc) rc = fc_opts_double(&o, "pyramid", 1.05, 1.01, 2, &p->pyramid, err, errlen);
    if (!rc) rc = fc_opts_double(&o, "nms", 0.3, 0, 1, &p->nms, err, errlen);
    if (!rc) rc = fc_opts_double(&o, "min_score", 0.5, 0, 0.99, &p->min_score, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "stride", 8, 4, 64, &stride, err, errlen);
    if (!rc && stride % 4) {
        snprintf(err, errlen,
                 "--predictor people: stride=%ld must be a multiple of 4 (the HOG cell grid; "
                 "e.g. 4, 8 or 16)",
                 stride);
        rc = FC_EINVAL_OPT;
    }
    if (!rc) rc = fc_opts_finish(&o, "scale, pyramid, min_score, nms, stride", err, errlen);
    fc_opts_free(&o);
    if (rc) {
        delete p;
        return rc;
    }
    p->stride = (int)stride;
    p->hog.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
    *instance = p;
    return 0;
}

int people_create(const char *opts, void **instance, char *err, size_t errlen) {
    return guarded("--predictor people", err, errlen, FC_EINVAL_OPT,
                   [&] { return create_instance(opts, instance, err, errlen); });
}

void people_wants(void *, enum fc_pixfmt *format, int *width, int *height) {
    *format = FC_PIX_GRAY8;
    *width = 0; // the source's size: scale= resizes here, on the worker
    *height = 0;
}

int detect(People *p, const fc_frame_view *f, fc_detection *out, int max) {
    cv::Mat gray(f->height, f->width, CV_8UC1, const_cast<uint8_t *>(f->data[0]),
                 (size_t)f->stride[0]);
    cv::Mat img = gray;
    if (p->scale != 1)
        cv::resize(gray, img, cv::Size(), p->scale, p->scale,
                   p->scale > 1 ? cv::INTER_LINEAR : cv::INTER_AREA);
    std::vector<cv::Rect> found;
    std::vector<double> weights;
    // The hit threshold is the SVM margin min_score stands for; finalThreshold
    // 0 keeps every window above it, for the NMS below instead of OpenCV's
    // rectangle grouping (which averages boxes and drops lone detections).
    double margin = p->min_score / (1 - p->min_score);
    p->hog.detectMultiScale(img, found, weights, margin, cv::Size(p->stride, p->stride),
                            cv::Size(8, 8), p->pyramid, 0, false);
    p->boxes.clear();
    for (size_t i = 0; i < found.size(); i++) {
        double w = i < weights.size() ? weights[i] : 0;
        // SVM margins are unbounded; squash them into 0..1 as cascade does.
        float score = (float)(w > 0 ? w / (w + 1.0) : 0.0);
        if (score < p->min_score) continue;
        const cv::Rect &r = found[i];
        p->boxes.push_back({(float)(r.x + r.width * 0.1), (float)(r.y + r.height * 0.07),
                            (float)(r.width * 0.8), (float)(r.height * 0.8), score, 0});
    }
    int kept = fc_nms(p->boxes.data(), (int)p->boxes.size(), (float)p->nms, 0, max);
    if (kept < 0) throw std::bad_alloc();
    // Back to source pixels: the frame may be scaled (by the source) and
    // resized (by scale).
    double sx = (double)f->src_width / img.cols, sy = (double)f->src_height / img.rows;
    for (int i = 0; i < kept; i++) {
        const fc_nms_box &b = p->boxes[i];
        fc_detection *d = &out[i];
        snprintf(d->label, sizeof d->label, "person");
        d->score = b.score;
        d->box[0] = (float)(b.x * sx);
        d->box[1] = (float)(b.y * sy);
        d->box[2] = (float)(b.w * sx);
        d->box[3] = (float)(b.h * sy);
    }
    return kept;
}

int people_predict(void *instance, const fc_frame_view *f, fc_detection *out, int max, char *err,
                   size_t errlen) {
    auto *p = static_cast<People *>(instance);
    if (f->format != FC_PIX_GRAY8) {
        snprintf(err, errlen, "people: expected a GRAY8 frame");
        return -1;
    }
    return guarded("people", err, errlen, -1, [&] { return detect(p, f, out, max); });
}

void people_destroy(void *instance) {
    delete static_cast<People *>(instance);
}

const fc_predictor_api people_api = {
    FC_PREDICTOR_ABI_MAJOR,
    FC_PREDICTOR_ABI_MINOR,
    "people",
    0,
    people_create,
    people_wants,
    people_predict,
    people_destroy,
    nullptr, // attach
    nullptr, // model_name
    nullptr, // batch_size
    nullptr, // predict_batch
};

} // namespace

extern "C" const fc_predictor_api *fc_predictor_people(void) {
    return &people_api;
}
