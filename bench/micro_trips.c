/*
 * bench/micro_trips.c: trips against the one-way searches they are built on, the index alone (no
 * HTTP). Loads a flightsearch-gen data dir, then times per query (thread CPU time, as
 * micro_index):
 *
 *   oneway_pair   fs_search outbound (7 dates) + fs_search return (the 7 dates a week later),
 *                 every cabin, limit 50: the work a frontend does today without pairing
 *   round_trip    fs_trips over the same two slices and dates, limit 50, by miles
 *   grid_31x31    fs_trip_grid, 31 outbound dates x 31 return dates starting a week later
 *
 * each with max_stops 0 and 1, over routes drawn among those flown both ways (fixed seed), and
 * prints one JSON line: ns per operation, the ratio round_trip / oneway_pair, mean trips per query.
 *
 * usage: micro_trips --data-dir DIR [--seconds S] [--seed N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "index/index.h"
#include "loaders/loaders.h"

#define QUERY_COUNT 512

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct pair {
    fs_airport_t a, b;
    int32_t first_day, last_day;
} pair_t;

static void slice(fs_search_query_t *q, fs_airport_t from, fs_airport_t to, int32_t start, int32_t days, unsigned stops)
{
    fs_search_query_init(q);
    q->origins[0] = from;
    q->origin_count = 1;
    q->destinations[0] = to;
    q->destination_count = 1;
    q->start_day = start;
    q->end_day = start + days - 1;
    q->max_stops = stops;
}

int main(int argc, char **argv)
{
    const char *data_dir = NULL;
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            data_dir = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            rng_state ^= strtoull(argv[++i], NULL, 10);
        else
            data_dir = NULL, i = argc;
    }
    if (data_dir == NULL) {
        fprintf(stderr, "usage: micro_trips --data-dir DIR [--seconds S] [--seed N]\n");
        return 2;
    }
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    if (fs_loader_load_dir(idx, &th, data_dir) <= 0) {
        fprintf(stderr, "micro_trips: nothing loaded from %s\n", data_dir);
        return 1;
    }
    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    /* routes flown both ways (by some source each way), with 45 days or more of schedule */
    size_t cap = 0, n = 0;
    for (unsigned s = 0; s < gen->segment_count; s++)
        cap += gen->segments[s]->route_count;
    pair_t *pairs = malloc(cap * sizeof(*pairs));
    for (unsigned s = 0; s < gen->segment_count && pairs != NULL; s++)
        for (uint32_t r = 0; r < gen->segments[s]->route_count; r++) {
            const fs_route_t *rt = &gen->segments[s]->routes[r];
            if (rt->origin > rt->destination || rt->last_day - rt->first_day < 45)
                continue;
            int back = 0;
            for (unsigned t = 0; t < gen->segment_count && !back; t++)
                back = fs_segment_route(gen->segments[t], rt->destination, rt->origin) != NULL;
            if (back)
                pairs[n++] = (pair_t){rt->origin, rt->destination, rt->first_day, rt->last_day};
        }
    if (n == 0) {
        fprintf(stderr, "micro_trips: no route flown both ways\n");
        return 1;
    }
    fs_trip_query_t *tq = malloc(QUERY_COUNT * sizeof(*tq));
    fs_trip_t *trips = malloc(FS_SEARCH_MAX_LIMIT * sizeof(*trips));
    fs_result_t *page = malloc(FS_SEARCH_MAX_LIMIT * sizeof(*page));
    fs_trip_cell_t *cells = malloc(FS_TRIP_GRID_MAX_DAYS * FS_TRIP_GRID_MAX_DAYS * FS_CABIN_COUNT * sizeof(*cells));
    if (tq == NULL || trips == NULL || page == NULL || cells == NULL)
        return 1;
    printf("{\"bench\": \"micro_trips\", \"data\": \"%s\", \"legs\": %llu, \"route_pairs\": %zu, \"clock\": \"thread cpu\"", data_dir,
           (unsigned long long)gen->leg_count, n);
    uint64_t checksum = 0;
    for (unsigned stops = 0; stops <= 1; stops++) {
        for (int grid = 0; grid <= 1; grid++) {
            int32_t out_days = grid ? FS_TRIP_GRID_MAX_DAYS : 7, ret_days = out_days;
            for (unsigned i = 0; i < QUERY_COUNT; i++) {
                const pair_t *p = &pairs[rng_next() % n];
                int32_t room = p->last_day - p->first_day - 7 - ret_days;
                int32_t start = p->first_day + (room > 1 ? (int32_t)(rng_next() % (uint64_t)room) : 0);
                fs_trip_query_init(&tq[i]);
                slice(&tq[i].slices[0], p->a, p->b, start, out_days, stops);
                slice(&tq[i].slices[1], p->b, p->a, start + 7, ret_days, stops);
            }
            double ns[2] = {0, 0}, mean_trips = 0;
            for (int kind = grid ? 1 : 0; kind < 2; kind++) { /* 0: the two one-way searches; 1: the trips or grid */
                double start = cpu_s(), elapsed;
                unsigned long k = 0;
                uint64_t produced = 0;
                do {
                    for (unsigned j = 0; j < QUERY_COUNT; j++, k++) {
                        if (kind == 0) {
                            fs_search_result_t res;
                            fs_search(gen, &tq[j].slices[0], page, &res);
                            checksum += res.total;
                            fs_search(gen, &tq[j].slices[1], page, &res);
                            checksum += res.total;
                        } else if (!grid) {
                            fs_trip_result_t res;
                            fs_trips(gen, &tq[j], trips, &res);
                            checksum += res.count;
                            produced += res.total;
                        } else {
                            fs_trip_grid(gen, &tq[j], cells);
                            checksum += cells[0].count;
                        }
                    }
                    elapsed = cpu_s() - start;
                } while (elapsed < seconds);
                ns[kind] = elapsed * 1e9 / (double)k;
                mean_trips = (double)produced / (double)k;
            }
            if (grid) {
                printf(", \"grid_31x31_stops%u_ns\": %.0f", stops, ns[1]);
            } else {
                printf(", \"oneway_pair_stops%u_ns\": %.0f, \"round_trip_stops%u_ns\": %.0f, \"round_trip_over_oneway_stops%u\": %.2f, "
                       "\"trips_per_query_stops%u\": %.1f",
                       stops, ns[0], stops, ns[1], stops, ns[1] / ns[0], stops, mean_trips);
            }
        }
    }
    printf(", \"checksum\": %llu}\n", (unsigned long long)checksum);
    fs_index_read_end(idx, &th);
    free(pairs);
    free(tq);
    free(trips);
    free(page);
    free(cells);
    fs_index_free(idx);
    return 0;
}
