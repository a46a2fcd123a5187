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

#define FS_METRIC_STATUS_COUNT 14
#define FS_METRIC_STATUS_OTHER (FS_METRIC_STATUS_COUNT - 1) /* the slot counting every other status */
extern const int fs_metric_statuses[FS_METRIC_STATUS_COUNT]; /* 200, 304, 400, ..., 0 = other */
#define FS_LATENCY_BUCKETS 14
extern const uint32_t fs_latency_bounds_us[FS_LATENCY_BUCKETS]; /* upper bounds; last = +Inf */

typedef struct fs_metrics {
    uint64_t requests[FS_EP_COUNT][FS_METRIC_STATUS_COUNT];
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
    h2o_linklist_t streams;                    /* this worker's event streams (loop thread only) */
    fs_metrics_t metrics;
    unsigned inflight;           /* this worker's requests not yet disposed (loop thread only) */
    fs_conn_state_t *conns;      /* this worker's connections, indexed by fd (loop thread only) */
    size_t conns_cap;
    unsigned busy_conns;         /* connections with a request in flight */
    uint64_t stalled_closed;     /* connections shut down for not reading their responses */
    int64_t accept_paused_until; /* monotonic ms: listeners paused after EMFILE */
    uint64_t shed;               /* requests answered 503 by admission control */
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

/** Writes one search result (the shape of GET /v1/search's results); the watches reuse it. */
void fs_enc_search_result(fs_enc_t *e, const fs_result_t *r);

/** docs/openapi.yaml as JSON, and a quoted ETag of it: generated at build time (src/openapi_embed.py). */
extern const char fs_openapi_json[];
extern const size_t fs_openapi_json_len;
extern const char fs_openapi_etag[];

/* ---------------------------------------------------------------- feeds */

/** Routes /v1/feeds*. Event-loop thread. */
int fs_handle_feeds(h2o_req_t *req, fs_worker_t *w, uint64_t started_us);
/** Receives finished pushes from loader threads and answers them. Event-loop thread. */
void fs_feeds_on_answers(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

/* -------------------------------------------------------------- watches */

/** Routes /v1/watches* and /v1/events. Event-loop thread. Streams are not counted in flight
 *  (call it before track_inflight: a stream lasts as long as its client wants). */
int fs_handle_watches(h2o_req_t *req, fs_worker_t *w, uint64_t started_us);
/** Whether the request is for /v1/watches* or /v1/events. */
int fs_is_watches_path(const h2o_req_t *req);
/** Sets up the worker's stream list and wake-up receiver on its queue. Loop thread, at start. */
void fs_watch_streams_init(fs_worker_t *w);
/** Once a second: keep-alive comments on idle streams, and a catch-up pass. Loop thread. */
void fs_watch_streams_tick(fs_worker_t *w);
/** Ends every stream of the worker (graceful stop). Loop thread. */
void fs_watch_streams_close(fs_worker_t *w);
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

/** The single h2o handler: routes by path and method. */
int fs_handle_request(h2o_handler_t *self, h2o_req_t *req);
/** The shared state handlers reach through their handler. */
typedef struct fs_handler {
    h2o_handler_t super;
    fs_shared_t *shared;
} fs_handler_t;

#endif
