/* The configuration file's syntax: INI, read with libinih (Debian's
 * libinih-dev).
 *
 * Why INI: it is what operators already write for systemd units and git,
 * it maps one to one onto the command line (a key is a long option's name
 * without "--", its value the option's value, the same text), a list is a
 * key given once per item (allowed-origin, as systemd repeats Environment=),
 * and a stream is a section, [stream NAME]. libinih is a small, fuzzed C
 * parser packaged by Debian. libconfig and YAML were the alternatives: both
 * have typed values and nesting framecast does not need (every value is
 * parsed as the command line parses it), and both spell a list in a syntax
 * of their own.
 *
 * What this reader adds around libinih (it hands libinih one line at a
 * time through ini_parse_stream):
 *   - line numbers for every entry (Debian's build does not pass them);
 *   - indentation is ignored: a line is never a continuation of the one
 *     above (libinih's multi-line values would turn an indented
 *     "predictor = motion" under "source = ..." into part of the source);
 *   - a line longer than libinih's buffer (199 characters in Debian's
 *     build) is refused with its number, never cut;
 *   - every line libinih cannot read is reported, not only the first.
 *
 * The syntax, then: "KEY = VALUE" (or "KEY: VALUE") on one line; "[SECTION]";
 * comments are lines starting with '#' or ';', and " ;" ends a value
 * (libinih's inline comments). Surrounding spaces are trimmed. Main thread. */
#ifndef FC_APP_CONFIG_FILE_H
#define FC_APP_CONFIG_FILE_H

typedef struct fc_config_file_cbs {
    /* A "[SECTION]" line: the name between the brackets, trimmed. */
    void (*section)(void *ud, const char *section, int line);
    /* A "KEY = VALUE" line, in section ("" before the first one). */
    void (*entry)(void *ud, const char *section, const char *key, const char *value, int line);
    /* A line that is not valid (line 0: the file itself). */
    void (*problem)(void *ud, int line, const char *what);
} fc_config_file_cbs;

/* Reads path, calling cbs in the order of the lines. Returns 0 (problems
 * found in lines went to cbs->problem), or -errno when the file cannot be
 * opened. */
int fc_config_file_read(const char *path, const fc_config_file_cbs *cbs, void *ud);

#endif
