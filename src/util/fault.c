/* Fault injection (see fault.h). */
#include "util/fault.h"

#ifdef FC_FAULT_INJECTION
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Calls of the configured site so far: test-only state, in no other build. */
static atomic_long calls;

int fc_fault(const char *site) {
    const char *spec = getenv("FC_FAULT");
    size_t n = strlen(site);
    if (!spec || strncmp(spec, site, n) != 0 || spec[n] != ':') return 0;
    return atomic_fetch_add(&calls, 1) + 1 == atol(spec + n + 1);
}
#endif
