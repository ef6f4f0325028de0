/* The synthetic source (see synthetic.h). Everything derives from the seed
 * through splitmix64, so no state carries between frames. */
#include "source/synthetic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/opts.h"

struct object {
    int w, h;
    int64_t x0, y0, vx, vy;
    uint8_t color[3];
};

struct fc_synth {
    fc_synth_config cfg;
    struct object obj[FC_MAX_TRUTH];
    uint8_t *background; /* RGB24, width * height */
};

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int rand_range(uint64_t *st, int lo, int hi) { /* inclusive */
    return lo + (int)(splitmix64(st) % (uint64_t)(hi - lo + 1));
}

int fc_synth_config_parse(fc_synth_config *cfg, const char *opts, char *err, size_t errlen) {
    fc_opts o;
    int rc = fc_opts_parse(&o, "--source synthetic", opts, err, errlen);
    if (rc) return rc;
    *cfg = (fc_synth_config){.width = 640, .height = 360, .fps = 30, .objects = 3, .seed = 1};
    long v;
    const char *size = fc_opts_get(&o, "size");
    if (size &&
        (fc_parse_size(size, &cfg->width, &cfg->height) || cfg->width < 32 || cfg->height < 32)) {
        snprintf(err, errlen,
                 "--source synthetic: size='%s' is not valid (expected WxH, each 32 to 16384)",
                 size);
        rc = FC_EINVAL_OPT;
        goto out;
    }
    const char *fps = fc_opts_get(&o, "fps");
    if (fps && strcmp(fps, "max") == 0) {
        cfg->fps = 0;
    } else if (fps) {
        char *end;
        double f = strtod(fps, &end);
        if (end == fps || *end || !(f >= 0.1 && f <= 1000)) {
            snprintf(err, errlen,
                     "--source synthetic: fps='%s' is not valid (expected 0.1 to 1000, or max)",
                     fps);
            rc = FC_EINVAL_OPT;
            goto out;
        }
        cfg->fps = f;
    }
    if ((rc = fc_opts_int(&o, "objects", 3, 0, FC_MAX_TRUTH, &v, err, errlen))) goto out;
    cfg->objects = (int)v;
    if ((rc = fc_opts_int(&o, "seed", 1, 0, UINT32_MAX, &v, err, errlen))) goto out;
    cfg->seed = (uint32_t)v;
    if ((rc = fc_opts_int(&o, "noise", 0, 0, 64, &v, err, errlen))) goto out;
    cfg->noise = (int)v;
    rc = fc_opts_finish(&o, "size, fps, objects, seed, noise", err, errlen);
out:
    fc_opts_free(&o);
    return rc;
}

fc_synth *fc_synth_new(const fc_synth_config *cfg) {
    fc_synth *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = *cfg;
    int W = cfg->width, H = cfg->height;
    s->background = malloc((size_t)W * (size_t)H * 3);
    if (!s->background) {
        free(s);
        return NULL;
    }
    uint64_t st = cfg->seed;
    /* Background: 16-pixel tiles of dark grey-blue with a gentle gradient,
     * at least ~35 luma levels below every object pixel, so the objects are
     * there to be found even with noise. */
    uint8_t tiles[64][3];
    for (int i = 0; i < 64; i++) {
        int g = rand_range(&st, 30, 70);
        tiles[i][0] = (uint8_t)g;
        tiles[i][1] = (uint8_t)(g + 10);
        tiles[i][2] = (uint8_t)(g + 25);
    }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const uint8_t *t = tiles[((y / 16) * 7 + (x / 16) * 13) & 63];
            uint8_t *p = s->background + ((size_t)y * W + x) * 3;
            int grad = (x + y) * 20 / (W + H);
            for (int c = 0; c < 3; c++) p[c] = (uint8_t)(t[c] + grad);
        }
    /* Objects: sizes and speeds scale with the frame. */
    int speed = W / 320 > 1 ? W / 320 : 1;
    for (int i = 0; i < cfg->objects; i++) {
        struct object *o = &s->obj[i];
        o->w = rand_range(&st, W / 12 > 4 ? W / 12 : 4, W / 5 > 8 ? W / 5 : 8);
        o->h = rand_range(&st, H / 10 > 4 ? H / 10 : 4, H / 4 > 8 ? H / 4 : 8);
        o->x0 = rand_range(&st, 0, W - o->w);
        o->y0 = rand_range(&st, 0, H - o->h);
        o->vx = rand_range(&st, 1, 4) * speed * (splitmix64(&st) & 1 ? 1 : -1);
        o->vy = rand_range(&st, 1, 3) * speed * (splitmix64(&st) & 1 ? 1 : -1);
        o->color[0] = (uint8_t)rand_range(&st, 200, 255);
        o->color[1] = (uint8_t)rand_range(&st, 170, 255);
        o->color[2] = (uint8_t)rand_range(&st, 0, 200);
    }
    return s;
}

void fc_synth_free(fc_synth *s) {
    if (!s) return;
    free(s->background);
    free(s);
}

/* Position on [0, span] bouncing between the ends. */
static int fold(int64_t v, int span) {
    if (span <= 0) return 0;
    int64_t period = 2 * (int64_t)span;
    int64_t m = v % period;
    if (m < 0) m += period;
    return (int)(m <= span ? m : period - m);
}

int fc_synth_truth(const fc_synth *s, int64_t index, fc_box *out) {
    for (int i = 0; i < s->cfg.objects; i++) {
        const struct object *o = &s->obj[i];
        out[i] = (fc_box){fold(o->x0 + o->vx * index, s->cfg.width - o->w),
                          fold(o->y0 + o->vy * index, s->cfg.height - o->h), o->w, o->h};
    }
    return s->cfg.objects;
}

void fc_synth_render(const fc_synth *s, int64_t index, fc_frame *f) {
    int W = s->cfg.width, H = s->cfg.height;
    uint8_t *px = f->pixels;
    memcpy(px, s->background, (size_t)W * (size_t)H * 3);
    f->ntruth = fc_synth_truth(s, index, f->truth);
    for (int i = 0; i < f->ntruth; i++) {
        const fc_box *b = &f->truth[i];
        const uint8_t *col = s->obj[i].color;
        for (int y = b->y; y < b->y + b->h; y++) {
            uint8_t *row = px + ((size_t)y * W + b->x) * 3;
            for (int x = 0; x < b->w; x++) {
                /* Diagonal stripes give the object texture of its own. */
                int dark = ((x + y - b->x - b->y) / 6) & 1;
                row[3 * x] = (uint8_t)(col[0] - dark * 30);
                row[3 * x + 1] = (uint8_t)(col[1] - dark * 30);
                row[3 * x + 2] = col[2];
            }
        }
    }
    if (s->cfg.noise) {
        uint64_t st = s->cfg.seed ^ ((uint64_t)index * 0x9E3779B97F4A7C15ull);
        int amp = s->cfg.noise, span = 2 * amp + 1;
        for (size_t i = 0; i < (size_t)W * H * 3; i += 8) {
            uint64_t r = splitmix64(&st);
            for (size_t k = 0; k < 8 && i + k < (size_t)W * H * 3; k++) {
                int v = px[i + k] + (int)((r >> (8 * k)) & 0xFF) % span - amp;
                px[i + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    f->view.index = index;
    f->view.pts_us = s->cfg.fps > 0 ? (int64_t)(index * 1e6 / s->cfg.fps) : 0;
    f->capture_us = fc_now_us();
}

/* --- The source ---------------------------------------------------------- */

struct synth_source {
    fc_source base;
    fc_synth *synth;
};

static int synth_run(fc_source *src, fc_slot *out, atomic_int *stop) {
    struct synth_source *ss = (struct synth_source *)src;
    const fc_synth_config *cfg = &ss->synth->cfg;
    fc_convert conv = {0};
    int convert =
        !fc_output_matches(&src->out, fc_pixfmt_to_av(FC_PIX_RGB24), cfg->width, cfg->height);
    fc_frame *rgb = NULL;
    int rc = 0;
    if (src->on_status) src->on_status(src->status_ud, "live", NULL, 0, 0);
    int64_t start = fc_mono_us();
    for (int64_t i = 0; !atomic_load(stop); i++) {
        /* Pace against the start, not the previous frame, so there is no drift. */
        if (cfg->fps > 0 && fc_source_sleep_until(start + (int64_t)(i * 1e6 / cfg->fps), stop))
            break;
        /* Out of memory, a frame is skipped, not the stream: the next one
         * may find memory again. */
        if (!rgb && !(rgb = fc_frame_new_rgb(cfg->width, cfg->height))) {
            fc_warn("synthetic source: out of memory: a frame is skipped");
            continue;
        }
        fc_synth_render(ss->synth, i, rgb);
        const uint8_t *const rgb_planes[4] = {rgb->view.data[0], NULL, NULL, NULL};
        const int rgb_strides[4] = {rgb->view.stride[0], 0, 0, 0};
        fc_frame *f = rgb;
        if (convert) { /* into the predictor's format; the RGB frame is reused */
            f = fc_convert_image(&conv, rgb_planes, rgb_strides, fc_pixfmt_to_av(FC_PIX_RGB24), 1,
                                 cfg->width, cfg->height, &src->out);
            if (!f) {
                fc_warn("synthetic source: out of memory: a frame is skipped");
                continue;
            }
            f->view.index = rgb->view.index;
            f->view.pts_us = rgb->view.pts_us;
            f->capture_us = rgb->capture_us;
            f->ntruth = rgb->ntruth;
            memcpy(f->truth, rgb->truth, sizeof f->truth);
        } else {
            rgb = NULL; /* handed over */
        }
        fc_source_attach_preview(src, f, rgb_planes, rgb_strides, fc_pixfmt_to_av(FC_PIX_RGB24), 1,
                                 cfg->width, cfg->height);
        if ((cfg->fps > 0 ? fc_slot_put(out, f) : fc_slot_put_wait(out, f))) break;
    }
    fc_frame_free(rgb);
    fc_convert_free(&conv);
    return rc;
}

static void synth_destroy(fc_source *src) {
    struct synth_source *ss = (struct synth_source *)src;
    fc_synth_free(ss->synth);
    free(ss);
}

int fc_synth_source_open(fc_source **out, const char *opts, char *err, size_t errlen) {
    fc_synth_config cfg;
    int rc = fc_synth_config_parse(&cfg, opts, err, errlen);
    if (rc) return rc;
    struct synth_source *ss = calloc(1, sizeof *ss);
    if (!ss || !(ss->synth = fc_synth_new(&cfg))) {
        free(ss);
        snprintf(err, errlen, "--source synthetic: out of memory");
        return FC_EINVAL_OPT;
    }
    ss->base = (fc_source){.kind = "synthetic",
                           .width = cfg.width,
                           .height = cfg.height,
                           .fps = cfg.fps,
                           .run = synth_run,
                           .destroy = synth_destroy};
    *out = &ss->base;
    return 0;
}
