/* The exec predictor's answers (predict/exec.c, docs/predictors.md): one
 * line of JSON per frame from the model process, parsed into detections.
 *
 * The line is untrusted (any program may be the model), so the parser is
 * apart from the process handling and fuzzed (tests/fuzz/fuzz_exec.c).
 * Pure: any thread. */
#ifndef FC_PREDICT_EXEC_ANSWER_H
#define FC_PREDICT_EXEC_ANSWER_H

#include <stddef.h>

#include "framecast/predictor.h"

enum {
    FC_EXEC_ANSWER_ERROR = -1,  /* the model's own {"frame":N,"error":"..."} */
    FC_EXEC_ANSWER_BROKEN = -2, /* not an answer to frame f: the protocol is broken */
};

/* Parses the answer line[0..len) (not NUL-terminated, no newline) to frame
 * f into out (at most max detections; more are dropped); boxes are scaled
 * from f's pixels to its source's. Returns the count, or a negative
 * FC_EXEC_ANSWER_* with err (errlen bytes) saying why. Numbers beyond a
 * float's range become infinities, which the renderer drops. */
int fc_exec_answer_parse(const char *line, size_t len, const fc_frame_view *f, fc_detection *out,
                         int max, char *err, size_t errlen);

#endif
