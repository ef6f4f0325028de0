// The cascade predictor: OpenCV's CascadeClassifier (Haar or LBP) behind the
// C predictor table. The only C++ file in framecast; it is built when
// OpenCV's objdetect module is present (scripts/bootstrap installs it).
//
// Options: model= (a file name in Debian's opencv-data directories, e.g.
// haarcascade_frontalface_default.xml, or a path), scale_factor (1.1),
// min_neighbors (3), min_size (pixels, 30), width (working width, 640;
// 0 = source width), label (the model's name without extension).
// One instance per worker: CascadeClassifier::detectMultiScale is not
// documented as thread-safe.
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "predict/guard.hpp"

extern "C" {
#include "predict/registry.h"
#include "util/error.h"
#include "util/log.h"
#include "util/opts.h"
}

namespace {

struct Cascade {
    cv::CascadeClassifier classifier;
    double scale_factor = 1.1;
    int min_neighbors = 3;
    int min_size = 30;
    int width = 640;
    std::string label;
};

const char *const kDataDirs[] = {"/usr/share/opencv4/haarcascades/",
                                 "/usr/share/opencv4/lbpcascades/"};

// A name without '/' is looked up in opencv-data's directories, then in the
// current directory; "" if it is in none.
std::string resolve_model(const std::string &model) {
    if (model.find('/') != std::string::npos) return model;
    for (const char *dir : kDataDirs) {
        std::string path = std::string(dir) + model;
        if (access(path.c_str(), F_OK) == 0) return path;
    }
    return access(model.c_str(), F_OK) == 0 ? model : "";
}

// What is wrong with the file at path for a cascade, or "" when it may be
// one. Checked before OpenCV sees it, so the message can say what the file
// is instead of OpenCV's parser error (or, in older versions, an abort).
std::string check_model_file(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return strerror(errno);
    if (S_ISDIR(st.st_mode)) return "it is a directory";
    if (!S_ISREG(st.st_mode)) return "it is not a regular file";
    if (st.st_size == 0) return "it is empty";
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) return strerror(errno);
    unsigned char head[16] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF)
        return "it is a JPEG image, not a cascade XML file";
    if (n >= 4 && memcmp(head, "\x89PNG", 4) == 0)
        return "it is a PNG image, not a cascade XML file";
    if (n >= 8 && memcmp(head + 4, "ftyp", 4) == 0)
        return "it is an MP4/QuickTime video, not a cascade XML file";
    size_t i = n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; // a UTF-8 BOM
    while (i < n && isspace(head[i])) i++;
    if (i < n && head[i] != '<') return "it is not an XML file";
    return "";
}

int create_instance(const char *opts, void **instance, char *err, size_t errlen) {
    fc_opts o;
    if (fc_opts_parse(&o, "--predictor cascade", opts, err, errlen)) return FC_EINVAL_OPT;
    auto *c = new Cascade();
    long neighbors = 0, min_size = 0, width = 0;
    const char *model = fc_opts_get(&o, "model");
    const char *label = fc_opts_get(&o, "label");
    int rc = fc_opts_double(&o, "scale_factor", 1.1, 1.01, 4, &c->scale_factor, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "min_neighbors", 3, 0, 100, &neighbors, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "min_size", 30, 1, 10000, &min_size, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "width", 640, 0, 16384, &width, err, errlen);
    if (!rc)
        rc = fc_opts_finish(&o, "model, scale_factor, min_neighbors, min_size, width, label", err,
                            errlen);
    if (!rc && !model) {
        snprintf(err, errlen,
                 "--predictor cascade: model= is required (e.g. "
                 "model=haarcascade_frontalface_default.xml)");
        rc = FC_EINVAL_OPT;
    }
    std::string path;
    if (!rc) {
        path = resolve_model(model);
        std::string why = path.empty() ? "no such file in /usr/share/opencv4/haarcascades, "
                                         "lbpcascades or the current directory"
                                       : check_model_file(path);
        if (why.empty()) {
            try { // a malformed XML file throws from OpenCV's parser
                if (!c->classifier.load(path))
                    why = "OpenCV cannot read it as a cascade (a truncated file, or another kind "
                          "of XML?)";
            } catch (const cv::Exception &e) {
                // OpenCV 4.6's parser puts "FILE(LINE): what" in func and its
                // own function's name in err: take whichever says where.
                const std::string &where = e.func.find("): ") != std::string::npos ? e.func : e.err;
                why = "it is not a valid cascade XML file (OpenCV: " + where + ")";
            } catch (const std::exception &e) {
                why = std::string("it is not a valid cascade XML file (") + e.what() + ")";
            }
        }
        if (!why.empty()) {
            snprintf(err, errlen,
                     "--predictor cascade: cannot load model '%s': %s (expected a cascade XML "
                     "file, by path or by name from /usr/share/opencv4/haarcascades or "
                     "lbpcascades)",
                     model, why.c_str());
            rc = FC_EINVAL_OPT;
        }
    }
    if (!rc) {
        c->min_neighbors = (int)neighbors;
        c->min_size = (int)min_size;
        c->width = (int)width;
        if (label) {
            c->label = label;
        } else {
            std::string base = path.substr(path.find_last_of('/') + 1);
            c->label = base.substr(0, base.find('.'));
            if (c->label.rfind("haarcascade_", 0) == 0)
                c->label = c->label.substr(12);
            else if (c->label.rfind("lbpcascade_", 0) == 0)
                c->label = c->label.substr(11);
        }
        *instance = c;
    } else {
        delete c;
    }
    fc_opts_free(&o);
    return rc;
}

int cascade_create(const char *opts, void **instance, char *err, size_t errlen) {
    return guarded("--predictor cascade", err, errlen, FC_EINVAL_OPT,
                   [&] { return create_instance(opts, instance, err, errlen); });
}

void cascade_wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    auto *c = static_cast<Cascade *>(instance);
    *format = FC_PIX_GRAY8;
    *width = c->width;
    *height = 0;
}

// One frame, whose format was checked; may throw.
static int detect(Cascade *c, const fc_frame_view *f, fc_detection *out, int max) {
    // A header over the frame's pixels: no copy.
    cv::Mat gray(f->height, f->width, CV_8UC1, const_cast<uint8_t *>(f->data[0]),
                 (size_t)f->stride[0]);
    cv::Mat eq;
    cv::equalizeHist(gray, eq);
    std::vector<cv::Rect> found;
    std::vector<int> levels;
    std::vector<double> weights;
    double s = (double)f->width / f->src_width;
    int min_px = (int)(c->min_size * s) > 1 ? (int)(c->min_size * s) : 1;
    c->classifier.detectMultiScale(eq, found, levels, weights, c->scale_factor, c->min_neighbors, 0,
                                   cv::Size(min_px, min_px), cv::Size(), true);
    double sx = (double)f->src_width / f->width, sy = (double)f->src_height / f->height;
    int n = 0;
    for (size_t i = 0; i < found.size() && n < max; i++) {
        fc_detection *d = &out[n++];
        snprintf(d->label, sizeof d->label, "%s", c->label.c_str());
        // levelWeights are unbounded confidences; squash them into 0..1.
        double w = i < weights.size() ? weights[i] : 1.0;
        d->score = (float)(w > 0 ? w / (w + 1.0) : 0.0);
        d->box[0] = (float)(found[i].x * sx);
        d->box[1] = (float)(found[i].y * sy);
        d->box[2] = (float)(found[i].width * sx);
        d->box[3] = (float)(found[i].height * sy);
    }
    return n;
}

int cascade_predict(void *instance, const fc_frame_view *f, fc_detection *out, int max, char *err,
                    size_t errlen) {
    auto *c = static_cast<Cascade *>(instance);
    if (f->format != FC_PIX_GRAY8) {
        snprintf(err, errlen, "cascade: expected a GRAY8 frame");
        return -1;
    }
    return guarded("cascade", err, errlen, -1, [&] { return detect(c, f, out, max); });
}

void cascade_destroy(void *instance) {
    delete static_cast<Cascade *>(instance);
}

const fc_predictor_api cascade_api = {
    FC_PREDICTOR_ABI_MAJOR,
    FC_PREDICTOR_ABI_MINOR,
    "cascade",
    0,
    cascade_create,
    cascade_wants,
    cascade_predict,
    cascade_destroy,
    nullptr, // attach
    nullptr, // model_name
    nullptr, // batch_size
    nullptr, // predict_batch
};

} // namespace

extern "C" const fc_predictor_api *fc_predictor_cascade(void) {
    return &cascade_api;
}
