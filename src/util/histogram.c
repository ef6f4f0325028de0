/* Latency histograms (see histogram.h). */
#include "util/histogram.h"

/* Upper bounds in microseconds: 50 us to 10 s, about 2.5x apart. */
static const int64_t bounds[FC_HIST_BUCKETS] = {50,     100,     250,     500,     1000,    2500,
                                                5000,   10000,   25000,   50000,   100000,  250000,
                                                500000, 1000000, 2500000, 5000000, 10000000};

void fc_hist_observe(fc_histogram *h, int64_t us) {
    if (us < 0) us = 0;
    unsigned i = 0;
    while (i < FC_HIST_BUCKETS && us > bounds[i]) i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

void fc_hist_merge(fc_histogram *dst, const fc_histogram *src) {
    for (unsigned i = 0; i <= FC_HIST_BUCKETS; i++)
        atomic_fetch_add_explicit(&dst->bucket[i],
                                  atomic_load_explicit(&src->bucket[i], memory_order_relaxed),
                                  memory_order_relaxed);
    atomic_fetch_add_explicit(&dst->count, atomic_load_explicit(&src->count, memory_order_relaxed),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&dst->sum_us,
                              atomic_load_explicit(&src->sum_us, memory_order_relaxed),
                              memory_order_relaxed);
}

void fc_hist_render(fc_strbuf *out, const char *name, const char *labels, const fc_histogram *h) {
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (unsigned i = 0; i <= FC_HIST_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < FC_HIST_BUCKETS)
            fc_sb_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                         (double)bounds[i] / 1e6, (unsigned long long)cum);
        else
            fc_sb_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                         (unsigned long long)cum);
    }
    fc_sb_printf(out, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "", labels,
                 labels[0] ? "}" : "",
                 (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    fc_sb_printf(out, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
                 labels[0] ? "}" : "", (unsigned long long)cum);
}

void fc_hist_reset(fc_histogram *h) {
    for (int i = 0; i <= FC_HIST_BUCKETS; i++)
        atomic_store_explicit(&h->bucket[i], 0, memory_order_relaxed);
    atomic_store_explicit(&h->count, 0, memory_order_relaxed);
    atomic_store_explicit(&h->sum_us, 0, memory_order_relaxed);
}
