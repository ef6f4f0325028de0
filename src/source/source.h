/* Video sources: where frames come from. A source runs on its own thread
 * (started by the pipeline) and puts frames into a slot, converted as the
 * pipeline asked (out); it owns every decoder context it opens.
 * Open on any thread; run on exactly one; destroy after run returned. */
#ifndef FC_SOURCE_SOURCE_H
#define FC_SOURCE_SOURCE_H

#include <stdatomic.h>
#include <stddef.h>

#include "source/convert.h"
#include "source/slot.h"
#include "util/redact.h"

typedef struct fc_source fc_source;

/* Preview images for the viewer: fps 0 means none. */
typedef struct fc_preview_spec {
    double fps;
    int width;   /* the height keeps the aspect ratio */
    int quality; /* JPEG quality, 1..100 */
} fc_preview_spec;

/* States a source reports while it runs (the pipeline adds ended/failed). */
typedef void (*fc_source_status_fn)(void *ud, const char *state, const char *error, int attempt,
                                    int retry_ms);

struct fc_source {
    const char *kind;              /* "synthetic", "ffmpeg" */
    int width, height;             /* 0 while unknown */
    double fps;                    /* nominal rate; 0 = as fast as the pipeline takes */
    fc_output_spec out;            /* set by the pipeline before run */
    fc_preview_spec preview;       /* set by the pipeline before run */
    int64_t preview_due_us;        /* source thread: when the next preview is due */
    fc_convert preview_conv;       /* source thread; freed by fc_source_close */
    /* Set by the pipeline, may be NULL: previews are made only while it
     * returns non-zero (someone watches), so they cost nothing otherwise. */
    int (*preview_wanted)(void *ud);
    void *preview_ud;
    fc_source_status_fn on_status; /* set by the pipeline; may be NULL */
    void *status_ud;
    char error[256]; /* the last error, when run returned one */
    /* Produces frames into out until *stop becomes non-zero or the source
     * ends. Returns 0 at a normal end or stop, a negative code on failure
     * (with error set). */
    int (*run)(fc_source *src, fc_slot *out, atomic_int *stop);
    void (*destroy)(fc_source *src);
};

/* Opens a source from a URL: "synthetic:OPTIONS", or anything FFmpeg opens
 * (a file path, rtsp://, http(s)://, v4l2:/dev/videoN) followed by
 * ",key=value" options. Only checks what can be checked without I/O; the
 * source connects when it runs. On error writes a message naming the URL
 * and what is expected into err. */
int fc_source_open(fc_source **out, const char *url, char *err, size_t errlen);

/* On the source thread, for each frame it hands over: when a preview is
 * due and wanted, attaches a YUV420P copy of the image at the preview width
 * to f->preview (converted once, whatever the predictor asked for), in full
 * range as JPEG wants: limited-range video encoded as is looks washed out
 * (black at 16, white at 235). full_range: the input's YUV is full range. */
void fc_source_attach_preview(fc_source *src, fc_frame *f, const uint8_t *const planes[4],
                              const int strides[4], int av_format, int full_range, int w, int h);
/* Destroys a source (after run returned). */
void fc_source_close(fc_source *src);

/* fc_redact_url, for messages and the API, lives in util/redact.h. */

/* Sleeps until the monotonic time due_us, waking every 50 ms to check *stop.
 * Returns 1 if stopped. */
int fc_source_sleep_until(int64_t due_us, atomic_int *stop);

/* FFmpeg-backed sources (files, cameras, devices). */
int fc_ffmpeg_source_open(fc_source **out, const char *url_and_opts, char *err, size_t errlen);

#endif
