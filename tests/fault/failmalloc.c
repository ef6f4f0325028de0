/* An LD_PRELOAD library that makes framecast's own memory allocations fail
 * on purpose, for tests/integration/test_failmalloc.py.
 *
 * Only allocations called from the main executable fail: a failure inside
 * libuv, FFmpeg or OpenSSL tests their handling, not ours. The calls are
 * counted from the first one; FC_FAILMALLOC in the environment says which
 * fail:
 *
 *   nth=N              the Nth allocation (from 1), and only it
 *   rate=P,after=N,seed=S,ms=T
 *                      after the first N allocations, each one with
 *                      probability P (0..1), for T milliseconds from the
 *                      first one that may fail (0: for ever)
 *
 * Every failure is counted; FC_FAILMALLOC_REPORT=FILE appends the count at
 * exit. Written by hand: no Debian package injects allocation failures
 * selectively by caller. glibc's __libc_* entry points give the real
 * allocator without dlsym (which itself allocates). */
#define _GNU_SOURCE
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

/* The executable's code, [lo, hi): a caller there is framecast. */
static uintptr_t text_lo, text_hi;
static long nth, after, window_ms;
static atomic_long window_end_ms; /* set by the first call past `after` */
static double rate;
static atomic_ulong rng;
static atomic_long calls, failed;
static int enabled;

static int find_text(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    (void)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            text_lo = info->dlpi_addr + ph->p_vaddr;
            text_hi = text_lo + ph->p_memsz;
        }
    }
    return 1; /* the first object is the executable */
}

static void report(void) {
    const char *path = getenv("FC_FAILMALLOC_REPORT");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (!f) return;
    fprintf(f, "calls=%ld failed=%ld\n", atomic_load(&calls), atomic_load(&failed));
    fclose(f);
}

__attribute__((constructor)) static void init(void) {
    const char *spec = getenv("FC_FAILMALLOC");
    if (!spec) return;
    unsigned long seed = 1;
    for (const char *p = spec; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (!strncmp(p, "nth=", 4)) nth = atol(p + 4);
        if (!strncmp(p, "rate=", 5)) rate = atof(p + 5);
        if (!strncmp(p, "after=", 6)) after = atol(p + 6);
        if (!strncmp(p, "ms=", 3)) window_ms = atol(p + 3);
        if (!strncmp(p, "seed=", 5)) seed = strtoul(p + 5, NULL, 10);
    }
    atomic_store(&rng, seed * 2654435761u + 1);
    dl_iterate_phdr(find_text, NULL);
    enabled = text_hi > text_lo;
    atexit(report);
}

/* xorshift64 over an atomic state: good enough to scatter failures. */
static double uniform(void) {
    unsigned long x = atomic_load(&rng), y;
    do {
        y = x;
        y ^= y << 13;
        y ^= y >> 7;
        y ^= y << 17;
    } while (!atomic_compare_exchange_weak(&rng, &x, y));
    return (double)(y >> 11) / (double)(1ul << 53);
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 while failures may happen: within ms= of the first call past after=. */
static int in_window(void) {
    if (!window_ms) return 1;
    long end = atomic_load(&window_end_ms), t = now_ms();
    if (!end) {
        long zero = 0;
        atomic_compare_exchange_strong(&window_end_ms, &zero, t + window_ms);
        end = atomic_load(&window_end_ms);
    }
    return t < end;
}

static int should_fail(void *caller) {
    uintptr_t c = (uintptr_t)caller;
    if (!enabled || c < text_lo || c >= text_hi) return 0;
    long n = atomic_fetch_add(&calls, 1) + 1;
    int fail = nth ? n == nth : (n > after && in_window() && uniform() < rate);
    if (fail) atomic_fetch_add(&failed, 1);
    return fail;
}

void *malloc(size_t n) {
    return should_fail(__builtin_return_address(0)) ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
    return should_fail(__builtin_return_address(0)) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
    return should_fail(__builtin_return_address(0)) ? NULL : __libc_realloc(p, n);
}

char *strdup(const char *s) {
    if (should_fail(__builtin_return_address(0))) return NULL;
    size_t n = strlen(s) + 1;
    char *d = __libc_malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

char *strndup(const char *s, size_t max) {
    if (should_fail(__builtin_return_address(0))) return NULL;
    size_t n = strnlen(s, max);
    char *d = __libc_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}
