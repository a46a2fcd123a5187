/*
 * bench/micro_index.c: the index alone, no HTTP. Builds (or loads) a generation, then times the
 * four read operations the server's query mixes reach:
 *
 *   direct_1day   fs_search, one route, one date, one cabin (economy), limit 50, sort by miles
 *   direct_7day   fs_search, one route, 7 dates, every cabin
 *   calendar_30   fs_calendar, one route, 30 dates, every cabin
 *   routes        fs_routes_from, one origin, every date
 *   routes_1stop  fs_routes_from, one origin, every date, max_stops 1
 *   routes_carrier fs_routes_from, one origin, one carrier, 30 dates, max_stops 1
 *   onestop_1day  fs_search, max_stops 1, an origin and a destination one stop apart, one date,
 *                 every cabin, limit 50
 *   onestop_maxdur as onestop_1day, max_duration 8 hours (most first legs break it alone)
 *   twostop_1day  as onestop_1day with max_stops 2 (128 queries: each can cost milliseconds)
 *
 * Queries are drawn up front (uniformly over the routes and their dates, fixed seed) so the timed
 * loop holds nothing but the index calls. Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so a shared, busy machine slows the figures less than wall time would. Prints one JSON line of
 * figures on stdout.
 *
 * usage: micro_index [--data-dir DIR] [--seconds S] [--seed N]
 *   Without --data-dir the generation is synthetic: 4 sources, 60 airports, 150 routes per source,
 *   330 days, 3 flights a day per route, built through fs_segment_builder_*. With --data-dir every
 *   snapshot under DIR is loaded through fs_loader_load_dir (flightsearch-gen output). Each of
 *   the four operations runs for S seconds of CPU time (default 0.5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "index/index.h"
#include "loaders/loaders.h"

#define QUERY_COUNT 4096
#define SYN_SOURCES 4
#define SYN_AIRPORTS 60
#define SYN_ROUTES 150
#define SYN_DAYS 330
#define SYN_FLIGHTS 3
#define SYN_FIRST_DAY 20788 /* 2026-12-01 */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: small, fast and good enough to spread queries. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rng_below(unsigned n)
{
    return (unsigned)(rng_next() % n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static fs_airport_t airport_code(unsigned i)
{
    /* 60 distinct codes: "AAA", "BAB", ... spread over the code space */
    char s[3] = {(char)('A' + i % 26), (char)('A' + (i / 26) % 26), (char)('A' + (i * 7) % 26)};
    fs_airport_t a;
    fs_airport_parse(s, 3, &a);
    return a;
}

/* One synthetic source: routes between the 60 airports, 3 flights a day, economy always and
 * business on two flights of three, seats 0..9 (0: sold out), miles 5,000..80,000. */
static fs_segment_t *synthetic_segment(unsigned source, uint64_t *legs_added)
{
    static const char *const names[SYN_SOURCES] = {"alpha", "bravo", "charlie", "delta"};
    fs_segment_builder_t *b = fs_segment_builder_new(names[source], 1, 1795000000);
    if (b == NULL)
        return NULL;
    fs_leg_in_t in;
    memset(&in, 0, sizeof(in));
    fs_currency_parse("USD", 3, &in.fare[0].currency);
    in.fare[FS_CABIN_BUSINESS].currency = in.fare[0].currency;
    in.last_seen = 1795000000;
    for (unsigned r = 0; r < SYN_ROUTES; r++) {
        unsigned o = (r * 7 + source * 13) % SYN_AIRPORTS, d = (o + 1 + (r * 11 + source) % (SYN_AIRPORTS - 1)) % SYN_AIRPORTS;
        in.origin = airport_code(o);
        in.destination = airport_code(d);
        fs_carrier_parse(source % 2 ? "UA" : "TP", 2, &in.carrier);
        uint16_t duration = (uint16_t)(60 + rng_below(12 * 60));
        for (unsigned day = 0; day < SYN_DAYS; day++) {
            for (unsigned f = 0; f < SYN_FLIGHTS; f++) {
                in.flight = (uint16_t)(1 + r * SYN_FLIGHTS + f);
                in.departs = (fs_localtime_t){SYN_FIRST_DAY + (int32_t)day, (uint16_t)(360 + f * 300 + rng_below(60)), -180};
                int64_t arr = fs_localtime_to_utc_min(in.departs) + duration;
                in.arrives = (fs_localtime_t){(int32_t)(arr / 1440), (uint16_t)(arr % 1440), 0};
                in.cabin_mask = f == 2 ? 1u : (1u | (1u << FS_CABIN_BUSINESS));
                in.seats[0] = (uint8_t)rng_below(10);
                in.fare[0].miles = 5000 + 500 * rng_below(60);
                in.fare[0].taxes_cents = 1000 + rng_below(20000);
                in.seats[FS_CABIN_BUSINESS] = (uint8_t)rng_below(5);
                in.fare[FS_CABIN_BUSINESS].miles = 40000 + 1000 * rng_below(40);
                in.fare[FS_CABIN_BUSINESS].taxes_cents = 5000 + rng_below(30000);
                if (fs_segment_builder_add(b, &in) != 0) {
                    fs_segment_builder_free(b);
                    return NULL;
                }
                (*legs_added)++;
            }
        }
    }
    return fs_segment_builder_finish(b, 0);
}

typedef struct route_ref {
    fs_airport_t origin, destination;
    int32_t first_day, last_day;
} route_ref_t;

static void base_query(fs_search_query_t *q, fs_airport_t origin, fs_airport_t destination)
{
    fs_search_query_init(q); /* the defaults (no time filter: a zeroed query would mean depart_before 00:00) */
    q->origins[0] = origin;
    q->origin_count = 1;
    q->destinations[0] = destination;
    q->destination_count = 1;
}

/* A day in [first, last - span + 1], or first when the route is shorter than the span. */
static int32_t draw_day(const route_ref_t *r, int32_t span)
{
    int32_t room = r->last_day - r->first_day - span + 2;
    return r->first_day + (room > 1 ? (int32_t)rng_below((unsigned)room) : 0);
}

int main(int argc, char **argv)
{
    const char *data_dir = NULL;
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
            data_dir = argv[++i];
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            rng_state ^= strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: micro_index [--data-dir DIR] [--seconds S] [--seed N]\n");
            return 2;
        }
    }

    fs_index_t *idx = fs_index_new();
    fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    uint64_t legs_added = 0;
    double t0 = now_s();
    if (data_dir != NULL) {
        if (fs_loader_load_dir(idx, &th, data_dir) <= 0) {
            fprintf(stderr, "micro_index: nothing loaded from %s\n", data_dir);
            return 1;
        }
    } else {
        for (unsigned s = 0; s < SYN_SOURCES; s++) {
            fs_segment_t *seg = synthetic_segment(s, &legs_added);
            if (seg == NULL || fs_index_publish_segment(idx, &th, seg) < 0) {
                fprintf(stderr, "micro_index: building the synthetic segment failed\n");
                return 1;
            }
        }
    }
    double build_s = now_s() - t0;

    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    size_t route_total = 0, index_bytes = 0;
    for (unsigned s = 0; s < gen->segment_count; s++) {
        route_total += gen->segments[s]->route_count;
        index_bytes += gen->segments[s]->bytes;
    }
    route_ref_t *routes = malloc(route_total * sizeof(*routes));
    fs_search_query_t *queries = malloc(QUERY_COUNT * sizeof(*queries));
    fs_result_t *page = malloc(FS_SEARCH_MAX_LIMIT * sizeof(*page));
    fs_calendar_cell_t *cells = malloc(FS_CALENDAR_MAX_DAYS * FS_CABIN_COUNT * sizeof(*cells));
    fs_route_summary_t *summaries = malloc(FS_AIRPORT_COUNT * sizeof(*summaries));
    if (routes == NULL || queries == NULL || page == NULL || cells == NULL || summaries == NULL || route_total == 0) {
        fprintf(stderr, "micro_index: out of memory or no routes\n");
        return 1;
    }
    size_t n = 0;
    for (unsigned s = 0; s < gen->segment_count; s++)
        for (uint32_t r = 0; r < gen->segments[s]->route_count; r++) {
            const fs_route_t *rt = &gen->segments[s]->routes[r];
            routes[n++] = (route_ref_t){rt->origin, rt->destination, rt->first_day, rt->last_day};
        }

    static const char *const names[] = {"direct_1day",  "direct_7day",    "calendar_30day", "routes",
                                        "routes_1stop", "routes_carrier", "onestop_1day",   "onestop_maxdur",
                                        "twostop_1day"};
    enum { KINDS = sizeof(names) / sizeof(names[0]) };
    double ns[KINDS];
    unsigned long ops[KINDS], direct_ops = 0;
    uint64_t checksum = 0, results = 0, empty = 0;
    for (int kind = 0; kind < KINDS; kind++) {
        unsigned nq = kind == 8 ? 128 : QUERY_COUNT;
        for (unsigned i = 0; i < nq; i++) {
            const route_ref_t *r = &routes[rng_below((unsigned)n)];
            fs_search_query_t *q = &queries[i];
            base_query(q, r->origin, r->destination);
            int32_t span = kind == 0 || kind >= 6 ? 1 : kind == 1 ? 7 : kind == 2 || kind == 5 ? 30 : 0;
            if (kind >= 4)
                q->max_stops = kind == 8 ? 2 : 1;
            if (kind == 5)
                fs_carrier_parse("UA", 2, &q->carriers[q->carrier_count++]);
            if (kind >= 6) { /* a destination one stop away: a route leaving r's destination */
                unsigned start = rng_below((unsigned)n);
                for (size_t k = 0; k < n; k++) {
                    const route_ref_t *r2 = &routes[(start + k) % n];
                    if (r2->origin == r->destination && r2->destination != r->origin) {
                        q->destinations[0] = r2->destination;
                        break;
                    }
                }
                q->limit = 50;
                if (kind == 7)
                    q->max_duration = 8 * 60;
            }
            if (kind == 3 || kind == 4) {
                q->start_day = 0;
                q->end_day = UINT16_MAX;
                continue;
            }
            q->start_day = draw_day(r, span);
            q->end_day = q->start_day + span - 1;
            if (kind == 0)
                q->cabin = FS_CABIN_ECONOMY;
        }
        double start = cpu_s(), elapsed;
        unsigned long k = 0;
        do {
            for (unsigned j = 0; j < nq; j++, k++) {
                const fs_search_query_t *q = &queries[j];
                if (kind <= 1 || kind >= 6) {
                    fs_search_result_t res;
                    fs_search(gen, q, page, &res);
                    checksum += res.total;
                    if (kind == 0) {
                        results += res.count;
                        empty += res.count == 0;
                    }
                } else if (kind == 2) {
                    fs_calendar(gen, q, cells);
                    checksum += cells[0].count;
                } else {
                    checksum += (uint64_t)fs_routes_from(gen, q->origins[0], q, summaries, FS_AIRPORT_COUNT);
                }
            }
            elapsed = cpu_s() - start;
        } while (elapsed < seconds);
        ops[kind] = k;
        ns[kind] = elapsed * 1e9 / (double)k;
        if (kind == 0)
            direct_ops = k;
    }
    uint64_t legs = gen->leg_count;
    fs_index_read_end(idx, &th);

    printf("{\"bench\": \"micro_index\", \"data\": \"%s\", \"legs\": %llu, \"routes\": %zu, \"index_bytes\": %zu, "
           "\"index_bytes_per_leg\": %.1f, \"%s_s\": %.3f, \"%s_legs_per_s\": %.0f, \"clock\": \"thread cpu\"",
           data_dir ? data_dir : "synthetic", (unsigned long long)legs, route_total, index_bytes,
           legs ? (double)index_bytes / (double)legs : 0.0, data_dir ? "load" : "build", build_s,
           data_dir ? "load" : "build", build_s > 0 ? (double)legs / build_s : 0.0);
    for (int kind = 0; kind < KINDS; kind++)
        printf(", \"%s_ns\": %.1f, \"%s_ops\": %lu", names[kind], ns[kind], names[kind], ops[kind]);
    printf(", \"direct_1day_results_mean\": %.2f, \"direct_1day_empty_share\": %.3f, \"checksum\": %llu}\n",
           (double)results / (double)direct_ops, (double)empty / (double)direct_ops, (unsigned long long)checksum);
    free(routes);
    free(queries);
    free(page);
    free(cells);
    free(summaries);
    fs_index_free(idx);
    return 0;
}
