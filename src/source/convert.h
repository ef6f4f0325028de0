/* Pixel conversion and scaling: once per frame, on the source thread, into
 * the format and size the stream's predictor asked for. A gray frame no
 * larger than the input (motion, cascade, people) is an area average of the
 * Y plane of a YUV or gray input, or of an RGB24/BGR24 input's channels
 * (source/area.h: several times cheaper than libswscale, and the same up to
 * rounding); everything else goes through libswscale. A converter caches
 * its SwsContext and area plan; one converter per source thread. */
#ifndef FC_SOURCE_CONVERT_H
#define FC_SOURCE_CONVERT_H

#include <stdint.h>

#include "source/area.h"
#include "source/frame.h"

/* The conversion a stream wants: format (FC_PIX_ANY = keep the source's
 * when it is one of ours) and size (0 = keep; a single 0 keeps the aspect).
 * YUV420P output keeps the input's range (limited "TV" or full "JPEG")
 * unless full_range asks for full range, as JPEG (previews) needs; gray8
 * and RGB are always full range. */
typedef struct fc_output_spec {
    enum fc_pixfmt format;
    int width, height;
    int full_range;
} fc_output_spec;

/* A converter: a SwsContext cached for one conversion (sizes, formats and
 * ranges), rebuilt when any of them changes. */
typedef struct fc_convert {
    struct SwsContext *sws;
    int key[8];
    fc_area_plan area;
    int swscale_only; /* 1: never the area path (tests and benchmarks compare the two) */
} fc_convert;

/* libavutil's AVPixelFormat for one of ours, and back (FC_PIX_ANY if none). */
int fc_pixfmt_to_av(enum fc_pixfmt f);
enum fc_pixfmt fc_pixfmt_from_av(int av_format);

/* The output size for an input of in_w x in_h (even sizes for YUV420P). */
void fc_output_size(const fc_output_spec *spec, int in_w, int in_h, int *out_w, int *out_h);

/* 1 if an image of av_format at in_w x in_h already is what spec wants. */
int fc_output_matches(const fc_output_spec *spec, int av_format, int in_w, int in_h);

/* Converts an image into a new frame as spec wants. in_full_range: the
 * input's YUV is full range (AVCOL_RANGE_JPEG; YUVJ formats are anyway).
 * src_width/src_height of the frame are in_w x in_h. Returns NULL when the
 * image cannot be converted (libswscale cannot read its format, no size, no
 * memory). */
fc_frame *fc_convert_image(fc_convert *c, const uint8_t *const src[4], const int stride[4],
                           int av_format, int in_full_range, int in_w, int in_h,
                           const fc_output_spec *spec);
void fc_convert_free(fc_convert *c);

#endif
