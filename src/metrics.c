/*
 * src/metrics.c: per-worker counters. Each worker is the only writer of its own counters, so an
 * increment is a plain load and store (ck_pr keeps it a single aligned access that the /metrics
 * reader on another thread may load at any time without tearing).
 */
#include <ck_pr.h>
#include "src/internal.h"

const int fs_metric_statuses[FS_METRIC_STATUS_COUNT] = {200, 304, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503, 0};
const uint32_t fs_latency_bounds_us[FS_LATENCY_BUCKETS] = {25,    50,    100,    250,    500,    1000,   2500,
                                                           5000,  10000, 25000,  50000,  100000, 500000, UINT32_MAX};

static void bump(uint64_t *counter, uint64_t by)
{
    ck_pr_store_64(counter, ck_pr_load_64(counter) + by);
}

/* The slot of a status in fs_metric_statuses (FS_METRIC_STATUS_OTHER when not listed). */
static int status_slot(int status)
{
    for (int i = 0; i < FS_METRIC_STATUS_OTHER; i++)
        if (fs_metric_statuses[i] == status)
            return i;
    return FS_METRIC_STATUS_OTHER;
}

void fs_metrics_record(fs_metrics_t *m, fs_endpoint_t ep, int status, uint64_t elapsed_us)
{
    int s = status_slot(status);
    bump(&m->requests[ep][s], 1);
    if (m->key != NULL) { /* shared by every worker: an atomic add, not bump */
        __atomic_fetch_add(&m->key->requests[s], 1, __ATOMIC_RELAXED);
        m->key = NULL;
    }
    int b = 0;
    while (b < FS_LATENCY_BUCKETS - 1 && elapsed_us > fs_latency_bounds_us[b])
        b++;
    bump(&m->latency[ep][b], 1);
    bump(&m->latency_sum_us[ep], elapsed_us);
}
