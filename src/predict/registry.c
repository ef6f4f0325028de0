#include "predict/registry.h"

#include <stdio.h>
#include <string.h>

#include "util/error.h"

typedef const fc_predictor_api *(*builtin_fn)(void);

static const struct {
    const char *name;
    builtin_fn get;
} builtins[] = {
    {"null", fc_predictor_null},
    {"fake", fc_predictor_fake},
    {"motion", fc_predictor_motion},
};

int fc_predictor_lookup(const char *spec, const fc_predictor_api **api, const char **opts,
                        char *err, size_t errlen) {
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strlen(builtins[i].name) == n && strncmp(builtins[i].name, spec, n) == 0) {
            *api = builtins[i].get();
            *opts = colon ? colon + 1 : "";
            return 0;
        }
    }
    snprintf(err, errlen, "--predictor: unknown predictor '%.*s' (expected one of: null, fake, motion)", (int)n,
             spec);
    return FC_EUNKNOWN;
}
