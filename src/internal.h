/*
 * src/internal.h: private to src/. Workers, handlers and metrics.
 */
#ifndef FS_SRC_INTERNAL_H
#define FS_SRC_INTERNAL_H

#include <h2o.h>
#include "src/server.h"
#include "src/enc.h"
#include "index/index.h"

/* ------------------------------------------------------------ metrics
 * Counters are per worker and written only by their worker's thread (a plain load and store of an
 * aligned 64-bit word: no lock prefix on the hot path); /metrics sums them with relaxed loads. */

#define FS_METRIC_STATUS_COUNT 15
#define FS_METRIC_STATUS_OTHER (FS_METRIC_STATUS_COUNT - 1) /* the slot counting every other status */
extern const int fs_metric_statuses[FS_METRIC_STATUS_COUNT]; /* 200, 304, 400, ..., 0 = other */
#define FS_LATENCY_BUCKETS 14
extern const uint32_t fs_latency_bounds_us[FS_LATENCY_BUCKETS]; /* upper bounds; last = +Inf */

typedef struct fs_metrics {
    uint64_t requests[FS_EP_COUNT][FS_METRIC_STATUS_COUNT];
    /* The key of the request being answered (fs_keys_authorize), counted and cleared by the next
     * fs_metrics_record: every keyed answer is sent before its handler returns. */
    struct fs_key_account *key;
    uint64_t latency[FS_EP_COUNT][FS_LATENCY_BUCKETS];
    uint64_t latency_sum_us[FS_EP_COUNT];
} fs_metrics_t;

/** Counts one answered request on the calling worker. Worker thread only. */
void fs_metrics_record(fs_metrics_t *m, fs_endpoint_t ep, int status, uint64_t elapsed_us);

/* ------------------------------------------------------------- server */

typedef struct fs_worker fs_worker_t;

/*
 * What a worker knows of one of its connections (indexed by fd; h2o's connection id guards against
 * a reused fd). Admission control uses it to shed the connections that hold more than their share
 * of in-flight requests, not everyone; the write timeout uses it to close connections whose
 * responses make no progress (clients that never read).
 */
typedef struct fs_conn_state {
    uint64_t conn_id;         /* h2o's id of the connection on this fd, 0 until its first request */
    unsigned inflight;        /* its requests not yet disposed */
    int open;
    int stalled;              /* shut down by the write timeout */
    int64_t last_progress_ms; /* monotonic: when its bytes last moved (see close_stalled), a request of it
                               * completed, or it became busy */
    uint64_t bytes_acked;     /* TCP_INFO tcpi_bytes_acked at the last look */
} fs_conn_state_t;

/** Monotonic milliseconds. */
int64_t fs_monotonic_ms(void);
/** The state of the connection a request came on, or NULL when it is not tracked. */
fs_conn_state_t *fs_conn_of(fs_worker_t *w, h2o_conn_t *conn);

/** An h2o configuration and where the contexts made from it sit in a worker: libh2o 2.2.5 gives a
 *  request its context and the context its configuration, so this is how a handler finds its
 *  worker from either of a worker's two contexts (fs_worker_of). */
typedef struct fs_globalconf {
    h2o_globalconf_t h2o; /* first: h2o_context_t.globalconf points here */
    size_t ctx_offset;    /* offsetof(fs_worker_t, the context made from this configuration) */
} fs_globalconf_t;

/** What every worker shares. Read-only after start-up, except the atomics named. */
typedef struct fs_shared {
    const fs_config_t *config;
    fs_index_t *index;
    struct fs_feeds *feeds; /* ck_pr: set once the data dir is restored */
    struct fs_replica *replica; /* ck_pr: --nats only; set before ready (loaders/replica.c) */
    struct fs_watches *watches; /* the watch engine (src/watch.h); set before the workers start */
    unsigned streams;           /* ck_pr: open event streams in the process (bounded, see watch_http.c) */
    int streams_ready;          /* ck_pr: workers is complete: the engine may wake them */
    fs_globalconf_t h2o_config;      /* the public listeners (--listen, --tls-listen) */
    fs_globalconf_t h2o_feed_config; /* --feed-listen: the same handler, the feed body limit */
    fs_worker_t **workers;
    unsigned worker_count;
    int ready;            /* ck_pr: 1 once the data dir is loaded */
    int shutting_down;    /* ck_pr: set by the signal handler */
    int64_t started_at;   /* unix seconds */
    /* jemalloc's totals for /metrics, refreshed at most once a second by whichever worker finds
     * them stale (the refresh, mallctl("epoch"), takes every arena's lock): ck_pr */
    uint64_t jemalloc_refreshed_ms;
    uint64_t jemalloc_allocated, jemalloc_resident;
} fs_shared_t;

struct fs_worker {
    h2o_context_t ctx;    /* from shared->h2o_config: the public listeners */
    h2o_context_t feed_ctx; /* from shared->h2o_feed_config: --feed-listen (initialised only with it) */
    fs_shared_t *shared;
    unsigned id;
    h2o_evloop_t *loop;
    h2o_accept_ctx_t accept_plain, accept_tls, accept_feed;
    h2o_socket_t *listener_plain, *listener_tls, *listener_feed;
    fs_index_thread_t index_thread;
    ck_epoch_record_t auth_record;
    h2o_multithread_queue_t *feed_queue;
    h2o_multithread_receiver_t feed_receiver; /* loaders post finished pushes here */
    h2o_multithread_receiver_t watch_receiver; /* the watch engine wakes the event streams here */
    h2o_multithread_message_t watch_message;   /* the one wake-up, queued while watch_wakeup is 1 */
    int watch_wakeup;                          /* ck_pr: a wake-up is queued */
    h2o_multithread_receiver_t create_receiver; /* the watch creation thread posts its answers here */
    h2o_linklist_t streams;                    /* this worker's event streams (loop thread only) */
    fs_metrics_t metrics;
    unsigned inflight;           /* this worker's requests not yet disposed (loop thread only) */
    fs_conn_state_t *conns;      /* this worker's connections, indexed by fd (loop thread only) */
    size_t conns_cap;
    unsigned busy_conns;         /* connections with a request in flight */
    uint64_t stalled_closed;     /* connections shut down for not reading their responses */
    int64_t accept_paused_until; /* monotonic ms: listeners paused after EMFILE */
    uint64_t shed;               /* requests answered 503 by admission control */
    uint64_t heartbeat_ms;       /* __atomic, relaxed: monotonic ms of the loop's last pass (the systemd watchdog reads it) */
    uint64_t trace_rng;          /* trace and span ids (src/trace.c; loop thread only) */
    char *alog_buf;              /* access log lines not yet written (src/access_log.c; loop thread only) */
    size_t alog_len;
    int64_t alog_since_ms;       /* monotonic: when the oldest of them was added */
    fs_result_t *results;        /* scratch: FS_SEARCH_MAX_LIMIT results */
    fs_calendar_cell_t *cells;   /* scratch: FS_CALENDAR_MAX_DAYS * FS_CABIN_COUNT cells */
    fs_route_summary_t *routes;  /* scratch: FS_AIRPORT_COUNT destinations */
    char *metrics_buf;           /* /metrics text, grown to the largest seen and kept (loop thread only) */
    size_t metrics_cap;
    size_t metrics_len;          /* the last text rendered in metrics_buf, served again under overload */
    uint64_t metrics_rendered_ms; /* monotonic ms of that render (0: none) */
    int metrics_with_names;      /* whether it lists sources (--private-sources) */
    pthread_t thread;
};

/** The worker a context belongs to (either of its two). Any thread; the worker is the context's. */
static inline fs_worker_t *fs_worker_of(h2o_context_t *ctx)
{
    return (fs_worker_t *)(void *)((char *)ctx - ((const fs_globalconf_t *)(const void *)ctx->globalconf)->ctx_offset);
}
/** Whether a request came in on --feed-listen. */
static inline int fs_on_feed_listener(const h2o_req_t *req)
{
    return ((const fs_globalconf_t *)(const void *)req->conn->ctx->globalconf)->ctx_offset == offsetof(fs_worker_t, feed_ctx);
}

/** Counts a request in flight until h2o disposes it (admission control, write timeout, drain). Every
 *  request but an event stream is counted, at routing. */
fs_conn_state_t *fs_track_request(h2o_req_t *req, fs_worker_t *w);

/** Sends a JSON body (copied into the request's pool) and records the metrics. */
void fs_send_json(h2o_req_t *req, int status, const char *body, size_t len, fs_endpoint_t ep, uint64_t started_us);
/** Sends {"error": {"code", "message", "parameter"?}}; always returns 0 (a handler's answer). */
int fs_send_error(h2o_req_t *req, int status, const char *code, const char *parameter, const char *message, fs_endpoint_t ep,
                  uint64_t started_us);

/** Writes one search result (the shape of GET /v1/search's results) with the fields of f that are
 *  a result's (FS_FIELDS_ALL: every field); trips and the watches reuse it. */
void fs_enc_search_result(fs_enc_t *e, const fs_result_t *r, fs_fields_t f);
/** A little over the bytes fs_enc_search_result writes for r in full (buffer sizing). */
size_t fs_enc_result_size(const fs_result_t *r);

/** docs/openapi.yaml as JSON, and a quoted ETag of it: generated at build time (src/openapi_embed.py). */
extern const char fs_openapi_json[];
extern const size_t fs_openapi_json_len;
extern const char fs_openapi_etag[];

/** The web page's files (src/web/), compiled in at build time (src/web_embed.py). */
typedef struct {
    const char *path;         /* /web/NAME */
    const char *content_type;
    const unsigned char *bytes;
    size_t len;
    const char *etag;         /* quoted, a hash of the bytes */
} fs_web_asset_t;
extern const fs_web_asset_t fs_web_assets[];
extern const size_t fs_web_asset_count;

/* -------------------------------------------------------------- systemd */

/** Sends state ("READY=1", "WATCHDOG=1", ...) to $NOTIFY_SOCKET (a path, or '@' for the abstract
 *  namespace). 0, also when the variable is unset (not under systemd: nothing to do); FS_EINVAL
 *  for an address that is neither; FS_EIO when the datagram could not be sent. Any thread. */
int fs_notify(const char *state);
/** The watchdog period systemd asks for ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or this
 *  process), in ms; 0 when there is none. */
int64_t fs_notify_watchdog_ms(void);

/* --------------------------------------------------------------- tracing */

/** Seeds the worker's id generator (getrandom). Its loop thread, before it serves. */
void fs_trace_seed(fs_worker_t *w);
/** Whether v (len bytes) is a valid W3C traceparent header value. Pure. */
int fs_traceparent_valid(const char *v, size_t len);
/** Continues the request's valid traceparent or starts a new trace, adds the response's
 *  traceparent header, and returns its trace id: FS_TRACE_ID_LEN hex digits in the request's pool,
 *  not NUL-terminated. The worker's loop thread. */
const char *fs_trace_begin(h2o_req_t *req, fs_worker_t *w);
/** The trace id fs_trace_begin gave the request (FS_TRACE_ID_LEN digits, not NUL-terminated), or
 *  NULL when it never reached the handler. */
const char *fs_trace_id_of(h2o_req_t *req);

/* ------------------------------------------------------------ access log */

/** Opens --access-log (FILE, or "-" for stdout). 0, or FS_EIO with err naming the flag. */
int fs_access_log_open(const char *path, char *err, size_t errcap);
/** Reopens FILE (SIGHUP, after rotation); on failure the old file stays in use. 0 or FS_EIO. */
int fs_access_log_reopen(char *err, size_t errcap);
int fs_access_log_enabled(void);
/** Adds the request's line to its worker's buffer (h2o's log_access hook). Loop thread. */
void fs_access_log_request(fs_worker_t *w, h2o_req_t *req);
/** Writes the worker's buffered lines when due (size or age), or now when force. Loop thread. */
void fs_access_log_flush(fs_worker_t *w, int64_t now_ms, int force);

/* ---------------------------------------------------------------- trips */

/** Answers /v1/trips (GET, HEAD, POST) and /v1/calendar/trips (src/trips_http.c). Event-loop thread. */
int fs_handle_trips(h2o_req_t *req, fs_worker_t *w, fs_conn_state_t *conn, fs_endpoint_t ep, uint64_t started_us);

/* The pieces of a read answer handlers.c shares with it: the format the client accepts; the ETag
 * (generation, path, format, and salt: a hash of anything else the answer depends on, a POST
 * body), 1 when a 304 was sent; the 503 past the search budget; admission control (1 when shed);
 * the closing of a read (generation, airports, sources searched, read_end, took_us, send). */
fs_enc_format_t fs_http_negotiate(h2o_req_t *req);
int fs_http_etag_check(h2o_req_t *req, uint64_t generation, fs_enc_format_t format, uint64_t salt, fs_endpoint_t ep,
                       uint64_t started_us);
int fs_http_over_budget(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, uint64_t started_us);
int fs_http_shed_if_overloaded(h2o_req_t *req, fs_worker_t *w, fs_conn_state_t *conn, fs_endpoint_t ep, uint64_t started_us);
int fs_http_finish_read(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, const fs_generation_t *gen, const fs_search_query_t *q,
                        fs_enc_t *e, uint64_t started_us);

/* ---------------------------------------------------------------- feeds */

/** Routes /v1/feeds*. Event-loop thread. */
int fs_handle_feeds(h2o_req_t *req, fs_worker_t *w, uint64_t started_us);
/** Receives finished pushes from loader threads and answers them. Event-loop thread. */
void fs_feeds_on_answers(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

/* -------------------------------------------------------------- watches */

/** Routes /v1/watches* and /v1/events. Event-loop thread. Streams are not counted in flight
 *  (call it before track_inflight: a stream lasts as long as its client wants). */
/** account: the request's key (fs_keys_authorize), NULL without --keys: it owns the watches. */
int fs_handle_watches(h2o_req_t *req, fs_worker_t *w, struct fs_key_account *account, uint64_t started_us);
/** Whether the request is for /v1/watches* or /v1/events. */
int fs_is_watches_path(const h2o_req_t *req);
/** Sets up the worker's stream list and wake-up receiver on its queue. Loop thread, at start. */
void fs_watch_streams_init(fs_worker_t *w);
/** Once a second: keep-alive comments on idle streams, and a catch-up pass. Loop thread. */
void fs_watch_streams_tick(fs_worker_t *w);
/** Ends every stream of the worker (graceful stop). Loop thread. */
void fs_watch_streams_close(fs_worker_t *w);
/** Starts the thread that creates watches (webhook URL check, baseline search, fsync: never on an
 *  event loop). Main thread, after shared->watches is set, before the workers start. 0 or FS_ENOMEM. */
int fs_watch_creator_start(fs_shared_t *shared);
/** Stops it (after the workers stopped, before the engine is freed); queued creations are dropped. */
void fs_watch_creator_stop(void);
/** Engine thread: wakes every worker's streams (an fs_watches_on_events callback; arg: fs_shared_t). */
void fs_watch_streams_wake(void *shared, uint64_t last_id);

/* ----------------------------------------------------------------- auth */

typedef struct fs_tokens fs_tokens_t;
/** Parses a tokens file. 0, or FS_E* with a message naming the file and line in err. A token listed
 *  twice (FS_EINVAL, naming both lines) or a file with any group/other permission bit (FS_EINVAL,
 *  the message says chmod 600 FILE) is refused. */
int fs_tokens_parse(const char *path, fs_tokens_t **out, char *err, size_t errcap);
/** The same over text[0..len) already in memory (the file's contents; NUL bytes allowed), with
 *  name_for_errors where the file's path goes in err. The caller's text is left as it is. */
int fs_tokens_parse_buffer(const char *text, size_t len, const char *name_for_errors, fs_tokens_t **out, char *err,
                           size_t errcap);
/** Frees a parsed token table (its digests are wiped first). */
void fs_tokens_free(fs_tokens_t *t);
/** How many tokens a table holds. */
unsigned fs_tokens_count(const fs_tokens_t *t);
/** Loads the tokens file (NULL: feeds disabled). Call once before the workers start. */
int fs_auth_init(const char *path, char *err, size_t errcap);
int fs_auth_enabled(void);
/** Registers a worker's epoch record for token checks. */
void fs_auth_thread_register(ck_epoch_record_t *record);
/** Re-reads the tokens file (SIGHUP); on error the old tokens stay. Returns the token count or FS_E*. */
int fs_auth_reload(const char *path, char *err, size_t errcap);
/**
 * Checks an Authorization header value. 0: allowed; 401: missing, malformed or unknown token;
 * 403: the token's scope does not cover source (or want_all and the scope is not *).
 * Constant time in the token; lock-free. Event-loop threads, each with its own record.
 */
int fs_auth_check(ck_epoch_record_t *record, const char *header, size_t header_len, const char *source, int want_all,
                  char *scope_out, size_t scope_cap);

/* The pieces of the tokens file that the keys file (src/keys.c) shares: one way to read a secrets
 * file, split it into lines, hash a secret, parse a bearer header and retire a reloaded table. */

/** Reads a secrets file whole into a malloc'd *text (*len bytes), refusing a file with any group or
 *  other permission bit (FS_EINVAL, the message says chmod 600 FILE). Messages start "FLAG PATH:".
 *  Free the text with fs_auth_file_free, which wipes it. */
int fs_auth_file_read(const char *flag, const char *path, char **text, size_t *len, char *err, size_t errcap);
void fs_auth_file_free(char *text, size_t len);
/** One line as fgets() into a cap-byte buffer would return it: up to and including the next '\n',
 *  at most cap - 1 bytes (a longer line comes back in pieces), NUL-terminated. Returns the bytes
 *  consumed from text + pos, 0 at the end of the text. */
size_t fs_auth_next_line(const char *text, size_t len, size_t pos, char *line, size_t cap);
/** SHA-256: what is kept in memory of a secret. */
void fs_auth_digest(const void *data, size_t len, unsigned char out[32]);
/** The secret of an "Authorization: Bearer SECRET" value: 0, or -1 when header is NULL or not
 *  "Bearer " (any case) followed by at least one byte. */
int fs_auth_bearer(const char *header, size_t header_len, const char **secret, size_t *secret_len);
/** Waits until no event loop is inside a check begun before the call (the epoch the workers'
 *  auth_record belong to), so a table unpublished before it may be freed. Reloading thread only
 *  (the main thread, on SIGHUP). */
void fs_auth_synchronize(void);

/* ----------------------------------------------------------------- keys
 * API keys for the read endpoints (--keys FILE; src/keys.c). */

/**
 * What the server keeps of a key's name for the life of the process: its counters and its token
 * bucket, which therefore survive a SIGHUP (also when the key behind the name is rotated), and its
 * watch quota as of the last load. Never freed; any thread may read it.
 */
typedef struct fs_key_account {
    uint64_t full_at_us;        /* the bucket's state (fs_bucket_take), __atomic CAS */
    unsigned watches;           /* the quota of the last load, __atomic */
    uint32_t watch_owner;       /* 1 + the watch engine's handle of this name (fs_watches_owner), 0 until known; __atomic */
    char name[65];
    uint64_t requests[FS_METRIC_STATUS_COUNT]; /* answers by status, __atomic_fetch_add */
    struct fs_key_account *next; /* every account, in order of first load (fs_key_account_next) */
} fs_key_account_t;

/** The outcome of taking one token from a bucket. */
typedef struct fs_bucket_verdict {
    int allowed;
    uint64_t full_at_us;  /* the new state (the old one when refused) */
    unsigned remaining;   /* whole tokens left */
    unsigned reset_s;     /* seconds until the bucket is full again, rounded up */
    unsigned retry_after_s; /* when refused: seconds until a token is there, rounded up, at least 1 */
} fs_bucket_verdict_t;

/**
 * The token bucket as a pure function of its state and the time. The state is the instant the
 * bucket is (or was) full again, full_at_us: at time now it holds burst - max(0, full_at - now) /
 * interval tokens, one token coming back every interval_us. State 0 is a full bucket.
 */
fs_bucket_verdict_t fs_bucket_take(uint64_t full_at_us, uint64_t now_us, uint64_t interval_us, unsigned burst);

typedef struct fs_keys fs_keys_t;
/** Parses a keys file: lines of "KEY name=NAME rate=N/s burst=M [watches=W]". 0, or FS_E* with a
 *  message naming the file, line and field. A key or a name listed twice, or a file with any
 *  group/other permission bit, is refused. */
int fs_keys_parse(const char *path, fs_keys_t **out, char *err, size_t errcap);
/** The same over text already in memory (see fs_tokens_parse_buffer). */
int fs_keys_parse_buffer(const char *text, size_t len, const char *name_for_errors, fs_keys_t **out, char *err, size_t errcap);
void fs_keys_free(fs_keys_t *k);
unsigned fs_keys_count(const fs_keys_t *k);
/** Line i's rate interval (microseconds per token, 1e6 / N rounded up), burst, watches and name
 *  (in file order), for the tests. */
void fs_keys_entry(const fs_keys_t *k, unsigned i, uint64_t *interval_us, unsigned *burst, unsigned *watches,
                   const char **name);
/** The line (in file order, as fs_keys_entry counts) holding key, or -1 when none does. */
int fs_keys_find(const fs_keys_t *k, const char *key, size_t len);
/** Loads the keys file (NULL: reads are open). Call once, after fs_auth_init, before the workers start. */
int fs_keys_init(const char *path, char *err, size_t errcap);
int fs_keys_enabled(void);
/** Re-reads the keys file (SIGHUP); on error the old keys stay. Returns the key count or FS_E*. */
int fs_keys_reload(const char *path, char *err, size_t errcap);
/** Every account so far: the first, then fs_key_account_next until NULL. Any thread. */
const fs_key_account_t *fs_key_accounts(void);
const fs_key_account_t *fs_key_account_next(const fs_key_account_t *account);
/** Takes one token from the account's bucket (fs_bucket_take at now_us), atomically against every
 *  other thread doing the same: a compare-and-swap loop on its one-word state. Any thread. */
fs_bucket_verdict_t fs_key_take_mpmc(fs_key_account_t *account, uint64_t now_us, uint64_t interval_us, unsigned burst);
/** A key's watch quota (watches=W), for the watches endpoints. */
unsigned fs_key_watch_quota(const fs_key_account_t *account);

/**
 * The gate of every /v1 read and watch endpoint. Without --keys: returns 0 (account, when not NULL,
 * gets NULL). With it: a request without a known "Authorization: Bearer KEY" is answered 401, one
 * past its key's rate 429 (Retry-After and the RateLimit-* headers), and -1 is returned (the
 * request is answered); else 0, *account (when account is not NULL) is the key's (its name owns
 * the watches; fs_key_watch_quota), and the RateLimit-* headers are added to the response to come.
 * started_us is the request's monotonic start (handlers.c's clock), also the time the bucket is
 * read at. The answer's status is counted for the key by the worker's next fs_metrics_record
 * (w->metrics.key): an answer sent after the handler returns (a stream) sets w->metrics.key =
 * *account again just before recording. O(1): a hash lookup by digest and a CAS on the key's
 * bucket. Event-loop thread (w's).
 */
int fs_keys_authorize(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, uint64_t started_us, fs_key_account_t **account);

/** The single h2o handler: routes by path and method. */
int fs_handle_request(h2o_handler_t *self, h2o_req_t *req);
/** The shared state handlers reach through their handler. */
typedef struct fs_handler {
    h2o_handler_t super;
    fs_shared_t *shared;
} fs_handler_t;

#endif
