/* Predictor lookup: a spec "NAME[:OPTIONS]" names a built-in predictor.
 * Any thread; the tables returned are static and immutable. */
#ifndef FC_PREDICT_REGISTRY_H
#define FC_PREDICT_REGISTRY_H

#include <stddef.h>

#include "framecast/predictor.h"

/* Resolves spec. On success *api is the table and *opts points into spec
 * (after the ':', or "" when none). On error writes a message into err. */
int fc_predictor_lookup(const char *spec, const fc_predictor_api **api, const char **opts,
                        char *err, size_t errlen);

/* Built-ins. */
const fc_predictor_api *fc_predictor_null(void);
const fc_predictor_api *fc_predictor_fake(void);
const fc_predictor_api *fc_predictor_motion(void);

#endif
