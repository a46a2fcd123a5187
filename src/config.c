/*
 * src/config.c: the command line. Every flag is listed in --help; a bad value names the flag,
 * says what was expected and exits 2 before anything starts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "src/server.h"

void fs_config_usage(FILE *out)
{
    fprintf(out, "usage: flightsearch [options]\n"
                 "\n"
                 "Award-availability search over HTTP/1.1, h2c and (with TLS) h2.\n"
                 "\n"
                 "options:\n"
                 "  --listen HOST:PORT      plain HTTP (HTTP/1.1 and h2c) address (default 127.0.0.1:8080;\n"
                 "                          port 0 picks a free port and prints it)\n"
                 "  --threads N             event-loop threads, each with its own SO_REUSEPORT listener\n"
                 "                          (default: the number of cores)\n"
                 "  --data-dir DIR          where snapshots are loaded from at start-up (default ./data)\n"
                 "  --tls-cert FILE         PEM certificate chain; with --tls-key enables HTTPS (h2, http/1.1)\n"
                 "  --tls-key FILE          PEM private key\n"
                 "  --tls-listen HOST:PORT  HTTPS address (default 127.0.0.1:8443)\n"
                 "  --max-feed-bytes N      largest request body accepted, in bytes; K, M, G suffixes\n"
                 "                          (default 1G); larger pushes get 413\n"
                 "  --feed-listen HOST:PORT plain HTTP address for feed pushes (HTTP/1.1 and h2c): with it,\n"
                 "                          only this address buffers bodies up to --max-feed-bytes, the\n"
                 "                          public ones refuse pushes and bodies over 64 KiB (docs/feeds.md)\n"
                 "  --tokens FILE           bearer tokens for the feed endpoints, one 'TOKEN SCOPE' per line\n"
                 "                          (SCOPE: * or a comma list of sources); SIGHUP reloads it.\n"
                 "                          Without it the feed endpoints answer 403\n"
                 "  --keys FILE             API keys for the /v1 reads, one 'KEY name=NAME rate=N/s burst=M\n"
                 "                          [watches=W]' per line (mode 600); each read then needs\n"
                 "                          'Authorization: Bearer KEY' (401 without), past its rate 429.\n"
                 "                          SIGHUP reloads it. Without it the reads are open\n"
                 "  --loaders N             loader threads that decode, persist and publish feeds (default 2)\n"
                 "  --max-sources N         most sources (partners) held at once, 1 to 100000 (default 1000);\n"
                 "                          a push of one more is refused 409 too_many_sources, and a data dir\n"
                 "                          holding more refuses to start\n"
                 "  --search-budget-ms N    time a search may take, queueing in the event loop included;\n"
                 "                          past it the answer is 503, never a truncated list (default 50)\n"
                 "  --max-inflight N        requests a worker holds at once (answered but not yet sent\n"
                 "                          included); past it new ones get 503 + Retry-After (default 1024)\n"
                 "  --cities FILE           extra or overriding metropolitan codes, 'CODE AIRPORT,AIRPORT' per line\n"
                 "                          (built in: NYC, LON, PAR, SAO, RIO, TYO, ... see docs/api.md)\n"
                 "  --private-sources       name sources in answers and /metrics only to a bearer token of\n"
                 "                          scope *; others see counts (see docs/api.md)\n"
                 "  --webhook-allow-private watch webhooks may go to loopback and private addresses (refused\n"
                 "                          by default: 400 naming webhook.url)\n"
                 "  --webhook-retry-ms N    delay before a failed webhook's first retry, doubling after each\n"
                 "                          failure up to an hour, with jitter; retried for 24 h (default\n"
                 "                          1000; 1 to 3600000; tests use a few ms)\n"
                 "  --webhook-timeout-ms N  one webhook attempt's limit, connecting included; past it the\n"
                 "                          attempt failed and is retried (default 10000; 1 to 600000)\n"
                 "  --nats URL[,URL...]     replica mode (docs/replicas.md): pushes go through the NATS\n"
                 "                          JetStream stream and every replica applies the stream in order\n"
                 "                          (nats://host:4222,...); without it the server is a single node\n"
                 "  --nats-stream NAME      the stream (default FLIGHTSEARCH), created when missing\n"
                 "  --nats-replicas N       the stream's replication factor when this server creates it,\n"
                 "                          1 to 5 (default 3: a push survives the loss of one NATS node)\n"
                 "  --nats-name NAME        this replica's durable consumer name ([A-Za-z0-9_-], default\n"
                 "                          derived from the host name and --listen port)\n"
                 "  --nats-creds FILE       NATS user credentials file (JWT and nkey seed)\n"
                 "  --nats-tls-ca FILE      CA bundle: connect to NATS over TLS, verifying the servers\n"
                 "  --quiet                 no start-up and shutdown log lines\n"
                 "  --access-log FILE|-     one line per request (time, method, path, status, body bytes,\n"
                 "                          duration in us, trace id, feed source) to FILE, or stdout for -;\n"
                 "                          buffered per thread, written every 64 KiB or 250 ms; SIGHUP\n"
                 "                          reopens FILE (log rotation)\n"
                 "  --log-format text|json  every log line (stderr and the access log) as text (default)\n"
                 "                          or one JSON object per line; lines of a request carry the\n"
                 "                          trace id of its W3C traceparent header (or a new one, returned\n"
                 "                          in the response's traceparent), pushes' loader lines too\n"
                 "  --help                  this text\n"
                 "  --version               the version\n"
                 "\n"
                 "endpoints: GET /v1/search, /v1/calendar, /v1/routes, /healthz, /readyz, /metrics,\n"
                 "/openapi.json (docs/api.md, docs/openapi.yaml), the web page at /; PUT/POST/GET/DELETE\n"
                 "/v1/feeds/... (docs/feeds.md). Files moved into DATA_DIR/inbox/ are ingested like pushes.\n"
                 "Stop with SIGTERM or SIGINT: in-flight requests finish, exit 0. SIGHUP reloads --tokens\n"
                 "and reopens --access-log. Under systemd (Type=notify) it sends READY=1 once /readyz is\n"
                 "200 and WATCHDOG=1 pings to $NOTIFY_SOCKET (deploy/flightsearch.service,\n"
                 "docs/operations.md).\n");
}

/* Parses HOST:PORT; the host may be [v6]. */
static int parse_hostport(const char *s, char *host, size_t hostcap, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return FS_EINVAL;
    const char *h = s;
    size_t hlen = (size_t)(colon - s);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= hostcap)
        return FS_EINVAL;
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || p > 65535)
        return FS_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (unsigned)p;
    return 0;
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-')
        return FS_EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    default:
        return FS_EINVAL;
    }
    if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
        return FS_EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

int fs_config_parse(fs_config_t *cfg, int argc, char **argv, char *err, size_t errcap)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8080;
    strcpy(cfg->tls_listen_host, "127.0.0.1");
    cfg->tls_listen_port = 8443;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cores > 0 ? (unsigned)cores : 1;
    cfg->data_dir = "./data";
    cfg->max_feed_bytes = 1ull << 30;
    cfg->loaders = 2;
    cfg->search_budget_ms = 50;
    cfg->max_inflight = 1024;
    cfg->max_sources = FS_MAX_SOURCES_DEFAULT;
    cfg->webhook_retry_ms = 1000;
    cfg->webhook_timeout_ms = 10000;
    cfg->nats_stream = "FLIGHTSEARCH";
    cfg->nats_replicas = 3;

    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        /* accept both "--flag value" and "--flag=value" */
        const char *value = NULL;
        char name[64];
        const char *eq = strchr(flag, '=');
        if (strncmp(flag, "--", 2) == 0 && eq != NULL && (size_t)(eq - flag) < sizeof(name)) {
            memcpy(name, flag, (size_t)(eq - flag));
            name[eq - flag] = '\0';
            value = eq + 1;
            flag = name;
        }
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            fs_config_usage(stdout);
            return 1;
        }
        if (strcmp(flag, "--version") == 0) {
            printf("%s\n", FS_SERVER_NAME);
            return 1;
        }
        if (strcmp(flag, "--quiet") == 0) {
            cfg->quiet = 1;
            continue;
        }
        if (strcmp(flag, "--webhook-allow-private") == 0) {
            cfg->webhook_allow_private = 1;
            continue;
        }
        if (strcmp(flag, "--private-sources") == 0) {
            cfg->private_sources = 1;
            continue;
        }
        static const char *const with_value[] = {"--listen", "--threads", "--data-dir", "--tls-cert",
                                                 "--tls-key", "--tls-listen", "--feed-listen", "--max-feed-bytes", "--tokens", "--keys", "--loaders", "--cities", "--search-budget-ms", "--max-inflight", "--max-sources", "--access-log", "--log-format", "--webhook-retry-ms", "--webhook-timeout-ms", "--nats", "--nats-stream", "--nats-replicas", "--nats-name", "--nats-creds", "--nats-tls-ca", NULL};
        int known = 0;
        for (int k = 0; with_value[k] != NULL; k++)
            known |= strcmp(flag, with_value[k]) == 0;
        if (!known) {
            snprintf(err, errcap, "unknown option '%s' (see --help)", argv[i]);
            return FS_EINVAL;
        }
        if (value == NULL) {
            if (i + 1 >= argc) {
                snprintf(err, errcap, "option '%s' needs a value (see --help)", flag);
                return FS_EINVAL;
            }
            value = argv[++i];
        }
        if (strcmp(flag, "--listen") == 0) {
            if (parse_hostport(value, cfg->listen_host, sizeof(cfg->listen_host), &cfg->listen_port) != 0) {
                snprintf(err, errcap, "--listen: expected HOST:PORT with a port 0-65535, got '%s'", value);
                return FS_EINVAL;
            }
        } else if (strcmp(flag, "--feed-listen") == 0) {
            if (parse_hostport(value, cfg->feed_listen_host, sizeof(cfg->feed_listen_host), &cfg->feed_listen_port) != 0) {
                snprintf(err, errcap, "--feed-listen: expected HOST:PORT with a port 0-65535, got '%s'", value);
                return FS_EINVAL;
            }
            cfg->feed_listen_enabled = 1;
        } else if (strcmp(flag, "--tls-listen") == 0) {
            if (parse_hostport(value, cfg->tls_listen_host, sizeof(cfg->tls_listen_host), &cfg->tls_listen_port) != 0) {
                snprintf(err, errcap, "--tls-listen: expected HOST:PORT with a port 0-65535, got '%s'", value);
                return FS_EINVAL;
            }
        } else if (strcmp(flag, "--threads") == 0) {
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            if (errno != 0 || *end != '\0' || end == value || n < 1 || n > 256) {
                snprintf(err, errcap, "--threads: expected a whole number from 1 to 256, got '%s'", value);
                return FS_EINVAL;
            }
            cfg->threads = (unsigned)n;
        } else if (strcmp(flag, "--data-dir") == 0) {
            if (value[0] == '\0') {
                snprintf(err, errcap, "--data-dir: expected a directory path, got an empty string");
                return FS_EINVAL;
            }
            cfg->data_dir = value;
        } else if (strcmp(flag, "--tls-cert") == 0) {
            cfg->tls_cert = value;
        } else if (strcmp(flag, "--tls-key") == 0) {
            cfg->tls_key = value;
        } else if (strcmp(flag, "--search-budget-ms") == 0 || strcmp(flag, "--max-inflight") == 0) {
            int budget = strcmp(flag, "--search-budget-ms") == 0;
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            long max = budget ? 60000 : 1000000;
            if (errno != 0 || *end != '\0' || end == value || n < 1 || n > max) {
                snprintf(err, errcap, "%s: expected a whole number from 1 to %ld, got '%s'", flag, max, value);
                return FS_EINVAL;
            }
            if (budget)
                cfg->search_budget_ms = (unsigned)n;
            else
                cfg->max_inflight = (unsigned)n;
        } else if (strcmp(flag, "--webhook-retry-ms") == 0) {
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            if (errno != 0 || *end != '\0' || end == value || n < 1 || n > 3600000) {
                snprintf(err, errcap, "--webhook-retry-ms: expected a whole number from 1 to 3600000, got '%s'", value);
                return FS_EINVAL;
            }
            cfg->webhook_retry_ms = (unsigned)n;
        } else if (strcmp(flag, "--webhook-timeout-ms") == 0) {
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            if (errno != 0 || *end != '\0' || end == value || n < 1 || n > 600000) {
                snprintf(err, errcap, "--webhook-timeout-ms: expected a whole number from 1 to 600000, got '%s'", value);
                return FS_EINVAL;
            }
            cfg->webhook_timeout_ms = (unsigned)n;
        } else if (strcmp(flag, "--max-sources") == 0) {
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            if (errno != 0 || *end != '\0' || end == value || n < 1 || n > FS_MAX_SOURCES_LIMIT) {
                snprintf(err, errcap, "--max-sources: expected a whole number from 1 to %d, got '%s'", FS_MAX_SOURCES_LIMIT, value);
                return FS_EINVAL;
            }
            cfg->max_sources = (unsigned)n;
        } else if (strcmp(flag, "--access-log") == 0) {
            if (value[0] == '\0') {
                snprintf(err, errcap, "--access-log: expected a file path or -, got an empty string");
                return FS_EINVAL;
            }
            cfg->access_log = value;
        } else if (strcmp(flag, "--log-format") == 0) {
            if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0) {
                snprintf(err, errcap, "--log-format: expected text or json, got '%s'", value);
                return FS_EINVAL;
            }
            cfg->log_json = strcmp(value, "json") == 0;
        } else if (strcmp(flag, "--nats") == 0) {
            if (strncmp(value, "nats://", 7) != 0 && strncmp(value, "tls://", 6) != 0) {
                snprintf(err, errcap, "--nats: expected nats://HOST:PORT[,nats://HOST:PORT...], got '%s'", value);
                return FS_EINVAL;
            }
            cfg->nats_urls = value;
        } else if (strcmp(flag, "--nats-stream") == 0 || strcmp(flag, "--nats-name") == 0) {
            size_t n = strlen(value);
            int ok = n >= 1 && n <= 32;
            for (size_t k = 0; ok && k < n; k++)
                ok = (value[k] >= 'a' && value[k] <= 'z') || (value[k] >= 'A' && value[k] <= 'Z') ||
                     (value[k] >= '0' && value[k] <= '9') || value[k] == '_' || value[k] == '-';
            if (!ok) {
                snprintf(err, errcap, "%s: expected 1-32 characters from A-Z, a-z, 0-9, _ and -, got '%s'", flag, value);
                return FS_EINVAL;
            }
            if (strcmp(flag, "--nats-stream") == 0)
                cfg->nats_stream = value;
            else
                cfg->nats_name = value;
        } else if (strcmp(flag, "--nats-replicas") == 0) {
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            if (errno != 0 || *end != '\0' || end == value || n < 1 || n > 5) {
                snprintf(err, errcap, "--nats-replicas: expected a whole number from 1 to 5, got '%s'", value);
                return FS_EINVAL;
            }
            cfg->nats_replicas = (unsigned)n;
        } else if (strcmp(flag, "--nats-creds") == 0) {
            cfg->nats_creds = value;
        } else if (strcmp(flag, "--nats-tls-ca") == 0) {
            cfg->nats_tls_ca = value;
        } else if (strcmp(flag, "--cities") == 0) {
            cfg->cities_file = value;
        } else if (strcmp(flag, "--tokens") == 0) {
            cfg->tokens_file = value;
        } else if (strcmp(flag, "--keys") == 0) {
            cfg->keys_file = value;
        } else if (strcmp(flag, "--loaders") == 0) {
            char *end;
            errno = 0;
            long n = strtol(value, &end, 10);
            if (errno != 0 || *end != '\0' || end == value || n < 1 || n > 64) {
                snprintf(err, errcap, "--loaders: expected a whole number from 1 to 64, got '%s'", value);
                return FS_EINVAL;
            }
            cfg->loaders = (unsigned)n;
        } else if (strcmp(flag, "--max-feed-bytes") == 0) {
            if (parse_size(value, &cfg->max_feed_bytes) != 0) {
                snprintf(err, errcap, "--max-feed-bytes: expected a positive size like 1048576, 512M or 1G, got '%s'", value);
                return FS_EINVAL;
            }
        }
    }
    if ((cfg->tls_cert != NULL) != (cfg->tls_key != NULL)) {
        snprintf(err, errcap, "%s", cfg->tls_cert != NULL ? "--tls-cert needs --tls-key too" : "--tls-key needs --tls-cert too");
        return FS_EINVAL;
    }
    cfg->tls_enabled = cfg->tls_cert != NULL;
    return 0;
}
