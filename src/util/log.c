/* Logging sink: "framecast: LEVEL: message" lines on stderr. The level is the
 * only global mutable state besides signal flags (see STYLE.md). */
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int log_level = FC_LOG_INFO;

void fc_log_set_level(enum fc_log_level level) {
    atomic_store(&log_level, (int)level);
}

int fc_log_parse_level(const char *name) {
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

void fc_log(enum fc_log_level level, const char *fmt, ...) {
    static const char *tags[] = {"debug", "info", "warning", "error"};
    if ((int)level < atomic_load(&log_level) || level >= FC_LOG_OFF) return;
    char line[1024];
    int n = snprintf(line, sizeof line, "framecast: %s: ", tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    line[len] = '\n';
    fwrite(line, 1, len + 1, stderr);
}
