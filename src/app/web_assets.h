/* The viewer's files (web/), compiled into the binary by cmake/embed.cmake
 * so the page works offline. Immutable; any thread. */
#ifndef FC_APP_WEB_ASSETS_H
#define FC_APP_WEB_ASSETS_H

#include <stddef.h>

typedef struct fc_web_asset {
    const char *path; /* "/index.html" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} fc_web_asset;

/* Ends with an entry whose path is NULL. */
extern const fc_web_asset fc_web_assets[];

#endif
