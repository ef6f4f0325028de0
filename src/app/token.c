/* `framecast token` (see token.h). */
#include "app/token.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "hub/jwt.h"
#include "util/clock.h"
#include "util/opts.h"
#include "util/strbuf.h"

static const char usage[] =
    "usage: framecast token --secret-file FILE [--streams NAME[,NAME...]] [--ttl DURATION]\n"
    "                       [--sub TEXT] [--publish]\n"
    "\n"
    "Prints a JSON Web Token (HS256) for a server started with --auth-secret-file FILE.\n"
    "Give it to a client as ws://HOST:PORT/ws/STREAM?token=JWT, as the viewer's\n"
    "http://HOST:PORT/?token=JWT, or as the header Authorization: Bearer JWT.\n"
    "\n"
    "  --secret-file FILE  the shared secret (the server's --auth-secret-file)\n"
    "  --streams LIST      the streams it may read, comma-separated; * for every stream\n"
    "                      (every stream when not given)\n"
    "  --ttl DURATION      how long it is valid: 90s, 30m, 12h... (1h)\n"
    "  --sub TEXT          whom it is for (its \"sub\" claim)\n"
    "  --publish           it may also publish results to those streams\n"
    "                      (POST /api/streams/NAME/publish; its \"publish\" claim)\n";

static int valid_stream(const char *s, size_t n) {
    if (n == 1 && s[0] == '*') return 1;
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
            return 0;
    return 1;
}

int fc_token_main(int argc, char **argv) {
    enum { O_SECRET = 256, O_STREAMS, O_TTL, O_SUB, O_PUBLISH, O_HELP };
    static const struct option longopts[] = {
        {"secret-file", required_argument, 0, O_SECRET},
        {"streams", required_argument, 0, O_STREAMS},
        {"ttl", required_argument, 0, O_TTL},
        {"sub", required_argument, 0, O_SUB},
        {"publish", no_argument, 0, O_PUBLISH},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    const char *secret_file = NULL, *streams = NULL, *sub = NULL;
    int64_t ttl_ms = 3600 * 1000;
    int publish = 0;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case O_SECRET:
            secret_file = optarg;
            break;
        case O_STREAMS:
            streams = optarg;
            break;
        case O_SUB:
            sub = optarg;
            break;
        case O_PUBLISH:
            publish = 1;
            break;
        case O_TTL:
            /* 1 s to 10 years: a token that never expires is a key of its own. */
            if (fc_parse_duration_ms(optarg, &ttl_ms) || ttl_ms < 1000 ||
                ttl_ms > 87600LL * 3600 * 1000) {
                fprintf(stderr,
                        "framecast token: --ttl: '%s' is not valid (expected a duration from 1s "
                        "to 87600h, e.g. 90s, 30m or 12h)\n",
                        optarg);
                return 2;
            }
            break;
        case O_HELP:
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "framecast token: %s: missing value (see --help)\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "framecast token: %s: unknown option (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "framecast token: '%s': unexpected argument (see --help)\n", argv[optind]);
        return 2;
    }
    if (!secret_file) {
        fprintf(stderr, "framecast token: --secret-file: missing (the file the server reads "
                        "with --auth-secret-file)\n");
        return 2;
    }
    int64_t now_s = fc_now_us() / 1000000;
    fc_strbuf claims;
    fc_sb_init(&claims, 256);
    fc_sb_printf(&claims, "{\"iat\":%lld,\"exp\":%lld", (long long)now_s,
                 (long long)(now_s + ttl_ms / 1000));
    if (sub) {
        fc_sb_puts(&claims, ",\"sub\":");
        fc_sb_json_str(&claims, sub);
    }
    if (streams) {
        fc_sb_puts(&claims, ",\"streams\":[");
        for (const char *p = streams;;) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            if (!valid_stream(p, n)) {
                fprintf(stderr,
                        "framecast token: --streams: '%.*s' in '%s' is not a stream name "
                        "(expected names of letters, digits, '_', '.', '-', or *, separated by "
                        "commas)\n",
                        (int)n, p, streams);
                fc_sb_free(&claims);
                return 2;
            }
            fc_sb_puts(&claims, p == streams ? "\"" : ",\"");
            fc_sb_append(&claims, p, n);
            fc_sb_puts(&claims, "\"");
            if (!comma) break;
            p = comma + 1;
        }
        fc_sb_puts(&claims, "]");
    }
    if (publish) fc_sb_puts(&claims, ",\"publish\":true");
    fc_sb_puts(&claims, "}");

    char err[512] = "";
    uint8_t secret[FC_JWT_MAX_SECRET];
    long n = fc_jwt_read_secret("--secret-file", secret_file, secret, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "framecast token: %s\n", err);
        fc_sb_free(&claims);
        return 2;
    }
    fc_strbuf tok;
    fc_sb_init(&tok, 512);
    int rc = fc_jwt_sign_hs256(secret, (size_t)n, claims.data, &tok);
    OPENSSL_cleanse(secret, sizeof secret);
    if (rc == 0)
        printf("%s\n", tok.data);
    else
        fprintf(stderr, "framecast token: cannot sign (OpenSSL's HMAC-SHA256 failed)\n");
    fc_sb_free(&tok);
    fc_sb_free(&claims);
    return rc == 0 ? 0 : 1;
}
