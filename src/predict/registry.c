#include "predict/registry.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/strbuf.h"

typedef const fc_predictor_api *(*builtin_fn)(void);

static const struct {
    const char *name;
    builtin_fn get;
} builtins[] = {
    {"null", fc_predictor_null},       {"fake", fc_predictor_fake},
    {"motion", fc_predictor_motion},   {"exec", fc_predictor_exec},
#ifdef FC_HAVE_CASCADE
    {"cascade", fc_predictor_cascade},
#endif
#ifdef FC_HAVE_PEOPLE
    {"people", fc_predictor_people},
#endif
#ifdef FC_HAVE_DNN
    {"dnn", fc_predictor_dnn},
#endif
};

/* Where a plug-in path ends: after the first ".so" (or ".so.N") that is
 * followed by ':' or the end, so a path may itself contain ':'; 0 if there
 * is none. */
static size_t plugin_path_len(const char *spec) {
    for (const char *p = strstr(spec, ".so"); p; p = strstr(p + 1, ".so")) {
        const char *end = p + 3;
        while (*end == '.' || (*end >= '0' && *end <= '9')) end++; /* libx.so.1.2 */
        if (*end == 0 || *end == ':') return (size_t)(end - spec);
    }
    return 0;
}

static int load_plugin(const char *spec, const fc_predictor_api **api, const char **opts,
                       void **plugin, char *err, size_t errlen) {
    size_t n = plugin_path_len(spec);
    if (!n) n = strcspn(spec, ":");
    const char *colon = spec[n] == ':' ? spec + n : NULL;
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)n, spec);
    /* RTLD_NODELETE: a plug-in may leave threads behind (a runtime's thread
     * pool, a logger) that still run its code after destroy; unmapping the
     * library under them crashes the process at exit. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        snprintf(err, errlen, "--predictor: cannot load plugin '%s': %s", path, dlerror());
        return FC_EUNKNOWN;
    }
    fc_predictor_entry_fn entry = (fc_predictor_entry_fn)dlsym(h, "fc_predictor_entry");
    const fc_predictor_api *a = entry ? entry() : NULL;
    if (!a) {
        snprintf(err, errlen,
                 "--predictor: '%s' is not a framecast plugin (no fc_predictor_entry function "
                 "returning its table)",
                 path);
    } else if (a->abi_major != FC_PREDICTOR_ABI_MAJOR) {
        snprintf(err, errlen,
                 "--predictor: plugin '%s' was built for predictor ABI %u, this framecast has ABI "
                 "%d: rebuild it against this framecast's include/framecast/predictor.h",
                 path, a->abi_major, FC_PREDICTOR_ABI_MAJOR);
        a = NULL;
    } else if (!a->create || !a->predict || !a->destroy || !a->name) {
        snprintf(err, errlen, "--predictor: plugin '%s' lacks create, predict, destroy or name",
                 path);
        a = NULL;
    }
    if (!a) {
        dlclose(h);
        return FC_EINVAL_OPT;
    }
    *api = a;
    *opts = colon ? colon + 1 : "";
    *plugin = h;
    return 0;
}

void fc_predictor_unload(void *plugin) {
    if (plugin) dlclose(plugin);
}

int fc_predictor_lookup(const char *spec, const fc_predictor_api **api, const char **opts,
                        void **plugin, char *err, size_t errlen) {
    *plugin = NULL;
    /* Only the name decides: options may mention paths and .so files too
     * (exec:cmd=LD_PRELOAD=/x/liby.so model). */
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (memchr(spec, '/', name_len) || (name_len && plugin_path_len(spec) == name_len))
        return load_plugin(spec, api, opts, plugin, err, errlen);
    size_t n = name_len;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strlen(builtins[i].name) == n && strncmp(builtins[i].name, spec, n) == 0) {
            *api = builtins[i].get();
            *opts = colon ? colon + 1 : "";
            return 0;
        }
    }
    fc_strbuf names;
    fc_sb_init(&names, 128);
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        fc_sb_printf(&names, "%s, ", builtins[i].name);
    snprintf(err, errlen,
             "--predictor: unknown predictor '%.*s' (expected one of: %sor a plugin PATH.so)",
             (int)n, spec, names.data);
    fc_sb_free(&names);
    return FC_EUNKNOWN;
}
