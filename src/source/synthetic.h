/* The synthetic source: the scene of synth_render.h at a steady rate.
 *
 * Options: size=WxH (640x360), fps=N|max (30), objects=N (3, at most
 * FC_MAX_TRUTH), seed=N (1), noise=N (0: per-pixel noise amplitude, 0..64).
 * Frames are rendered as RGB24, or as full-range YUV420P when the predictor
 * wants gray (src->out), then converted as it asked. */
#ifndef FC_SOURCE_SYNTHETIC_H
#define FC_SOURCE_SYNTHETIC_H

#include <stddef.h>

#include "source/source.h"
#include "source/synth_render.h"

/* Parses the option string after "synthetic:". Returns 0 or FC_EINVAL_OPT. */
int fc_synth_config_parse(fc_synth_config *cfg, const char *opts, char *err, size_t errlen);

/* A source over fc_synth, paced at cfg->fps. */
int fc_synth_source_open(fc_source **out, const char *opts, char *err, size_t errlen);

#endif
