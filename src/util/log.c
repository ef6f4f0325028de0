/* Logging sink (see log.h). The level, the format and the table of recent
 * warnings are the only global mutable state besides signal flags
 * (STYLE.md): they belong to the one sink. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/strbuf.h"

static atomic_int log_level = FC_LOG_INFO;
static atomic_int log_format = FC_LOG_TEXT;

/* Recent warnings and errors, by call (the format string's address). */
#define RECENT 16
static struct {
    const char *fmt;
    int64_t first_us; /* the window it was written in */
    unsigned suppressed;
} recent[RECENT];
static pthread_mutex_t recent_mu = PTHREAD_MUTEX_INITIALIZER;

void fc_log_set_level(enum fc_log_level level) {
    atomic_store(&log_level, (int)level);
}

int fc_log_parse_level(const char *name) {
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

void fc_log_set_format(enum fc_log_format format) {
    atomic_store(&log_format, (int)format);
}

int fc_log_parse_format(const char *name) {
    static const char *names[] = {"text", "logfmt", "json"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

/* For a warning or an error: 0 to write it, 1 to suppress it (the same call
 * was written less than a second ago). *before: how many were suppressed
 * since the last one written. */
static int rate_limited(const char *fmt, unsigned *before) {
    int64_t now = fc_mono_us();
    int hit = -1, free_slot = 0;
    pthread_mutex_lock(&recent_mu);
    for (int i = 0; i < RECENT; i++) {
        if (recent[i].fmt == fmt) hit = i;
        if (recent[i].first_us < recent[free_slot].first_us) free_slot = i;
    }
    int suppress = 0;
    *before = 0;
    if (hit >= 0 && now - recent[hit].first_us < 1000000) {
        recent[hit].suppressed++;
        suppress = 1;
    } else {
        int i = hit >= 0 ? hit : free_slot; /* the oldest slot makes room */
        *before = hit >= 0 ? recent[i].suppressed : 0;
        recent[i].fmt = fmt;
        recent[i].first_us = now;
        recent[i].suppressed = 0;
    }
    pthread_mutex_unlock(&recent_mu);
    return suppress;
}

/* value as a logfmt value: bare when it can be, else quoted. */
static void logfmt_value(fc_strbuf *sb, const char *v) {
    int bare = *v != 0;
    for (const char *p = v; *p && bare; p++) bare = *p > ' ' && *p != '"' && *p != '=' && *p < 127;
    if (bare) {
        fc_sb_puts(sb, v);
        return;
    }
    fc_sb_puts(sb, "\"");
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fc_sb_printf(sb, "\\%c", *p);
        else if ((unsigned char)*p < ' ')
            fc_sb_puts(sb, " ");
        else
            fc_sb_append(sb, p, 1);
    }
    fc_sb_puts(sb, "\"");
}

void fc_logx(enum fc_log_level level, const fc_log_ctx *ctx, const char *fmt, ...) {
    static const char *tags[] = {"debug", "info", "warning", "error"};
    if ((int)level < atomic_load(&log_level) || level >= FC_LOG_OFF) return;
    unsigned suppressed = 0;
    if (level >= FC_LOG_WARN && !(ctx && ctx->each) && rate_limited(fmt, &suppressed)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (suppressed) {
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len, " (and %u more like it in the last second)",
                 suppressed);
    }
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    int format = atomic_load(&log_format);
    if (format == FC_LOG_TEXT) {
        fc_sb_printf(&sb, "framecast: %s: %s\n", tags[level], msg);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char when[40];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + strlen(when), sizeof when - strlen(when), ".%03ldZ", ts.tv_nsec / 1000000);
        const char *stream = ctx ? ctx->stream : NULL, *client = ctx ? ctx->client : NULL;
        if (format == FC_LOG_JSON) {
            fc_sb_printf(&sb, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", when, tags[level]);
            fc_sb_json_str(&sb, msg);
            if (stream) fc_sb_puts(&sb, ",\"stream\":"), fc_sb_json_str(&sb, stream);
            if (client) fc_sb_puts(&sb, ",\"client\":"), fc_sb_json_str(&sb, client);
            fc_sb_puts(&sb, "}\n");
        } else {
            fc_sb_printf(&sb, "time=%s level=%s msg=", when, tags[level]);
            logfmt_value(&sb, msg);
            if (stream) fc_sb_puts(&sb, " stream="), logfmt_value(&sb, stream);
            if (client) fc_sb_puts(&sb, " client="), logfmt_value(&sb, client);
            fc_sb_puts(&sb, "\n");
        }
    }
    if (fc_sb_failed(&sb)) /* out of memory: the message still goes out, plainly */
        fprintf(stderr, "framecast: %s: %s\n", tags[level], msg);
    else
        fwrite(sb.data, 1, sb.len, stderr);
    fc_sb_free(&sb);
}
