/* The synthetic source (see synthetic.h): its options, and the thread that
 * renders the scene (synth_render.c) at its rate and hands the frames over. */
#include "source/synthetic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/opts.h"

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

/* --- The source ---------------------------------------------------------- */

struct synth_source {
    fc_source base;
    fc_synth_config cfg;
    fc_synth *synth;
};

static int synth_run(fc_source *src, fc_slot *out, atomic_int *stop) {
    struct synth_source *ss = (struct synth_source *)src;
    const fc_synth_config *cfg = &ss->cfg;
    /* A predictor that wants gray gets frames rendered as full-range
     * YUV420P: its gray image is then the Y plane, prepared as a decoder's
     * frame is (libswscale scales that one plane: a fraction of the cost
     * from RGB, and exactly libswscale's pixels), and the preview, YUV
     * too, needs no colour conversion. Everyone else gets RGB24. */
    enum fc_pixfmt format = src->out.format == FC_PIX_GRAY8 ? FC_PIX_YUV420P : FC_PIX_RGB24;
    int av_format = fc_pixfmt_to_av(format);
    fc_convert conv = {0};
    int convert = !fc_output_matches(&src->out, av_format, cfg->width, cfg->height);
    fc_frame *img = NULL;
    int rc = 0;
    if (src->on_status) src->on_status(src->status_ud, "live", NULL, 0, 0);
    int64_t start = fc_mono_us();
    for (int64_t i = 0; !atomic_load(stop); i++) {
        /* Pace against the start, not the previous frame, so there is no drift. */
        if (cfg->fps > 0 && fc_source_sleep_until(start + (int64_t)(i * 1e6 / cfg->fps), stop))
            break;
        /* Out of memory, a frame is skipped, not the stream: the next one
         * may find memory again. */
        if (!img && !(img = fc_frame_new(format, cfg->width, cfg->height))) {
            fc_warn("synthetic source: out of memory: a frame is skipped");
            continue;
        }
        fc_synth_render(ss->synth, i, img);
        const uint8_t *const planes[4] = {img->view.data[0], img->view.data[1], img->view.data[2],
                                          NULL};
        const int strides[4] = {img->view.stride[0], img->view.stride[1], img->view.stride[2], 0};
        fc_frame *f = img;
        if (convert) { /* into the predictor's format; the rendered frame is reused */
            f = fc_convert_image(&conv, planes, strides, av_format, 1, cfg->width, cfg->height,
                                 &src->out);
            if (!f) {
                fc_warn("synthetic source: out of memory: a frame is skipped");
                continue;
            }
            f->view.index = img->view.index;
            f->view.pts_us = img->view.pts_us;
            f->capture_us = img->capture_us;
            f->ntruth = img->ntruth;
            memcpy(f->truth, img->truth, sizeof f->truth);
        } else {
            img = NULL; /* handed over */
        }
        fc_source_attach_preview(src, f, planes, strides, av_format, 1, cfg->width, cfg->height);
        if ((cfg->fps > 0 ? fc_slot_put(out, f) : fc_slot_put_wait(out, f))) break;
    }
    fc_frame_free(img);
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
    ss->cfg = cfg;
    ss->base = (fc_source){.kind = "synthetic",
                           .width = cfg.width,
                           .height = cfg.height,
                           .fps = cfg.fps,
                           .run = synth_run,
                           .destroy = synth_destroy};
    *out = &ss->base;
    return 0;
}
