/* The node's connection to NATS (see nats_conn.h). */
#include "cluster/nats_conn.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"

static void set_connected(fc_nats *n, natsConnection *nc, int up) {
    int was = atomic_exchange(&n->connected, up);
    if (was == up || atomic_load(&n->closing)) return;
    if (up) {
        char url[256] = "";
        natsConnection_GetConnectedUrl(nc, url, sizeof url);
        fc_info("NATS: connected to %s", url);
    } else {
        fc_warn("NATS: disconnected; reconnecting");
    }
}

static void on_connected(natsConnection *nc, void *ud) {
    set_connected(ud, nc, 1); /* the first connection, made in the background */
}

static void on_disconnected(natsConnection *nc, void *ud) {
    fc_nats *n = ud;
    atomic_fetch_add(&n->disconnects, 1);
    set_connected(n, nc, 0);
}

static void on_reconnected(natsConnection *nc, void *ud) {
    fc_nats *n = ud;
    atomic_fetch_add(&n->reconnects, 1);
    set_connected(n, nc, 1);
}

static void on_closed(natsConnection *nc, void *ud) {
    fc_nats *n = ud;
    const char *why = NULL;
    if (atomic_load(&n->closing)) return;
    atomic_store(&n->connected, 0);
    natsConnection_GetLastError(nc, &why);
    fc_error("NATS: the connection was closed for good: %s (check --nats and its TLS and "
             "credential options; restart to try again)",
             why && *why ? why : "no reason given");
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *ud) {
    (void)nc, (void)sub, (void)ud;
    fc_warn("NATS: %s", natsStatus_GetText(s)); /* a slow consumer: messages were dropped */
}

int fc_nats_open(fc_nats *n, const fc_nats_config *cfg, char *err, size_t errlen) {
    /* Files are read when nats.c connects, which may be later: check now,
     * so a wrong path stops the start with its name. */
    const struct {
        const char *option, *path;
    } files[] = {{"--nats-creds", cfg->creds},
                 {"--nats-tls-ca", cfg->tls_ca},
                 {"--nats-tls-cert", cfg->tls_cert},
                 {"--nats-tls-key", cfg->tls_key}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (files[i].path && access(files[i].path, R_OK) != 0) {
            snprintf(err, errlen, "%s: cannot read '%s': %s", files[i].option, files[i].path,
                     strerror(errno));
            return FC_EINVAL_OPT;
        }
    }
    natsStatus s = nats_Open(-1);
    const char *what = "nats_Open";
    /* The servers, one token each. */
    char *list = strdup(cfg->urls), *save = NULL;
    const char *servers[16];
    int nservers = 0;
    for (char *t = list ? strtok_r(list, ",", &save) : NULL; t && nservers < 16;
         t = strtok_r(NULL, ",", &save))
        servers[nservers++] = t;
    n->pending_bytes = cfg->pending_bytes > 0 ? cfg->pending_bytes : 64 << 20;
    if (s == NATS_OK) what = "options", s = natsOptions_Create(&n->opts);
    if (s == NATS_OK) what = "--nats", s = natsOptions_SetServers(n->opts, servers, nservers);
    if (s == NATS_OK && cfg->name) s = natsOptions_SetName(n->opts, cfg->name);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(n->opts, -1); /* forever */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(n->opts,
                                         cfg->reconnect_wait_ms > 0 ? cfg->reconnect_wait_ms : 250);
    if (s == NATS_OK) s = natsOptions_SetReconnectJitter(n->opts, 100, 1000);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(
            n->opts, cfg->reconnect_buf_bytes > 0 ? cfg->reconnect_buf_bytes : 8 << 20);
    /* A message goes out at once rather than when nats.c's flusher thread
     * next runs: the hop's latency (at 30 results/s a syscall each costs
     * nothing; under load several still share one write). */
    if (s == NATS_OK) s = natsOptions_SetSendAsap(n->opts, true);
    if (s == NATS_OK) s = natsOptions_SetPingInterval(n->opts, 2000);
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(n->opts, 2);
    if (s == NATS_OK) s = natsOptions_SetTimeout(n->opts, 2000);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(n->opts, on_disconnected, n);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(n->opts, on_reconnected, n);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(n->opts, on_error, n);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(n->opts, on_closed, n);
    if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(n->opts, true, on_connected, n);
    if (s == NATS_OK && cfg->creds)
        what = "--nats-creds",
        s = natsOptions_SetUserCredentialsFromFiles(n->opts, cfg->creds, NULL);
    if (s == NATS_OK && (cfg->tls_ca || cfg->tls_cert)) s = natsOptions_SetSecure(n->opts, true);
    if (s == NATS_OK && cfg->tls_ca)
        what = "--nats-tls-ca", s = natsOptions_LoadCATrustedCertificates(n->opts, cfg->tls_ca);
    if (s == NATS_OK && cfg->tls_cert)
        what = "--nats-tls-cert",
        s = natsOptions_LoadCertificatesChain(n->opts, cfg->tls_cert, cfg->tls_key);
    free(list);
    if (s != NATS_OK) {
        snprintf(err, errlen, "%s: %s", what,
                 nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(s));
        return FC_EINVAL_OPT;
    }
    natsConnection *nc = NULL;
    s = natsConnection_Connect(&nc, n->opts);
    if (s == NATS_OK) {
        n->nc = nc;
        set_connected(n, nc, 1);
    } else if (s == NATS_NOT_YET_CONNECTED) { /* retried in the background */
        n->nc = nc;
        fc_warn("NATS: no server answers at %s yet; retrying in the background", cfg->urls);
    } else {
        snprintf(err, errlen, "--nats %s: %s", cfg->urls,
                 nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(s));
        return FC_EINVAL_OPT;
    }
    return 0;
}

const char *fc_nats_error(const fc_nats *n, natsStatus s) {
    const char *text = NULL;
    if (n->nc && natsConnection_GetLastError(n->nc, &text) != NATS_OK && text && *text) return text;
    return natsStatus_GetText(s);
}

int fc_nats_connected(const fc_nats *n) {
    return atomic_load(&n->connected);
}

void fc_nats_close(fc_nats *n) {
    if (n->nc) {
        atomic_store(&n->closing, 1); /* nothing to report any more */
        natsConnection_Close(n->nc);
        natsConnection_Destroy(n->nc);
        n->nc = NULL;
    }
    natsOptions_Destroy(n->opts);
    n->opts = NULL;
}

void fc_nats_prepare(void) {
    /* nats.c 3.4 frees a list of OpenSSL's (its compression methods) when
     * its library closes, and OpenSSL's exit handler then frees it again
     * (a crash at exit after TLS to NATS; fixed in later nats.c). OpenSSL's
     * memory is the process's until it ends anyway: no exit handler. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

void fc_nats_shutdown(void) {
    nats_CloseAndWait(5000);
}
