/*
 * src/server.h: the flightsearch server. This header is the module's contract: the
 * configuration, the entry point, and the request-parsing functions the tests drive directly.
 * Private parts (workers, handlers, metrics) are declared in src/internal.h.
 *
 * Data path, one file per step: request (http.c) -> parse (query.c) -> plan and index lookup
 * (handlers.c over index/) -> encode (enc.c) -> send (handlers.c).
 */
#ifndef FS_SERVER_H
#define FS_SERVER_H

#include <stdint.h>
#include <stdio.h>
#include "index/index.h"

#define FS_VERSION "0.1.0"
#define FS_SERVER_NAME "flightsearch/" FS_VERSION

typedef struct fs_config {
    char listen_host[256];
    unsigned listen_port;
    int tls_enabled;
    char tls_listen_host[256];
    unsigned tls_listen_port;
    int feed_listen_enabled;   /* --feed-listen: bodies over 64 KiB (pushes) only on that address */
    char feed_listen_host[256];
    unsigned feed_listen_port;
    const char *tls_cert, *tls_key;
    unsigned threads;          /* event-loop threads */
    const char *data_dir;
    uint64_t max_feed_bytes;   /* largest request body accepted */
    const char *tokens_file;   /* bearer tokens for the feed endpoints; NULL: feeds disabled */
    const char *keys_file;     /* API keys for the /v1 reads; NULL: reads open */
    const char *cities_file;   /* extra or overriding metropolitan codes */
    unsigned loaders;          /* loader threads */
    unsigned search_budget_ms; /* a search, calendar or routes answer past this is a 503 */
    unsigned max_inflight;     /* per worker: requests routed and not yet finished */
    unsigned max_sources;      /* most sources the index holds (--max-sources) */
    int quiet;                 /* no start-up and shutdown log lines */
    const char *access_log;    /* --access-log FILE or "-" (stdout); NULL: none */
    int log_json;              /* --log-format json: every log line (and the access log) as JSON */
    int private_sources;       /* source names only to bearer tokens of scope * (searched, /metrics) */
    int webhook_allow_private; /* --webhook-allow-private: webhooks may reach loopback and private addresses */
    unsigned webhook_retry_ms; /* --webhook-retry-ms: the first retry's delay (doubling after) */
    unsigned webhook_timeout_ms; /* --webhook-timeout-ms: one attempt's limit */
    /* replicas (docs/replicas.md): NULL nats_urls keeps the single-node mode */
    const char *nats_urls;     /* --nats URL[,URL...] */
    const char *nats_stream;   /* --nats-stream NAME (default FLIGHTSEARCH) */
    unsigned nats_replicas;    /* --nats-replicas N: the stream's replication factor (default 3) */
    const char *nats_name;     /* --nats-name NAME: this replica's durable consumer (default: host-port) */
    const char *nats_creds;    /* --nats-creds FILE: NATS user credentials (JWT + nkey seed) */
    const char *nats_tls_ca;   /* --nats-tls-ca FILE: CA bundle; with it the NATS connection uses TLS */
} fs_config_t;

/**
 * Parses the command line into cfg (defaults first). Returns 0 to run, 1 when --help or --version
 * was printed (exit 0), or FS_EINVAL with a message naming the flag in err (exit 2).
 */
int fs_config_parse(fs_config_t *cfg, int argc, char **argv, char *err, size_t errcap);
/** Prints the --help text. */
void fs_config_usage(FILE *out);

/** Runs the server until SIGTERM or SIGINT, then drains and returns the exit status. */
int fs_server_run(const fs_config_t *cfg);

/* ------------------------------------------------------------ queries */

typedef enum fs_endpoint {
    FS_EP_SEARCH,
    FS_EP_CALENDAR,
    FS_EP_ROUTES,
    FS_EP_TRIPS,          /* GET and POST /v1/trips (src/trips_http.c) */
    FS_EP_CALENDAR_TRIPS, /* GET /v1/calendar/trips */
    FS_EP_HEALTHZ,
    FS_EP_READYZ,
    FS_EP_METRICS,
    FS_EP_FEEDS,
    FS_EP_OPENAPI,
    FS_EP_WEB,   /* the web page: / and the files under /web/ */
    FS_EP_WATCHES, /* /v1/watches* and /v1/events */
    FS_EP_OTHER, /* unknown paths and wrong methods */
    FS_EP_COUNT
} fs_endpoint_t;

extern const char *const fs_endpoint_names[FS_EP_COUNT];

/** Why a query was refused: the parameter and a sentence saying what to fix. */
typedef struct fs_param_error {
    char parameter[40];
    char message[240];
} fs_param_error_t;

/**
 * Parses the query string (the part after '?', not NUL-terminated) of a search, calendar or
 * routes request into q, with defaults for what is absent. Unknown and repeated parameters,
 * malformed values, impossible dates and reversed or too-long ranges are errors. Returns 0 or
 * FS_EINVAL with err filled. Pure: any thread.
 */
int fs_query_parse(fs_endpoint_t ep, const char *qs, size_t len, fs_search_query_t *q, fs_param_error_t *err);
/** The same for what the server wrote itself (DATA_DIR/watches): airports already expanded from
 *  city codes, up to FS_QUERY_MAX_AIRPORTS of them where a client may name 10 codes. */
int fs_query_parse_stored(fs_endpoint_t ep, const char *qs, size_t len, fs_search_query_t *q, fs_param_error_t *err);

/* ------------------------------------------------------------ fields
 * Partial responses (docs/api.md "Partial responses"): `fields=results(id,miles),next_cursor`
 * selects what a search, calendar or routes answer carries. A mask has one bit per field of the
 * endpoint's answer; the top-level fields the three answers share have the same bits in all. */
typedef uint64_t fs_fields_t;
#define FS_FIELDS_ALL UINT64_MAX
#define FS_FIELD(mask, bit) (((mask) >> (bit)) & 1u)
enum fs_field {
    /* every read answer */
    FS_FIELD_GENERATION = 0,
    FS_FIELD_ORIGINS,
    FS_FIELD_DESTINATIONS, /* search, calendar: the airports searched; routes: the destination list */
    FS_FIELD_SEARCHED,
    FS_FIELD_SEARCHED_SOURCE,
    FS_FIELD_SEARCHED_SEQUENCE,
    FS_FIELD_SEARCHED_UPDATED_AT,
    FS_FIELD_SEARCHED_LEGS,
    FS_FIELD_TOOK_US,
    /* search */
    FS_FIELD_RESULTS = 9,
    FS_FIELD_COUNT,
    FS_FIELD_TOTAL,
    FS_FIELD_NEXT_CURSOR,
    FS_FIELD_R_ID, /* a result's fields, in the order they are written */
    FS_FIELD_R_ORIGIN,
    FS_FIELD_R_DESTINATION,
    FS_FIELD_R_DATE,
    FS_FIELD_R_DEPARTS_AT,
    FS_FIELD_R_ARRIVES_AT,
    FS_FIELD_R_DURATION_MIN,
    FS_FIELD_R_STOPS,
    FS_FIELD_R_CABIN,
    FS_FIELD_R_MILES,
    FS_FIELD_R_TAXES_CENTS,
    FS_FIELD_R_CURRENCY,
    FS_FIELD_R_SEATS,
    FS_FIELD_R_SOURCE,
    FS_FIELD_R_LAST_SEEN,
    FS_FIELD_R_SEGMENTS,
    FS_FIELD_S_CARRIER, /* a segment's */
    FS_FIELD_S_FLIGHT,
    FS_FIELD_S_ORIGIN,
    FS_FIELD_S_DESTINATION,
    FS_FIELD_S_DEPARTS_AT,
    FS_FIELD_S_ARRIVES_AT,
    FS_FIELD_S_DURATION_MIN,
    FS_FIELD_S_CABIN,
    FS_FIELD_S_SEATS,
    FS_FIELD_S_MILES,
    FS_FIELD_S_SOURCE,
    /* calendar: a day's cabin c is FS_FIELD_DAY_CABIN(c), then its min_miles, max_seats, count */
    FS_FIELD_DAYS = 9,
    FS_FIELD_DAY_DATE,
    /* routes */
    FS_FIELD_ORIGIN = 9,
    FS_FIELD_D_DESTINATION,
    FS_FIELD_D_LEGS,
    FS_FIELD_D_FIRST_DATE,
    FS_FIELD_D_LAST_DATE,
    FS_FIELD_D_STOPS,
};
#define FS_FIELD_DAY_CABIN(c) (11 + 4 * (c))

/** Parses a `fields` value (NUL-terminated, already percent-decoded) for a search, calendar or
 *  routes answer into a mask. 0, or FS_EINVAL with err naming `fields` and the field at fault. */
int fs_fields_parse(fs_endpoint_t ep, const char *spec, fs_fields_t *out, fs_param_error_t *err);
/** fs_query_parse with the `fields` parameter's mask (FS_FIELDS_ALL when absent). */
int fs_query_parse_fields(fs_endpoint_t ep, const char *qs, size_t len, fs_search_query_t *q, fs_fields_t *fields,
                          fs_param_error_t *err);

/** Loads the built-in city codes, then FILE's (NULL: built-in only). Call once at start-up,
 *  before any thread parses a query. 0, or FS_E* with a message naming the file and line. */
int fs_cities_load(const char *path, char *err, size_t errcap);
/** The airports of a metropolitan code (NYC -> JFK, EWR, LGA), or 0 when code is not a city. */
unsigned fs_city_expand(fs_airport_t code, fs_airport_t *out, unsigned max);

/** Room for any cursor token and its NUL: docs/api.md and docs/openapi.yaml promise at most 304
 *  characters (three legs of 32-character sources and extreme numbers stay under 300). */
#define FS_CURSOR_TOKEN_MAX 305
/** Encodes a cursor (the order key of a page's last result, fs_cursor_at) as an opaque URL-safe
 *  token of at most FS_CURSOR_TOKEN_MAX - 1 characters; returns its length. */
size_t fs_cursor_encode(enum fs_sort sort, const fs_result_t *last, char *out, size_t cap);
/** Decodes a cursor token for the given sort. FS_EINVAL when malformed, made for another sort or
 *  by an earlier version (another order); then *why (when why is not NULL) is a sentence saying
 *  which and what to do, for the 400. */
int fs_cursor_decode(enum fs_sort sort, const char *s, size_t len, fs_cursor_t *out, const char **why);

/* ------------------------------------------------------------- trips
 * src/trips_http.c: each slice goes through fs_query_parse (FS_EP_TRIPS or FS_EP_CALENDAR_TRIPS),
 * so a trip is refused where a search would be; the field is renamed for the trip. Pure: any
 * thread. 0, or FS_EINVAL with err naming the field. */

/** GET /v1/trips (ep FS_EP_TRIPS) or /v1/calendar/trips (FS_EP_CALENDAR_TRIPS): the query string
 *  into a 2-slice trip query; errors name return_date, return_origin, min_stay, ... */
int fs_trips_parse_query(fs_endpoint_t ep, const char *qs, size_t len, fs_trip_query_t *q, fs_param_error_t *err);
/** POST /v1/trips: the JSON body into a trip query of 2 to 4 slices; errors name slices,
 *  slices[i].origin, cabin, ... */
int fs_trips_parse_body(const char *body, size_t len, fs_trip_query_t *q, fs_param_error_t *err);
/** Room for any trip cursor and its NUL: "T1", the sort letter, the sort value, a search cursor
 *  per slice (docs/api.md promises at most 1,100 characters). */
#define FS_TRIP_CURSOR_TOKEN_MAX (8 + 21 + FS_TRIP_MAX_SLICES * FS_CURSOR_TOKEN_MAX)
/** Encodes the cursor of a page's last trip; returns its length. */
size_t fs_trip_cursor_encode(enum fs_sort sort, const fs_trip_t *last, char *out, size_t cap);

#endif
