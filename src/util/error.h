/* Error codes: functions return 0 or a negative code, either -errno or one of
 * the FC_E* values below (chosen far outside errno's range). */
#ifndef FC_UTIL_ERROR_H
#define FC_UTIL_ERROR_H

enum {
    FC_EINVAL_OPT = -10001, /* a malformed option or value */
    FC_EUNKNOWN = -10002,   /* an unknown name (scheme, predictor, stream) */
    FC_ESTOPPED = -10003,   /* the object is shutting down */
    FC_EFULL = -10004,      /* no room now: try again later */
};

/* Words for a code from this project, errno or libuv. Never NULL. */
const char *fc_strerror(int err);

#endif
