/* What parsing the configuration cannot tell: that each stream's predictor
 * can be created with its options (one instance is created and destroyed:
 * a cascade model is loaded, a plugin opened, an exec predictor's options
 * checked; no model process starts), that its source's options are
 * valid (the source is opened, not started: no connection is made), and
 * that the TLS and token key files load. For --check-config, and for
 * SIGHUP before anything is applied. Main thread. */
#ifndef FC_APP_CHECK_H
#define FC_APP_CHECK_H

#include "app/config.h"

/* Adds what is wrong to cfg's problems. With running non-NULL (SIGHUP)
 * only the streams that running does not define alike are checked, and
 * not the key files (those take effect only at a restart). */
void fc_check_config(fc_config *cfg, const fc_config *running);

#endif
