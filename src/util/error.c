#include "util/error.h"

#include <string.h>
#include <uv.h>

const char *fc_strerror(int err) {
    switch (err) {
    case 0:
        return "success";
    case FC_EINVAL_OPT:
        return "invalid option";
    case FC_EUNKNOWN:
        return "unknown name";
    case FC_ESTOPPED:
        return "stopped";
    case FC_EFULL:
        return "no room, try again later";
    }
    /* libuv's codes are negated errno values on Unix, so uv_strerror covers both. */
    return uv_strerror(err);
}
