/*
 * tests/e2e/lib_server.h: what every end-to-end test needs, linked into each tests/e2e/e2e_*.c.
 *
 *   process   temp dirs, free ports, starting the real binary and stopping it with SIGTERM
 *   HTTP      one request over libcurl easy, by protocol: HTTP/1.1, h2 with prior knowledge,
 *             h2c by Upgrade, https (h2 by ALPN, self-signed certificates accepted)
 *   msgpack   decoding a response with msgpack-c and reading fields out of maps
 *   JSON      a strict, tiny JSON parser (RFC 8259) into msgpack_objects, so a JSON answer is
 *             checked for well-formedness and compared value by value with the msgpack answer
 *   feeds     snapshot files written by the test from legs it lists by hand (lib_feed.c), and
 *             the test's own calendar arithmetic to derive expectations from those legs
 *
 * Nothing here calls into the server's code: expectations come from the test's own data.
 * Every function runs on the test's single thread.
 */
#ifndef FS_E2E_LIB_SERVER_H
#define FS_E2E_LIB_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <curl/curl.h>
#include <msgpack.h>

/* ------------------------------------------------------------- process */

/** Creates a fresh directory /tmp/fs-e2e-XXXXXX (mkdtemp) into out. 0 or -1. */
int e2e_tmpdir(char *out, size_t cap);
/** Removes a directory and everything under it (nftw). */
void e2e_rmtree(const char *dir);
/** Writes len bytes to path (created 0600, or truncated). 0 or -1. */
int e2e_write_file(const char *path, const void *data, size_t len);
/** Reads a whole file into a malloc'd, NUL-terminated buffer (*len without the NUL); NULL on error. */
char *e2e_read_file(const char *path, size_t *len);
/** A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). 0 on error. */
unsigned e2e_free_port(void);
/** Milliseconds on the monotonic clock. */
int64_t e2e_now_ms(void);

/** Runs argv (argv[0] a path, or a name looked up in PATH) to completion with stdout and stderr
 *  captured into one malloc'd string *output (may be NULL). Returns the exit status, 128 + signal,
 *  or -1. Kills it after timeout_ms. */
int e2e_run(char *const argv[], char **output, int timeout_ms);

typedef struct e2e_server {
    pid_t pid;
    unsigned port;     /* plain listener (HTTP/1.1, h2c) */
    unsigned tls_port; /* 0 unless started with e2e_server_start_tls */
    char url[64];      /* "http://127.0.0.1:PORT" */
    char tls_url[64];  /* "https://127.0.0.1:PORT2" */
    char log_dir[256]; /* mkdtemp dir holding stderr.log, removed by e2e_server_stop */
    char stderr_path[300];
} e2e_server_t;

/**
 * Starts `binary --listen 127.0.0.1:PORT --threads 2 --data-dir DATA_DIR --quiet [extra...]` with
 * its stderr (and stdout) captured to a file, then polls /readyz until 200. The server gets SIGKILL
 * if the test process dies first (PR_SET_PDEATHSIG), so a crashed test leaves no server behind. extra is NULL or a
 * NULL-terminated list. When tls_cert is not NULL, also passes --tls-cert/--tls-key and
 * --tls-listen 127.0.0.1:PORT2. Returns 0, or -1 after printing why (the server's stderr
 * included) when it exits or is not ready within 10 s.
 */
int e2e_server_start(e2e_server_t *s, const char *binary, const char *data_dir, const char *const *extra);
int e2e_server_start_tls(e2e_server_t *s, const char *binary, const char *data_dir, const char *tls_cert, const char *tls_key,
                         const char *const *extra);
/** The same start without the wait for /readyz: returns once the process is forked (tests of
 *  what happens before the server is ready). 0 or -1. */
int e2e_server_spawn(e2e_server_t *s, const char *binary, const char *data_dir, const char *const *extra);
/** Sends SIGTERM without waiting (for tests of the drain). */
void e2e_server_signal(e2e_server_t *s, int signo);
/** Waits for the process to exit; after timeout_ms sends SIGKILL. Returns the exit status
 *  (0..255), 128 + signal when a signal ended it, or -1. Idempotent. */
int e2e_server_wait(e2e_server_t *s, int timeout_ms);
/** SIGTERM, then e2e_server_wait(15 s) (also after e2e_server_wait: then only the clean-up). Prints
 *  the end of the server's stderr when it waited and the status is not 0, then removes the log dir. Returns the
 *  status (-1 when the process had already been waited for). */
int e2e_server_stop(e2e_server_t *s);
/** The server's captured stderr so far, malloc'd and NUL-terminated (never NULL). */
char *e2e_server_stderr(const e2e_server_t *s);

/* ---------------------------------------------------------------- HTTP */

typedef enum e2e_proto {
    E2E_H1,          /* HTTP/1.1 */
    E2E_H2,          /* h2c with prior knowledge (CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE) */
    E2E_H2C_UPGRADE, /* HTTP/1.1 request with Upgrade: h2c (CURL_HTTP_VERSION_2_0 on http://) */
    E2E_HTTPS,       /* TLS, h2 offered by ALPN (CURL_HTTP_VERSION_2TLS), peer not verified */
    E2E_PROTO_COUNT
} e2e_proto_t;

extern const char *const e2e_proto_names[E2E_PROTO_COUNT];

#define E2E_MAX_HEADERS 64

typedef struct e2e_response {
    CURLcode rc; /* CURLE_OK when a response arrived */
    char error[CURL_ERROR_SIZE];
    long status;       /* 0 when none */
    long http_version; /* CURLINFO_HTTP_VERSION: CURL_HTTP_VERSION_1_1, _2_0, ... */
    char *body;        /* malloc'd, NUL-terminated (the NUL is not counted) */
    size_t body_len;
    unsigned header_count; /* of the final response (a 101 or 100 before it is dropped) */
    char *header_name[E2E_MAX_HEADERS], *header_value[E2E_MAX_HEADERS];
} e2e_response_t;

/** A reusable client: one curl easy handle, so requests share its connection cache. */
typedef struct e2e_client {
    CURL *curl;
} e2e_client_t;

/** curl_global_init; call once at the start of main. */
void e2e_http_init(void);
int e2e_client_init(e2e_client_t *c);
void e2e_client_free(e2e_client_t *c);

/**
 * One request. method NULL means GET ("HEAD" asks for no body); headers NULL or a NULL-terminated
 * list of "Name: value"; body NULL or body_len bytes sent whatever the method (a GET with a body
 * too). Fills res (free
 * it with e2e_response_free). Returns 0 when a response arrived, -1 otherwise (res->error says).
 */
int e2e_request(e2e_client_t *c, e2e_proto_t proto, const char *method, const char *url, const char *const *headers,
                const char *body, size_t body_len, e2e_response_t *res);
/** A GET with at most one extra header (NULL for none). */
int e2e_get(e2e_client_t *c, e2e_proto_t proto, const char *url, const char *header, e2e_response_t *res);
/** The value of a response header (case-insensitive name), or NULL. */
const char *e2e_header(const e2e_response_t *res, const char *name);
void e2e_response_free(e2e_response_t *res);

/** Applies the options of proto to an easy handle (also for curl multi tests). E2E_H2 forbids
 *  connection reuse: libcurl 7.88.1 (Debian 12) fails any request that reuses an h2 prior-knowledge
 *  connection, multiplexed or not (curl/curl#10634); h2 over TLS multiplexes fine. */
void e2e_curl_setup(CURL *curl, e2e_proto_t proto);

/** One transfer for a curl multi handle: its own easy handle whose callbacks fill res. */
typedef struct e2e_transfer {
    CURL *curl;
    e2e_response_t res;
    size_t body_cap;
    struct curl_slist *headers;
} e2e_transfer_t;

/** Sets up a GET of url over proto (headers as for e2e_request). 0 or -1. */
int e2e_transfer_init(e2e_transfer_t *t, e2e_proto_t proto, const char *url, const char *const *headers);
/** Records the outcome once the multi handle reports the transfer done (status, HTTP version). */
void e2e_transfer_done(e2e_transfer_t *t, CURLcode rc);
void e2e_transfer_free(e2e_transfer_t *t);

/* ------------------------------------------------------------- msgpack */

/** One decoded document; free with e2e_mp_free. Its strings point into its own copy of the bytes
 *  (msgpack_unpack_next does not copy them), so the response may be freed first. */
typedef struct e2e_mp {
    msgpack_unpacked unpacked;
    char *bytes;
    const msgpack_object *root; /* NULL when the bytes were not exactly one document */
} e2e_mp_t;

/** Decodes exactly one msgpack document filling all of data. Returns 0, or -1 (root NULL; nothing
 *  to free). */
int e2e_mp_parse(e2e_mp_t *doc, const char *data, size_t len);
void e2e_mp_free(e2e_mp_t *doc);

/** The value of key in map (NULL when map is not a map or has no such key). */
const msgpack_object *e2e_mp_get(const msgpack_object *map, const char *key);
/** An integer field: 1 and *out, or 0 when missing or not an integer. */
int e2e_mp_int(const msgpack_object *map, const char *key, int64_t *out);
/** An integer field, or def when missing or not an integer. */
int64_t e2e_mp_int_or(const msgpack_object *map, const char *key, int64_t def);
/** A string field copied into buf (NUL-terminated); returns buf, or NULL when missing, not a string
 *  or too long. */
const char *e2e_mp_str(const msgpack_object *map, const char *key, char *buf, size_t cap);
/** An array field, or NULL. */
const msgpack_object_array *e2e_mp_array(const msgpack_object *map, const char *key);
/** 1 when the field is present and nil. */
int e2e_mp_is_nil(const msgpack_object *map, const char *key);
/** 1 when the object is a string equal to s. */
int e2e_mp_str_is(const msgpack_object *o, const char *s);

/**
 * Deep equality, maps compared by key (order-insensitive), integers by value whatever their
 * encoding; keys named skip_key (may be NULL) are ignored at the top level of a and b only.
 * On a difference writes a path to it into where (may be NULL).
 */
int e2e_mp_equal(const msgpack_object *a, const msgpack_object *b, const char *skip_key, char *where, size_t wcap);

/* ---------------------------------------------------------------- JSON */

/**
 * Parses strict JSON (RFC 8259: one value, whitespace around it, no trailing commas, escapes
 * checked, \u escapes and surrogate pairs to UTF-8, control characters refused) into objects
 * allocated in zone: objects become maps, integers POSITIVE/NEGATIVE_INTEGER, other numbers
 * FLOAT64. Returns 0, or -1 with the byte offset of the problem in *err_at.
 */
int e2e_json_parse(const char *text, size_t len, msgpack_zone *zone, msgpack_object *out, size_t *err_at);

/* --------------------------------------------------------------- feeds */

enum { E2E_ECONOMY, E2E_PREMIUM, E2E_BUSINESS, E2E_FIRST, E2E_CABINS };
extern const char *const e2e_cabin_names[E2E_CABINS]; /* economy, premium, business, first */
extern const char e2e_cabin_letters[E2E_CABINS];      /* Y, W, J, F */

typedef struct e2e_cabin {
    int present;
    unsigned seats;
    unsigned miles;
    unsigned taxes_cents;
    const char *currency;
} e2e_cabin_t;

/** A leg as the test writes it into a feed. departs_at/arrives_at are written verbatim. */
typedef struct e2e_leg {
    const char *carrier;
    unsigned flight;
    const char *origin, *destination;
    const char *departs_at, *arrives_at;
    e2e_cabin_t cabin[E2E_CABINS];
} e2e_leg_t;

typedef struct e2e_feed {
    const char *source;
    uint64_t sequence;
    const char *generated_at;
    const e2e_leg_t *legs;
    size_t leg_count;
} e2e_feed_t;

/** Packs a snapshot with msgpack-c's packer into sbuf (initialised by the caller). */
void e2e_feed_pack(const e2e_feed_t *f, msgpack_sbuffer *sbuf);
/** Writes a snapshot as .msgpack (packed) or JSON text. 0 or -1. */
int e2e_feed_write_msgpack(const char *path, const e2e_feed_t *f);
int e2e_feed_write_json(const char *path, const e2e_feed_t *f);

/* ---------------------------------------------------------------- time
 * The test's own calendar arithmetic (counting days year by year), independent of index/time.c. */

typedef struct e2e_time {
    int year, month, day, hour, minute, second;
    int offset_min; /* UTC offset in minutes */
} e2e_time_t;

/** Days since 1970-01-01 by counting. */
int32_t e2e_days(int year, int month, int day);
/** The civil date of a day number, by counting. */
void e2e_civil(int32_t days, int *year, int *month, int *day);
/** Parses "YYYY-MM-DDTHH:MM[:SS](Z|+HH:MM|-HH:MM)". 0 or -1. */
int e2e_time_parse(const char *s, e2e_time_t *t);
/** Minutes since 1970-01-01T00:00Z (seconds dropped). */
int64_t e2e_time_utc_min(const e2e_time_t *t);
/** Seconds since 1970-01-01T00:00Z. */
int64_t e2e_time_utc_sec(const e2e_time_t *t);
/** "YYYY-MM-DDTHH:MM:00+HH:MM" (26 bytes with the NUL). */
void e2e_time_format_local(const e2e_time_t *t, char out[32]);
/** "YYYY-MM-DD" of a day number (11 bytes with the NUL). */
void e2e_date_format(int32_t days, char out[16]);
/** "YYYY-MM-DDTHH:MM:SSZ" of unix seconds. */
void e2e_timestamp_format(int64_t unix_seconds, char out[32]);

#endif
