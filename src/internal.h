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

#define FS_METRIC_STATUS_COUNT 12
extern const int fs_metric_statuses[FS_METRIC_STATUS_COUNT]; /* 200, 304, 400, ... , 0 = other */
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

/** What every worker shares. Read-only after start-up, except the atomics named. */
typedef struct fs_shared {
    const fs_config_t *config;
    fs_index_t *index;
    h2o_globalconf_t h2o_config;
    fs_worker_t **workers;
    unsigned worker_count;
    int ready;            /* ck_pr: 1 once the data dir is loaded */
    int shutting_down;    /* ck_pr: set by the signal handler */
    int64_t started_at;   /* unix seconds */
} fs_shared_t;

struct fs_worker {
    h2o_context_t ctx;    /* first: handlers get the worker from req->conn->ctx */
    fs_shared_t *shared;
    unsigned id;
    h2o_evloop_t *loop;
    h2o_accept_ctx_t accept_plain, accept_tls;
    h2o_socket_t *listener_plain, *listener_tls;
    fs_index_thread_t index_thread;
    fs_metrics_t metrics;
    fs_result_t *results;        /* scratch: FS_SEARCH_MAX_LIMIT results */
    fs_calendar_cell_t *cells;   /* scratch: FS_CALENDAR_MAX_DAYS * FS_CABIN_COUNT cells */
    fs_route_summary_t *routes;  /* scratch: FS_AIRPORT_COUNT destinations */
    pthread_t thread;
};

/** The single h2o handler: routes by path and method. */
int fs_handle_request(h2o_handler_t *self, h2o_req_t *req);
/** The shared state handlers reach through their handler. */
typedef struct fs_handler {
    h2o_handler_t super;
    fs_shared_t *shared;
} fs_handler_t;

#endif
