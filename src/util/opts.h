/* Option strings: "key=value,key=value" as used by --source, --stream and
 * --predictor. Parsing copies the string; lookups mark a key as used so that
 * fc_opts_finish can name any key nobody asked for.
 * Error messages are written to err (caller-provided, errlen bytes) and name
 * the option (ctx), the key and what would be right. */
#ifndef FC_UTIL_OPTS_H
#define FC_UTIL_OPTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fc_opt {
    char *key;
    char *value;
    int used;
} fc_opt;

typedef struct fc_opts {
    const char *ctx; /* e.g. "--source synthetic", used in messages */
    fc_opt *items;
    int n;
    char *copy;
} fc_opts;

/* Parses s (may be NULL or empty). Returns 0 or FC_EINVAL_OPT. */
int fc_opts_parse(fc_opts *o, const char *ctx, const char *s, char *err, size_t errlen);
void fc_opts_free(fc_opts *o);

/* The value of key, or NULL if absent. */
const char *fc_opts_get(fc_opts *o, const char *key);
/* An integer in [min, max], or def when absent. Returns 0 or FC_EINVAL_OPT. */
int fc_opts_int(fc_opts *o, const char *key, long def, long min, long max, long *out, char *err,
                size_t errlen);
/* A number in [min, max], or def when absent. */
int fc_opts_double(fc_opts *o, const char *key, double def, double min, double max, double *out,
                   char *err, size_t errlen);
/* Fails naming the first key that no lookup used; allowed lists the valid ones. */
int fc_opts_finish(fc_opts *o, const char *allowed, char *err, size_t errlen);

/* Parses "WxH" into positive integers. Returns 0 or FC_EINVAL_OPT. */
int fc_parse_size(const char *s, int *w, int *h);

/* A byte count: digits with an optional unit, K/M/G (powers of 1000, also
 * kB/MB/GB) or KiB/MiB/GiB (powers of 1024), any case, after an optional
 * space: "262144", "256KiB", "4M". Returns 0 or FC_EINVAL_OPT. */
int fc_parse_bytes(const char *s, uint64_t *out);

/* A duration: digits with an optional unit, ms, s (the default), m or h,
 * e.g. "60s", "500ms", "2m". Returns 0 or FC_EINVAL_OPT. */
int fc_parse_duration_ms(const char *s, int64_t *out);

#endif
