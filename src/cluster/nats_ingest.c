/* An ingest node's side of the cluster (see nats_ingest.h). */
#include "cluster/nats_ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/nats_wire.h"
#include "hub/hub.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/strbuf.h"

enum op { OP_DATA, OP_ADD, OP_REMOVE, OP_ANNOUNCE, OP_HISTORY };

typedef struct item {
    enum op op;
    int id;
    enum fc_ingest_kind kind; /* OP_DATA */
    fc_buf *buf;              /* OP_DATA: the framed message; OP_ANNOUNCE: the description */
    natsMsg *req;             /* OP_HISTORY */
    char *name, *epoch;       /* OP_ADD */
    fc_history_limits lim;
} item;

/* What the publisher thread keeps of a stream. */
typedef struct gstream {
    int used;
    char name[FC_HUB_NAME_MAX + 1];
    char epoch[FC_HUB_EPOCH_MAX + 1];
    char subj[3][FC_WIRE_SUBJECT_MAX]; /* result, preview, status */
    fc_history ring;
    fc_history_limits lim;
    fc_buf *status; /* the last status message, for the announcements */
} gstream;

struct fc_ingest {
    fc_nats *nats;
    char node[128];
    pthread_t thread;
    int started;
    pthread_mutex_t mu; /* the queue; never held while publishing */
    pthread_cond_t cv;
    item *q;
    size_t n, cap, data_msgs, data_bytes, history_waiting;
    int stop;
    natsSubscription *history_sub;
    gstream streams[FC_HUB_MAX_STREAMS]; /* the publisher thread's */
    fc_strbuf reply;
    atomic_uint_fast64_t published, dropped_queue, dropped_nats, history_replies;
};

static void push(fc_ingest *g, item it) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        item *q = realloc(g->q, cap * sizeof *q);
        if (!q) abort();
        g->q = q;
        g->cap = cap;
    }
    g->q[g->n++] = it;
    pthread_cond_signal(&g->cv);
}

static void push_locked(fc_ingest *g, item it) {
    pthread_mutex_lock(&g->mu);
    push(g, it);
    pthread_mutex_unlock(&g->mu);
}

void fc_ingest_offer(fc_ingest *g, int id, enum fc_ingest_kind kind, fc_buf *msg) {
    pthread_mutex_lock(&g->mu);
    /* Status messages are few and say what a stream is doing: never dropped. */
    if (kind != FC_INGEST_STATUS && (g->data_msgs >= FC_INGEST_QUEUE_MSGS ||
                                     g->data_bytes + msg->len > FC_INGEST_QUEUE_BYTES)) {
        pthread_mutex_unlock(&g->mu);
        atomic_fetch_add_explicit(&g->dropped_queue, 1, memory_order_relaxed);
        return;
    }
    g->data_msgs++;
    g->data_bytes += msg->len;
    push(g, (item){.op = OP_DATA, .id = id, .kind = kind, .buf = fc_buf_ref(msg)});
    pthread_mutex_unlock(&g->mu);
}

void fc_ingest_add_stream(fc_ingest *g, int id, const char *name, const char *epoch,
                          const fc_history_limits *lim) {
    push_locked(
        g,
        (item){.op = OP_ADD, .id = id, .name = strdup(name), .epoch = strdup(epoch), .lim = *lim});
}

void fc_ingest_remove_stream(fc_ingest *g, int id) {
    push_locked(g, (item){.op = OP_REMOVE, .id = id});
}

void fc_ingest_announce(fc_ingest *g, int id, const char *json, size_t len) {
    fc_buf *b = fc_buf_from(json, len);
    if (b) push_locked(g, (item){.op = OP_ANNOUNCE, .id = id, .buf = b});
}

/* framecast.*.history, on a nats.c thread: queued for the publisher
 * thread, which owns the rings. */
static void on_history(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ud) {
    fc_ingest *g = ud;
    (void)nc, (void)sub;
    pthread_mutex_lock(&g->mu);
    if (g->history_waiting >= 256 || g->stop) { /* the edge's request times out */
        pthread_mutex_unlock(&g->mu);
        natsMsg_Destroy(msg);
        return;
    }
    g->history_waiting++;
    push(g, (item){.op = OP_HISTORY, .req = msg});
    pthread_mutex_unlock(&g->mu);
}

static void publish(fc_ingest *g, const char *subj, const void *data, size_t len) {
    natsStatus s = natsConnection_Publish(g->nats->nc, subj, data, (int)len);
    if (s == NATS_OK)
        atomic_fetch_add_explicit(&g->published, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&g->dropped_nats, 1, memory_order_relaxed);
}

static void stream_free(gstream *s) {
    fc_history_free(&s->ring);
    if (s->status) fc_buf_unref(s->status);
    memset(s, 0, sizeof *s);
}

static void do_data(fc_ingest *g, item *it) {
    gstream *s = &g->streams[it->id];
    if (!s->used) {
        fc_buf_unref(it->buf);
        return;
    }
    const uint8_t *p;
    size_t len;
    fc_wire_payload(it->buf, &p, &len);
    publish(g, s->subj[it->kind], p, len);
    if (it->kind == FC_INGEST_RESULT && it->buf->seq) {
        fc_history_push(&s->ring, it->buf, fc_mono_us() / 1000, &s->lim); /* takes the ref */
        return;
    }
    if (it->kind == FC_INGEST_STATUS) {
        if (s->status) fc_buf_unref(s->status);
        s->status = it->buf;
        return;
    }
    fc_buf_unref(it->buf);
}

static void do_announce(fc_ingest *g, item *it) {
    gstream *s = &g->streams[it->id];
    if (s->used) {
        fc_strbuf sb;
        fc_sb_init(&sb, it->buf->len + 512);
        fc_sb_puts(&sb, "{\"stream\":");
        fc_sb_json_str(&sb, s->name);
        fc_sb_puts(&sb, ",\"epoch\":");
        fc_sb_json_str(&sb, s->epoch);
        fc_sb_puts(&sb, ",\"node\":");
        fc_sb_json_str(&sb, g->node);
        fc_sb_printf(&sb,
                     ",\"newest\":%llu,\"info\":", (unsigned long long)fc_history_newest(&s->ring));
        fc_sb_append(&sb, it->buf->data, it->buf->len);
        fc_sb_puts(&sb, ",\"status\":");
        if (s->status) {
            const uint8_t *p;
            size_t len;
            fc_wire_payload(s->status, &p, &len);
            fc_sb_append(&sb, p, len);
        } else {
            fc_sb_puts(&sb, "null");
        }
        fc_sb_puts(&sb, "}");
        publish(g, FC_WIRE_ANNOUNCE, sb.data, sb.len);
        fc_sb_free(&sb);
    }
    fc_buf_unref(it->buf);
}

/* "framecast.NAME.history" with "SINCE EPOCH": the results after SINCE
 * still kept, up to the reply's size bound. */
static void do_history(fc_ingest *g, natsMsg *req) {
    const char *subj = natsMsg_GetSubject(req), *reply = natsMsg_GetReply(req);
    const char *name = subj + strlen("framecast.");
    const char *dot = strrchr(subj, '.');
    gstream *s = NULL;
    for (int i = 0; reply && dot && dot > name && i < FC_HUB_MAX_STREAMS && !s; i++)
        if (g->streams[i].used && strlen(g->streams[i].name) == (size_t)(dot - name) &&
            memcmp(g->streams[i].name, name, (size_t)(dot - name)) == 0)
            s = &g->streams[i];
    if (!s) { /* not ours: another ingest node may answer */
        natsMsg_Destroy(req);
        return;
    }
    char text[96] = "", epoch[40] = "";
    int dl = natsMsg_GetDataLength(req);
    memcpy(text, natsMsg_GetData(req), dl > 0 && dl < (int)sizeof text ? (size_t)dl : 0);
    unsigned long long since = 0;
    if (sscanf(text, "%llu %39s", &since, epoch) < 1) since = 0;
    fc_history_expire(&s->ring, fc_mono_us() / 1000, &s->lim);
    fc_wire_history_begin(&g->reply, s->epoch);
    unsigned count = 0;
    int more = 0;
    if (strcmp(epoch, s->epoch) == 0 || !epoch[0]) {
        uint64_t seq = since + 1, oldest = fc_history_oldest(&s->ring);
        if (seq < oldest) seq = oldest;
        for (fc_buf *b; (b = fc_history_get(&s->ring, seq)); seq++) {
            if (g->reply.len + b->len > FC_INGEST_REPLY_BYTES && count) {
                more = 1;
                break;
            }
            const uint8_t *p;
            size_t len;
            fc_wire_payload(b, &p, &len);
            fc_wire_history_add(&g->reply, p, len);
            count++;
        }
    }
    fc_wire_history_end(&g->reply, s->epoch, count, more);
    publish(g, reply, g->reply.data, g->reply.len);
    atomic_fetch_add_explicit(&g->history_replies, 1, memory_order_relaxed);
    natsMsg_Destroy(req);
}

static void *publisher_main(void *arg) {
    fc_ingest *g = arg;
    item *batch = NULL;
    size_t bcap = 0;
    for (;;) {
        pthread_mutex_lock(&g->mu);
        while (!g->n && !g->stop) pthread_cond_wait(&g->cv, &g->mu);
        if (!g->n && g->stop) {
            pthread_mutex_unlock(&g->mu);
            break;
        }
        item *q = g->q;
        size_t n = g->n, cap = g->cap;
        g->q = batch;
        g->cap = bcap;
        g->n = 0;
        g->data_msgs = g->data_bytes = 0;
        g->history_waiting = 0;
        pthread_mutex_unlock(&g->mu);
        batch = q;
        bcap = cap;
        for (size_t i = 0; i < n; i++) {
            item *it = &batch[i];
            gstream *s = it->id >= 0 && it->id < FC_HUB_MAX_STREAMS ? &g->streams[it->id] : NULL;
            switch (it->op) {
            case OP_DATA:
                do_data(g, it);
                break;
            case OP_ADD:
                stream_free(s);
                s->used = 1;
                snprintf(s->name, sizeof s->name, "%s", it->name ? it->name : "");
                snprintf(s->epoch, sizeof s->epoch, "%s", it->epoch ? it->epoch : "");
                s->lim = it->lim;
                if (fc_wire_subject(s->subj[0], s->name, "result") ||
                    fc_wire_subject(s->subj[1], s->name, "preview") ||
                    fc_wire_subject(s->subj[2], s->name, "status")) {
                    fc_warn("NATS: stream '%s' is not published (its name cannot be a subject)",
                            s->name);
                    s->used = 0;
                }
                free(it->name);
                free(it->epoch);
                break;
            case OP_REMOVE:
                stream_free(s);
                break;
            case OP_ANNOUNCE:
                do_announce(g, it);
                break;
            case OP_HISTORY:
                do_history(g, it->req);
                break;
            }
        }
    }
    free(batch);
    return NULL;
}

int fc_ingest_create(fc_ingest **out, fc_nats *nats, const char *node, char *err, size_t errlen) {
    fc_ingest *g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    g->nats = nats;
    snprintf(g->node, sizeof g->node, "%s", node);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    fc_sb_init(&g->reply, 4096);
    natsStatus s =
        natsConnection_Subscribe(&g->history_sub, nats->nc, "framecast.*.history", on_history, g);
    if (s != NATS_OK) {
        snprintf(err, errlen, "NATS: cannot subscribe to history requests: %s",
                 fc_nats_error(nats, s));
        fc_ingest_destroy(g);
        return -EIO;
    }
    if (pthread_create(&g->thread, NULL, publisher_main, g)) {
        snprintf(err, errlen, "NATS: cannot start the publisher thread");
        fc_ingest_destroy(g);
        return -EAGAIN;
    }
    g->started = 1;
    *out = g;
    return 0;
}

void fc_ingest_stats_get(fc_ingest *g, fc_ingest_stats *out) {
    out->published = atomic_load_explicit(&g->published, memory_order_relaxed);
    out->dropped_queue = atomic_load_explicit(&g->dropped_queue, memory_order_relaxed);
    out->dropped_nats = atomic_load_explicit(&g->dropped_nats, memory_order_relaxed);
    out->history_replies = atomic_load_explicit(&g->history_replies, memory_order_relaxed);
}

void fc_ingest_stop(fc_ingest *g) {
    if (!g) return;
    if (g->history_sub) {
        natsSubscription_Unsubscribe(g->history_sub);
        natsSubscription_Destroy(g->history_sub);
        g->history_sub = NULL;
    }
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->started) pthread_join(g->thread, NULL);
    g->started = 0;
}

void fc_ingest_destroy(fc_ingest *g) {
    if (!g) return;
    fc_ingest_stop(g);
    for (size_t i = 0; i < g->n; i++) { /* what came after the stop */
        if (g->q[i].buf) fc_buf_unref(g->q[i].buf);
        if (g->q[i].req) natsMsg_Destroy(g->q[i].req);
        free(g->q[i].name);
        free(g->q[i].epoch);
    }
    free(g->q);
    for (int i = 0; i < FC_HUB_MAX_STREAMS; i++) stream_free(&g->streams[i]);
    fc_sb_free(&g->reply);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}
