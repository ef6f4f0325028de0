/* Logging: one process-wide sink (stderr) and a level. Thread-safe: each line
 * is written with a single fputs-style call so lines from threads never mix. */
#ifndef FC_UTIL_LOG_H
#define FC_UTIL_LOG_H

enum fc_log_level { FC_LOG_DEBUG = 0, FC_LOG_INFO, FC_LOG_WARN, FC_LOG_ERROR, FC_LOG_OFF };

void fc_log_set_level(enum fc_log_level level);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int fc_log_parse_level(const char *name);
void fc_log(enum fc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fc_debug(...) fc_log(FC_LOG_DEBUG, __VA_ARGS__)
#define fc_info(...)  fc_log(FC_LOG_INFO, __VA_ARGS__)
#define fc_warn(...)  fc_log(FC_LOG_WARN, __VA_ARGS__)
#define fc_error(...) fc_log(FC_LOG_ERROR, __VA_ARGS__)

#endif
