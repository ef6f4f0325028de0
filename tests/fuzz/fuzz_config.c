/* libFuzzer target for the configuration file (src/app/config_file.c,
 * libinih under it) and the options it sets (src/app/config.c): the file
 * is whatever an operator, or a package's template, left in /etc.
 *
 * The input is the file's text, read through --config as framecast reads
 * it (a memfd named by /proc/self/fd). Whatever it holds, the result is OK
 * or a refusal with every problem listed and the first in err; nothing
 * prints or exits; and the configuration frees cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/config.h"
#include "util/error.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) __builtin_trap();                                                             \
    } while (0)

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fd = memfd_create("framecast.conf", 0);
    if (fd < 0) abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) abort();
    char *argv[] = {"framecast", "--config", path, NULL};
    fc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[512];
    err[0] = 0;
    int rc = fc_config_parse(&cfg, 3, argv, err, sizeof err);
    CHECK(rc == FC_CONFIG_OK || rc == FC_EINVAL_OPT);
    if (rc == FC_CONFIG_OK) {
        CHECK(cfg.nproblems == 0);
        CHECK(cfg.nstreams >= 0 && cfg.nstreams <= FC_MAX_CONFIG_STREAMS);
        for (int i = 0; i < cfg.nstreams; i++) CHECK(cfg.streams[i].name && cfg.streams[i].source);
    } else {
        CHECK(cfg.nproblems > 0 && err[0] != 0);
        CHECK(strncmp(err, cfg.problems[0], sizeof err - 1) == 0);
        for (int i = 0; i < cfg.nproblems; i++) CHECK(cfg.problems[i] && cfg.problems[i][0]);
    }
    fc_config_free(&cfg);
    return 0;
}
