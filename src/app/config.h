/* Command-line configuration of the framecast server. Parsing writes a
 * message naming the option and what is expected on error. Main thread. */
#ifndef FC_APP_CONFIG_H
#define FC_APP_CONFIG_H

#include <stddef.h>

#include "app/pipeline.h"
#include "hub/hub.h"

#define FC_MAX_CONFIG_STREAMS 16
#define FC_MAX_ORIGINS        32

typedef struct fc_config {
    fc_hub_config hub;
    char host[256];
    fc_stream_config streams[FC_MAX_CONFIG_STREAMS];
    char *owned[FC_MAX_CONFIG_STREAMS * 3]; /* strings the stream configs point to */
    int nowned;
    int nstreams;
    const char *predictor;
    int predictor_given; /* --predictor was given (twice is an error) */
    int workers;
    int predict_timeout_ms;
    enum fc_slow_policy slow;
    int log_level;
    int log_format;     /* enum fc_log_format */
    int exit_when_done; /* exit once every stream has ended or failed */
    fc_preview_spec preview;
    fc_history_limits history;           /* default for streams without history= */
    const char *origins[FC_MAX_ORIGINS]; /* --allowed-origin, as given (hub.allowed_origins) */
} fc_config;

enum { FC_CONFIG_OK = 0, FC_CONFIG_EXIT = 1 /* --help or --version printed */ };

/* Returns FC_CONFIG_OK, FC_CONFIG_EXIT, or a negative code with err set. */
int fc_config_parse(fc_config *cfg, int argc, char **argv, char *err, size_t errlen);
void fc_config_free(fc_config *cfg);

#endif
