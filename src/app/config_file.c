/* The configuration file's syntax (see config_file.h). */
#include "app/config_file.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libinih pulls lines through read_line and hands entries to on_entry; the
 * reader keeps what libinih does not tell: the line number, the section
 * (libinih cuts section names at 49 bytes), and whether a line that should
 * have given an entry did. */
struct reader {
    FILE *f;
    const fc_config_file_cbs *cbs;
    void *ud;
    int line;
    int expect_entry; /* the current line is neither blank, comment nor section */
    int got_entry;    /* ... and libinih gave an entry for it */
    char *section;
    char *buf;
    size_t cap;
};

/* The line before the one about to be read gave no entry: libinih could
 * not read it (no '=' or ':'). Reported for every such line: libinih
 * reports only the first. */
static void settle(struct reader *r) {
    if (r->expect_entry && !r->got_entry)
        r->cbs->problem(r->ud, r->line,
                        "expected KEY = VALUE, [stream NAME] or a comment ('#' or ';' first)");
    r->expect_entry = r->got_entry = 0;
}

static void set_section(struct reader *r, const char *start, size_t len) {
    while (len && (*start == ' ' || *start == '\t')) start++, len--;
    while (len && (start[len - 1] == ' ' || start[len - 1] == '\t')) len--;
    char *s = malloc(len + 1);
    if (!s) return;
    memcpy(s, start, len);
    s[len] = 0;
    free(r->section);
    r->section = s;
    r->cbs->section(r->ud, s, r->line);
}

static char *read_line(char *str, int num, void *stream) {
    struct reader *r = stream;
    settle(r);
    ssize_t n = getline(&r->buf, &r->cap, r->f);
    if (n < 0) return NULL;
    r->line++;
    while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r')) r->buf[--n] = 0;
    char *p = r->buf;
    if (r->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* a UTF-8 BOM */
    while (*p == ' ' || *p == '\t') p++;                            /* indentation means nothing */
    str[0] = 0;
    if ((ssize_t)strlen(p) != n - (p - r->buf)) {
        r->cbs->problem(r->ud, r->line, "a NUL byte in the line (is this a text file?)");
        return str;
    }
    if ((int)strlen(p) > num - 1) {
        char what[160];
        snprintf(what, sizeof what,
                 "the line is longer than %d characters, the most libinih reads (put a long "
                 "model command in a script)",
                 num - 1);
        r->cbs->problem(r->ud, r->line, what);
        return str;
    }
    memcpy(str, p, strlen(p) + 1);
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close)
            set_section(r, p + 1, (size_t)(close - p - 1));
        else
            r->cbs->problem(r->ud, r->line, "a section needs its closing ']'");
    } else if (*p && *p != '#' && *p != ';') {
        r->expect_entry = 1;
    }
    return str;
}

static int on_entry(void *user, const char *section, const char *key, const char *value) {
    struct reader *r = user;
    (void)section; /* ours is not cut */
    r->got_entry = 1;
    if (!*key)
        r->cbs->problem(r->ud, r->line, "a key is missing before '='");
    else
        r->cbs->entry(r->ud, r->section ? r->section : "", key, value, r->line);
    return 1;
}

int fc_config_file_read(const char *path, const fc_config_file_cbs *cbs, void *ud) {
    struct reader r = {.cbs = cbs, .ud = ud};
    if (!(r.f = fopen(path, "r"))) return -errno;
    ini_parse_stream(read_line, &r, on_entry, &r); /* every problem went to cbs */
    settle(&r);
    if (ferror(r.f)) cbs->problem(ud, 0, strerror(errno ? errno : EIO));
    fclose(r.f);
    free(r.buf);
    free(r.section);
    return 0;
}
