/* Per-address clients and connection rates (see peers.h). */
#include "hub/peers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SWEEP_EVERY_MS 1000

typedef struct entry {
    struct entry *next;
    uint64_t bits;
    uint8_t v6;
    int clients;
    int64_t tokens;  /* thousandths of a connection */
    int64_t last_ms; /* when tokens was last brought up to date */
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry **buckets;
    size_t mask; /* buckets - 1, a power of two less one */
    size_t count, cap;
    int64_t last_sweep_ms;
} shard;

struct fc_peers {
    int max_clients, rate;
    uint64_t seed;
    atomic_size_t count;
    atomic_uint_fast64_t untracked;
    shard shards[FC_PEERS_SHARDS];
};

fc_peer_addr fc_peer_addr_from(const struct sockaddr *sa, char *text, size_t textlen) {
    fc_peer_addr a = {0};
    if (text && textlen) text[0] = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        a.bits = ntohl(in->sin_addr.s_addr);
        a.valid = 1;
        if (text) inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)textlen);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            a.bits = (uint64_t)b[12] << 24 | (uint64_t)b[13] << 16 | (uint64_t)b[14] << 8 | b[15];
        } else {
            for (int i = 0; i < 8; i++) a.bits = a.bits << 8 | b[i];
            a.v6 = 1;
        }
        a.valid = 1;
        if (text) inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)textlen);
    }
    return a;
}

int fc_peers_create(fc_peers **out, int max_clients, int rate, size_t capacity, uint64_t seed) {
    fc_peers *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->max_clients = max_clients;
    p->rate = rate;
    p->seed = seed;
    size_t per = capacity / FC_PEERS_SHARDS;
    if (per < 4) per = 4;
    size_t nb = 1;
    while (nb < per / 4) nb <<= 1; /* chains of about 4 when full */
    for (int i = 0; i < FC_PEERS_SHARDS; i++) {
        shard *s = &p->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->buckets = calloc(nb, sizeof *s->buckets);
        s->mask = nb - 1;
        s->cap = per;
        if (!s->buckets) {
            fc_peers_destroy(p);
            return -ENOMEM;
        }
    }
    *out = p;
    return 0;
}

void fc_peers_destroy(fc_peers *p) {
    if (!p) return;
    for (int i = 0; i < FC_PEERS_SHARDS; i++) {
        shard *s = &p->shards[i];
        for (size_t b = 0; s->buckets && b <= s->mask; b++)
            for (entry *e = s->buckets[b], *next; e; e = next) {
                next = e->next;
                free(e);
            }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    free(p);
}

/* A keyed mix of the address (splitmix64's finalizer, a bijection, over
 * the address xor the seed): without the seed, nobody can pick addresses
 * that land in one chain. */
static uint64_t hash(const fc_peers *p, const fc_peer_addr *a) {
    uint64_t z = a->bits ^ p->seed ^ (a->v6 ? 0x9e3779b97f4a7c15u : 0);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Brings e's bucket up to now: rate thousandths of a token per ms. */
static void refill(const fc_peers *p, entry *e, int64_t now_ms) {
    if (!p->rate) return;
    int64_t full = (int64_t)p->rate * 1000;
    if (now_ms > e->last_ms) { /* the loops' clocks may be a few ms apart */
        int64_t t = e->tokens + (now_ms - e->last_ms) * p->rate;
        e->tokens = t > full ? full : t;
        e->last_ms = now_ms;
    }
}

/* Nothing to remember about e: no client, a full bucket. */
static int idle(const fc_peers *p, entry *e, int64_t now_ms) {
    refill(p, e, now_ms);
    return e->clients == 0 && (!p->rate || e->tokens >= (int64_t)p->rate * 1000);
}

static void sweep(fc_peers *p, shard *s, int64_t now_ms) {
    s->last_sweep_ms = now_ms;
    for (size_t b = 0; b <= s->mask; b++)
        for (entry **pe = &s->buckets[b]; *pe;) {
            entry *e = *pe;
            if (idle(p, e, now_ms)) {
                *pe = e->next;
                free(e);
                s->count--;
                atomic_fetch_sub_explicit(&p->count, 1, memory_order_relaxed);
            } else {
                pe = &e->next;
            }
        }
}

/* a's entry in s (locked), made if create; NULL if absent, or if s is full. */
static entry *find(fc_peers *p, shard *s, uint64_t h, const fc_peer_addr *a, int64_t now_ms,
                   int create) {
    if (now_ms - s->last_sweep_ms >= SWEEP_EVERY_MS) sweep(p, s, now_ms);
    for (entry *e = s->buckets[h & s->mask]; e; e = e->next)
        if (e->bits == a->bits && e->v6 == a->v6) return e;
    if (!create || s->count >= s->cap) return NULL;
    entry *e = malloc(sizeof *e);
    if (!e) return NULL;
    *e =
        (entry){.bits = a->bits, .v6 = a->v6, .tokens = (int64_t)p->rate * 1000, .last_ms = now_ms};
    e->next = s->buckets[h & s->mask];
    s->buckets[h & s->mask] = e;
    s->count++;
    atomic_fetch_add_explicit(&p->count, 1, memory_order_relaxed);
    return e;
}

static shard *shard_of(fc_peers *p, uint64_t h) {
    return &p->shards[h >> 60 & (FC_PEERS_SHARDS - 1)];
}

int fc_peers_connect(fc_peers *p, const fc_peer_addr *a, int64_t now_ms) {
    if (!p->rate || !a->valid) return 0;
    uint64_t h = hash(p, a);
    shard *s = shard_of(p, h);
    int wait_s = 0;
    pthread_mutex_lock(&s->mu);
    entry *e = find(p, s, h, a, now_ms, 1);
    if (!e) {
        atomic_fetch_add_explicit(&p->untracked, 1, memory_order_relaxed);
    } else {
        refill(p, e, now_ms);
        if (e->tokens >= 1000) {
            e->tokens -= 1000;
        } else {
            int64_t ms = (1000 - e->tokens + p->rate - 1) / p->rate;
            wait_s = (int)((ms + 999) / 1000);
            if (wait_s < 1) wait_s = 1;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return wait_s;
}

int fc_peers_join(fc_peers *p, const fc_peer_addr *a, int64_t now_ms) {
    if (!p->max_clients || !a->valid) return 0;
    uint64_t h = hash(p, a);
    shard *s = shard_of(p, h);
    int rc;
    pthread_mutex_lock(&s->mu);
    entry *e = find(p, s, h, a, now_ms, 1);
    if (!e) {
        atomic_fetch_add_explicit(&p->untracked, 1, memory_order_relaxed);
        rc = 0;
    } else if (e->clients >= p->max_clients) {
        rc = -1;
    } else {
        e->clients++;
        rc = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void fc_peers_leave(fc_peers *p, const fc_peer_addr *a, int64_t now_ms) {
    uint64_t h = hash(p, a);
    shard *s = shard_of(p, h);
    pthread_mutex_lock(&s->mu);
    entry **pe = &s->buckets[h & s->mask];
    while (*pe && !((*pe)->bits == a->bits && (*pe)->v6 == a->v6)) pe = &(*pe)->next;
    entry *e = *pe;
    if (e && e->clients > 0) e->clients--;
    if (e && idle(p, e, now_ms)) { /* nothing left to remember */
        *pe = e->next;
        free(e);
        s->count--;
        atomic_fetch_sub_explicit(&p->count, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->mu);
}

size_t fc_peers_count(fc_peers *p) {
    return atomic_load_explicit(&p->count, memory_order_relaxed);
}

uint64_t fc_peers_untracked(fc_peers *p) {
    return atomic_load_explicit(&p->untracked, memory_order_relaxed);
}
