/* An edge node's side of the cluster (see nats_edge.h). */
#include "cluster/nats_edge.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/nats_wire.h"
#include "hub/deflate.h"
#include "hub/ws.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/strbuf.h"

enum feed { FEED_OFF, FEED_PRELOAD, FEED_LIVE, FEED_RESYNC };
enum { SUBJ_RESULT, SUBJ_PREVIEW, SUBJ_STATUS, SUBJ_HISTORY, NSUBJ };

/* Results held while the history is asked for, at most. */
#define HOLD_MSGS  4096
#define HOLD_BYTES (8u << 20)

struct fc_edge;

typedef struct estream {
    struct fc_edge *e;
    int slot;
    /* The main thread's (written only there; callbacks read name, epoch,
     * subj and hub_id, which change only while the stream is unsubscribed
     * and under mu) */
    int used;
    char name[FC_HUB_NAME_MAX + 1];
    char epoch[FC_HUB_EPOCH_MAX + 1];
    char subj[NSUBJ][FC_WIRE_SUBJECT_MAX];
    int hub_id;
    int64_t announced_ms, busy_ms;
    int available;
    natsSubscription *sub[3]; /* result, preview, status */
    /* Under mu */
    int subscribed;
    enum feed feed;
    uint64_t last_seq; /* the newest result handed to the hub */
    fc_buf **held;
    size_t nheld, held_cap, held_bytes;
    uint64_t req_id;
    int64_t req_deadline_ms;
    fc_buf *status;    /* the ingest node's status message, framed */
    char *status_json; /* ... as announced, to see a change */
    char *info;        /* the announced description */
    fc_deflater *deflater;
    atomic_uint_fast64_t received, dropped, delayed, gaps, lost, seen_seq;
} estream;

/* An announcement waiting for the main thread. */
typedef struct announce {
    char name[FC_HUB_NAME_MAX + 1];
    char epoch[FC_HUB_EPOCH_MAX + 1];
    char *info, *status;
} announce;

struct fc_edge {
    fc_nats *nats;
    fc_hub *hub;
    fc_edge_config cfg;
    uv_timer_t tick;
    uv_async_t wake;
    int handles;
    natsSubscription *announce_sub, *reply_sub;
    char inbox[128];
    pthread_mutex_t mu;
    announce *anns;
    int nann, ann_cap;
    estream streams[FC_HUB_MAX_STREAMS];
    /* What the HTTP API reads: copied by the main thread each tick. */
    pthread_mutex_t view_mu;
    fc_edge_view views[FC_HUB_MAX_STREAMS];
    int nviews;
    int64_t down_ms; /* the last tick that found NATS disconnected */
};

void fc_edge_config_defaults(fc_edge_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->slow = FC_SLOW_DROP;
    cfg->history = (fc_history_limits){300, 4u << 20, 60000};
    cfg->expire_ms = 3500;
    cfg->forget_ms = 60000;
    cfg->linger_ms = 1000;
    cfg->request_timeout_ms = 2000;
}

static int64_t now_ms(void) {
    return fc_mono_us() / 1000;
}

/* --- Under mu: the feed --------------------------------------------------- */

/* A result as clients get it: framed once, compressed once when clients
 * negotiated permessage-deflate. */
static fc_buf *frame_result(estream *es, const uint8_t *json, size_t len, uint64_t seq) {
    fc_buf *b = fc_ws_frame(FC_WS_TEXT, json, len);
    if (!b) return NULL;
    b->seq = seq;
    fc_hub *hub = es->e->hub;
    if (fc_hub_deflaters(hub, es->hub_id)) {
        if (!es->deflater) es->deflater = fc_deflater_new(6);
        if (es->deflater) fc_deflater_twin(es->deflater, b, fc_hub_compression_min(hub));
    }
    return b;
}

static void send_request(estream *es, uint64_t since) {
    fc_edge *e = es->e;
    char reply[192], data[96];
    es->req_id++;
    es->req_deadline_ms = now_ms() + e->cfg.request_timeout_ms;
    snprintf(reply, sizeof reply, "%s.%d.%llu", e->inbox, es->slot, (unsigned long long)es->req_id);
    int n = snprintf(data, sizeof data, "%llu %s", (unsigned long long)since, es->epoch);
    natsStatus s =
        natsConnection_PublishRequest(e->nats->nc, es->subj[SUBJ_HISTORY], reply, data, n);
    if (s != NATS_OK) es->req_deadline_ms = 0; /* given up at the next tick */
}

/* Tells the stream's clients that results first..seq-1 are lost. */
static void send_lost(estream *es, uint64_t next) {
    fc_strbuf sb;
    fc_sb_init(&sb, 192);
    fc_sb_puts(&sb, "{\"type\":\"reset\",\"stream\":");
    fc_sb_json_str(&sb, es->name);
    fc_sb_printf(&sb, ",\"epoch\":\"%s\",\"reason\":\"expired\",\"oldest_seq\":%llu}", es->epoch,
                 (unsigned long long)next);
    fc_buf *b = fc_ws_frame(FC_WS_TEXT, sb.data, sb.len);
    fc_sb_free(&sb);
    if (!b) return;
    b->flags |= FC_BUF_KEEP;
    fc_hub_publish_nowait(es->e->hub, es->hub_id, b);
    fc_buf_unref(b);
    atomic_fetch_add_explicit(&es->lost, next - es->last_seq - 1, memory_order_relaxed);
}

/* Hands a result to the hub in order; b is the caller's. burst: a bounded
 * burst that may not be refused (history, held results). Returns -1 when
 * the loops' inboxes are full (not a burst): nothing was published. */
static int deliver(estream *es, fc_buf *b, int burst) {
    fc_hub *hub = es->e->hub;
    if (!burst && fc_hub_try_publish(hub, es->hub_id, b)) return -1;
    if (es->feed == FEED_RESYNC && es->last_seq && b->seq != es->last_seq + 1)
        send_lost(es, b->seq);
    if (burst) fc_hub_publish_nowait(hub, es->hub_id, b);
    es->last_seq = b->seq;
    atomic_store_explicit(&es->seen_seq, b->seq, memory_order_relaxed);
    return 0;
}

static void drop_held(estream *es) {
    for (size_t i = 0; i < es->nheld; i++) fc_buf_unref(es->held[i]);
    es->nheld = es->held_bytes = 0;
}

/* The history is in (or given up): the held results go out in order, and a
 * preloaded stream is ready for resumes. */
static void finish(estream *es) {
    for (size_t i = 0; i < es->nheld; i++) {
        fc_buf *b = es->held[i];
        if (b->seq > es->last_seq) deliver(es, b, 1);
        fc_buf_unref(b);
    }
    es->nheld = es->held_bytes = 0;
    if (es->feed == FEED_PRELOAD) fc_hub_set_ready(es->e->hub, es->hub_id, 1);
    es->feed = FEED_LIVE;
    es->req_id++; /* a late reply is not for us any more */
}

static void hold(estream *es, fc_buf *b) {
    if (es->nheld == es->held_cap) {
        size_t cap = es->held_cap ? es->held_cap * 2 : 64;
        fc_buf **h = realloc(es->held, cap * sizeof *h);
        if (!h) {
            atomic_fetch_add_explicit(&es->dropped, 1, memory_order_relaxed);
            fc_buf_unref(b);
            return;
        }
        es->held = h;
        es->held_cap = cap;
    }
    es->held[es->nheld++] = b;
    es->held_bytes += b->len;
    if (es->nheld >= HOLD_MSGS || es->held_bytes >= HOLD_BYTES) finish(es); /* stop waiting */
}

/* --- NATS callbacks (nats.c's threads) ------------------------------------ */

static void on_result(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ud) {
    estream *es = ud;
    fc_edge *e = es->e;
    (void)nc, (void)sub;
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    uint64_t seq = fc_wire_seq(data, len);
    pthread_mutex_lock(&e->mu);
    if (es->subscribed && seq > es->last_seq && es->feed != FEED_OFF &&
        strcmp(natsMsg_GetSubject(msg), es->subj[SUBJ_RESULT]) == 0) {
        atomic_fetch_add_explicit(&es->received, 1, memory_order_relaxed);
        fc_buf *b = frame_result(es, data, len, seq);
        if (b && es->feed == FEED_LIVE && es->last_seq && seq != es->last_seq + 1) {
            /* NATS lost some (an outage): ask the ingest node for them. */
            atomic_fetch_add_explicit(&es->gaps, 1, memory_order_relaxed);
            es->feed = FEED_RESYNC;
            send_request(es, es->last_seq);
            hold(es, b);
        } else if (b && es->feed == FEED_LIVE) {
            if (deliver(es, b, 0)) {
                /* The loops are behind (a burst after an outage): hold it and
                 * the next ones for a tick, then hand them over as a bounded
                 * burst, in order; never wait here. */
                atomic_fetch_add_explicit(&es->delayed, 1, memory_order_relaxed);
                es->feed = FEED_RESYNC;
                es->req_id++; /* no request: the tick's deadline hands them over */
                es->req_deadline_ms = now_ms() + 50;
                hold(es, b);
            } else {
                fc_buf_unref(b);
            }
        } else if (b) {
            hold(es, b);
        }
    }
    pthread_mutex_unlock(&e->mu);
    natsMsg_Destroy(msg);
}

static void on_preview(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ud) {
    estream *es = ud;
    fc_edge *e = es->e;
    (void)nc, (void)sub;
    pthread_mutex_lock(&e->mu);
    if (es->subscribed && es->feed == FEED_LIVE &&
        strcmp(natsMsg_GetSubject(msg), es->subj[SUBJ_PREVIEW]) == 0) {
        fc_buf *b =
            fc_ws_frame(FC_WS_BINARY, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
        if (b) {
            b->flags |= FC_BUF_PREVIEW;
            (void)fc_hub_try_publish(e->hub, es->hub_id, b); /* expendable */
            fc_buf_unref(b);
        }
    }
    pthread_mutex_unlock(&e->mu);
    natsMsg_Destroy(msg);
}

/* The ingest node's status, as it is now (under mu): kept, and sent to the
 * clients if it changed while the feed is there. */
static void set_status(estream *es, const char *json, size_t len, int send) {
    if (es->status_json && strlen(es->status_json) == len &&
        memcmp(es->status_json, json, len) == 0)
        return;
    char *copy = malloc(len + 1);
    fc_buf *b = fc_ws_frame(FC_WS_TEXT, json, len);
    if (!copy || !b) {
        free(copy);
        if (b) fc_buf_unref(b);
        return;
    }
    memcpy(copy, json, len);
    copy[len] = 0;
    free(es->status_json);
    es->status_json = copy;
    if (es->status) fc_buf_unref(es->status);
    es->status = b;
    if (send) fc_hub_publish_sticky_nowait(es->e->hub, es->hub_id, b);
}

static void on_status(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ud) {
    estream *es = ud;
    fc_edge *e = es->e;
    (void)nc, (void)sub;
    pthread_mutex_lock(&e->mu);
    if (es->subscribed && strcmp(natsMsg_GetSubject(msg), es->subj[SUBJ_STATUS]) == 0)
        set_status(es, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), es->available);
    pthread_mutex_unlock(&e->mu);
    natsMsg_Destroy(msg);
}

/* A history reply: INBOX.SLOT.REQ */
static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ud) {
    fc_edge *e = ud;
    (void)nc, (void)sub;
    const char *subj = natsMsg_GetSubject(msg) + strlen(e->inbox);
    int slot = -1;
    unsigned long long id = 0;
    if (sscanf(subj, ".%d.%llu", &slot, &id) != 2 || slot < 0 || slot >= FC_HUB_MAX_STREAMS) {
        natsMsg_Destroy(msg);
        return;
    }
    estream *es = &e->streams[slot];
    pthread_mutex_lock(&e->mu);
    if (es->subscribed && id == es->req_id &&
        (es->feed == FEED_PRELOAD || es->feed == FEED_RESYNC)) {
        fc_wire_history h;
        const uint8_t *json;
        size_t len;
        uint64_t first_held = es->nheld ? es->held[0]->seq : UINT64_MAX, last = 0;
        int again = 0;
        if (!fc_wire_history_parse(&h, (const uint8_t *)natsMsg_GetData(msg),
                                   (size_t)natsMsg_GetDataLength(msg)) &&
            strcmp(h.epoch, es->epoch) == 0) {
            while (fc_wire_history_next(&h, &json, &len) == 1) {
                uint64_t seq = fc_wire_seq(json, len);
                if (!seq || seq >= first_held) break;
                last = seq;
                if (seq <= es->last_seq) continue;
                fc_buf *b = frame_result(es, json, len, seq);
                if (!b) break;
                if (es->feed == FEED_PRELOAD) b->flags |= FC_BUF_HISTORY; /* for resumes only */
                deliver(es, b, 1);
                fc_buf_unref(b);
            }
            again = h.more && last && last + 1 < first_held;
        }
        if (again)
            send_request(es, last);
        else
            finish(es);
    }
    pthread_mutex_unlock(&e->mu);
    natsMsg_Destroy(msg);
}

static char *print_member(cJSON *root, const char *key) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return v && !cJSON_IsNull(v) ? cJSON_PrintUnformatted(v) : NULL;
}

static void on_announce(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ud) {
    fc_edge *e = ud;
    (void)nc, (void)sub;
    cJSON *root = cJSON_ParseWithLength(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "stream");
    cJSON *epoch = cJSON_GetObjectItemCaseSensitive(root, "epoch");
    char subj[FC_WIRE_SUBJECT_MAX];
    if (cJSON_IsString(name) && cJSON_IsString(epoch) &&
        strlen(epoch->valuestring) <= FC_HUB_EPOCH_MAX &&
        !fc_wire_subject(subj, name->valuestring, "result")) {
        announce a = {0};
        snprintf(a.name, sizeof a.name, "%s", name->valuestring);
        snprintf(a.epoch, sizeof a.epoch, "%s", epoch->valuestring);
        a.info = print_member(root, "info");
        a.status = print_member(root, "status");
        pthread_mutex_lock(&e->mu);
        if (e->nann == e->ann_cap) {
            int cap = e->ann_cap ? e->ann_cap * 2 : 16;
            announce *n = realloc(e->anns, (size_t)cap * sizeof *n);
            if (n) e->anns = n, e->ann_cap = cap;
        }
        if (e->nann < e->ann_cap && e->nann < 1024) {
            e->anns[e->nann++] = a;
        } else {
            free(a.info);
            free(a.status);
        }
        pthread_mutex_unlock(&e->mu);
        uv_async_send(&e->wake);
    }
    cJSON_Delete(root);
    natsMsg_Destroy(msg);
}

/* --- The main thread ------------------------------------------------------ */

static void send_unavailable(estream *es, const char *why) {
    fc_strbuf sb;
    fc_sb_init(&sb, 256);
    fc_sb_puts(&sb, "{\"type\":\"status\",\"stream\":");
    fc_sb_json_str(&sb, es->name);
    fc_sb_puts(&sb, ",\"state\":\"unavailable\",\"error\":");
    fc_sb_json_str(&sb, why);
    fc_sb_printf(&sb, ",\"predictor_state\":\"ok\",\"attempt\":0,\"retry_ms\":0,\"time_us\":%lld}",
                 (long long)fc_now_us());
    fc_buf *b = fc_ws_frame(FC_WS_TEXT, sb.data, sb.len);
    fc_sb_free(&sb);
    if (b) {
        fc_hub_publish_sticky_nowait(es->e->hub, es->hub_id, b);
        fc_buf_unref(b);
    }
    fc_info("edge: stream '%s' unavailable: %s", es->name, why);
}

static void subscribe(estream *es) {
    fc_edge *e = es->e;
    pthread_mutex_lock(&e->mu);
    es->subscribed = 1;
    es->feed = FEED_PRELOAD;
    pthread_mutex_unlock(&e->mu);
    natsConnection *nc = e->nats->nc;
    natsStatus s = natsConnection_Subscribe(&es->sub[0], nc, es->subj[SUBJ_RESULT], on_result, es);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&es->sub[2], nc, es->subj[SUBJ_STATUS], on_status, es);
    if (s == NATS_OK) {
        natsSubscription_SetPendingLimits(es->sub[0], 65536, (int)e->nats->pending_bytes);
        /* The SUBs go out before the request on this connection: the
         * reply holds every result the subscription may have missed. */
        pthread_mutex_lock(&e->mu);
        send_request(es, es->last_seq);
        pthread_mutex_unlock(&e->mu);
        fc_debug("edge: subscribed to '%s'", es->name);
    } else {
        fc_warn("edge: cannot subscribe to '%s': %s", es->name, natsStatus_GetText(s));
    }
}

static void unsubscribe(estream *es) {
    fc_edge *e = es->e;
    pthread_mutex_lock(&e->mu);
    es->subscribed = 0;
    es->feed = FEED_OFF;
    es->req_id++;
    drop_held(es);
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < 3; i++) {
        if (!es->sub[i]) continue;
        natsSubscription_Unsubscribe(es->sub[i]);
        natsSubscription_Destroy(es->sub[i]);
        es->sub[i] = NULL;
    }
    fc_hub_set_ready(e->hub, es->hub_id, 0); /* new resumes wait for the next preload */
    fc_debug("edge: unsubscribed from '%s'", es->name);
}

/* Serves a stream announced with this epoch. */
static int serve(estream *es, const char *epoch) {
    fc_edge *e = es->e;
    fc_hub_stream_config sc = {.name = es->name,
                               .policy = e->cfg.slow,
                               .history = e->cfg.history,
                               .epoch = epoch,
                               .remote = 1};
    int id = fc_hub_add_stream(e->hub, &sc);
    if (id < 0) return id;
    pthread_mutex_lock(&e->mu);
    es->hub_id = id;
    snprintf(es->epoch, sizeof es->epoch, "%s", epoch);
    es->last_seq = 0;
    atomic_store(&es->seen_seq, 0);
    es->available = 0;
    pthread_mutex_unlock(&e->mu);
    return 0;
}

static void forget(estream *es, unsigned code, const char *why) {
    fc_edge *e = es->e;
    unsubscribe(es);
    fc_hub_remove_stream(e->hub, es->hub_id, code, why);
    pthread_mutex_lock(&e->mu);
    es->used = 0;
    if (es->status) fc_buf_unref(es->status);
    es->status = NULL;
    free(es->status_json);
    free(es->info);
    es->status_json = es->info = NULL;
    fc_deflater_free(es->deflater);
    es->deflater = NULL;
    pthread_mutex_unlock(&e->mu);
}

static void apply_announce(fc_edge *e, announce *a) {
    estream *es = NULL, *free_slot = NULL;
    for (int i = 0; i < FC_HUB_MAX_STREAMS && !es; i++) {
        if (e->streams[i].used && strcmp(e->streams[i].name, a->name) == 0) es = &e->streams[i];
        if (!e->streams[i].used && !free_slot) free_slot = &e->streams[i];
    }
    if (!es) {
        if (!free_slot) return;
        es = free_slot;
        static const char *what[NSUBJ] = {"result", "preview", "status", "history"};
        pthread_mutex_lock(&e->mu); /* a late callback of the slot's last stream reads them */
        snprintf(es->name, sizeof es->name, "%s", a->name);
        for (int k = 0; k < NSUBJ; k++) fc_wire_subject(es->subj[k], es->name, what[k]);
        pthread_mutex_unlock(&e->mu);
        if (serve(es, a->epoch)) {
            fc_warn("edge: cannot serve stream '%s' (%d streams at most)", a->name,
                    FC_HUB_MAX_STREAMS);
            return;
        }
        es->used = 1;
        fc_info("edge: stream '%s' announced (epoch %s)", a->name, a->epoch);
    } else if (strcmp(es->epoch, a->epoch) != 0) {
        /* The ingest node restarted: a new numbering. Its clients reconnect
         * and resume with a reset (epoch). */
        fc_info("edge: stream '%s' restarted (epoch %s)", a->name, a->epoch);
        unsubscribe(es);
        fc_hub_remove_stream(e->hub, es->hub_id, 1012, "the stream restarted");
        if (serve(es, a->epoch)) {
            es->used = 0;
            return;
        }
        pthread_mutex_lock(&e->mu);
        free(es->status_json);
        es->status_json = NULL;
        pthread_mutex_unlock(&e->mu);
    }
    es->announced_ms = now_ms();
    pthread_mutex_lock(&e->mu);
    free(es->info);
    es->info = a->info;
    a->info = NULL;
    if (a->status) set_status(es, a->status, strlen(a->status), es->available);
    pthread_mutex_unlock(&e->mu);
}

/* The views the HTTP API reads. */
static void update_views(fc_edge *e) {
    pthread_mutex_lock(&e->view_mu);
    fc_edge_views_free(e->views, e->nviews);
    e->nviews = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < FC_HUB_MAX_STREAMS; i++) {
        estream *es = &e->streams[i];
        if (!es->used) continue;
        fc_edge_view *v = &e->views[e->nviews++];
        memset(v, 0, sizeof *v);
        snprintf(v->name, sizeof v->name, "%s", es->name);
        v->hub_id = es->hub_id;
        v->available = es->available;
        snprintf(v->state, sizeof v->state, "unavailable");
        if (es->available && es->status_json) {
            cJSON *st = cJSON_Parse(es->status_json);
            cJSON *s = cJSON_GetObjectItemCaseSensitive(st, "state");
            if (cJSON_IsString(s)) snprintf(v->state, sizeof v->state, "%s", s->valuestring);
            cJSON_Delete(st);
        }
        v->info = es->info ? strdup(es->info) : NULL;
        v->last_seq = atomic_load(&es->seen_seq);
        v->received = atomic_load(&es->received);
        v->dropped = atomic_load(&es->dropped);
        v->delayed = atomic_load(&es->delayed);
        v->gaps = atomic_load(&es->gaps);
        v->lost = atomic_load(&es->lost);
    }
    pthread_mutex_unlock(&e->mu);
    pthread_mutex_unlock(&e->view_mu);
}

static void on_tick(uv_timer_t *t) {
    fc_edge *e = t->data;
    int64_t now = now_ms();
    pthread_mutex_lock(&e->mu);
    announce *anns = e->anns;
    int nann = e->nann;
    e->anns = NULL;
    e->nann = e->ann_cap = 0;
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < nann; i++) {
        apply_announce(e, &anns[i]);
        free(anns[i].info);
        free(anns[i].status);
    }
    free(anns);
    int connected = fc_nats_connected(e->nats);
    if (!connected) e->down_ms = now;
    for (int i = 0; i < FC_HUB_MAX_STREAMS; i++) {
        estream *es = &e->streams[i];
        if (!es->used) continue;
        if (now - es->announced_ms > e->cfg.forget_ms) {
            fc_info("edge: stream '%s' not announced for %d s: removed", es->name,
                    e->cfg.forget_ms / 1000);
            forget(es, 1001, "the stream is gone");
            continue;
        }
        pthread_mutex_lock(&e->mu);
        if ((es->feed == FEED_PRELOAD || es->feed == FEED_RESYNC) && now > es->req_deadline_ms)
            finish(es); /* nobody answered: serve what there is */
        pthread_mutex_unlock(&e->mu);
        fc_hub_stats st;
        fc_hub_stats_get(e->hub, es->hub_id, &st);
        if (st.clients) es->busy_ms = now;
        if (st.clients && !es->sub[0] && connected) {
            es->busy_ms = now;
            subscribe(es);
        } else if (es->sub[0] && !st.clients && now - es->busy_ms > e->cfg.linger_ms) {
            unsubscribe(es);
        }
        int previews = es->sub[0] && fc_hub_previewers(e->hub, es->hub_id) > 0;
        if (previews && !es->sub[1]) {
            natsConnection_Subscribe(&es->sub[1], e->nats->nc, es->subj[SUBJ_PREVIEW], on_preview,
                                     es);
        } else if (!previews && es->sub[1]) {
            natsSubscription_Unsubscribe(es->sub[1]);
            natsSubscription_Destroy(es->sub[1]);
            es->sub[1] = NULL;
        }
        /* Back only with an announcement made after the outage. */
        int fresh = now - es->announced_ms <= e->cfg.expire_ms &&
                    (es->available || es->announced_ms > e->down_ms);
        if (es->available && (!connected || !fresh)) {
            pthread_mutex_lock(&e->mu);
            es->available = 0;
            pthread_mutex_unlock(&e->mu);
            send_unavailable(es, !connected ? "the edge lost its connection to NATS"
                                            : "no announcement from the stream's ingest node");
        } else if (!es->available && connected && fresh) {
            pthread_mutex_lock(&e->mu);
            es->available = 1;
            if (es->status) fc_hub_publish_sticky_nowait(e->hub, es->hub_id, es->status);
            pthread_mutex_unlock(&e->mu);
            fc_info("edge: stream '%s' available", es->name);
        }
    }
    update_views(e);
}

static void on_wake(uv_async_t *a) {
    on_tick((uv_timer_t *)a->data);
}

int fc_edge_create(fc_edge **out, fc_nats *nats, fc_hub *hub, uv_loop_t *loop,
                   const fc_edge_config *cfg, char *err, size_t errlen) {
    fc_edge *e = calloc(1, sizeof *e);
    if (!e) return -ENOMEM;
    e->nats = nats;
    e->hub = hub;
    e->cfg = *cfg;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->view_mu, NULL);
    for (int i = 0; i < FC_HUB_MAX_STREAMS; i++) {
        e->streams[i].e = e;
        e->streams[i].slot = i;
        e->streams[i].hub_id = -1;
    }
    uv_timer_init(loop, &e->tick);
    e->tick.data = e;
    uv_async_init(loop, &e->wake, on_wake);
    e->wake.data = &e->tick;
    e->handles = 1;
    uv_timer_start(&e->tick, on_tick, 50, 50);
    natsInbox *inbox = NULL;
    natsStatus s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
        snprintf(e->inbox, sizeof e->inbox, "%s", (const char *)inbox);
        natsInbox_Destroy(inbox);
        char wild[160];
        snprintf(wild, sizeof wild, "%s.*.*", e->inbox);
        s = natsConnection_Subscribe(&e->reply_sub, nats->nc, wild, on_reply, e);
    }
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&e->announce_sub, nats->nc, FC_WIRE_ANNOUNCE, on_announce, e);
    if (s != NATS_OK) {
        snprintf(err, errlen, "NATS: cannot subscribe: %s", fc_nats_error(nats, s));
        fc_edge_stop(e);
        *out = e; /* freed by fc_edge_destroy after the handles closed */
        return -EIO;
    }
    *out = e;
    return 0;
}

void fc_edge_stop(fc_edge *e) {
    if (!e || !e->handles) return;
    if (e->announce_sub) {
        natsSubscription_Unsubscribe(e->announce_sub);
        natsSubscription_Destroy(e->announce_sub);
        e->announce_sub = NULL;
    }
    for (int i = 0; i < FC_HUB_MAX_STREAMS; i++)
        if (e->streams[i].used) unsubscribe(&e->streams[i]);
    if (e->reply_sub) {
        natsSubscription_Unsubscribe(e->reply_sub);
        natsSubscription_Destroy(e->reply_sub);
        e->reply_sub = NULL;
    }
    uv_timer_stop(&e->tick);
    uv_close((uv_handle_t *)&e->tick, NULL);
    uv_close((uv_handle_t *)&e->wake, NULL);
    e->handles = 0;
}

void fc_edge_destroy(fc_edge *e) {
    if (!e) return;
    for (int i = 0; i < FC_HUB_MAX_STREAMS; i++) {
        estream *es = &e->streams[i];
        drop_held(es);
        free(es->held);
        if (es->status) fc_buf_unref(es->status);
        free(es->status_json);
        free(es->info);
        fc_deflater_free(es->deflater);
    }
    for (int i = 0; i < e->nann; i++) {
        free(e->anns[i].info);
        free(e->anns[i].status);
    }
    free(e->anns);
    fc_edge_views_free(e->views, e->nviews);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->view_mu);
    free(e);
}

int fc_edge_views(fc_edge *e, fc_edge_view *out, int max) {
    pthread_mutex_lock(&e->view_mu);
    int n = e->nviews < max ? e->nviews : max;
    for (int i = 0; i < n; i++) {
        out[i] = e->views[i];
        out[i].info = e->views[i].info ? strdup(e->views[i].info) : NULL;
    }
    pthread_mutex_unlock(&e->view_mu);
    return n;
}

void fc_edge_views_free(fc_edge_view *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].info);
        v[i].info = NULL;
    }
}

int fc_edge_ready(fc_edge *e) {
    return fc_nats_connected(e->nats);
}
