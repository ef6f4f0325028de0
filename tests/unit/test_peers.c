/* Per-address limits (src/hub/peers.c): what counts as one address, the
 * client count, the token bucket, entries released when nothing is left
 * to remember, the bound on the table, and loops on several threads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "hub/peers.h"

static fc_peer_addr v4(const char *s) {
    struct sockaddr_in in = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, s, &in.sin_addr), 1);
    return fc_peer_addr_from((struct sockaddr *)&in, NULL, 0);
}

static fc_peer_addr v6(const char *s, char *text) {
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, s, &in6.sin6_addr), 1);
    return fc_peer_addr_from((struct sockaddr *)&in6, text, text ? 46 : 0);
}

static int same(fc_peer_addr a, fc_peer_addr b) {
    return a.valid && b.valid && a.bits == b.bits && a.v6 == b.v6;
}

static void what_counts_as_one_address(void **state) {
    (void)state;
    char text[46];
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
    fc_peer_addr a = fc_peer_addr_from((struct sockaddr *)&in, text, sizeof text);
    assert_string_equal(text, "192.0.2.7");
    assert_true(same(a, v4("192.0.2.7")));
    assert_false(same(a, v4("192.0.2.8")));
    /* An IPv4-mapped IPv6 address is its IPv4 address. */
    assert_true(same(a, v6("::ffff:192.0.2.7", text)));
    /* IPv6: one /64 is one address; the log keeps the whole address. */
    fc_peer_addr b = v6("2001:db8:1:2::1", text);
    assert_string_equal(text, "2001:db8:1:2::1");
    assert_true(same(b, v6("2001:db8:1:2:ffff:ffff:ffff:ffff", NULL)));
    assert_false(same(b, v6("2001:db8:1:3::1", NULL)));
    /* IPv6 and IPv4 never meet, even with the same bits. */
    assert_false(same(v6("::c000:207", NULL), a) && v6("::c000:207", NULL).v6 == a.v6);
    struct sockaddr unknown = {.sa_family = AF_UNIX};
    assert_false(fc_peer_addr_from(&unknown, NULL, 0).valid);
}

static void clients_per_address_are_bounded_and_released(void **state) {
    (void)state;
    fc_peers *p;
    assert_int_equal(fc_peers_create(&p, 2, 0, 1024, 42), 0);
    fc_peer_addr a = v4("10.0.0.1"), b = v4("10.0.0.2");
    assert_int_equal(fc_peers_join(p, &a, 0), 1);
    assert_int_equal(fc_peers_join(p, &a, 0), 1);
    assert_int_equal(fc_peers_join(p, &a, 0), -1); /* the third one from a */
    assert_int_equal(fc_peers_join(p, &b, 0), 1);  /* b is another address */
    assert_int_equal(fc_peers_count(p), 2);
    fc_peers_leave(p, &a, 0);
    assert_int_equal(fc_peers_join(p, &a, 0), 1);
    fc_peers_leave(p, &a, 0);
    fc_peers_leave(p, &a, 0);
    assert_int_equal(fc_peers_count(p), 1); /* a has gone from the table */
    fc_peers_leave(p, &b, 0);
    assert_int_equal(fc_peers_count(p), 0);
    /* No rate limit configured: connections are never charged. */
    for (int i = 0; i < 100; i++) assert_int_equal(fc_peers_connect(p, &a, 0), 0);
    assert_int_equal(fc_peers_count(p), 0);
    fc_peer_addr unknown = {0};
    assert_int_equal(fc_peers_join(p, &unknown, 0), 0); /* let through, not counted */
    fc_peers_destroy(p);
}

static void the_bucket_takes_rate_at_once_then_rate_a_second(void **state) {
    (void)state;
    fc_peers *p;
    assert_int_equal(fc_peers_create(&p, 0, 4, 1024, 7), 0);
    fc_peer_addr a = v4("10.0.0.1"), b = v4("10.0.0.2");
    int64_t t = 1000000;
    for (int i = 0; i < 4; i++) assert_int_equal(fc_peers_connect(p, &a, t), 0);
    assert_int_equal(fc_peers_connect(p, &a, t), 1); /* empty: retry in a second */
    assert_int_equal(fc_peers_connect(p, &b, t), 0); /* b has its own bucket */
    /* 4 a second: a token every 250 ms. */
    assert_int_equal(fc_peers_connect(p, &a, t + 249), 1);
    assert_int_equal(fc_peers_connect(p, &a, t + 250), 0);
    assert_int_equal(fc_peers_connect(p, &a, t + 300), 1);
    /* Refused attempts cost nothing: still one token at +500. */
    assert_int_equal(fc_peers_connect(p, &a, t + 500), 0);
    assert_int_equal(fc_peers_connect(p, &a, t + 500), 1);
    /* A clock a few ms behind (another loop's) takes nothing back. */
    assert_int_equal(fc_peers_connect(p, &a, t + 490), 1);
    /* Full again after a second: the burst is the rate, not more. */
    int ok = 0;
    for (int i = 0; i < 10; i++) ok += fc_peers_connect(p, &a, t + 10000) == 0;
    assert_int_equal(ok, 4);
    fc_peers_destroy(p);

    /* Entries with no client are released once their bucket is full again:
     * a table of 64 that new addresses fill keeps taking new ones a second
     * later, and none before. */
    assert_int_equal(fc_peers_create(&p, 0, 4, 64, 11), 0);
    fc_peer_addr x = {.valid = 1};
    for (uint32_t i = 0; i < 1000; i++) {
        x.bits = 0x0c000000u + i;
        assert_int_equal(fc_peers_connect(p, &x, t), 0); /* tracked or not, let through */
    }
    assert_int_equal(fc_peers_count(p), 64);
    uint64_t u0 = fc_peers_untracked(p);
    assert_int_equal(u0, 1000 - 64);
    for (uint32_t i = 0; i < 1000; i++) { /* half a second on: buckets not full yet */
        x.bits = 0x0d000000u + i;
        fc_peers_connect(p, &x, t + 500);
    }
    assert_int_equal(fc_peers_untracked(p) - u0, 1000);
    uint64_t u1 = fc_peers_untracked(p);
    for (uint32_t i = 0; i < 1000; i++) { /* two seconds on: the old ones are released */
        x.bits = 0x0e000000u + i;
        fc_peers_connect(p, &x, t + 2000);
    }
    assert_int_equal(fc_peers_count(p), 64);
    assert_true(fc_peers_untracked(p) - u1 <= 1000 - 48);
    fc_peers_destroy(p);

    /* A slow rate says how long to wait. */
    assert_int_equal(fc_peers_create(&p, 0, 1, 1024, 7), 0);
    assert_int_equal(fc_peers_connect(p, &a, t), 0);
    assert_int_equal(fc_peers_connect(p, &a, t), 1);
    fc_peers_destroy(p);
}

static void a_client_keeps_its_entry_and_the_bucket_survives_it(void **state) {
    (void)state;
    fc_peers *p;
    assert_int_equal(fc_peers_create(&p, 1, 2, 1024, 3), 0);
    fc_peer_addr a = v4("10.0.0.1");
    int64_t t = 5000;
    assert_int_equal(fc_peers_connect(p, &a, t), 0);
    assert_int_equal(fc_peers_join(p, &a, t), 1);
    assert_int_equal(fc_peers_connect(p, &a, t), 0);
    assert_int_equal(fc_peers_join(p, &a, t), -1);
    assert_int_equal(fc_peers_connect(p, &a, t), 1);
    /* Its last client leaves with the bucket not full: the entry stays,
     * or reconnecting at once would get a fresh bucket. */
    fc_peers_leave(p, &a, t + 1);
    assert_int_equal(fc_peers_count(p), 1);
    assert_int_equal(fc_peers_connect(p, &a, t + 2), 1);
    fc_peers_destroy(p);
}

static void the_table_is_bounded(void **state) {
    (void)state;
    fc_peers *p;
    /* 16 shards of 4: 64 addresses at most. */
    assert_int_equal(fc_peers_create(&p, 1, 0, 64, 99), 0);
    int counted = 0, untracked = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        fc_peer_addr a = {.bits = 0x0b000000u + i, .valid = 1};
        int rc = fc_peers_join(p, &a, 0);
        counted += rc == 1;
        untracked += rc == 0;
    }
    assert_true(fc_peers_count(p) <= 64);
    assert_int_equal(counted, (int)fc_peers_count(p));
    assert_int_equal(counted + untracked, 1000);
    assert_int_equal(fc_peers_untracked(p), (uint64_t)untracked);
    assert_true(counted >= 32); /* the shards fill evenly enough */
    fc_peers_destroy(p);
}

/* Several loops at once: every join is matched by a leave, and the count
 * never goes over the limit (ThreadSanitizer watches the locks). */
struct worker {
    fc_peers *p;
    int over; /* joins that found the address at its limit */
};

static void *work(void *arg) {
    struct worker *w = arg;
    fc_peer_addr a = {.bits = 0x0a000001u, .valid = 1};
    for (int i = 0; i < 20000; i++) {
        int rc = fc_peers_join(w->p, &a, i);
        if (rc == 1)
            fc_peers_leave(w->p, &a, i);
        else
            w->over++;
        fc_peers_connect(w->p, &a, i);
    }
    return NULL;
}

static void loops_share_the_table(void **state) {
    (void)state;
    fc_peers *p;
    assert_int_equal(fc_peers_create(&p, 4, 1000, 1024, 5), 0);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){p, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) assert_int_equal(w[i].over, 0); /* 4 threads, limit 4 */
    fc_peer_addr a = {.bits = 0x0a000001u, .valid = 1};
    for (int i = 0; i < 4; i++) assert_int_equal(fc_peers_join(p, &a, 30000), 1);
    assert_int_equal(fc_peers_join(p, &a, 30000), -1);
    fc_peers_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(what_counts_as_one_address),
        cmocka_unit_test(clients_per_address_are_bounded_and_released),
        cmocka_unit_test(the_bucket_takes_rate_at_once_then_rate_a_second),
        cmocka_unit_test(a_client_keeps_its_entry_and_the_bucket_survives_it),
        cmocka_unit_test(the_table_is_bounded),
        cmocka_unit_test(loops_share_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
