/* Predictor lookup: a spec "NAME[:OPTIONS]" names a built-in predictor, and
 * "PATH[:OPTIONS]" a plugin when the part before the first ':' has a '/' or
 * ends in .so (options never decide: exec:cmd=... may mention .so files),
 * loaded with dlopen (RTLD_NODELETE: never unmapped) and checked against
 * FC_PREDICTOR_ABI_MAJOR. Main thread; the tables returned
 * are immutable and live until fc_predictor_unload. */
#ifndef FC_PREDICT_REGISTRY_H
#define FC_PREDICT_REGISTRY_H

#include <stddef.h>

#include "framecast/predictor.h"

/* Resolves spec. On success *api is the table and *opts points into spec
 * (after the ':', or "" when none). On error writes a message into err. */
int fc_predictor_lookup(const char *spec, const fc_predictor_api **api, const char **opts,
                        void **plugin, char *err, size_t errlen);
/* Unloads a plugin returned by lookup (NULL: nothing to do). */
void fc_predictor_unload(void *plugin);

/* Built-ins. */
const fc_predictor_api *fc_predictor_null(void);
const fc_predictor_api *fc_predictor_fake(void);
const fc_predictor_api *fc_predictor_motion(void);
const fc_predictor_api *fc_predictor_exec(void);
const fc_predictor_api *fc_predictor_cascade(void); /* when built with OpenCV */
const fc_predictor_api *fc_predictor_people(void);  /* when built with OpenCV */
const fc_predictor_api *fc_predictor_dnn(void);     /* when built with OpenCV's dnn */

#endif
