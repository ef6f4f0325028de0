/* A latency histogram for Prometheus: fixed buckets (50 us to 10 s, the
 * range of everything framecast times), counted with relaxed atomics so
 * any thread may observe and any other may read, with no allocation per
 * sample. The rendering is Prometheus' text format (cumulative buckets,
 * seconds). */
#ifndef FC_UTIL_HISTOGRAM_H
#define FC_UTIL_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#include "util/strbuf.h"

#define FC_HIST_BUCKETS 17

typedef struct fc_histogram {
    atomic_uint_fast64_t bucket[FC_HIST_BUCKETS + 1]; /* the last: over the largest bound */
    atomic_uint_fast64_t count, sum_us;
} fc_histogram;

/* Counts one sample of us microseconds (negative counts as 0). Any thread. */
void fc_hist_observe(fc_histogram *h, int64_t us);

/* Sets every count to 0 (a reader at the same time may see a mix). */
void fc_hist_reset(fc_histogram *h);

/* Adds src's counts into dst (a snapshot for rendering several as one). */
void fc_hist_merge(fc_histogram *dst, const fc_histogram *src);

/* Appends the series of name with the given labels ("stream=\"demo\"", or
 * "" for none): _bucket{le=...}, _sum (seconds) and _count. */
void fc_hist_render(fc_strbuf *out, const char *name, const char *labels, const fc_histogram *h);

#endif
