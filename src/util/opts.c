#include "util/opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

int fc_opts_parse(fc_opts *o, const char *ctx, const char *s, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    o->ctx = ctx;
    if (!s || !*s) return 0;
    o->copy = strdup(s);
    int max = 1;
    for (const char *p = s; *p; p++) max += *p == ',';
    o->items = calloc((size_t)max, sizeof *o->items);
    if (!o->copy || !o->items) {
        snprintf(err, errlen, "%s: out of memory", ctx);
        fc_opts_free(o);
        return -ENOMEM;
    }
    for (char *save = NULL, *tok = strtok_r(o->copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            snprintf(err, errlen, "%s: malformed option '%s' (expected key=value)", ctx, tok);
            fc_opts_free(o);
            return FC_EINVAL_OPT;
        }
        *eq = 0;
        o->items[o->n++] = (fc_opt){.key = tok, .value = eq + 1};
    }
    return 0;
}

void fc_opts_free(fc_opts *o) {
    free(o->items);
    free(o->copy);
    o->items = NULL;
    o->copy = NULL;
    o->n = 0;
}

const char *fc_opts_get(fc_opts *o, const char *key) {
    const char *v = NULL;
    for (int i = 0; i < o->n; i++) /* the last occurrence wins */
        if (strcmp(o->items[i].key, key) == 0) {
            o->items[i].used = 1;
            v = o->items[i].value;
        }
    return v;
}

int fc_opts_int(fc_opts *o, const char *key, long def, long min, long max, long *out, char *err,
                size_t errlen) {
    const char *v = fc_opts_get(o, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max) {
        snprintf(err, errlen, "%s: %s='%s' is not valid (expected an integer from %ld to %ld)",
                 o->ctx, key, v, min, max);
        return FC_EINVAL_OPT;
    }
    *out = x;
    return 0;
}

int fc_opts_double(fc_opts *o, const char *key, double def, double min, double max, double *out,
                   char *err, size_t errlen) {
    const char *v = fc_opts_get(o, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= min && x <= max)) {
        snprintf(err, errlen, "%s: %s='%s' is not valid (expected a number from %g to %g)", o->ctx,
                 key, v, min, max);
        return FC_EINVAL_OPT;
    }
    *out = x;
    return 0;
}

int fc_opts_finish(fc_opts *o, const char *allowed, char *err, size_t errlen) {
    for (int i = 0; i < o->n; i++)
        if (!o->items[i].used) {
            snprintf(err, errlen, "%s: unknown option '%s' (expected one of: %s)", o->ctx,
                     o->items[i].key, allowed);
            return FC_EINVAL_OPT;
        }
    return 0;
}

int fc_parse_size(const char *s, int *w, int *h) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || end == s || (*end != 'x' && *end != 'X')) return FC_EINVAL_OPT;
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (errno || end == p || *end || a < 1 || b < 1 || a > 16384 || b > 16384) return FC_EINVAL_OPT;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

/* Digits, optionally a space, then a unit from names (any case), or none
 * (factor def). */
static int parse_scaled(const char *s, const char *const *names, const uint64_t *factors,
                        uint64_t def, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') return FC_EINVAL_OPT;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno) return FC_EINVAL_OPT;
    while (*end == ' ') end++;
    uint64_t f = *end ? 0 : def;
    for (int i = 0; *end && names[i]; i++)
        if (strcasecmp(end, names[i]) == 0) f = factors[i];
    if (!f || x > UINT64_MAX / f) return FC_EINVAL_OPT;
    *out = x * f;
    return 0;
}

int fc_parse_bytes(const char *s, uint64_t *out) {
    static const char *const names[] = {"b",  "k",   "kb",  "m",   "mb", "g",
                                        "gb", "kib", "mib", "gib", NULL};
    static const uint64_t factors[] = {1,          1000,       1000,    1000000, 1000000,
                                       1000000000, 1000000000, 1 << 10, 1 << 20, 1 << 30};
    return parse_scaled(s, names, factors, 1, out);
}

int fc_parse_duration_ms(const char *s, int64_t *out) {
    static const char *const names[] = {"ms", "s", "m", "h", NULL};
    static const uint64_t factors[] = {1, 1000, 60000, 3600000};
    uint64_t v;
    if (parse_scaled(s, names, factors, 1000, &v) || v > INT64_MAX) return FC_EINVAL_OPT;
    *out = (int64_t)v;
    return 0;
}
