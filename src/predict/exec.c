/* The exec predictor: a model in any language, run as a long-lived child
 * process (`exec:cmd=python3 my_model.py`).
 *
 * Protocol (docs/predictors.md): for each frame framecast writes to the
 * child's stdin a 48-byte little-endian header (magic "FCF2") followed by
 * the pixels, rows tightly packed (planes one after another for yuv420p).
 * The child answers on a channel of its own, file descriptor 3
 * (FRAMECAST_ANSWER_FD), one line of JSON per frame that names the frame:
 * {"frame":N,"detections":[{"label","score","box":[x,y,w,h]}]} in the pixels
 * of the frame it was given, or {"frame":N,"error":"..."}. What it prints on
 * stdout and stderr is not an answer: it goes to framecast's log, line by
 * line, prefixed with the stream.
 *
 * batch=N (> 1) lets the child predict several frames at once: framecast
 * writes the k <= N frames a worker took together (the ones already
 * waiting), each with a 56-byte header that adds how many frames of the
 * batch are left, this one included, then reads their k answers, in order.
 * batch=1, the default, is the 48-byte header and one frame at a time.
 *
 * Why a channel of its own: with answers on stdout, a single debug print()
 * in the model was taken as the next frame's answer and every later frame
 * got the boxes of an earlier one, with nothing to tell. Now a print cannot
 * reach the results, and an answer that names another frame, is not JSON,
 * or does not come within timeout_ms is a broken protocol: the frame (every
 * frame of its batch) gets an error result and the child is killed and
 * started again, so no later answer can be matched to the wrong frame.
 *
 * Why pipes and not a shared-memory ring: a pipe carries a 640x360 RGB frame
 * (691 KB) in well under a millisecond, needs nothing but file descriptors
 * in the child (any language reads a pipe; shared memory needs a library and
 * a cleanup story when either side dies), and a frame that is written is a
 * frame the child owns, so no locking protocol is needed.
 *
 * The child is started on the first frame and restarted, with a backoff of
 * 0.1 s doubling to 5 s (back to 0.1 s after a child that ran 5 s), when
 * it exits or breaks the protocol (state RESTARTING, told to framecast
 * through the host). A child that exits on
 * its own before answering any frame give_up_after times in a row (a missing
 * command, a model that crashes at start-up) is not started again: the
 * predictor reports FAILED with the reason, which ends the stream. One child
 * per worker, driven on that worker's thread only (the instance has no
 * lock). Options: name= (the results' "model"), format=gray8|rgb24|bgr24|
 * yuv420p (rgb24), width=N (0: source width; height keeps the aspect ratio),
 * timeout_ms=N (2000; per frame, so a batch of k frames has k times as
 * long), start_timeout_ms=N (30000: a child's first answer), give_up_after=N
 * (3; 0: never), batch=N (1; 1..64), cmd= (required, run by /bin/sh -c; it
 * takes the rest of the option string, commas included, so it comes last).
 *
 * The child's environment is framecast's plus FRAMECAST_ANSWER_FD=3,
 * PYTHONUNBUFFERED=1 (unless set) and the Python model kit's directory at
 * the end of PYTHONPATH, so `python3 -m framecast.model mymodel:predict`
 * runs from the source tree and from an install alike. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "predict/exec_answer.h"
#include "predict/registry.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/opts.h"
#include "util/redact.h"

extern char **environ;

#define EXEC_MAGIC   0x32464346u /* "FCF2": answers on fd 3, naming their frame */
#define EXEC_HDR_LEN 48
#define ANSWER_FD    3
#define ANSWER_MAX   (1 << 20) /* bytes of one answer line */
#define OUTPUT_LINE  1024      /* a longer line of the model's output is logged in parts */
#define BACKOFF_MIN  100000
#define BACKOFF_MAX  5000000
#define STABLE_US    5000000 /* a child that ran this long starts the backoff over */

/* With batch=N > 1 the header is longer: + u32 frames of the batch left,
 * this one included, + u32 reserved. */
#define EXEC_HDR_LEN_BATCH 56

struct exec_pred {
    char *cmd;
    char *name;       /* the results' "model", or NULL */
    char *pythonpath; /* "PYTHONPATH=...:KIT" for the child, or NULL (no kit found) */
    enum fc_pixfmt format;
    int width;
    int timeout_ms;
    int start_timeout_ms; /* for a child's first answer: it loads its model first */
    int give_up_after;    /* quick exits in a row before FAILED; 0: never */
    int batch;            /* frames written before their answers are read (batch=N) */
    const fc_predictor_host *host;
    const char *stream; /* for log lines */
    pid_t pid;          /* 0: not running */
    int in_fd;          /* frames, to the child's stdin */
    int ans_fd;         /* answers, from the child's fd 3 */
    int out_fd;         /* the child's stdout and stderr, for the log */
    char *ans;          /* answer bytes read and not yet used */
    size_t ans_len;
    char out[OUTPUT_LINE]; /* a line of output not yet complete */
    size_t out_len;
    char last_output[200]; /* the model's last line of output, quoted in failures */
    int answer_on_stdout;  /* it printed a line that looks like an answer */
    int answered;          /* this child has answered a frame */
    int quick_exits;       /* children in a row that exited before answering */
    int failed;            /* gave up: every frame fails with why */
    char how[96];          /* how the last child ended: "exited with status 1" */
    char why[512];         /* why it is restarting or failed */
    int64_t started_us;    /* when the child was started */
    int64_t restart_at_us; /* do not start the child before this */
    int64_t backoff_us;
    struct iovec *iov; /* the frames being written */
    int iov_cap;
    uint8_t hdr[FC_PREDICTOR_BATCH_MAX][EXEC_HDR_LEN_BATCH]; /* their headers */
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

/* The Python model kit's directory (the one holding framecast/model.py), so
 * `python3 -m framecast.model` works without setup: an install's
 * share/framecast/python beside the binary's bin/, else this source tree's
 * python/. NULL when neither is there. */
static char *kit_dir(void) {
    char exe[PATH_MAX], dir[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(dir, sizeof dir, "%s/../share/framecast/python", exe);
        char probe[sizeof dir + 32];
        snprintf(probe, sizeof probe, "%s/framecast/model.py", dir);
        if (access(probe, R_OK) == 0) return realpath(dir, NULL);
    }
#ifdef FC_KIT_SOURCE_DIR
    if (access(FC_KIT_SOURCE_DIR "/framecast/model.py", R_OK) == 0)
        return strdup(FC_KIT_SOURCE_DIR);
#endif
    return NULL;
}

/* "PYTHONPATH=" the caller's, then the kit's: a framecast package of the
 * user's own comes first. NULL when there is no kit (or no memory). */
static char *kit_pythonpath(void) {
    char *kit = kit_dir();
    if (!kit) return NULL;
    const char *mine = getenv("PYTHONPATH");
    size_t len = 11 + (mine ? strlen(mine) + 1 : 0) + strlen(kit) + 1;
    char *env = malloc(len);
    if (env)
        snprintf(env, len, "PYTHONPATH=%s%s%s", mine && *mine ? mine : "", mine && *mine ? ":" : "",
                 kit);
    free(kit);
    return env;
}

static int exec_create(const char *opts, void **instance, char *err, size_t errlen) {
    /* cmd= takes the rest of the string, commas included: put it last. */
    char *copy = strdup(opts ? opts : "");
    if (!copy) return FC_EINVAL_OPT;
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
    long width = 0, timeout = 0, start_timeout = 0, give_up = 0, batch = 1;
    int rc = 0;
    if (!e) {
        fc_opts_free(&o);
        free(copy);
        return FC_EINVAL_OPT;
    }
    const char *fmt = fc_opts_get(&o, "format");
    const char *name = fc_opts_get(&o, "name");
    if (!cmd || !*cmd) {
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
    if (!rc && name && (!*name || strlen(name) > 64)) {
        snprintf(err, errlen,
                 "--predictor exec: name='%s' is not valid (expected 1 to 64 characters, the "
                 "results' \"model\")",
                 name);
        rc = FC_EINVAL_OPT;
    }
    if (!rc) rc = fc_opts_int(&o, "width", 0, 0, 16384, &width, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "timeout_ms", 2000, 1, 3600000, &timeout, err, errlen);
    if (!rc)
        rc = fc_opts_int(&o, "start_timeout_ms", 30000, 1, 3600000, &start_timeout, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "give_up_after", 3, 0, 1000000, &give_up, err, errlen);
    if (!rc) rc = fc_opts_int(&o, "batch", 1, 1, FC_PREDICTOR_BATCH_MAX, &batch, err, errlen);
    if (!rc)
        rc = fc_opts_finish(&o,
                            "name, format, width, timeout_ms, start_timeout_ms, give_up_after, "
                            "batch, cmd (last)",
                            err, errlen);
    if (!rc) {
        e->cmd = strdup(cmd);
        e->name = name ? strdup(name) : NULL;
        e->pythonpath = kit_pythonpath();
        e->width = (int)width;
        e->timeout_ms = (int)timeout;
        e->start_timeout_ms = (int)start_timeout;
        e->give_up_after = (int)give_up;
        e->batch = (int)batch;
        e->in_fd = e->ans_fd = e->out_fd = -1;
        e->backoff_us = BACKOFF_MIN;
        e->stream = "";
        *instance = e;
    } else {
        free(e);
    }
    fc_opts_free(&o);
    free(copy);
    return rc;
}

static void exec_attach(void *instance, const fc_predictor_host *host) {
    struct exec_pred *e = instance;
    e->host = host;
    e->stream = host->stream ? host->stream : "";
}

static const char *exec_model_name(void *instance) {
    return ((struct exec_pred *)instance)->name;
}

static int exec_batch_size(void *instance) {
    return ((struct exec_pred *)instance)->batch;
}

static void report(struct exec_pred *e, enum fc_predictor_state s, const char *why) {
    if (e->host && e->host->report) e->host->report(e->host, s, why);
}

static void exec_wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    struct exec_pred *e = instance;
    *format = e->format;
    *width = e->width;
    *height = 0;
}

/* One line the model printed: to the log, prefixed with the stream,
 * credentials removed and control characters made visible. */
static void log_output(struct exec_pred *e, const char *line, size_t len) {
    char clean[OUTPUT_LINE + 1];
    size_t n = 0;
    for (size_t i = 0; i < len && n < OUTPUT_LINE; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '\r' && i + 1 == len) break;
        clean[n++] = c < 0x20 && c != '\t' ? '?' : (char)c;
    }
    clean[n] = 0;
    char *shown = fc_redact_text(clean);
    fc_info("stream '%s': model: %s", e->stream, shown ? shown : clean);
    if (n) { /* cut to fit, on purpose (snprintf would warn at -O1) */
        const char *s = shown ? shown : clean;
        size_t k = strnlen(s, sizeof e->last_output - 1);
        memcpy(e->last_output, s, k);
        e->last_output[k] = 0;
    }
    free(shown);
    /* An FCF1 model, or one that prints its answer instead of writing it to
     * fd 3: worth saying when its frames then get no answer. */
    if (strncmp(clean, "{\"frame\"", 8) == 0 || strncmp(clean, "{\"detections\"", 13) == 0)
        e->answer_on_stdout = 1;
}

/* Reads what the model printed and logs each complete line. At eof (or
 * when the child is gone) a partial line is logged too. At most 256 KiB a
 * call, so a model that prints without pause cannot keep the worker here. */
static void drain_output(struct exec_pred *e, int eof) {
    for (int reads = 0; e->out_fd >= 0 && reads < 256; reads++) {
        ssize_t n = read(e->out_fd, e->out + e->out_len, sizeof e->out - e->out_len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(e->out_fd); /* it closed its stdout and stderr (or exited) */
                e->out_fd = -1;
                eof = 1;
            }
            break;
        }
        e->out_len += (size_t)n;
        char *start = e->out, *nl;
        while ((nl = memchr(start, '\n', e->out_len - (size_t)(start - e->out)))) {
            log_output(e, start, (size_t)(nl - start));
            start = nl + 1;
        }
        e->out_len -= (size_t)(start - e->out);
        memmove(e->out, start, e->out_len);
        if (e->out_len == sizeof e->out) { /* a very long line: log it in parts */
            log_output(e, e->out, e->out_len);
            e->out_len = 0;
        }
    }
    if (eof && e->out_len) {
        log_output(e, e->out, e->out_len);
        e->out_len = 0;
    }
}

/* Stops the child. grace_ms > 0: its stdin is closed first and it has that
 * long to exit by itself (and flush what it printed); then, or at once, its
 * whole process group is killed. */
static void stop_child(struct exec_pred *e, int grace_ms) {
    if (e->in_fd >= 0) close(e->in_fd);
    if (e->ans_fd >= 0) close(e->ans_fd);
    e->in_fd = e->ans_fd = -1;
    if (e->pid > 0) {
        int exited = 0;
        for (int waited = 0; waited < grace_ms && !exited; waited += 10) {
            struct timespec ts = {0, 10000000};
            drain_output(e, 0);
            exited = waitpid(e->pid, NULL, WNOHANG) == e->pid;
            if (!exited) nanosleep(&ts, NULL);
        }
        kill(-e->pid, SIGKILL); /* the whole group: what the command started, too */
        if (!exited) waitpid(e->pid, NULL, 0);
    }
    drain_output(e, 1); /* what it printed before it went */
    if (e->out_fd >= 0) close(e->out_fd);
    e->out_fd = -1;
    e->pid = 0;
    e->ans_len = 0;
}

/* The child failed (why says how). quick: it exited on its own before
 * answering any frame. Schedules a restart after the backoff, or gives up
 * after give_up_after quick exits in a row. why is copied. */
static void child_failed(struct exec_pred *e, const char *why, int quick) {
    stop_child(e, 0);
    e->quick_exits = quick ? e->quick_exits + 1 : 0;
    if (e->give_up_after > 0 && e->quick_exits >= e->give_up_after) {
        e->failed = 1;
        char times[48] = "";
        if (e->quick_exits > 1)
            snprintf(times, sizeof times, ", %d times in a row", e->quick_exits);
        if (e->last_output[0])
            snprintf(e->why, sizeof e->why,
                     "exec: the model %s before answering a frame%s, so it is not started again "
                     "(its last output: '%s')",
                     e->how, times, e->last_output);
        else
            snprintf(e->why, sizeof e->why,
                     "exec: the model %s before answering a frame%s, so it is not started again",
                     e->how, times);
        fc_error("stream '%s': %s", e->stream, e->why);
        report(e, FC_PREDICTOR_FAILED, e->why);
        return;
    }
    /* A child that ran a while failed for a new reason: start the backoff
     * over. One that answers a frame and dies keeps doubling it, so a model
     * that crashes on every frame is restarted (and reported) ever less
     * often, up to every 5 s. */
    if (e->answered && fc_mono_us() - e->started_us >= STABLE_US) e->backoff_us = BACKOFF_MIN;
    snprintf(e->why, sizeof e->why, "%s", why);
    fc_warn("stream '%s': %s; restarting it in %lld ms", e->stream, why,
            (long long)(e->backoff_us / 1000));
    e->restart_at_us = fc_mono_us() + e->backoff_us;
    e->backoff_us = e->backoff_us * 2 > BACKOFF_MAX ? BACKOFF_MAX : e->backoff_us * 2;
    report(e, FC_PREDICTOR_RESTARTING, why);
}

/* Moves a descriptor the child will get to 10 or above, so the dup2 calls
 * below never overwrite one another (pipe2 hands out the lowest free
 * numbers, which may be 0 to 3 when framecast's own are closed). */
static int high_fd(int fd) {
    if (fd >= 10) return fd;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return h;
}

static int start_child(struct exec_pred *e, char *err, size_t errlen) {
    int in[2] = {-1, -1}, ans[2] = {-1, -1}, out[2] = {-1, -1};
    int rc = 0;
    if (pipe2(in, O_CLOEXEC) || pipe2(ans, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) rc = errno;
    if (!rc && ((in[0] = high_fd(in[0])) < 0 || (ans[1] = high_fd(ans[1])) < 0 ||
                (out[1] = high_fd(out[1])) < 0))
        rc = errno;
    /* The answer channel's number, for models that want to look it up; and
     * Python's print() unbuffered (unless set otherwise), so what a model
     * prints reaches the log when it prints it, not 8 KiB later. */
    size_t nenv = 0;
    int has_unbuffered = 0;
    for (; environ[nenv]; nenv++)
        has_unbuffered |= strncmp(environ[nenv], "PYTHONUNBUFFERED=", 17) == 0;
    char **env = rc ? NULL : calloc(nenv + 4, sizeof *env);
    if (!rc && !env) rc = ENOMEM;
    if (!rc) {
        size_t k = 0;
        for (size_t i = 0; i < nenv; i++)
            if (strncmp(environ[i], "FRAMECAST_ANSWER_FD=", 20) != 0 &&
                !(e->pythonpath && strncmp(environ[i], "PYTHONPATH=", 11) == 0))
                env[k++] = environ[i];
        env[k++] = "FRAMECAST_ANSWER_FD=3";
        /* The model kit importable as `framecast`, after the user's own path. */
        if (e->pythonpath) env[k++] = e->pythonpath;
        if (!has_unbuffered) env[k++] = "PYTHONUNBUFFERED=1";
        env[k] = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, out[1], 2);
        posix_spawn_file_actions_adddup2(&fa, ans[1], ANSWER_FD);
        /* Its own process group, so stopping it stops everything the
         * command started (the shell and the model alike); SIGPIPE back to
         * its default, which framecast ignores and exec would keep. */
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t def;
        sigemptyset(&def);
        sigaddset(&def, SIGPIPE);
        posix_spawnattr_setsigdefault(&attr, &def);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setpgroup(&attr, 0);
        char *argv[] = {"/bin/sh", "-c", e->cmd, NULL};
        rc = posix_spawn(&e->pid, "/bin/sh", &fa, &attr, argv, env);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        free(env);
    }
    /* The child's ends are the child's now. */
    if (in[0] >= 0) close(in[0]);
    if (ans[1] >= 0) close(ans[1]);
    if (out[1] >= 0) close(out[1]);
    if (rc) {
        if (in[1] >= 0) close(in[1]);
        if (ans[0] >= 0) close(ans[0]);
        if (out[0] >= 0) close(out[0]);
        e->pid = 0;
        char *cmd = fc_redact_text(e->cmd);
        snprintf(err, errlen, "exec: cannot start '%s': %s", cmd ? cmd : "", strerror(rc));
        free(cmd);
        snprintf(e->how, sizeof e->how, "could not be started (%s)", strerror(rc));
        e->last_output[0] = 0;
        return -1;
    }
    e->in_fd = in[1];
    e->ans_fd = ans[0];
    e->out_fd = out[0];
    fcntl(e->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(e->ans_fd, F_SETFL, O_NONBLOCK);
    fcntl(e->out_fd, F_SETFL, O_NONBLOCK);
    /* A pipe that holds a whole frame (up to the system's pipe-max-size,
     * 1 MiB by default) takes it in one write instead of sixteen 64 KiB
     * rounds of write, wake-up and read. */
    fcntl(e->in_fd, F_SETPIPE_SZ, 1 << 20);
    e->answered = 0;
    e->started_us = fc_mono_us();
    e->answer_on_stdout = 0;
    e->ans_len = 0;
    e->out_len = 0;
    e->last_output[0] = 0;
    char *shown = fc_redact_text(e->cmd);
    fc_info("stream '%s': exec predictor: started '%s' (pid %d)", e->stream, shown ? shown : "",
            (int)e->pid);
    free(shown);
    return 0;
}

/* The child stopped taking frames or closed its answer channel: says how
 * (its exit status when it exited within 200 ms, with its last line of
 * output) and reaps it. Returns 1 if it exited or was killed on its own. */
static int describe_exit(struct exec_pred *e, const char *what, char *err, size_t errlen) {
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 20 && (r = waitpid(e->pid, &status, WNOHANG)) == 0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(-e->pid, SIGKILL); /* whatever is left of its group */
    if (r == 0) waitpid(e->pid, NULL, 0);
    e->pid = 0;
    drain_output(e, 1);
    if (r == 0)
        snprintf(e->how, sizeof e->how, "%s", what);
    else if (WIFEXITED(status))
        snprintf(e->how, sizeof e->how, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(e->how, sizeof e->how, "was killed by signal %d",
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    const char *when = e->answered ? "" : " before answering a frame";
    if (e->last_output[0])
        snprintf(err, errlen, "exec: the model process %s%s (its last output: '%s')", e->how, when,
                 e->last_output);
    else
        snprintf(err, errlen, "exec: the model process %s%s", e->how, when);
    return r != 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_i64(uint8_t *p, int64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}

/* Lays a frame out as iovecs after the first `at` ones: its header (hlen
 * bytes, written into h; left is the frames of the batch still to come,
 * this one included), then each plane's rows without padding (one iovec
 * per plane when its rows are packed already). Returns the new count, or
 * -1 without memory. */
static int frame_iov(struct exec_pred *e, const fc_frame_view *f, uint8_t *h, uint32_t hlen,
                     uint32_t left, int at) {
    int planes = f->format == FC_PIX_YUV420P ? 3 : 1;
    int bpp = f->format == FC_PIX_RGB24 || f->format == FC_PIX_BGR24 ? 3 : 1;
    int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
    uint64_t payload = (uint64_t)f->width * f->height * bpp + (planes == 3 ? 2ull * cw * ch : 0);
    put_u32(h, EXEC_MAGIC);
    put_u32(h + 4, hlen);
    put_i64(h + 8, f->index);
    put_i64(h + 16, f->pts_us);
    put_u32(h + 24, (uint32_t)f->width);
    put_u32(h + 28, (uint32_t)f->height);
    put_u32(h + 32, (uint32_t)f->format);
    put_u32(h + 36, (uint32_t)payload);
    put_u32(h + 40, (uint32_t)f->src_width);
    put_u32(h + 44, (uint32_t)f->src_height);
    if (hlen == EXEC_HDR_LEN_BATCH) {
        put_u32(h + 48, left);
        put_u32(h + 52, 0); /* reserved */
    }
    int need = at + 1;
    for (int p = 0; p < planes; p++) {
        int rw = p == 0 ? f->width * bpp : cw, rows = p == 0 ? f->height : ch;
        need += f->stride[p] == rw ? 1 : rows;
    }
    if (need > e->iov_cap) {
        struct iovec *v = realloc(e->iov, (size_t)need * sizeof *v);
        if (!v) return -1;
        e->iov = v;
        e->iov_cap = need;
    }
    int n = at;
    e->iov[n++] = (struct iovec){h, hlen};
    for (int p = 0; p < planes; p++) {
        int rw = p == 0 ? f->width * bpp : cw, rows = p == 0 ? f->height : ch;
        if (f->stride[p] == rw) {
            e->iov[n++] = (struct iovec){(void *)f->data[p], (size_t)rw * rows};
            continue;
        }
        for (int y = 0; y < rows; y++)
            e->iov[n++] =
                (struct iovec){(void *)(f->data[p] + (size_t)y * f->stride[p]), (size_t)rw};
    }
    return n;
}

enum { XFER_OK = 0, XFER_BROKEN = -1, XFER_EXITED = -2 };

/* Writes what is left of the frames (iovecs *next..niov of e->iov) and
 * waits for one answer line, logging what the model prints meanwhile (a
 * model blocked on a full stdout would otherwise never answer). Answers are
 * read while frames are still being written, so a model that answers each
 * frame of a batch as it reads it is never left blocked on fd 3. On XFER_OK
 * every frame is written and *line_len is the answer's length in e->ans,
 * without its newline. XFER_EXITED: the child exited on its own (err says
 * how); XFER_BROKEN: it timed out, sent too much, or closed its pipes
 * without exiting. */
static int exchange(struct exec_pred *e, int niov, int *next, int64_t deadline, int limit_ms,
                    size_t *line_len, char *err, size_t errlen) {
    if (!e->ans && !(e->ans = malloc(ANSWER_MAX))) {
        snprintf(err, errlen, "exec: out of memory");
        return XFER_BROKEN;
    }
    int ans_closed = 0;
    for (;;) {
        while (*next < niov) {
            /* A header goes alone: the model wakes up on it and reads the
             * pixels while they are still being written (measured: a
             * single writev of both costs about 60 us more per 640x360
             * frame, the reader waking only once all is copied). */
            int at = *next;
            int cnt = at == 0 ? 1 : niov - at < IOV_MAX ? niov - at : IOV_MAX;
            ssize_t n = writev(e->in_fd, e->iov + at, cnt);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (n < 0)
                return describe_exit(e, "stopped reading its input", err, errlen) ? XFER_EXITED
                                                                                  : XFER_BROKEN;
            for (size_t left = (size_t)n; left;) {
                if (left >= e->iov[*next].iov_len) {
                    left -= e->iov[(*next)++].iov_len;
                } else {
                    e->iov[*next].iov_base = (char *)e->iov[*next].iov_base + left;
                    e->iov[*next].iov_len -= left;
                    left = 0;
                }
            }
        }
        char *nl = e->ans_len ? memchr(e->ans, '\n', e->ans_len) : NULL;
        if (*next == niov && nl) {
            *line_len = (size_t)(nl - e->ans);
            return XFER_OK;
        }
        if (!nl && e->ans_len == ANSWER_MAX) {
            snprintf(err, errlen, "exec: the model's answer is longer than %d bytes", ANSWER_MAX);
            return XFER_BROKEN;
        }
        struct pollfd pfd[3];
        int np = 0, ians = -1, iout = -1;
        if (*next < niov) pfd[np++] = (struct pollfd){.fd = e->in_fd, .events = POLLOUT};
        if (!ans_closed && e->ans_len < ANSWER_MAX && (!nl || *next < niov)) {
            ians = np;
            pfd[np++] = (struct pollfd){.fd = e->ans_fd, .events = POLLIN};
        }
        if (e->out_fd >= 0) {
            iout = np;
            pfd[np++] = (struct pollfd){.fd = e->out_fd, .events = POLLIN};
        }
        int64_t left = (deadline - fc_mono_us() + 999) / 1000;
        int r = left > 0 ? poll(pfd, (nfds_t)np, (int)left) : 0;
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            drain_output(e, 0);
            if (*next < niov)
                snprintf(err, errlen, "exec: the model did not take the frame within %d ms",
                         limit_ms);
            else
                snprintf(err, errlen, "exec: no answer on fd 3 within %d ms%s", limit_ms,
                         e->answer_on_stdout
                             ? " (the model printed an answer-like line on stdout: answers go "
                               "to file descriptor 3, see docs/predictors.md)"
                             : "");
            return XFER_BROKEN;
        }
        if (iout >= 0 && pfd[iout].revents) drain_output(e, 0);
        if (ians >= 0 && pfd[ians].revents) {
            ssize_t n = read(e->ans_fd, e->ans + e->ans_len, ANSWER_MAX - e->ans_len);
            if (n > 0) {
                e->ans_len += (size_t)n;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                if (!nl)
                    return describe_exit(e, "closed its answer channel (fd 3)", err, errlen)
                               ? XFER_EXITED
                               : XFER_BROKEN;
                /* An answer is here: it is used first, and a later call,
                 * finding none, hears of the closed channel. */
                ans_closed = 1;
            }
        }
    }
}

/* Fails every frame of a batch with the same text. */
static void fail_batch(fc_batch_item *items, int k, const char *text) {
    for (int i = 0; i < k; i++) {
        snprintf(items[i].err, items[i].errlen, "%s", text);
        items[i].count = -1;
    }
}

/* Sends a batch of k frames (k = 1 without batch=N) and reads their k
 * answers, each naming its frame, in order. A broken protocol on any of
 * them fails every frame of the batch: the child is killed and started
 * again, and no answer read from it is kept, so none can land on the
 * wrong frame. The batch has timeout_ms per frame, k times timeout_ms for
 * all its answers (a child's first batch: start_timeout_ms, if longer). */
static void exchange_batch(struct exec_pred *e, fc_batch_item *items, int k) {
    char err[sizeof e->why + 128]; /* room for why, quoted whole in a message */
    if (e->failed) {
        fail_batch(items, k, e->why);
        return;
    }
    if (!e->pid) {
        int64_t wait_us = e->restart_at_us - fc_mono_us();
        if (wait_us > 0) {
            snprintf(err, sizeof err,
                     "exec: the model process is restarting (in %lld ms) after: %s",
                     (long long)(wait_us / 1000), e->why);
            fail_batch(items, k, err);
            return;
        }
        int again = e->restart_at_us != 0;
        if (start_child(e, err, sizeof err)) {
            child_failed(e, err, 1);
            fail_batch(items, k, e->failed ? e->why : err);
            return;
        }
        if (again) report(e, FC_PREDICTOR_OK, NULL);
    }
    /* The child knows a batch's size only from the longer header, so with
     * batch=N > 1 every frame has it, a batch of one too. */
    uint32_t hlen = e->batch > 1 ? EXEC_HDR_LEN_BATCH : EXEC_HDR_LEN;
    int niov = 0;
    for (int i = 0; i < k && niov >= 0; i++)
        niov = frame_iov(e, items[i].frame, e->hdr[i], hlen, (uint32_t)(k - i), niov);
    if (niov < 0) {
        fail_batch(items, k, "exec: out of memory");
        return;
    }
    /* A child's first frame waits for its model to load as well (seconds
     * for a PyTorch model): with timeout_ms alone, such a model would be
     * killed while loading, again and again. */
    int limit_ms = e->timeout_ms * k;
    if (!e->answered && e->start_timeout_ms > limit_ms) limit_ms = e->start_timeout_ms;
    int64_t deadline = fc_mono_us() + (int64_t)limit_ms * 1000;
    int next = 0;
    for (int i = 0; i < k; i++) {
        fc_batch_item *it = &items[i];
        size_t len = 0;
        int rc = exchange(e, niov, &next, deadline, limit_ms, &len, err, sizeof err);
        if (rc != XFER_OK) {
            if (k > 1) { /* which answer of how many, for the log and the results */
                size_t at = strlen(err);
                snprintf(err + at, sizeof err - at, " (answer %d of a batch of %d frames)", i + 1,
                         k);
            }
            child_failed(e, err, rc == XFER_EXITED && !e->answered);
            fail_batch(items, k, e->failed ? e->why : err);
            return;
        }
        int count = fc_exec_answer_parse(e->ans, len, it->frame, it->out, it->max, err, sizeof err);
        if (count == FC_EXEC_ANSWER_BROKEN) {
            /* Its next answers could not be trusted to match their frames. */
            child_failed(e, err, 0);
            fail_batch(items, k, err);
            return;
        }
        if (count == FC_EXEC_ANSWER_ERROR) snprintf(it->err, it->errlen, "%s", err);
        it->count = count < 0 ? -1 : count;
        e->ans_len -= len + 1;
        memmove(e->ans, e->ans + len + 1, e->ans_len);
        e->answered = 1;
        e->quick_exits = 0;
    }
}

static int exec_predict(void *instance, const fc_frame_view *f, fc_detection *out, int max,
                        char *err, size_t errlen) {
    fc_batch_item one = {
        .frame = f, .out = out, .max = max, .count = -1, .err = err, .errlen = errlen};
    exchange_batch(instance, &one, 1);
    return one.count;
}

static void exec_predict_batch(void *instance, fc_batch_item *items, int n) {
    exchange_batch(instance, items, n);
}

static void exec_destroy(void *instance) {
    struct exec_pred *e = instance;
    stop_child(e, 500); /* at the end of a stream: let it print its last words */
    free(e->ans);
    free(e->iov);
    free(e->cmd);
    free(e->name);
    free(e->pythonpath);
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
    .attach = exec_attach,
    .model_name = exec_model_name,
    .batch_size = exec_batch_size,
    .predict_batch = exec_predict_batch,
};

const fc_predictor_api *fc_predictor_exec(void) {
    return &exec_api;
}
