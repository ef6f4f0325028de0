/* The client side of the WebSocket handshake, for framecast-client and
 * framecast-bench: URL parsing, the upgrade request and the check of the
 * server's answer. Pure functions; any thread. */
#ifndef FC_HUB_WSCLIENT_H
#define FC_HUB_WSCLIENT_H

#include <stddef.h>

typedef struct fc_ws_url {
    char host[256]; /* without brackets for IPv6 */
    char port[8];
    char path[1024]; /* with the query */
    int tls;         /* wss:// */
} fc_ws_url;

/* Parses ws://HOST[:PORT]/PATH or wss://... Returns 0 or -1 with *why set. */
int fc_ws_url_parse(const char *url, fc_ws_url *out, const char **why);

/* Writes an upgrade request with a fresh random key into out; the key
 * (24 characters and a NUL) goes to key. Returns the request length, or -1
 * if out is too small. */
int fc_ws_client_request(char *out, size_t cap, const fc_ws_url *url, char key[25]);
/* The same, offering the extensions given (a Sec-WebSocket-Extensions
 * value; NULL for none). */
int fc_ws_client_request_ext(char *out, size_t cap, const fc_ws_url *url, const char *extensions,
                             char key[25]);

/* Checks a complete response head. Returns 101 when the upgrade is good,
 * else the HTTP status (or -1 when malformed) with *why set. */
int fc_ws_client_check(const char *head, size_t len, const char *key, const char **why);
/* 1 when a good upgrade's response head accepts the extension named name
 * (its Sec-WebSocket-Extensions), else 0. */
int fc_ws_client_accepted(const char *head, size_t len, const char *name);

#endif
