/* The exec predictor: a model in any language, run as a long-lived child
 * process (`exec:cmd=python3 my_model.py`).
 *
 * Protocol (docs/predictors.md): for each frame framecast writes to the
 * child's stdin a 48-byte little-endian header followed by the pixels, rows
 * tightly packed (planes one after another for yuv420p); the child answers
 * with one line of JSON on its stdout: {"detections":[{"label","score",
 * "box":[x,y,w,h]}]} in the pixels of the frame it was given, or
 * {"error":"..."}. Its stderr is ours.
 *
 * Why pipes and not a shared-memory ring: a pipe carries a 640x360 RGB frame
 * (691 KB) in well under a millisecond, needs nothing but stdin/stdout in
 * the child (any language reads a pipe; shared memory needs a library and
 * a cleanup story when either side dies), and a frame that is written is a
 * frame the child owns, so no locking protocol is needed.
 *
 * The child is started on the first frame and restarted, with a backoff of
 * 0.1 s doubling to 5 s, when it exits or breaks the protocol; a frame that
 * gets no answer within timeout_ms is reported as an error and the child is
 * killed (its next answer could not be matched to a frame). One child per
 * worker. Options: cmd= (required, run by /bin/sh -c; it takes the rest of
 * the option string, commas included, so it comes last), format=gray8|rgb24|
 * bgr24|yuv420p (rgb24), width=N (0: source width; height keeps the aspect
 * ratio), timeout_ms=N (2000). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "predict/registry.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/opts.h"
#include "util/redact.h"

extern char **environ;

#define EXEC_MAGIC   0x31464346u /* "FCF1" */
#define EXEC_HDR_LEN 48
#define LINE_MAX_LEN (1 << 20)

struct exec_pred {
    char *cmd;
    enum fc_pixfmt format;
    int width;
    int timeout_ms;
    pid_t pid; /* 0: not running */
    int in_fd, out_fd;
    char *line; /* bytes read from the child and not yet used */
    size_t line_len;
    int64_t restart_at_us; /* do not start the child before this */
    int64_t backoff_us;
};

static int parse_format(const char *s, enum fc_pixfmt *f) {
    static const struct {
        const char *name;
        enum fc_pixfmt f;
    } fmts[] = {{"gray8", FC_PIX_GRAY8},
                {"rgb24", FC_PIX_RGB24},
                {"bgr24", FC_PIX_BGR24},
                {"yuv420p", FC_PIX_YUV420P}};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
        if (strcmp(s, fmts[i].name) == 0) {
            *f = fmts[i].f;
            return 0;
        }
    return -1;
}

static int exec_create(const char *opts, void **instance, char *err, size_t errlen) {
    /* cmd= takes the rest of the string, commas included: put it last. */
    char *copy = strdup(opts ? opts : "");
    char *cmd = NULL;
    for (char *p = copy; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, "cmd=", 4) == 0) {
            cmd = p + 4;
            if (p > copy)
                p[-1] = 0;
            else
                *p = 0;
            break;
        }
    fc_opts o;
    if (fc_opts_parse(&o, "--predictor exec", copy, err, errlen)) {
        free(copy);
        return FC_EINVAL_OPT;
    }
    struct exec_pred *e = calloc(1, sizeof *e);
    long width = 0, timeout = 0;
    int rc = e ? 0 : FC_EINVAL_OPT;
    if (!e) {
        fc_opts_free(&o);
        free(copy);
        return rc;
    }
    const char *fmt = fc_opts_get(&o, "format");
    if (!rc && (!cmd || !*cmd)) {
        snprintf(err, errlen,
                 "--predictor exec: cmd= is required (e.g. exec:cmd=python3 model.py)");
        rc = FC_EINVAL_OPT;
    }
    e->format = FC_PIX_RGB24;
    if (!rc && fmt && parse_format(fmt, &e->format)) {
        snprintf(err, errlen,
                 "--predictor exec: format='%s' is not valid (expected gray8, rgb24, bgr24 or "
                 "yuv420p)",
                 fmt);
        rc = FC_EINVAL_OPT;
    }
    if (!rc) rc = fc_opts_int(&o, "width", 0, 0, 16384, &width, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "timeout_ms", 2000, 1, 3600000, &timeout, err, errlen);
    if (!rc) rc = fc_opts_finish(&o, "format, width, timeout_ms, cmd (last)", err, errlen);
    if (!rc) {
        e->cmd = strdup(cmd);
        e->width = (int)width;
        e->timeout_ms = (int)timeout;
        e->in_fd = e->out_fd = -1;
        e->backoff_us = 100000;
        *instance = e;
    } else {
        free(e);
    }
    fc_opts_free(&o);
    free(copy);
    return rc;
}

static void exec_wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    struct exec_pred *e = instance;
    *format = e->format;
    *width = e->width;
    *height = 0;
}

static void stop_child(struct exec_pred *e) {
    if (e->in_fd >= 0) close(e->in_fd);
    if (e->out_fd >= 0) close(e->out_fd);
    e->in_fd = e->out_fd = -1;
    if (e->pid > 0) {
        kill(-e->pid, SIGKILL); /* the whole group */
        waitpid(e->pid, NULL, 0);
    }
    e->pid = 0;
    e->line_len = 0;
}

/* The child failed: stop it and schedule a restart after the backoff. */
static void child_failed(struct exec_pred *e) {
    stop_child(e);
    e->restart_at_us = fc_mono_us() + e->backoff_us;
    e->backoff_us = e->backoff_us * 2 > 5000000 ? 5000000 : e->backoff_us * 2;
}

static int start_child(struct exec_pred *e, char *err, size_t errlen) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC)) goto fail_errno;
    if (pipe2(out, O_CLOEXEC)) {
        close(in[0]);
        close(in[1]);
        goto fail_errno;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    /* Its own process group, so stopping it stops everything the command
     * started (the shell and the model alike). */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    char *argv[] = {"/bin/sh", "-c", e->cmd, NULL};
    int rc = posix_spawn(&e->pid, "/bin/sh", &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc) {
        close(in[1]);
        close(out[0]);
        e->pid = 0;
        errno = rc;
        goto fail_errno;
    }
    e->in_fd = in[1];
    e->out_fd = out[0];
    fcntl(e->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(e->in_fd, F_SETFL, O_NONBLOCK);
    /* A pipe that holds a whole frame (up to the system's pipe-max-size,
     * 1 MiB by default) takes it in one write instead of sixteen 64 KiB
     * rounds of write, wake-up and read. */
    fcntl(e->in_fd, F_SETPIPE_SZ, 1 << 20);
    char *shown = fc_redact_text(e->cmd);
    fc_info("exec predictor: started '%s' (pid %d)", shown, (int)e->pid);
    free(shown);
    return 0;
fail_errno:;
    char *cmd = fc_redact_text(e->cmd);
    snprintf(err, errlen, "exec: cannot start '%s': %s", cmd, strerror(errno));
    free(cmd);
    return -1;
}

/* The child broke its pipe: says why (its exit status when it exited on its
 * own within 200 ms, else what it did) and reaps it. */
static void describe_exit(struct exec_pred *e, const char *what, char *err, size_t errlen) {
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 20 && (r = waitpid(e->pid, &status, WNOHANG)) == 0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(-e->pid, SIGKILL); /* whatever is left of its group */
    if (r == 0) {
        waitpid(e->pid, &status, 0);
        snprintf(err, errlen, "exec: the model process %s", what);
    } else if (WIFEXITED(status)) {
        snprintf(err, errlen, "exec: the model process exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(err, errlen, "exec: the model process was killed by signal %d",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    e->pid = 0;
}

/* Writes all of data before the deadline. Returns 0, or -1 with err set. */
static int write_all(struct exec_pred *e, const void *data, size_t len, int64_t deadline, char *err,
                     size_t errlen) {
    const char *p = data;
    while (len) {
        ssize_t n = write(e->in_fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            describe_exit(e, "stopped reading its input", err, errlen);
            return -1;
        }
        int left = (int)((deadline - fc_mono_us()) / 1000);
        struct pollfd pfd = {.fd = e->in_fd, .events = POLLOUT};
        if (left <= 0 || poll(&pfd, 1, left) == 0) {
            snprintf(err, errlen, "exec: the model did not take the frame within %d ms",
                     e->timeout_ms);
            return -1;
        }
    }
    return 0;
}

/* Reads one line (without the newline) into e->line. Returns its length,
 * or -1 with err set. */
static long read_line(struct exec_pred *e, int64_t deadline, char *err, size_t errlen) {
    for (;;) {
        char *nl = e->line_len ? memchr(e->line, '\n', e->line_len) : NULL;
        if (nl) return nl - e->line;
        if (e->line_len >= LINE_MAX_LEN) {
            snprintf(err, errlen, "exec: the model's answer is longer than %d bytes", LINE_MAX_LEN);
            return -1;
        }
        if (!e->line && !(e->line = malloc(LINE_MAX_LEN))) return -1;
        ssize_t n = read(e->out_fd, e->line + e->line_len, LINE_MAX_LEN - e->line_len);
        if (n > 0) {
            e->line_len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            describe_exit(e, "closed its output", err, errlen);
            return -1;
        }
        int left = (int)((deadline - fc_mono_us()) / 1000);
        struct pollfd pfd = {.fd = e->out_fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) == 0) {
            snprintf(err, errlen, "exec: no answer within %d ms", e->timeout_ms);
            return -1;
        }
    }
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_i64(uint8_t *p, int64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}

/* Writes the frame: header, then each plane's rows without padding. */
static int send_frame(struct exec_pred *e, const fc_frame_view *f, int64_t deadline, char *err,
                      size_t errlen) {
    int planes = f->format == FC_PIX_YUV420P ? 3 : 1;
    int bpp = f->format == FC_PIX_RGB24 || f->format == FC_PIX_BGR24 ? 3 : 1;
    int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
    uint64_t payload = (uint64_t)f->width * f->height * bpp + (planes == 3 ? 2ull * cw * ch : 0);
    uint8_t h[EXEC_HDR_LEN] = {0};
    put_u32(h, EXEC_MAGIC);
    put_u32(h + 4, EXEC_HDR_LEN);
    put_i64(h + 8, f->index);
    put_i64(h + 16, f->pts_us);
    put_u32(h + 24, (uint32_t)f->width);
    put_u32(h + 28, (uint32_t)f->height);
    put_u32(h + 32, (uint32_t)f->format);
    put_u32(h + 36, (uint32_t)payload);
    put_u32(h + 40, (uint32_t)f->src_width);
    put_u32(h + 44, (uint32_t)f->src_height);
    if (write_all(e, h, sizeof h, deadline, err, errlen)) return -1;
    for (int p = 0; p < planes; p++) {
        int rw = p == 0 ? f->width * bpp : cw, rows = p == 0 ? f->height : ch;
        if (f->stride[p] == rw) {
            if (write_all(e, f->data[p], (size_t)rw * rows, deadline, err, errlen)) return -1;
            continue;
        }
        for (int y = 0; y < rows; y++)
            if (write_all(e, f->data[p] + (size_t)y * f->stride[p], (size_t)rw, deadline, err,
                          errlen))
                return -1;
    }
    return 0;
}

/* A JSON number as a float. Converting a double outside float's range is
 * undefined behaviour in C, so those become infinities; the renderer drops
 * detections with non-finite numbers (docs/protocol.md). */
static float to_float(double v) {
    if (isnan(v)) return NAN;
    if (v > FLT_MAX) return INFINITY;
    if (v < -FLT_MAX) return -INFINITY;
    return (float)v;
}

/* Parses the answer into out; boxes are scaled from frame to source pixels. */
static int parse_answer(const char *line, size_t len, const fc_frame_view *f, fc_detection *out,
                        int max, char *err, size_t errlen) {
    cJSON *root = cJSON_ParseWithLength(line, len);
    int n = 0;
    int shown = len < 80 ? (int)len : 80; /* line is not NUL-terminated */
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "exec: the model's answer is not a JSON object: %.*s", shown, line);
        n = -1;
        goto out;
    }
    cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsString(e)) {
        snprintf(err, errlen, "model: %s", e->valuestring);
        n = -1;
        goto out;
    }
    cJSON *dets = cJSON_GetObjectItemCaseSensitive(root, "detections");
    if (!cJSON_IsArray(dets)) {
        snprintf(err, errlen, "exec: the model's answer has no \"detections\" array: %.*s", shown,
                 line);
        n = -1;
        goto out;
    }
    double sx = (double)f->src_width / f->width, sy = (double)f->src_height / f->height;
    cJSON *d;
    cJSON_ArrayForEach(d, dets) {
        if (n == max) break;
        cJSON *label = cJSON_GetObjectItemCaseSensitive(d, "label");
        cJSON *score = cJSON_GetObjectItemCaseSensitive(d, "score");
        cJSON *box = cJSON_GetObjectItemCaseSensitive(d, "box");
        if (!cJSON_IsArray(box) || cJSON_GetArraySize(box) != 4) {
            snprintf(err, errlen, "exec: a detection needs \"box\":[x,y,w,h]: %.*s", shown, line);
            n = -1;
            goto out;
        }
        fc_detection *o = &out[n++];
        snprintf(o->label, sizeof o->label, "%s",
                 cJSON_IsString(label) ? label->valuestring : "object");
        o->score = cJSON_IsNumber(score) ? to_float(score->valuedouble) : 1.0f;
        for (int k = 0; k < 4; k++) {
            cJSON *v = cJSON_GetArrayItem(box, k);
            double x = cJSON_IsNumber(v) ? v->valuedouble : 0;
            o->box[k] = to_float(x * (k % 2 == 0 ? sx : sy));
        }
    }
out:
    cJSON_Delete(root);
    return n;
}

static int exec_predict(void *instance, const fc_frame_view *f, fc_detection *out, int max,
                        char *err, size_t errlen) {
    struct exec_pred *e = instance;
    if (!e->pid) {
        int64_t wait_us = e->restart_at_us - fc_mono_us();
        if (wait_us > 0) {
            snprintf(err, errlen, "exec: the model process is restarting (in %lld ms)",
                     (long long)(wait_us / 1000));
            return -1;
        }
        if (start_child(e, err, errlen)) {
            child_failed(e);
            return -1;
        }
    }
    int64_t deadline = fc_mono_us() + (int64_t)e->timeout_ms * 1000;
    long n = -1;
    if (send_frame(e, f, deadline, err, errlen) == 0) n = read_line(e, deadline, err, errlen);
    if (n < 0) {
        child_failed(e);
        return -1;
    }
    int count = parse_answer(e->line, (size_t)n, f, out, max, err, errlen);
    e->line_len -= (size_t)n + 1;
    memmove(e->line, e->line + n + 1, e->line_len);
    e->backoff_us = 100000; /* it answered: the next failure starts the backoff over */
    return count;
}

static void exec_destroy(void *instance) {
    struct exec_pred *e = instance;
    stop_child(e);
    free(e->line);
    free(e->cmd);
    free(e);
}

static const fc_predictor_api exec_api = {
    .abi_major = FC_PREDICTOR_ABI_MAJOR,
    .abi_minor = FC_PREDICTOR_ABI_MINOR,
    .name = "exec",
    .flags = 0,
    .create = exec_create,
    .wants = exec_wants,
    .predict = exec_predict,
    .destroy = exec_destroy,
};

const fc_predictor_api *fc_predictor_exec(void) {
    return &exec_api;
}
