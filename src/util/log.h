/* Logging: one process-wide sink (stderr), a level and a format. Each line
 * is written with a single fwrite, so lines from threads never mix.
 *
 * Formats (--log-format): text ("framecast: info: message"), logfmt
 * (time=... level=info msg="..." stream=demo) and json (one object a line:
 * time, level, msg, and stream or client when the line is about one).
 * The keys are stable. A warning or error repeated (the same call) within
 * a second is written once; the next one written says how many were
 * suppressed (fc_log_each: a list, every line written). Thread-safe. */
#ifndef FC_UTIL_LOG_H
#define FC_UTIL_LOG_H

enum fc_log_level { FC_LOG_DEBUG = 0, FC_LOG_INFO, FC_LOG_WARN, FC_LOG_ERROR, FC_LOG_OFF };
enum fc_log_format { FC_LOG_TEXT = 0, FC_LOG_LOGFMT, FC_LOG_JSON };

void fc_log_set_level(enum fc_log_level level);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int fc_log_parse_level(const char *name);
void fc_log_set_format(enum fc_log_format format);
/* Parses "text", "logfmt", "json"; returns -1 if unknown. */
int fc_log_parse_format(const char *name);

/* What a line is about, for the stable keys; either may be NULL. */
typedef struct fc_log_ctx {
    const char *stream;
    const char *client; /* the remote address */
    int each;           /* one line of a list (every problem of a file): never rate-limited */
} fc_log_ctx;

void fc_logx(enum fc_log_level level, const fc_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define fc_log(level, ...) fc_logx(level, NULL, __VA_ARGS__)

#define fc_debug(...) fc_log(FC_LOG_DEBUG, __VA_ARGS__)
#define fc_info(...)  fc_log(FC_LOG_INFO, __VA_ARGS__)
#define fc_warn(...)  fc_log(FC_LOG_WARN, __VA_ARGS__)
#define fc_error(...) fc_log(FC_LOG_ERROR, __VA_ARGS__)

/* A warning or error that is one of a list told at once (the problems of
 * a configuration): each is written, however many. */
#define fc_log_each(level, ...) fc_logx(level, &(const fc_log_ctx){.each = 1}, __VA_ARGS__)

/* A line about a stream (the key "stream" in logfmt and json). */
#define fc_log_stream(level, name, ...)                                                            \
    fc_logx(level, &(const fc_log_ctx){.stream = (name)}, __VA_ARGS__)

#endif
