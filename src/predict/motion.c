/* The motion predictor: boxes around what moves, in pure C.
 *
 * Per frame, on a grayscale frame the source has already scaled to the
 * working width: absolute difference against a background model, threshold,
 * dilation, connected components, boxes above a minimum area (merged when
 * they touch), mapped back to source pixels.
 *
 * Background model: a running average (alpha) updated only where no motion
 * is seen, so a moving object does not smear into the background and leave
 * a trail. A pixel that stays "moving" for absorb_s seconds (an object that
 * stopped, or the ghost of one that was there when the stream started) is
 * taken into the background. Frigate's motion detector works the same way
 * on a downscaled frame.
 *
 * Options: width (working width, 320), threshold (per-pixel difference,
 * 25), min_area (in source pixels, 200), alpha (0.05), dilate (passes, 2),
 * absorb_s (seconds, 4).
 *
 * Several workers (workers=N): the background model needs every frame in
 * order, and N instances would each see every Nth frame and learn a
 * background from frames far apart. So the table is FC_PREDICTOR_THREAD_SAFE
 * and all workers share one instance behind a mutex: frames are processed
 * one at a time (motion takes about a millisecond per frame, so extra
 * workers buy nothing here), and a frame older than one already processed
 * (two workers racing for the lock) is answered with no detections without
 * touching the model; the sequencer drops its result anyway, as a newer
 * frame's result went out first. */
#include <math.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict/registry.h"
#include "util/error.h"
#include "util/opts.h"

struct motion {
    pthread_mutex_t mu; /* one frame at a time (the instance is shared) */
    int64_t last_index; /* newest frame processed; -1 before the first */
    int width;
    int threshold;
    long min_area;
    double alpha;
    int dilate;
    double absorb_s;
    /* state, sized on the first frame */
    int w, h;
    float *bg;
    uint16_t *age;       /* consecutive frames each pixel has been moving */
    uint8_t *raw;        /* pixels that differ from the background */
    uint8_t *prev;       /* the previous frame */
    uint8_t *mask, *tmp; /* raw, dilated */
    int *labels, *stack;
    int64_t last_pts_us;
    double fps; /* estimated from pts, for absorb_s */
};

struct comp {
    int x0, y0, x1, y1; /* inclusive */
    long area;
    long changed; /* pixels that also changed since the previous frame */
    int alive;
};

static int motion_create(const char *opts, void **instance, char *err, size_t errlen) {
    fc_opts o;
    if (fc_opts_parse(&o, "--predictor motion", opts, err, errlen)) return FC_EINVAL_OPT;
    struct motion *m = calloc(1, sizeof *m);
    long width = 0, threshold = 0, dilate = 0;
    int rc = m ? 0 : -ENOMEM;
    if (!m) snprintf(err, errlen, "--predictor motion: out of memory");
    if (!rc) rc = fc_opts_int(&o, "width", 320, 16, 4096, &width, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "threshold", 25, 1, 255, &threshold, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "min_area", 200, 1, 100000000, &m->min_area, err, errlen);
    if (!rc) rc = fc_opts_double(&o, "alpha", 0.05, 0.0001, 1, &m->alpha, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "dilate", 2, 0, 16, &dilate, err, errlen);
    if (!rc) rc = fc_opts_double(&o, "absorb_s", 4, 0.1, 3600, &m->absorb_s, err, errlen);
    if (!rc)
        rc = fc_opts_finish(&o, "width, threshold, min_area, alpha, dilate, absorb_s", err, errlen);
    fc_opts_free(&o);
    if (rc) {
        free(m);
        return rc == -ENOMEM ? -ENOMEM : FC_EINVAL_OPT;
    }
    m->width = (int)width;
    m->threshold = (int)threshold;
    m->dilate = (int)dilate;
    m->fps = 30;
    m->last_index = -1;
    pthread_mutex_init(&m->mu, NULL);
    *instance = m;
    return 0;
}

static void motion_wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    struct motion *m = instance;
    *format = FC_PIX_GRAY8;
    *width = m->width;
    *height = 0; /* keep the aspect ratio */
}

static void free_state(struct motion *m) {
    free(m->bg);
    free(m->age);
    free(m->raw);
    free(m->prev);
    free(m->mask);
    free(m->tmp);
    free(m->labels);
    free(m->stack);
    m->bg = NULL;
    m->age = NULL;
    m->raw = m->prev = m->mask = m->tmp = NULL;
    m->labels = m->stack = NULL;
}

static int init_state(struct motion *m, const fc_frame_view *f) {
    free_state(m);
    size_t n = (size_t)f->width * (size_t)f->height;
    m->w = f->width;
    m->h = f->height;
    m->bg = malloc(n * sizeof *m->bg);
    m->age = calloc(n, sizeof *m->age);
    m->raw = malloc(n);
    m->prev = malloc(n);
    m->mask = malloc(n);
    m->tmp = malloc(n);
    m->labels = malloc(n * sizeof *m->labels);
    m->stack = malloc(n * sizeof *m->stack);
    if (!m->bg || !m->age || !m->raw || !m->prev || !m->mask || !m->tmp || !m->labels ||
        !m->stack) {
        /* All or nothing: a half-built state would pass the check in
         * motion_predict next time and be used with NULL buffers. */
        free_state(m);
        m->w = m->h = 0;
        return -1;
    }
    for (int y = 0; y < m->h; y++)
        for (int x = 0; x < m->w; x++) {
            size_t i = (size_t)y * m->w + x;
            m->bg[i] = m->prev[i] = f->data[0][(size_t)y * f->stride[0] + x];
        }
    return 0;
}

/* One pass of 3x3 dilation of src into dst. */
static void dilate3(const uint8_t *src, uint8_t *dst, int w, int h) {
    for (int y = 0; y < h; y++) {
        const uint8_t *up = src + (size_t)(y > 0 ? y - 1 : y) * w;
        const uint8_t *mid = src + (size_t)y * w;
        const uint8_t *dn = src + (size_t)(y < h - 1 ? y + 1 : y) * w;
        uint8_t *out = dst + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int l = x > 0 ? x - 1 : x, r = x < w - 1 ? x + 1 : x;
            out[x] = up[l] | up[x] | up[r] | mid[l] | mid[x] | mid[r] | dn[l] | dn[x] | dn[r];
        }
    }
}

static int boxes_touch(const struct comp *a, const struct comp *b, int gap) {
    return a->x0 <= b->x1 + gap && b->x0 <= a->x1 + gap && a->y0 <= b->y1 + gap &&
           b->y0 <= a->y1 + gap;
}

static int detect(struct motion *m, const fc_frame_view *f, fc_detection *out, int max, char *err,
                  size_t errlen) {
    if (f->format != FC_PIX_GRAY8) {
        snprintf(err, errlen, "motion: expected a GRAY8 frame");
        return -1;
    }
    if (!m->bg || m->w != f->width || m->h != f->height) {
        if (init_state(m, f)) {
            snprintf(err, errlen, "motion: out of memory");
            return -1;
        }
        m->last_pts_us = f->pts_us;
        return 0; /* the first frame only seeds the background */
    }
    if (f->pts_us > m->last_pts_us) { /* smoothed frame rate, for absorb_s */
        double fps = 1e6 / (double)(f->pts_us - m->last_pts_us);
        if (fps > 0.5 && fps < 1000) m->fps = 0.9 * m->fps + 0.1 * fps;
    }
    m->last_pts_us = f->pts_us;
    int w = m->w, h = m->h;
    size_t n = (size_t)w * h;
    unsigned absorb = (unsigned)(m->absorb_s * m->fps);
    if (absorb > 65000) absorb = 65000;

    /* Difference and threshold. */
    for (int y = 0; y < h; y++) {
        const uint8_t *row = f->data[0] + (size_t)y * f->stride[0];
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            m->raw[i] = fabsf((float)row[x] - m->bg[i]) > (float)m->threshold;
        }
    }
    /* Background update from the raw difference: still pixels follow the
     * frame; moving ones wait, unless they have been moving for too long. */
    float a = (float)m->alpha;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = f->data[0] + (size_t)y * f->stride[0];
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!m->raw[i]) {
                m->bg[i] += a * ((float)row[x] - m->bg[i]);
                m->age[i] = 0;
            } else if (++m->age[i] >= absorb) {
                m->bg[i] = row[x];
                m->age[i] = 0;
            }
        }
    }
    /* Dilation closes gaps inside textured objects. */
    memcpy(m->mask, m->raw, n);
    for (int k = 0; k < m->dilate; k++) {
        dilate3(m->mask, m->tmp, w, h);
        uint8_t *t = m->mask;
        m->mask = m->tmp;
        m->tmp = t;
    }
    /* Connected components (8-connected) by flood fill with an explicit stack. */
    memset(m->labels, 0, n * sizeof *m->labels);
    struct comp comps[512];
    int ncomp = 0;
    for (size_t start = 0; start < n && ncomp < 512; start++) {
        if (!m->mask[start] || m->labels[start]) continue;
        struct comp c = {w, h, -1, -1, 0, 0, 1};
        int sp = 0;
        m->stack[sp++] = (int)start;
        m->labels[start] = ncomp + 1;
        while (sp) {
            int i = m->stack[--sp], x = i % w, y = i / w;
            c.area++;
            int cur = f->data[0][(size_t)y * f->stride[0] + x];
            c.changed += m->raw[i] && abs(cur - m->prev[i]) > m->threshold;
            if (x < c.x0) c.x0 = x;
            if (x > c.x1) c.x1 = x;
            if (y < c.y0) c.y0 = y;
            if (y > c.y1) c.y1 = y;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                    int j = ny * w + nx;
                    if (m->mask[j] && !m->labels[j]) {
                        m->labels[j] = ncomp + 1;
                        m->stack[sp++] = j;
                    }
                }
        }
        comps[ncomp++] = c;
    }
    /* A component where nothing changed since the previous frame is not
     * motion: the ghost of an object that was in the first frame, or one that
     * stopped. It goes into the background at once. */
    for (int k = 0; k < ncomp; k++) {
        struct comp *c = &comps[k];
        if (c->changed * 200 > c->area && c->changed > 2) continue;
        c->alive = 0;
        for (int y = c->y0; y <= c->y1; y++)
            for (int x = c->x0; x <= c->x1; x++) {
                size_t i = (size_t)y * w + x;
                if (m->labels[i] == k + 1 && m->raw[i]) {
                    m->bg[i] = f->data[0][(size_t)y * f->stride[0] + x];
                    m->age[i] = 0;
                }
            }
    }
    for (int y = 0; y < h; y++)
        memcpy(m->prev + (size_t)y * w, f->data[0] + (size_t)y * f->stride[0], (size_t)w);
    /* Merge components whose boxes overlap (one object split by its texture). */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < ncomp; i++)
            for (int j = i + 1; j < ncomp; j++) {
                if (!comps[i].alive || !comps[j].alive || !boxes_touch(&comps[i], &comps[j], 0))
                    continue;
                struct comp *a2 = &comps[i], *b = &comps[j];
                if (b->x0 < a2->x0) a2->x0 = b->x0;
                if (b->y0 < a2->y0) a2->y0 = b->y0;
                if (b->x1 > a2->x1) a2->x1 = b->x1;
                if (b->y1 > a2->y1) a2->y1 = b->y1;
                a2->area += b->area;
                b->alive = 0;
                changed = 1;
            }
    }
    /* Boxes in source pixels; the dilation grew each box by `dilate` pixels
     * on every side, which is taken back. */
    double sx = (double)f->src_width / w, sy = (double)f->src_height / h;
    int count = 0;
    for (int i = 0; i < ncomp && count < max; i++) {
        struct comp *c = &comps[i];
        if (!c->alive) continue;
        int x0 = c->x0 + m->dilate, y0 = c->y0 + m->dilate;
        int x1 = c->x1 - m->dilate, y1 = c->y1 - m->dilate;
        if (x0 > x1 || y0 > y1) continue;
        double bw = (x1 - x0 + 1) * sx, bh = (y1 - y0 + 1) * sy;
        if (bw * bh < (double)m->min_area) continue;
        fc_detection *d = &out[count++];
        snprintf(d->label, sizeof d->label, "motion");
        double fill = (double)c->area / ((double)(c->x1 - c->x0 + 1) * (c->y1 - c->y0 + 1));
        d->score = (float)(fill > 1 ? 1 : fill);
        d->box[0] = (float)(x0 * sx);
        d->box[1] = (float)(y0 * sy);
        d->box[2] = (float)bw;
        d->box[3] = (float)bh;
    }
    return count;
}

static int motion_predict(void *instance, const fc_frame_view *f, fc_detection *out, int max,
                          char *err, size_t errlen) {
    struct motion *m = instance;
    pthread_mutex_lock(&m->mu);
    int n = 0;
    if (f->index >= m->last_index) {
        m->last_index = f->index;
        n = detect(m, f, out, max, err, errlen);
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

static void motion_destroy(void *instance) {
    struct motion *m = instance;
    pthread_mutex_destroy(&m->mu);
    free_state(m);
    free(m);
}

static const fc_predictor_api motion_api = {
    .abi_major = FC_PREDICTOR_ABI_MAJOR,
    .abi_minor = FC_PREDICTOR_ABI_MINOR,
    .name = "motion",
    .flags = FC_PREDICTOR_THREAD_SAFE, /* one shared instance: see the top of the file */
    .create = motion_create,
    .wants = motion_wants,
    .predict = motion_predict,
    .destroy = motion_destroy,
};

const fc_predictor_api *fc_predictor_motion(void) {
    return &motion_api;
}
