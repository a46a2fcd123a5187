/*
 * bench/load/hist.h: the latency histogram of the project's load generators (flightsearch-load
 * and tests/overload/loadgen.c), header-only so both programs record the same way.
 *
 * Log-linear over microseconds, HDR-style: exact below 128 us, then 64 sub-buckets per power of
 * two (at most 1.6% error), up to 2^37 us (38 hours). 19 KiB per histogram, fixed: adding is an
 * index computation and an increment, so recording never allocates on the hot path. Percentiles
 * by nearest rank report the bucket's upper bound, capped at the largest value seen.
 *
 * Threads: a histogram belongs to one thread; merge copies (fs_hist_merge) to combine.
 */
#ifndef FS_BENCH_LOAD_HIST_H
#define FS_BENCH_LOAD_HIST_H

#include <stdint.h>

#define FS_HIST_SUB 64
#define FS_HIST_EXP 38
#define FS_HIST_BUCKETS (FS_HIST_EXP * FS_HIST_SUB)

typedef struct fs_hist {
    uint64_t count, sum_us, max_us;
    uint64_t b[FS_HIST_BUCKETS];
} fs_hist_t;

static inline unsigned fs_hist_index(uint64_t us)
{
    if (us < 2 * FS_HIST_SUB)
        return (unsigned)us;
    unsigned msb = 63 - (unsigned)__builtin_clzll(us); /* >= 7 */
    unsigned shift = msb - 6;                          /* keep the top 7 bits: 64..127 */
    unsigned idx = (msb - 5) * FS_HIST_SUB + (unsigned)((us >> shift) - FS_HIST_SUB);
    return idx < FS_HIST_BUCKETS ? idx : FS_HIST_BUCKETS - 1;
}

/** The largest value that falls in bucket idx. */
static inline uint64_t fs_hist_upper(unsigned idx)
{
    if (idx < 2 * FS_HIST_SUB)
        return idx;
    unsigned msb = idx / FS_HIST_SUB + 5, shift = msb - 6;
    return (((uint64_t)(idx % FS_HIST_SUB + FS_HIST_SUB) + 1) << shift) - 1;
}

static inline void fs_hist_add(fs_hist_t *h, uint64_t us)
{
    h->b[fs_hist_index(us)]++;
    h->count++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
}

/** Adds every value of src to dst. */
static inline void fs_hist_merge(fs_hist_t *dst, const fs_hist_t *src)
{
    for (unsigned i = 0; i < FS_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum_us += src->sum_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

/** The p-th percentile (0 < p <= 100) by nearest rank, in microseconds; 0 when empty. */
static inline uint64_t fs_hist_pct(const fs_hist_t *h, double p)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < FS_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t u = fs_hist_upper(i);
            return u < h->max_us ? u : h->max_us;
        }
    }
    return h->max_us;
}

#endif
