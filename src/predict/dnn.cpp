// The dnn predictor: an ONNX detection model (YOLOv8 or YOLOv5 layout, as
// Ultralytics exports them) run by OpenCV's DNN module behind the C
// predictor table.
//
// Per frame: letterbox (resize keeping the aspect ratio so the longer side
// is size, pad the rest with gray 114, centred, as Ultralytics does), RGB
// scaled to 0..1, one forward pass, decode, class-wise NMS, boxes mapped
// from the letterboxed input back to source pixels.
//
// Output layouts (N candidate boxes, nc classes; boxes are centre x, centre
// y, width, height in input pixels):
//   yolov8  [1, 4 + nc, N]: box, then one score per class
//   yolov5  [1, N, 5 + nc]: box, objectness, then one score per class
//           (a class's score is objectness times its class score)
//
// The model is run once on a blank input at create, so that a wrong file,
// a wrong format= or a classes file that does not match fails the start
// with a message instead of every frame.
//
// Options: model= (required), classes= (one name per line; default: the
// class index), size (640), conf (0.25), nms (0.45), format (yolov8).
// The source scales frames to size wide (BGR24), which for landscape frames
// is already the letterbox's content; taller frames are resized here. One
// instance per worker: a cv::dnn::Net is not safe to share.
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "predict/guard.hpp"

extern "C" {
#include "predict/nms.h"
#include "predict/registry.h"
#include "util/error.h"
#include "util/opts.h"
}

namespace {

enum class Format { yolov8, yolov5 };

struct Dnn {
    cv::dnn::Net net;
    std::vector<std::string> out_names;
    std::vector<std::string> classes; // empty: labels are class indices
    Format format = Format::yolov8;
    int size = 640;
    double conf = 0.25;
    double nms = 0.45;
    int nc = 0; // classes the model's output has
    cv::Mat input;
    std::vector<fc_nms_box> boxes;
    std::string name; // "dnn:FILE" for results
};

// The candidates and class count in a yolov8 [1, 4+nc, N] or yolov5
// [1, N, 5+nc] output, or a message saying what the output is instead.
std::string check_output(const cv::Mat &out, Format f, int *nc, int *n) {
    std::string shape = "[";
    for (int i = 0; i < out.dims; i++) shape += (i ? "," : "") + std::to_string(out.size[i]);
    shape += "]";
    bool ok = out.dims == 3 && out.size[0] == 1 && out.type() == CV_32F;
    if (ok && f == Format::yolov8) {
        *nc = out.size[1] - 4;
        *n = out.size[2];
    } else if (ok) {
        *nc = out.size[2] - 5;
        *n = out.size[1];
    }
    const char *fmt = f == Format::yolov8 ? "yolov8" : "yolov5";
    const char *other = f == Format::yolov8 ? "yolov5" : "yolov8";
    if (!ok || *nc < 1 || *n < 1)
        return "the model's output is " + shape + (out.type() == CV_32F ? "" : " (not float)") +
               ", and format=" + fmt + " expects " +
               (f == Format::yolov8 ? "[1,4+classes,boxes] (an Ultralytics YOLOv8 export)"
                                    : "[1,boxes,5+classes] (a YOLOv5 export)");
    // Exports have far more candidate boxes than classes (8400 and 80 for
    // YOLOv8 at 640): the other way round, the layout is the other one.
    if (*n < *nc)
        return "the model's output is " + shape + ", which read as format=" + fmt + " means " +
               std::to_string(*n) + " boxes of " + std::to_string(*nc) + " classes: is it a " +
               other + " model (format=" + other + ")?";
    return "";
}

// Why path cannot be an ONNX model we can read, or "" when it may be one.
std::string check_model_file(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return strerror(errno);
    if (S_ISDIR(st.st_mode)) return "it is a directory";
    if (!S_ISREG(st.st_mode)) return "it is not a regular file";
    if (st.st_size == 0) return "it is empty";
    return "";
}

// Letterboxes frame into d->input (size x size, BGR) and returns the scale
// on each axis (the content's size over the frame's: equal but for
// rounding) and the padding, in input pixels.
void letterbox(Dnn *d, const cv::Mat &frame, double *rx, double *ry, double *pad_x, double *pad_y) {
    double s = std::min((double)d->size / frame.cols, (double)d->size / frame.rows);
    int w = std::max(1, (int)std::lround(frame.cols * s)),
        h = std::max(1, (int)std::lround(frame.rows * s));
    int left = (d->size - w) / 2, top = (d->size - h) / 2;
    d->input.create(d->size, d->size, CV_8UC3);
    d->input.setTo(cv::Scalar(114, 114, 114));
    cv::Mat roi = d->input(cv::Rect(left, top, w, h));
    if (w == frame.cols && h == frame.rows)
        frame.copyTo(roi);
    else
        cv::resize(frame, roi, roi.size(), 0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    *rx = (double)w / frame.cols;
    *ry = (double)h / frame.rows;
    *pad_x = left;
    *pad_y = top;
}

cv::Mat forward(Dnn *d) {
    cv::Mat blob = cv::dnn::blobFromImage(d->input, 1 / 255.0, cv::Size(d->size, d->size),
                                          cv::Scalar(), true /* BGR to RGB */, false);
    d->net.setInput(blob);
    std::vector<cv::Mat> outs;
    d->net.forward(outs, d->out_names);
    return outs.at(0);
}

// Candidates above conf from the output, in input pixels.
void decode(Dnn *d, const cv::Mat &out, int n) {
    const float *p = (const float *)out.data;
    d->boxes.clear();
    for (int i = 0; i < n; i++) {
        float cx, cy, w, h, best = -1;
        int cls = 0;
        if (d->format == Format::yolov8) { // column i of a [4+nc, n] matrix
            cx = p[i];
            cy = p[n + i];
            w = p[2 * n + i];
            h = p[3 * n + i];
            for (int c = 0; c < d->nc; c++) {
                float s = p[(size_t)(4 + c) * n + i];
                if (s > best) best = s, cls = c;
            }
        } else { // row i of an [n, 5+nc] matrix
            const float *row = p + (size_t)i * (5 + d->nc);
            float obj = row[4];
            if (!(obj >= d->conf)) continue; // no class can reach conf
            cx = row[0];
            cy = row[1];
            w = row[2];
            h = row[3];
            for (int c = 0; c < d->nc; c++) {
                float s = obj * row[5 + c];
                if (s > best) best = s, cls = c;
            }
        }
        if (!(best >= d->conf) || !std::isfinite(cx) || !std::isfinite(cy) || !std::isfinite(w) ||
            !std::isfinite(h) || w <= 0 || h <= 0)
            continue;
        d->boxes.push_back({cx - w / 2, cy - h / 2, w, h, std::min(best, 1.0f), cls});
    }
}

int create_instance(const char *opts, void **instance, char *err, size_t errlen) {
    fc_opts o;
    if (fc_opts_parse(&o, "--predictor dnn", opts, err, errlen)) return FC_EINVAL_OPT;
    auto *d = new Dnn();
    long size = 640;
    const char *model = fc_opts_get(&o, "model");
    const char *classes = fc_opts_get(&o, "classes");
    const char *format = fc_opts_get(&o, "format");
    int rc = fc_opts_int(&o, "size", 640, 32, 4096, &size, err, errlen);
    if (!rc) rc = fc_opts_double(&o, "conf", 0.25, 0, 1, &d->conf, err, errlen);
    if (!rc) rc = fc_opts_double(&o, "nms", 0.45, 0, 1, &d->nms, err, errlen);
    if (!rc) rc = fc_opts_finish(&o, "model, classes, size, conf, nms, format", err, errlen);
    if (!rc && !model) {
        snprintf(err, errlen,
                 "--predictor dnn: model= is required (an ONNX file, e.g. model=yolov8n.onnx; "
                 "docs/predictors.md shows how to export one)");
        rc = FC_EINVAL_OPT;
    }
    if (!rc && format && strcmp(format, "yolov8") && strcmp(format, "yolov5")) {
        snprintf(err, errlen, "--predictor dnn: format='%s' (expected yolov8 or yolov5)", format);
        rc = FC_EINVAL_OPT;
    }
    if (!rc && size % 32) {
        snprintf(err, errlen,
                 "--predictor dnn: size=%ld is not a multiple of 32 (YOLO models take 320, 416, "
                 "640, ...; use the size the model was exported with)",
                 size);
        rc = FC_EINVAL_OPT;
    }
    if (!rc) {
        d->size = (int)size;
        d->format = format && !strcmp(format, "yolov5") ? Format::yolov5 : Format::yolov8;
        d->name = std::string("dnn:") + (strrchr(model, '/') ? strrchr(model, '/') + 1 : model);
    }
    if (!rc && classes) {
        std::ifstream in(classes);
        if (!in) {
            snprintf(err, errlen, "--predictor dnn: cannot read classes file '%s': %s", classes,
                     strerror(errno));
            rc = FC_EINVAL_OPT;
        }
        for (std::string line; !rc && std::getline(in, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty()) d->classes.push_back(line.substr(0, FC_LABEL_MAX - 1));
        }
        if (!rc && d->classes.empty()) {
            snprintf(err, errlen,
                     "--predictor dnn: classes file '%s' has no names (expected one class name "
                     "per line, in the model's order)",
                     classes);
            rc = FC_EINVAL_OPT;
        }
    }
    if (!rc) {
        std::string why = check_model_file(model);
        if (why.empty()) {
            try {
                d->net = cv::dnn::readNetFromONNX(model);
                d->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
                d->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
                d->out_names = d->net.getUnconnectedOutLayersNames();
                if (d->net.empty() || d->out_names.empty()) why = "OpenCV read no network from it";
            } catch (const cv::Exception &e) {
                why = std::string("OpenCV cannot read it as an ONNX model: ") + e.err;
            }
        }
        if (why.empty()) { // one blank forward pass: the output's layout
            try {
                d->input = cv::Mat(d->size, d->size, CV_8UC3, cv::Scalar(114, 114, 114));
                cv::Mat out = forward(d);
                int n = 0;
                why = check_output(out, d->format, &d->nc, &n);
                if (why.empty() && !d->classes.empty() && (int)d->classes.size() != d->nc)
                    why = "the model has " + std::to_string(d->nc) + " classes and '" +
                          std::string(classes) + "' names " + std::to_string(d->classes.size());
            } catch (const cv::Exception &e) {
                why = "running it on a " + std::to_string(d->size) + "x" + std::to_string(d->size) +
                      " input failed (is size= the size it was exported with?): " + e.err;
            }
        }
        if (!why.empty()) {
            snprintf(err, errlen, "--predictor dnn: model '%s': %s", model, why.c_str());
            rc = FC_EINVAL_OPT;
        }
    }
    fc_opts_free(&o);
    if (rc) {
        delete d;
        return rc;
    }
    *instance = d;
    return 0;
}

int dnn_create(const char *opts, void **instance, char *err, size_t errlen) {
    return guarded("--predictor dnn", err, errlen, FC_EINVAL_OPT,
                   [&] { return create_instance(opts, instance, err, errlen); });
}

void dnn_wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    auto *d = static_cast<Dnn *>(instance);
    *format = FC_PIX_BGR24;
    *width = d->size; // the letterbox's width for a landscape frame
    *height = 0;
}

int detect(Dnn *d, const fc_frame_view *f, fc_detection *out, int max) {
    cv::Mat frame(f->height, f->width, CV_8UC3, const_cast<uint8_t *>(f->data[0]),
                  (size_t)f->stride[0]);
    double rx, ry, pad_x, pad_y;
    letterbox(d, frame, &rx, &ry, &pad_x, &pad_y);
    cv::Mat o = forward(d);
    int nc = 0, n = 0;
    std::string why = check_output(o, d->format, &nc, &n);
    if (!why.empty() || nc != d->nc)
        throw std::runtime_error(why.empty() ? "output changed shape" : why);
    decode(d, o, n);
    int kept = fc_nms(d->boxes.data(), (int)d->boxes.size(), (float)d->nms, 1, max);
    if (kept < 0) throw std::bad_alloc();
    // Input pixels -> frame pixels -> source pixels.
    double sx = (double)f->src_width / f->width, sy = (double)f->src_height / f->height;
    int count = 0;
    for (int i = 0; i < kept; i++) {
        const fc_nms_box &b = d->boxes[i];
        double x0 = std::max(0.0, (b.x - pad_x) / rx), y0 = std::max(0.0, (b.y - pad_y) / ry);
        double x1 = std::min((double)f->width, (b.x + b.w - pad_x) / rx);
        double y1 = std::min((double)f->height, (b.y + b.h - pad_y) / ry);
        if (x1 <= x0 || y1 <= y0) continue; // entirely in the padding
        fc_detection *det = &out[count++];
        if (b.cls < (int)d->classes.size())
            snprintf(det->label, sizeof det->label, "%s", d->classes[b.cls].c_str());
        else
            snprintf(det->label, sizeof det->label, "%d", b.cls);
        det->score = b.score;
        det->box[0] = (float)(x0 * sx);
        det->box[1] = (float)(y0 * sy);
        det->box[2] = (float)((x1 - x0) * sx);
        det->box[3] = (float)((y1 - y0) * sy);
    }
    return count;
}

int dnn_predict(void *instance, const fc_frame_view *f, fc_detection *out, int max, char *err,
                size_t errlen) {
    auto *d = static_cast<Dnn *>(instance);
    if (f->format != FC_PIX_BGR24) {
        snprintf(err, errlen, "dnn: expected a BGR24 frame");
        return -1;
    }
    return guarded("dnn", err, errlen, -1, [&] { return detect(d, f, out, max); });
}

void dnn_destroy(void *instance) {
    delete static_cast<Dnn *>(instance);
}

const char *dnn_model_name(void *instance) {
    return static_cast<Dnn *>(instance)->name.c_str();
}

const fc_predictor_api dnn_api = {
    FC_PREDICTOR_ABI_MAJOR,
    FC_PREDICTOR_ABI_MINOR,
    "dnn",
    0,
    dnn_create,
    dnn_wants,
    dnn_predict,
    dnn_destroy,
    nullptr, // attach
    dnn_model_name,
    nullptr, // batch_size
    nullptr, // predict_batch
};

} // namespace

extern "C" const fc_predictor_api *fc_predictor_dnn(void) {
    return &dnn_api;
}
