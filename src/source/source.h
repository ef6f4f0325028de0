/* Video sources: where frames come from. A source runs on its own thread
 * (started by the pipeline) and puts frames into a slot; it owns every
 * decoder context it opens. Open on any thread, run on exactly one. */
#ifndef FC_SOURCE_SOURCE_H
#define FC_SOURCE_SOURCE_H

#include <stdatomic.h>
#include <stddef.h>

#include "source/slot.h"

typedef struct fc_source fc_source;

struct fc_source {
    const char *kind; /* "synthetic", ... */
    int width, height; /* 0 while unknown */
    double fps;        /* nominal rate; 0 = as fast as the pipeline takes */
    /* Produces frames into out until *stop becomes non-zero or the source
     * ends. Returns 0 at a normal end or stop, a negative code on failure. */
    int (*run)(fc_source *src, fc_slot *out, atomic_int *stop);
    void (*destroy)(fc_source *src);
};

/* Opens a source from a URL such as "synthetic:size=640x360,fps=30". On
 * error writes a message naming the URL and what is expected into err. */
int fc_source_open(fc_source **out, const char *url, char *err, size_t errlen);

#endif
