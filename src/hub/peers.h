/* What each remote address holds, shared by the I/O loops: its WebSocket
 * clients (against --max-clients-per-ip) and a token bucket of new
 * connections (--max-connect-rate-per-ip). Clients of one address land on
 * different loops, so the count cannot live in a loop.
 *
 * An address is an IPv4 address, or the /64 prefix of an IPv6 address (one
 * host commonly has a whole /64 to pick from; an IPv4-mapped IPv6 address
 * counts as its IPv4 address).
 *
 * The table is sharded by a keyed hash of the address: FC_PEERS_SHARDS
 * small chained hash tables, each behind its own mutex held for one lookup
 * and a few integer updates, so loops seldom meet on one and never wait
 * long. It is bounded: at most `capacity` addresses. An address's entry is
 * released once it has no client and its bucket has filled up again (at
 * once when its last client leaves with a full bucket; otherwise by a
 * sweep of its shard, at most once a second, on the shard's next use).
 * When a shard is full, a new address is let through untracked and counted
 * (fc_peers_untracked): refusing it would let whoever holds many addresses
 * lock everyone else out, and --max-clients still bounds the total.
 *
 * The bucket holds `rate` connections and refills at `rate` per second, so
 * an address may open `rate` connections at once, then `rate` a second.
 *
 * Threads: create and destroy on one thread, before and after the loops
 * run; everything else on any thread. */
#ifndef FC_HUB_PEERS_H
#define FC_HUB_PEERS_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define FC_PEERS_SHARDS   16
#define FC_PEERS_CAPACITY 65536 /* addresses tracked at most (about 3 MiB) */

typedef struct fc_peer_addr {
    uint64_t bits; /* IPv4: the address; IPv6: its first 64 bits */
    uint8_t v6;
    uint8_t valid; /* 0: unknown (not tracked) */
} fc_peer_addr;

/* The address of sa (AF_INET or AF_INET6); text (46 bytes or NULL) gets
 * the full address in words, for the log. */
fc_peer_addr fc_peer_addr_from(const struct sockaddr *sa, char *text, size_t textlen);

typedef struct fc_peers fc_peers;

/* max_clients: WebSocket clients per address (0: no limit); rate: new
 * connections per second per address (0: no limit); capacity: addresses
 * at most (rounded to a multiple of FC_PEERS_SHARDS). The seed keys the
 * hash so nobody can choose addresses that share a chain. Returns 0 or
 * -ENOMEM. */
int fc_peers_create(fc_peers **out, int max_clients, int rate, size_t capacity, uint64_t seed);
void fc_peers_destroy(fc_peers *p);

/* A new connection from a at now_ms (a monotonic clock in ms): takes a
 * token from its bucket. Returns 0 if it may go on, or else how many
 * seconds until the bucket has a token again (>= 1, for Retry-After). */
int fc_peers_connect(fc_peers *p, const fc_peer_addr *a, int64_t now_ms);

/* A new WebSocket client of a. Returns 1 if it is counted (call
 * fc_peers_leave when it goes), 0 if it may go on uncounted (no limit,
 * or the table is full), -1 if a has max_clients already. */
int fc_peers_join(fc_peers *p, const fc_peer_addr *a, int64_t now_ms);
/* A counted client of a has gone. */
void fc_peers_leave(fc_peers *p, const fc_peer_addr *a, int64_t now_ms);

/* Addresses tracked now; new addresses let through untracked so far. */
size_t fc_peers_count(fc_peers *p);
uint64_t fc_peers_untracked(fc_peers *p);

#endif
