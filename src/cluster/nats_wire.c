/* What nodes send each other over NATS (see nats_wire.h). */
#include "cluster/nats_wire.h"

#include <stdio.h>
#include <string.h>

int fc_wire_subject(char out[FC_WIRE_SUBJECT_MAX], const char *stream, const char *what) {
    size_t n = strlen(stream);
    if (n == 0 || n > 64) return -1;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", stream[i]))
            return -1;
    snprintf(out, FC_WIRE_SUBJECT_MAX, "framecast.%s.%s", stream, what);
    return 0;
}

void fc_wire_payload(const fc_buf *framed, const uint8_t **p, size_t *len) {
    size_t h = 2;
    if (framed->len >= 2) {
        unsigned l7 = framed->data[1] & 0x7f;
        h = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
    }
    if (h > framed->len) h = framed->len;
    *p = framed->data + h;
    *len = framed->len - h;
}

uint64_t fc_wire_seq(const uint8_t *json, size_t len) {
    static const char key[] = "\"seq\":";
    size_t k = sizeof key - 1, scan = len < 256 ? len : 256; /* the server's members lead */
    for (size_t i = 0; i + k <= scan; i++) {
        if (memcmp(json + i, key, k) != 0) continue;
        uint64_t v = 0;
        size_t j = i + k;
        if (j >= len || json[j] < '0' || json[j] > '9') return 0;
        for (; j < len && json[j] >= '0' && json[j] <= '9'; j++) {
            if (v > (UINT64_MAX - 9) / 10) return 0;
            v = v * 10 + (uint64_t)(json[j] - '0');
        }
        return v;
    }
    return 0;
}

void fc_wire_history_begin(fc_strbuf *sb, const char *epoch) {
    (void)epoch;
    fc_sb_reset(sb);
    char pad[FC_WIRE_HISTORY_HEAD];
    memset(pad, ' ', sizeof pad); /* the header is written over it at the end */
    fc_sb_append(sb, pad, sizeof pad);
}

void fc_wire_history_add(fc_strbuf *sb, const uint8_t *json, size_t len) {
    fc_sb_printf(sb, "%zu\n", len);
    fc_sb_append(sb, json, len);
}

void fc_wire_history_end(fc_strbuf *sb, const char *epoch, unsigned count, int more) {
    char head[FC_WIRE_HISTORY_HEAD + 1];
    /* Left-padded with spaces to the reserved width: the parser skips them. */
    int n = snprintf(head, sizeof head, "FCH1 %.32s %u %d\n", epoch, count, more ? 1 : 0);
    if (n < 0 || n > FC_WIRE_HISTORY_HEAD) n = FC_WIRE_HISTORY_HEAD;
    memset(sb->data, ' ', FC_WIRE_HISTORY_HEAD);
    memcpy(sb->data + FC_WIRE_HISTORY_HEAD - n, head, (size_t)n);
}

int fc_wire_history_parse(fc_wire_history *h, const uint8_t *data, size_t len) {
    memset(h, 0, sizeof *h);
    size_t i = 0;
    while (i < len && data[i] == ' ') i++;
    const uint8_t *nl = memchr(data + i, '\n', len - i);
    if (!nl || nl - (data + i) > 80) return -1;
    char line[96];
    size_t n = (size_t)(nl - (data + i));
    memcpy(line, data + i, n);
    line[n] = 0;
    int more = 0;
    if (sscanf(line, "FCH1 %32s %u %d", h->epoch, &h->count, &more) != 3) return -1;
    h->more = more != 0;
    h->at = nl + 1;
    h->end = data + len;
    return 0;
}

int fc_wire_history_next(fc_wire_history *h, const uint8_t **json, size_t *len) {
    if (h->at >= h->end) return 0;
    size_t v = 0, i = 0, avail = (size_t)(h->end - h->at);
    for (; i < avail && i < 12 && h->at[i] >= '0' && h->at[i] <= '9'; i++)
        v = v * 10 + (size_t)(h->at[i] - '0');
    if (i == 0 || i >= avail || h->at[i] != '\n' || v > avail - i - 1) return -1;
    *json = h->at + i + 1;
    *len = v;
    h->at += i + 1 + v;
    return 1;
}
