/*
 * bench/micro_watch.c: what a registered watch costs in memory (src/watch.h). Adds N watches (a
 * nonstop route each, one origin and one destination airport, one day) to an engine over an empty
 * index, so no watch has matching results: the figure is the fixed cost per watch (its criteria,
 * its evaluation state and its entries in the route index). Bytes are jemalloc's stats.allocated
 * before and after (the server's allocator), or the RSS without jemalloc.
 *
 * With --delta K it then times what a publish costs the engine: an index of BUSY airports with
 * legs on every route between them over 7 days, 1% of the N watches on those routes and dates
 * (the rest spread over every airport pair), and one delta repricing K legs of it; the figure is
 * the thread CPU time of fs_watches_apply over that delta's change set, with the watches it
 * scanned, re-searched and the events it made.
 *
 * usage: micro_watch [N] [--delta K]   (N default FS_WATCH_MAX, the most one process holds).
 * One JSON line on stdout.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "index/index.h"
#include "src/watch.h"
#ifdef FS_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static size_t allocated_bytes(void)
{
#ifdef FS_HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch), allocated = 0, asz = sizeof(allocated);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    if (mallctl("stats.allocated", &allocated, &asz, NULL, 0) == 0)
        return allocated;
#endif
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

#define BUSY 120      /* airports with legs: 120 x 119 routes */
#define BASE_DAY 20788 /* 2026-12-01 */
#define DAYS 7

static void code(unsigned i, char out[4])
{
    out[0] = (char)('A' + i / 676 % 26);
    out[1] = (char)('A' + i / 26 % 26);
    out[2] = (char)('A' + i % 26);
    out[3] = '\0';
}

/* Busy airport k: spread over the code space. */
static unsigned busy(unsigned k)
{
    return k * 146u + 7u;
}

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Leg f of route (o, d) on day: flight numbers unique per (carrier, origin, day). */
static fs_leg_in_t leg(unsigned o, unsigned d, unsigned f, int32_t day, unsigned seats, uint32_t miles)
{
    fs_leg_in_t l;
    memset(&l, 0, sizeof(l));
    fs_carrier_parse("TP", 2, &l.carrier);
    l.flight = (uint16_t)(1 + d * 4 + f);
    l.origin = (fs_airport_t)busy(o);
    l.destination = (fs_airport_t)busy(d);
    l.departs = (fs_localtime_t){day, (uint16_t)(360 + f * 240), 0};
    l.arrives = (fs_localtime_t){day, (uint16_t)(360 + f * 240 + 180), 0};
    l.cabin_mask = 1u << FS_CABIN_ECONOMY | 1u << FS_CABIN_BUSINESS;
    l.seats[FS_CABIN_ECONOMY] = (uint8_t)seats;
    l.seats[FS_CABIN_BUSINESS] = 2;
    fs_currency_t brl;
    fs_currency_parse("BRL", 3, &brl);
    l.fare[FS_CABIN_ECONOMY] = (fs_fare_t){miles, 5000, brl};
    l.fare[FS_CABIN_BUSINESS] = (fs_fare_t){miles * 3, 9000, brl};
    l.last_seen = 1796000000;
    return l;
}

int main(int argc, char **argv)
{
    unsigned n = FS_WATCH_MAX, delta = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--delta") == 0 && i + 1 < argc)
            delta = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (argv[i][0] != '-')
            n = (unsigned)strtoul(argv[i], NULL, 10);
        else
            n = 0;
    }
    if (n < 2 || n > FS_WATCH_MAX || delta > BUSY * (BUSY - 1) * DAYS * 2) {
        fprintf(stderr, "usage: micro_watch [N] [--delta K], N from 2 to %d, K up to %d\n", FS_WATCH_MAX,
                BUSY * (BUSY - 1) * DAYS * 2);
        return 2;
    }
    fs_index_t *idx = fs_index_new();
    fs_watches_t *ws = idx != NULL ? fs_watches_new(idx) : NULL;
    if (ws == NULL)
        return 1;
    fs_index_thread_t *th = fs_index_thread_get(idx);
    uint64_t legs = 0;
    if (delta > 0) { /* every busy route, two flights a day: 120 x 119 x 7 x 2 legs */
        fs_segment_builder_t *b = fs_segment_builder_new("bench", 1, 1796000000);
        for (unsigned o = 0; o < BUSY; o++)
            for (unsigned d = 0; d < BUSY; d++)
                for (int32_t day = BASE_DAY; d != o && day < BASE_DAY + DAYS; day++)
                    for (unsigned f = 0; f < 2; f++, legs++) {
                        fs_leg_in_t l = leg(o, d, f, day, 1 + (o + d + f) % 9, 20000 + 1000 * ((o * d + f) % 50));
                        if (fs_segment_builder_add(b, &l) != 0)
                            return 1;
                    }
        if (fs_index_publish_segment(idx, th, fs_segment_builder_finish(b, 0)) <= 0)
            return 1;
    }
    /* the first add allocates the engine's scratch (FS_WATCH_MAX pointers): not a per-watch cost */
    fs_watch_criteria_t c;
    fs_param_error_t err;
    const char *first = "{\"origin\": [\"AAA\"], \"destination\": [\"AAB\"], \"date\": \"2026-12-01\"}";
    uint64_t id, matching;
    if (fs_watch_parse(first, strlen(first), &c, &err) != 0 || fs_watches_add(ws, th, &c, FS_WATCH_ANY_OWNER, UINT_MAX, &id, &matching) != 0)
        return 1;
    size_t before = allocated_bytes();
    unsigned on_busy = 0;
    for (unsigned i = 1; i < n; i++) {
        char body[200], oc[4], dc[4];
        unsigned o = i % 17576, d = (i * 7919u + 1) % 17576; /* 26^3 codes */
        int32_t day = BASE_DAY + (int32_t)(i % 28);
        if (delta > 0 && i % 100 == 0) { /* 1%: a busy route on a day with legs */
            o = busy(i / 100 % BUSY);
            d = busy((i / 100 / BUSY + 1 + i / 100 % BUSY) % BUSY);
            if (o == d)
                d = busy((i / 100 % BUSY + 1) % BUSY);
            day = BASE_DAY + (int32_t)(i % DAYS);
            on_busy++;
        }
        if (o == d)
            d = (d + 1) % 17576;
        code(o, oc);
        code(d, dc);
        time_t t = (time_t)day * 86400;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(body, sizeof(body), "{\"origin\": [\"%s\"], \"destination\": [\"%s\"], \"date\": \"%04d-%02d-%02d\", \"notify\": "
                 "[\"opened\", \"closed\", \"repriced\"]}", oc, dc, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        if (fs_watch_parse(body, strlen(body), &c, &err) != 0) {
            fprintf(stderr, "%s: %s\n", body, err.message);
            return 1;
        }
        if (fs_watches_add(ws, th, &c, FS_WATCH_ANY_OWNER, UINT_MAX, &id, &matching) != 0)
            return 1;
        fs_watch_criteria_dispose(&c);
    }
    size_t after = allocated_bytes();
    printf("{\"watches\": %u, \"bytes_per_watch\": %.0f, \"measured_with\": \"%s\"", n, (double)(after - before) / (double)(n - 1),
#ifdef FS_HAVE_JEMALLOC
           "jemalloc stats.allocated"
#else
           "rss"
#endif
    );
    if (delta > 0) { /* reprice `delta` legs spread over the busy routes; time the engine's work */
        fs_subscription_t *sub = fs_index_subscribe(idx, 4);
        fs_leg_in_t *up = malloc(delta * sizeof(*up));
        if (sub == NULL || up == NULL)
            return 1;
        uint64_t stride = legs / delta, k = 0;
        for (unsigned o = 0; o < BUSY && k < (uint64_t)delta * stride; o++)
            for (unsigned d = 0; d < BUSY; d++)
                for (int32_t day = BASE_DAY; d != o && day < BASE_DAY + DAYS; day++)
                    for (unsigned f = 0; f < 2; f++, k++)
                        if (k % stride == 0 && k / stride < delta)
                            up[k / stride] = leg(o, d, f, day, 1 + (o + d + f + 1) % 9, 20000 + 1000 * ((o * d + f + 7) % 50));
        const fs_generation_t *gen = fs_index_read_begin(idx, th);
        const fs_segment_t *base = fs_generation_source(gen, "bench");
        fs_index_read_end(idx, th);
        fs_change_set_t *cs = fs_change_set_new("bench", 1);
        uint64_t hits;
        int rc = 0;
        fs_segment_t *next = fs_segment_apply_delta(base, "bench", 2, 1796000100, 1, up, delta, NULL, 0, cs, &hits, &rc);
        fs_publish_t p;
        if (next == NULL || fs_index_publish_prepare(idx, "bench", &p) != 0 || fs_index_publish_commit_changes(idx, th, &p, next, cs) <= 0)
            return 1;
        fs_change_set_t *got;
        uint64_t dropped;
        if (fs_subscription_next(sub, &got, &dropped) != 1)
            return 1;
        uint64_t events_before = fs_watches_last_event_id(ws);
        double t0 = thread_cpu_ms();
        rc = fs_watches_apply(ws, th, got);
        double ms = thread_cpu_ms() - t0;
        printf(", \"delta_legs\": %u, \"change_entries\": %zu, \"watches_on_busy_routes\": %u, \"events\": %llu, "
               "\"apply_cpu_ms\": %.2f, \"apply_rc\": %d",
               delta, got->entry_count, on_busy, (unsigned long long)(fs_watches_last_event_id(ws) - events_before), ms, rc);
        fs_change_set_release(got);
        fs_index_unsubscribe(idx, sub);
        free(up);
    }
    printf("}\n");
    fs_index_thread_put(idx, th);
    fs_watches_free(ws);
    fs_index_free(idx);
    return 0;
}
