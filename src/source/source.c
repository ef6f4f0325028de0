/* Source dispatch by URL scheme. */
#include "source/source.h"

#include <stdio.h>
#include <string.h>

#include "source/synthetic.h"
#include "util/error.h"

int fc_source_open(fc_source **out, const char *url, char *err, size_t errlen) {
    static const char synth[] = "synthetic";
    size_t n = sizeof synth - 1;
    if (strncmp(url, synth, n) == 0 && (url[n] == 0 || url[n] == ':'))
        return fc_synth_source_open(out, url[n] ? url + n + 1 : "", err, errlen);
    snprintf(err, errlen,
             "--source: unknown source '%s' (expected synthetic:[size=WxH,fps=N|max,objects=N,"
             "seed=N,noise=N])",
             url);
    return FC_EUNKNOWN;
}
