/* syscall-cost: the cost of entering and leaving the kernel on this machine
 * (one million getppid calls), to judge what batching system calls (e.g.
 * io_uring) could save per delivery. Build and run:
 *     cc -O2 -o /tmp/syscall-cost bench/syscall_cost.c && /tmp/syscall-cost */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 1000000; i++) syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("%.3f us per system call (1e6 getppid)\n", ns / 1e6 / 1000);
    return 0;
}
