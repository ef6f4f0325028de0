/* The synthetic source: deterministic frames with a few rectangles moving
 * over a textured background, and the ground-truth box of each rectangle.
 *
 * Frame i depends only on the configuration and i, so tests can compare two
 * runs, and a motion detector can be scored against the truth. Options:
 * size=WxH (640x360), fps=N|max (30), objects=N (3, at most FC_MAX_TRUTH),
 * seed=N (1), noise=N (0: per-pixel noise amplitude, 0..64). */
#ifndef FC_SOURCE_SYNTHETIC_H
#define FC_SOURCE_SYNTHETIC_H

#include <stdint.h>

#include "source/frame.h"
#include "source/source.h"

typedef struct fc_synth_config {
    int width, height;
    double fps; /* 0 = max */
    int objects;
    uint32_t seed;
    int noise;
} fc_synth_config;

/* Parses the option string after "synthetic:". Returns 0 or FC_EINVAL_OPT. */
int fc_synth_config_parse(fc_synth_config *cfg, const char *opts, char *err, size_t errlen);

typedef struct fc_synth fc_synth;

fc_synth *fc_synth_new(const fc_synth_config *cfg);
void fc_synth_free(fc_synth *s);
/* The truth boxes of frame index; returns how many (cfg.objects). */
int fc_synth_truth(const fc_synth *s, int64_t index, fc_box *out);
/* Renders frame index into f (RGB24, cfg size) and fills f->truth. */
void fc_synth_render(const fc_synth *s, int64_t index, fc_frame *f);

/* A source over fc_synth, paced at cfg->fps. */
int fc_synth_source_open(fc_source **out, const char *opts, char *err, size_t errlen);

#endif
