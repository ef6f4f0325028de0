/* Credentials out of everything framecast shows: logs, status messages,
 * error texts and the unauthenticated /api/streams.
 *
 * A URL loses its userinfo (everything up to the last '@' before the query,
 * as FFmpeg reads "rtsp://user:p@ss@host/"; a '/' in a password is covered
 * too) and the value of every parameter whose name contains password, pass,
 * pwd, token, key, secret, auth, signature or credential (any case), in the
 * query, the fragment or the path (cameras that take
 * "/user=admin&password=x&channel=1"). Each becomes "***".
 * Pure functions; any thread. */
#ifndef FC_UTIL_REDACT_H
#define FC_UTIL_REDACT_H

#include <stddef.h>

/* A redacted copy of url; the caller frees it (NULL: out of memory). Text
 * without "://" is returned as it is (file paths, v4l2:/dev/video0). */
char *fc_redact_url(const char *url);

/* A redacted copy of free text (a log line, a command line): every URL in it
 * as fc_redact_url does, and the value of every NAME=VALUE whose NAME is a
 * secret's (--token=abc). The caller frees it; NULL: out of memory. */
char *fc_redact_text(const char *text);

/* 1 if a parameter called name (len bytes) carries a secret. */
int fc_redact_secret_name(const char *name, size_t len);

#endif
