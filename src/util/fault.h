/* Fault injection for the tests of failure paths. In a build configured
 * with FC_FAULT_INJECTION (the test build), FC_FAULT=SITE:N in the
 * environment makes the Nth call (from 1) of fc_fault(SITE) return 1, so
 * the caller takes its failure branch as if the resource had run out. In
 * other builds fc_fault is a constant 0 and costs nothing.
 *
 * Sites: "loop_init" (an I/O loop's uv_loop_init), "loop_thread" (an I/O
 * thread), "worker_thread" (a predictor worker), "source_thread".
 * Any thread. */
#ifndef FC_UTIL_FAULT_H
#define FC_UTIL_FAULT_H

#ifdef FC_FAULT_INJECTION
int fc_fault(const char *site);
#else
static inline int fc_fault(const char *site) {
    (void)site;
    return 0;
}
#endif

#endif
