/* Who may connect: a request's Origin against --allowed-origin, and its
 * token against the hub's JWT verifier (jwt.h). request.c asks both before
 * a WebSocket upgrade; hub.c offers the token check to the HTTP handler.
 *
 * Origins. A pattern is [SCHEME://]HOST[:PORT]: SCHEME is http or https
 * (https when omitted), PORT the scheme's default when omitted, and a HOST
 * of the form *.example.com matches every subdomain of example.com at any
 * depth (not example.com itself). An Origin header matches a pattern when
 * its scheme, host (case-insensitive) and port match; "null" and anything
 * that is not a serialized origin match nothing.
 *
 * Tokens. A request carries its token as ?token=JWT (browsers cannot set
 * headers on a WebSocket) or as Authorization: Bearer JWT; both at once is
 * refused (RFC 6750 2: one method per request).
 *
 * Pure apart from reading the verifier; any thread. */
#ifndef FC_HUB_AUTH_H
#define FC_HUB_AUTH_H

#include <stdint.h>

#include "hub/http.h"
#include "hub/jwt.h"

/* NULL if pattern is a valid --allowed-origin, else what is wrong with it. */
const char *fc_auth_origin_check(const char *pattern);

/* 1 if origin (an Origin header's value) matches one of the n patterns
 * (each valid by fc_auth_origin_check). */
int fc_auth_origin_allowed(const char *const *patterns, int n, fc_http_slice origin);

/* The request's token: 1 with *tok set, 0 if it has none, -1 if it has
 * two (query and header). */
int fc_auth_token_of(const fc_http_request *req, fc_http_slice *tok);

/* Verifies the request's token at now_ms (wall clock): FC_JWT_OK with
 * claims filled (free them), or why not. Two tokens are FC_JWT_EMALFORMED. */
enum fc_jwt_status fc_auth_check(const fc_jwt_verifier *v, int leeway_s, const fc_http_request *req,
                                 int64_t now_ms, fc_jwt_claims *claims);

#endif
