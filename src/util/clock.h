/* Clocks: wall-clock microseconds (for timestamps clients compare) and
 * monotonic microseconds (for intervals and deadlines). Any thread. */
#ifndef FC_UTIL_CLOCK_H
#define FC_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t fc_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t fc_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
