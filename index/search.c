/*
 * index/search.c: the read side: search, calendar, routes explore.
 *
 * Nonstop. For every source and every (origin, destination) pair, only the legs of that route
 * whose day lies in the range are visited (a hash lookup and two binary searches), so the cost is
 * the number of legs that could match, not the size of the index.
 *
 * One stop (A -> X -> B). For every first leg A->X in range, the second legs X->B that can follow
 * it are those departing in [arrival + min_connection, arrival + max_connection] in UTC. Legs are
 * indexed by local date, and a local date is within -12h..+14h of UTC, so the candidates lie in
 * the local days covering that window widened by those offsets: two binary searches, then an
 * exact UTC check per candidate. Connections across midnight, time zones and the date line fall
 * out of working in UTC. Every source pair is tried (a connection may mix partners) unless
 * same_source.
 *
 * Two stops (A -> X -> Y -> B): the same, one connection further (two_stop below).
 *
 * Every match goes through emit(): search counts it into total and offers it to a bounded
 * max-heap of `limit` entries (O(matches * log(limit)), no allocation); calendar folds it into
 * its day and cabin cell.
 *
 * Order: the sort value (miles, departure in UTC, or duration), then departure in UTC, then the
 * fixed fields of each leg (index.h, fs_result_compare): numbers and the source's name, never a
 * formatted id, so a tie costs a few integer compares (a strcmp only between two sources): one
 * tied compare went from ~340 ns (two ids formatted) to ~4 ns, a search of 2,000 results tied on
 * miles and departure (limit 50) from ~1.1 ms to ~23 us. A cursor is the same key of the last
 * result of a page, with the source by name; the next page is every result strictly after it,
 * which needs no server-side state and holds across generations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "index/index.h"

/*
 * The time budget. Reading the clock costs ~20 ns (vDSO), a leg visit a few ns, so the clock is
 * read every 256 ticks: a search overruns its deadline by at most ~256 steps (microseconds). Every
 * loop whose length the query can grow ticks: airport pairs, sources, routes, first and second
 * legs (a query of 32 x 32 airports over 90 days with wide connection windows otherwise ran 2-50x
 * past its budget), and route explore's routes and legs.
 */
typedef struct budget {
    int64_t deadline_us;
    unsigned ticks;
    int expired;
} budget_t;

/* Counts n steps at once (a loop whose length is known before it runs); reads the clock when
 * the count crosses a multiple of 256. */
static int budget_spent_n(budget_t *b, unsigned n)
{
    if (b->expired)
        return 1;
    unsigned before = b->ticks;
    b->ticks += n;
    if (b->deadline_us == 0 || (before >> 8) == (b->ticks >> 8))
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    b->expired = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 > b->deadline_us;
    return b->expired;
}

static int budget_spent(budget_t *b)
{
    if (b->expired)
        return 1;
    if (b->deadline_us == 0 || (++b->ticks & 255) != 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    b->expired = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 > b->deadline_us;
    return b->expired;
}

void fs_search_query_init(fs_search_query_t *q)
{
    memset(q, 0, sizeof(*q));
    q->cabin = -1;
    q->seats = 1;
    q->min_connection = 60;
    q->max_connection = 720;
    q->depart_after = -1;
    q->depart_before = -1;
    q->sort = FS_SORT_MILES;
    q->limit = 50;
}

/* "<source>-<carrier><flight>-<origin>-<yyyymmdd>-<cabin letter>", written by hand (ids are on
 * every result of every answer; snprintf was a good part of their cost). Truncated to cap - 1
 * bytes and NUL-terminated, as snprintf would. */
static size_t leg_id(const fs_segment_t *seg, const fs_leg_t *l, unsigned cabin, char *out, size_t cap)
{
    char tmp[FS_ID_MAX + FS_SOURCE_NAME_MAX + 40], date[11], digits[10], *d = digits + sizeof(digits);
    size_t n = strnlen(seg->source, FS_SOURCE_NAME_MAX);
    unsigned flight = l->flight;

    memcpy(tmp, seg->source, n);
    tmp[n++] = '-';
    fs_carrier_format(l->carrier, tmp + n); /* always 2 characters */
    n += 2;
    do
        *--d = (char)('0' + flight % 10);
    while ((flight /= 10) != 0);
    memcpy(tmp + n, d, (size_t)(digits + sizeof(digits) - d));
    n += (size_t)(digits + sizeof(digits) - d);
    tmp[n++] = '-';
    fs_airport_format(l->origin, tmp + n); /* always 3 */
    n += 3;
    tmp[n++] = '-';
    fs_date_format(l->day, date); /* yyyymmdd: the date without its dashes */
    memcpy(tmp + n, date, 4);
    memcpy(tmp + n + 4, date + 5, 2);
    memcpy(tmp + n + 6, date + 8, 2);
    n += 8;
    tmp[n++] = '-';
    tmp[n++] = fs_cabin_letters[cabin];
    if (cap == 0)
        return 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, tmp, n);
    out[n] = '\0';
    return n;
}

/* A result's legs in order: 1 (nonstop), 2 (1 stop) or 3 (2 stops). */
static unsigned result_legs(const fs_result_t *r)
{
    return r->leg3 != NULL ? 3 : r->leg2 != NULL ? 2 : 1;
}

static const fs_leg_t *result_leg(const fs_result_t *r, unsigned i, const fs_segment_t **seg)
{
    *seg = i == 0 ? r->segment : i == 1 ? r->segment2 : r->segment3;
    return i == 0 ? r->leg : i == 1 ? r->leg2 : r->leg3;
}

size_t fs_result_id(const fs_result_t *r, char out[FS_ID_MAX])
{
    size_t n = 0;
    for (unsigned i = 0; i < result_legs(r) && n + 2 < FS_ID_MAX; i++) {
        const fs_segment_t *seg;
        const fs_leg_t *l = result_leg(r, i, &seg);
        if (i > 0)
            out[n++] = '+';
        n += leg_id(seg, l, r->leg_cabin[i], out + n, FS_ID_MAX - n);
    }
    return n;
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

/* A leg's fields after its source, as one number: fs_leg_key packs carrier, flight, origin and
 * date from the most significant end, which is their order in a tie. */
static uint64_t tie_key(const fs_leg_t *l)
{
    return fs_leg_key(l->carrier, l->flight, l->origin, l->day);
}

/* One leg against another: source name, then the key, then the cabin. Legs of one segment share
 * its name's storage, so the strcmp runs only between two sources. */
static int cmp_tie(const char *source_a, uint64_t key_a, unsigned cabin_a, const char *source_b, uint64_t key_b, unsigned cabin_b)
{
    if (source_a != source_b) {
        int c = strcmp(source_a, source_b);
        if (c != 0)
            return c;
    }
    if (key_a != key_b)
        return key_a < key_b ? -1 : 1;
    return (cabin_a > cabin_b) - (cabin_a < cabin_b);
}

int fs_result_compare(enum fs_sort sort, const fs_result_t *a, const fs_result_t *b)
{
    (void)sort; /* the sort is already folded into sort_value */
    int c = cmp_i64(a->sort_value, b->sort_value);
    if (c == 0)
        c = cmp_i64(a->departs_utc_min, b->departs_utc_min);
    unsigned na = result_legs(a), nb = result_legs(b);
    for (unsigned i = 0; c == 0; i++) {
        if (i >= na || i >= nb) /* a shorter itinerary before the longer ones that start with its legs */
            return (na > i) - (nb > i);
        const fs_segment_t *sa, *sb;
        const fs_leg_t *la = result_leg(a, i, &sa), *lb = result_leg(b, i, &sb);
        c = cmp_tie(sa->source, tie_key(la), a->leg_cabin[i], sb->source, tie_key(lb), b->leg_cabin[i]);
    }
    return c;
}

static uint64_t cursor_key(const fs_cursor_leg_t *l)
{
    return fs_leg_key(l->carrier, l->flight, l->origin, l->day);
}

static int compare_to_cursor(const fs_result_t *r, const fs_cursor_t *cur)
{
    int c = cmp_i64(r->sort_value, cur->sort_value);
    if (c == 0)
        c = cmp_i64(r->departs_utc_min, cur->departs_utc_min);
    unsigned n = result_legs(r);
    for (unsigned i = 0; c == 0; i++) {
        if (i >= n || i >= cur->leg_count)
            return (n > i) - (cur->leg_count > i);
        const fs_segment_t *seg;
        const fs_leg_t *l = result_leg(r, i, &seg);
        c = cmp_tie(seg->source, tie_key(l), r->leg_cabin[i], cur->legs[i].source, cursor_key(&cur->legs[i]), cur->legs[i].cabin);
    }
    return c;
}

static void cursor_leg_at(const fs_segment_t *seg, const fs_leg_t *l, unsigned cabin, fs_cursor_leg_t *out)
{
    size_t n = strnlen(seg->source, FS_SOURCE_NAME_MAX);
    memcpy(out->source, seg->source, n);
    out->source[n] = '\0';
    out->carrier = l->carrier;
    out->flight = l->flight;
    out->origin = l->origin;
    out->day = l->day;
    out->cabin = (uint8_t)cabin;
}

void fs_cursor_at(const fs_result_t *r, fs_cursor_t *out)
{
    memset(out, 0, sizeof(*out));
    out->present = 1;
    out->sort_value = r->sort_value;
    out->departs_utc_min = r->departs_utc_min;
    out->leg_count = result_legs(r);
    for (unsigned i = 0; i < out->leg_count; i++) {
        const fs_segment_t *seg;
        const fs_leg_t *l = result_leg(r, i, &seg);
        cursor_leg_at(seg, l, r->leg_cabin[i], &out->legs[i]);
    }
}

int fs_query_wants_source(const fs_search_query_t *q, const char *source)
{
    if (q->source_count == 0)
        return 1;
    for (unsigned i = 0; i < q->source_count; i++)
        if (strcmp(q->sources[i], source) == 0)
            return 1;
    return 0;
}

static int source_wanted(const fs_search_query_t *q, const fs_segment_t *seg)
{
    return fs_query_wants_source(q, seg->source);
}

static int carrier_wanted(const fs_search_query_t *q, fs_carrier_t carrier)
{
    if (q->carrier_count == 0)
        return 1;
    for (unsigned i = 0; i < q->carrier_count; i++)
        if (q->carriers[i] == carrier)
            return 1;
    return 0;
}

static int departure_wanted(const fs_search_query_t *q, const fs_leg_t *leg)
{
    return (q->depart_after < 0 || leg->dep_minute >= q->depart_after) && (q->depart_before < 0 || leg->dep_minute <= q->depart_before);
}

static int cabin_open(const fs_leg_t *leg, unsigned c, unsigned seats)
{
    return (leg->cabin_mask & (1u << c)) != 0 && FS_CABIN_SEATS(leg->cabin[c]) >= seats;
}

/* The cabin a leg takes in a mixed-cabin itinerary: the highest at or below `top` with seats. */
static int mixed_pick(const fs_leg_t *leg, int top, unsigned seats)
{
    for (int c = top; c >= 0; c--)
        if (cabin_open(leg, (unsigned)c, seats))
            return c;
    return -1;
}

static void set_sort_value(fs_result_t *r, enum fs_sort sort)
{
    r->sort_value = sort == FS_SORT_DEPARTURE ? r->departs_utc_min : sort == FS_SORT_DURATION ? (int64_t)r->duration_min : r->miles;
}

typedef void (*emit_fn)(void *arg, const fs_result_t *r);

/* ------------------------------------------------------------ nonstop */

static void nonstop(const fs_generation_t *gen, const fs_search_query_t *q, budget_t *b, emit_fn emit, void *arg)
{
    unsigned c0 = q->cabin < 0 ? 0 : (unsigned)q->cabin, c1 = q->cabin < 0 ? FS_CABIN_COUNT : (unsigned)q->cabin + 1;
    for (unsigned s = 0; s < gen->segment_count; s++) {
        const fs_segment_t *seg = gen->segments[s];
        if (!source_wanted(q, seg))
            continue;
        for (unsigned o = 0; o < q->origin_count; o++) {
            for (unsigned d = 0; d < q->destination_count; d++) {
                if (budget_spent(b))
                    return;
                const fs_route_t *route = fs_segment_route(seg, q->origins[o], q->destinations[d]);
                if (route == NULL)
                    continue;
                uint32_t i, end;
                fs_route_days(seg, route, q->start_day, q->end_day, &i, &end);
                for (; i < end; i++) {
                    const fs_leg_t *leg = &route->legs[i];
                    if (budget_spent(b))
                        return;
                    if (!carrier_wanted(q, leg->carrier) || !departure_wanted(q, leg) ||
                        (q->max_duration != 0 && leg->duration_min > q->max_duration))
                        continue;
                    for (unsigned c = c0; c < c1; c++) {
                        if (!cabin_open(leg, c, q->seats))
                            continue;
                        const fs_fare_t *fare = fs_segment_fare(seg, FS_CABIN_FARE(leg->cabin[c]));
                        fs_result_t r = {.segment = seg, .leg = leg, .cabin = (uint8_t)c, .leg_cabin = {(uint8_t)c, 0},
                                         .seats = (uint8_t)FS_CABIN_SEATS(leg->cabin[c]), .miles = fare->miles,
                                         .taxes_cents = fare->taxes_cents, .currency = fare->currency,
                                         .departs_utc_min = fs_leg_departs_utc_min(leg), .duration_min = leg->duration_min};
                        set_sort_value(&r, q->sort);
                        emit(arg, &r);
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------ one stop */

/* The cabins a connecting itinerary is searched in, [*c0, *c1): with mixed_cabin one itinerary in
 * which each leg takes its best cabin at or below the request (first when none is asked). */
static void connection_cabins(const fs_search_query_t *q, unsigned *c0, unsigned *c1)
{
    if (q->mixed_cabin) {
        *c0 = q->cabin < 0 ? FS_CABIN_FIRST : (unsigned)q->cabin;
        *c1 = *c0 + 1;
    } else {
        *c0 = q->cabin < 0 ? 0 : (unsigned)q->cabin;
        *c1 = q->cabin < 0 ? FS_CABIN_COUNT : (unsigned)q->cabin + 1;
    }
}

static void itinerary(const fs_search_query_t *q, const fs_segment_t *s1, const fs_leg_t *l1, const fs_segment_t *s2,
                      const fs_leg_t *l2, int64_t dep_utc, uint32_t duration, emit_fn emit, void *arg)
{
    unsigned c0, c1;
    connection_cabins(q, &c0, &c1);
    for (unsigned c = c0; c < c1; c++) {
        int k1 = (int)c, k2 = (int)c;
        if (q->mixed_cabin) {
            k1 = mixed_pick(l1, (int)c, q->seats);
            k2 = mixed_pick(l2, (int)c, q->seats);
            if (k1 < 0 || k2 < 0)
                continue;
        } else if (!cabin_open(l1, c, q->seats) || !cabin_open(l2, c, q->seats)) {
            continue;
        }
        const fs_fare_t *f1 = fs_segment_fare(s1, FS_CABIN_FARE(l1->cabin[k1])), *f2 = fs_segment_fare(s2, FS_CABIN_FARE(l2->cabin[k2]));
        if (f1->currency != f2->currency)
            continue; /* miles add up; taxes in two currencies do not */
        unsigned seats1 = FS_CABIN_SEATS(l1->cabin[k1]), seats2 = FS_CABIN_SEATS(l2->cabin[k2]);
        fs_result_t r = {.segment = s1, .leg = l1, .segment2 = s2, .leg2 = l2, .cabin = (uint8_t)(k1 < k2 ? k1 : k2),
                         .leg_cabin = {(uint8_t)k1, (uint8_t)k2}, .seats = (uint8_t)(seats1 < seats2 ? seats1 : seats2),
                         .miles = f1->miles + f2->miles, .taxes_cents = (uint64_t)f1->taxes_cents + f2->taxes_cents,
                         .currency = f1->currency, .departs_utc_min = dep_utc, .duration_min = duration};
        set_sort_value(&r, q->sort);
        emit(arg, &r);
    }
}

/* The routes of a segment leaving origin: [*lo, *hi) in seg->routes (sorted by origin). */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Whether a leg can be the first of any itinerary the query accepts on its own account: carrier,
 * departure time, a cabin itinerary() could take with the seats asked, and a duration that leaves
 * room for the shortest connection within max_duration. */
static int first_leg_wanted(const fs_search_query_t *q, const fs_leg_t *l1)
{
    if (!carrier_wanted(q, l1->carrier) || !departure_wanted(q, l1))
        return 0;
    /* an itinerary lasts at least the first leg plus min_connection (the second departs no
     * earlier than that, and lasts zero minutes or more) */
    if (q->max_duration != 0 && (uint64_t)l1->duration_min + q->min_connection > q->max_duration)
        return 0;
    if (q->mixed_cabin)
        return mixed_pick(l1, q->cabin < 0 ? FS_CABIN_FIRST : q->cabin, q->seats) >= 0;
    unsigned c0 = q->cabin < 0 ? 0 : (unsigned)q->cabin, c1 = q->cabin < 0 ? FS_CABIN_COUNT : (unsigned)q->cabin + 1;
    for (unsigned c = c0; c < c1; c++)
        if (cabin_open(l1, c, q->seats))
            return 1;
    return 0;
}

/* Second-leg routes (X->B, one per source) matched against one pass over a route's first legs: a
 * first leg is filtered once per 64 sources, not once per source (1-stop searches filtered every
 * A->X leg again for each source holding X->B). The array is 1 KB on the caller's stack. */
#define ONE_STOP_BATCH 64

static void one_stop(const fs_generation_t *gen, const fs_search_query_t *q, budget_t *budget, emit_fn emit, void *arg)
{
    struct {
        const fs_segment_t *seg;
        const fs_route_t *route;
    } second[ONE_STOP_BATCH];
    for (unsigned o = 0; o < q->origin_count; o++) {
        fs_airport_t a = q->origins[o];
        for (unsigned d = 0; d < q->destination_count; d++) {
            fs_airport_t b = q->destinations[d];
            if (a == b)
                continue;
            for (unsigned s1i = 0; s1i < gen->segment_count; s1i++) {
                const fs_segment_t *s1 = gen->segments[s1i];
                if (!source_wanted(q, s1))
                    continue;
                uint32_t r, rend;
                fs_segment_routes_from(s1, a, &r, &rend);
                for (; r < rend; r++) {
                    if (budget_spent(budget))
                        return;
                    const fs_route_t *r1 = &s1->routes[r];
                    fs_airport_t x = r1->destination;
                    if (x == b)
                        continue; /* that is the nonstop */
                    uint32_t i0, i1;
                    fs_route_days(s1, r1, q->start_day, q->end_day, &i0, &i1);
                    if (i0 == i1)
                        continue;
                    for (unsigned s2i = 0; s2i < gen->segment_count;) {
                        unsigned n2 = 0;
                        for (; s2i < gen->segment_count && n2 < ONE_STOP_BATCH; s2i++) {
                            if (budget_spent(budget))
                                return;
                            const fs_segment_t *s2 = gen->segments[s2i];
                            if ((q->same_source && s2 != s1) || !source_wanted(q, s2))
                                continue;
                            const fs_route_t *r2 = fs_segment_route(s2, x, b);
                            if (r2 != NULL) {
                                second[n2].seg = s2;
                                second[n2++].route = r2;
                            }
                        }
                        for (uint32_t i = i0; i < i1 && n2 > 0; i++) {
                            const fs_leg_t *l1 = &r1->legs[i];
                            if (budget_spent(budget))
                                return;
                            if (!first_leg_wanted(q, l1))
                                continue;
                            int64_t dep1 = fs_leg_departs_utc_min(l1), arr1 = dep1 + l1->duration_min;
                            int64_t lo = arr1 + q->min_connection, hi = arr1 + q->max_connection;
                            if (q->max_duration != 0 && hi > dep1 + q->max_duration)
                                hi = dep1 + q->max_duration; /* a later second leg arrives too late */
                            for (unsigned k = 0; k < n2; k++) {
                                const fs_segment_t *s2 = second[k].seg;
                                const fs_route_t *r2 = second[k].route;
                                uint32_t j, jend;
                                fs_route_days(s2, r2, (int32_t)floor_div(lo + FS_MIN_OFFSET_MIN, 1440),
                                              (int32_t)floor_div(hi + FS_MAX_OFFSET_MIN, 1440), &j, &jend);
                                /* the second legs are counted as one block: a tick per leg cost
                                 * 1-stop searches 3-4% in the bench; one block is at most the legs
                                 * of a route over the connection window's days */
                                if (budget_spent_n(budget, jend - j))
                                    return;
                                for (; j < jend; j++) {
                                    const fs_leg_t *l2 = &r2->legs[j];
                                    int64_t dep2 = fs_leg_departs_utc_min(l2);
                                    if (dep2 < lo || dep2 > hi || !carrier_wanted(q, l2->carrier))
                                        continue;
                                    int64_t duration = dep2 + l2->duration_min - dep1;
                                    if (q->max_duration != 0 && duration > q->max_duration)
                                        continue;
                                    itinerary(q, s1, l1, s2, l2, dep1, (uint32_t)duration, emit, arg);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------ two stops */

static void itinerary3(const fs_search_query_t *q, const fs_segment_t *const seg[3], const fs_leg_t *const leg[3], int64_t dep_utc,
                       uint32_t duration, emit_fn emit, void *arg)
{
    unsigned c0, c1;
    connection_cabins(q, &c0, &c1);
    for (unsigned c = c0; c < c1; c++) {
        int k[3];
        const fs_fare_t *f[3];
        unsigned seats = 255, lowest = c, ok = 1;
        for (unsigned i = 0; i < 3 && ok; i++) {
            k[i] = q->mixed_cabin ? mixed_pick(leg[i], (int)c, q->seats) : cabin_open(leg[i], c, q->seats) ? (int)c : -1;
            if (k[i] < 0) {
                ok = 0;
                break;
            }
            f[i] = fs_segment_fare(seg[i], FS_CABIN_FARE(leg[i]->cabin[k[i]]));
            ok = i == 0 || f[i]->currency == f[0]->currency; /* miles add up; taxes in two currencies do not */
            unsigned s = FS_CABIN_SEATS(leg[i]->cabin[k[i]]);
            seats = s < seats ? s : seats;
            lowest = (unsigned)k[i] < lowest ? (unsigned)k[i] : lowest;
        }
        if (!ok)
            continue;
        fs_result_t r = {.segment = seg[0], .leg = leg[0], .segment2 = seg[1], .leg2 = leg[1], .segment3 = seg[2], .leg3 = leg[2],
                         .cabin = (uint8_t)lowest, .leg_cabin = {(uint8_t)k[0], (uint8_t)k[1], (uint8_t)k[2]}, .seats = (uint8_t)seats,
                         .miles = f[0]->miles + f[1]->miles + f[2]->miles,
                         .taxes_cents = (uint64_t)f[0]->taxes_cents + f[1]->taxes_cents + f[2]->taxes_cents,
                         .currency = f[0]->currency, .departs_utc_min = dep_utc, .duration_min = duration};
        set_sort_value(&r, q->sort);
        emit(arg, &r);
    }
}

/* The legs of a route that depart within [lo, hi] minutes UTC: the local days that can hold them
 * (a local date is within FS_MIN_OFFSET_MIN..FS_MAX_OFFSET_MIN of UTC), as [*j, *jend). */
static void window_legs(const fs_segment_t *seg, const fs_route_t *route, int64_t lo, int64_t hi, uint32_t *j, uint32_t *jend)
{
    fs_route_days(seg, route, (int32_t)floor_div(lo + FS_MIN_OFFSET_MIN, 1440), (int32_t)floor_div(hi + FS_MAX_OFFSET_MIN, 1440), j,
                  jend);
}

/* Marks in reach (FS_AIRPORT_COUNT bits) every airport with a route to b in a wanted source: one
 * pass over the route tables, budget ticked per route. 0, or 1 when the budget ran out. */
static int airports_reaching(const fs_generation_t *gen, const fs_search_query_t *q, fs_airport_t b, uint64_t *reach,
                             budget_t *budget)
{
    memset(reach, 0, (FS_AIRPORT_COUNT + 63) / 64 * sizeof(uint64_t));
    for (unsigned s = 0; s < gen->segment_count; s++) {
        const fs_segment_t *seg = gen->segments[s];
        if (!source_wanted(q, seg))
            continue;
        if (budget_spent_n(budget, seg->route_count))
            return 1;
        for (uint32_t r = 0; r < seg->route_count; r++)
            if (seg->routes[r].destination == b)
                reach[seg->routes[r].origin / 64] |= 1ull << (seg->routes[r].origin % 64);
    }
    return 0;
}

/*
 * A -> X -> Y -> B, X and Y distinct from each other and from A and B. The airports with a route
 * to B are found first (one pass over the route tables), so a middle route X->Y whose Y cannot
 * reach B costs one bit test; the first legs are those of every route A->X in the date range, as
 * for one stop; for each middle route that can, the third route Y->B is looked up per source
 * before any leg is visited. Then, per first leg, the middle legs in its connection window, and
 * per middle leg the last legs in theirs. A partial itinerary already past max_duration stops
 * there. Every loop ticks the budget (the legs of a window as one block, as one_stop does).
 */
static void two_stop(const fs_generation_t *gen, const fs_search_query_t *q, budget_t *budget, emit_fn emit, void *arg)
{
    uint64_t reach[(FS_AIRPORT_COUNT + 63) / 64];
    for (unsigned o = 0; o < q->origin_count; o++) {
        fs_airport_t a = q->origins[o];
        for (unsigned d = 0; d < q->destination_count; d++) {
            fs_airport_t b = q->destinations[d];
            if (a == b)
                continue;
            if (airports_reaching(gen, q, b, reach, budget))
                return;
            for (unsigned s1i = 0; s1i < gen->segment_count; s1i++) {
                const fs_segment_t *s1 = gen->segments[s1i];
                if (!source_wanted(q, s1))
                    continue;
                uint32_t r, rend;
                fs_segment_routes_from(s1, a, &r, &rend);
                for (; r < rend; r++) {
                    if (budget_spent(budget))
                        return;
                    const fs_route_t *r1 = &s1->routes[r];
                    fs_airport_t x = r1->destination;
                    if (x == b || x == a)
                        continue;
                    uint32_t i0, i1;
                    fs_route_days(s1, r1, q->start_day, q->end_day, &i0, &i1);
                    if (i0 == i1)
                        continue;
                    for (unsigned s2i = 0; s2i < gen->segment_count; s2i++) {
                        const fs_segment_t *s2 = gen->segments[s2i];
                        if ((q->same_source && s2 != s1) || !source_wanted(q, s2))
                            continue;
                        uint32_t m, mend;
                        fs_segment_routes_from(s2, x, &m, &mend);
                        for (; m < mend; m++) {
                            const fs_route_t *r2 = &s2->routes[m];
                            fs_airport_t y = r2->destination;
                            if (y == a || y == b || y == x || !(reach[y / 64] & (1ull << (y % 64))))
                                continue;
                            for (unsigned s3i = 0; s3i < gen->segment_count; s3i++) {
                                if (budget_spent(budget))
                                    return;
                                const fs_segment_t *s3 = gen->segments[s3i];
                                if ((q->same_source && s3 != s1) || !source_wanted(q, s3))
                                    continue;
                                const fs_route_t *r3 = fs_segment_route(s3, y, b);
                                if (r3 == NULL)
                                    continue;
                                const fs_segment_t *const segs[3] = {s1, s2, s3};
                                for (uint32_t i = i0; i < i1; i++) {
                                    const fs_leg_t *l1 = &r1->legs[i];
                                    if (budget_spent(budget))
                                        return;
                                    if (!carrier_wanted(q, l1->carrier) || !departure_wanted(q, l1))
                                        continue;
                                    int64_t dep1 = fs_leg_departs_utc_min(l1), arr1 = dep1 + l1->duration_min;
                                    int64_t lo2 = arr1 + q->min_connection, hi2 = arr1 + q->max_connection;
                                    uint32_t j, jend;
                                    window_legs(s2, r2, lo2, hi2, &j, &jend);
                                    if (budget_spent_n(budget, jend - j))
                                        return;
                                    for (; j < jend; j++) {
                                        const fs_leg_t *l2 = &r2->legs[j];
                                        int64_t dep2 = fs_leg_departs_utc_min(l2), arr2 = dep2 + l2->duration_min;
                                        if (dep2 < lo2 || dep2 > hi2 || !carrier_wanted(q, l2->carrier) ||
                                            (q->max_duration != 0 && arr2 - dep1 > q->max_duration))
                                            continue;
                                        int64_t lo3 = arr2 + q->min_connection, hi3 = arr2 + q->max_connection;
                                        uint32_t k, kend;
                                        window_legs(s3, r3, lo3, hi3, &k, &kend);
                                        if (budget_spent_n(budget, kend - k))
                                            return;
                                        for (; k < kend; k++) {
                                            const fs_leg_t *l3 = &r3->legs[k];
                                            int64_t dep3 = fs_leg_departs_utc_min(l3);
                                            if (dep3 < lo3 || dep3 > hi3 || !carrier_wanted(q, l3->carrier))
                                                continue;
                                            int64_t duration = dep3 + l3->duration_min - dep1;
                                            if (q->max_duration != 0 && duration > q->max_duration)
                                                continue;
                                            const fs_leg_t *const legs[3] = {l1, l2, l3};
                                            itinerary3(q, segs, legs, dep1, (uint32_t)duration, emit, arg);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/* Returns 0, or FS_ETIMEDOUT when the budget ran out before every result was emitted. */
static int each_result(const fs_generation_t *gen, const fs_search_query_t *q, emit_fn emit, void *arg)
{
    budget_t b = {.deadline_us = q->deadline_us};
    nonstop(gen, q, &b, emit, arg);
    if (q->max_stops >= 1 && !b.expired)
        one_stop(gen, q, &b, emit, arg);
    if (q->max_stops >= 2 && !b.expired)
        two_stop(gen, q, &b, emit, arg);
    return b.expired ? FS_ETIMEDOUT : 0;
}

int fs_search_each(const fs_generation_t *gen, const fs_search_query_t *q, void (*fn)(void *arg, const fs_result_t *r),
                   void *arg)
{
    return each_result(gen, q, fn, arg);
}

int fs_result_compare_cursor(const fs_result_t *r, const fs_cursor_t *cur)
{
    return compare_to_cursor(r, cur);
}

/* -------------------------------------------------------------- search */

/* The heap keeps the `limit` best results seen so far, the worst of them at the root. */
typedef struct page_heap {
    fs_result_t *items;
    unsigned count, cap;
    enum fs_sort sort;
} page_heap_t;

static void heap_swap(fs_result_t *a, fs_result_t *b)
{
    fs_result_t t = *a;
    *a = *b;
    *b = t;
}

static void heap_sift_down(page_heap_t *h, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, worst = i;
        if (l < h->count && fs_result_compare(h->sort, &h->items[l], &h->items[worst]) > 0)
            worst = l;
        if (r < h->count && fs_result_compare(h->sort, &h->items[r], &h->items[worst]) > 0)
            worst = r;
        if (worst == i)
            return;
        heap_swap(&h->items[i], &h->items[worst]);
        i = worst;
    }
}

static void heap_offer(page_heap_t *h, const fs_result_t *r)
{
    if (h->count < h->cap) {
        unsigned i = h->count++;
        h->items[i] = *r;
        while (i > 0) {
            unsigned parent = (i - 1) / 2;
            if (fs_result_compare(h->sort, &h->items[i], &h->items[parent]) <= 0)
                break;
            heap_swap(&h->items[i], &h->items[parent]);
            i = parent;
        }
    } else if (h->cap > 0 && fs_result_compare(h->sort, r, &h->items[0]) < 0) {
        h->items[0] = *r;
        heap_sift_down(h, 0);
    }
}

static int result_qsort_cmp(const void *a, const void *b)
{
    return fs_result_compare(FS_SORT_MILES, a, b);
}

typedef struct search_state {
    const fs_search_query_t *q;
    page_heap_t heap;
    uint64_t total;
    uint64_t after_cursor;
} search_state_t;

static void search_emit(void *arg, const fs_result_t *r)
{
    search_state_t *st = arg;
    st->total++;
    if (st->q->cursor.present && compare_to_cursor(r, &st->q->cursor) <= 0)
        return;
    st->after_cursor++;
    heap_offer(&st->heap, r);
}

int fs_search(const fs_generation_t *gen, const fs_search_query_t *q, fs_result_t *results, fs_search_result_t *out)
{
    search_state_t st = {.q = q, .heap = {.items = results, .count = 0, .cap = q->limit, .sort = q->sort}};
    if (each_result(gen, q, search_emit, &st) != 0) {
        out->results = results;
        out->count = 0;
        out->total = 0;
        out->has_more = 0;
        return FS_ETIMEDOUT;
    }
    qsort(results, st.heap.count, sizeof(*results), result_qsort_cmp);
    out->results = results;
    out->count = st.heap.count;
    out->total = st.total;
    out->has_more = st.after_cursor > st.heap.count;
    return 0;
}

/* ------------------------------------------------------------ calendar */

typedef struct calendar_state {
    const fs_search_query_t *q;
    fs_calendar_cell_t *cells;
} calendar_state_t;

static void calendar_emit(void *arg, const fs_result_t *r)
{
    calendar_state_t *st = arg;
    fs_calendar_cell_t *cell = &st->cells[(size_t)((int32_t)r->leg->day - st->q->start_day) * FS_CABIN_COUNT + r->cabin];
    if (cell->count == 0 || r->miles < cell->min_miles)
        cell->min_miles = r->miles;
    if (r->seats > cell->max_seats)
        cell->max_seats = r->seats;
    cell->count++;
}

int fs_calendar(const fs_generation_t *gen, const fs_search_query_t *q, fs_calendar_cell_t *cells)
{
    size_t days = (size_t)(q->end_day - q->start_day + 1); /* NOLINT(bugprone-misplaced-widening-cast): end >= start */
    memset(cells, 0, days * FS_CABIN_COUNT * sizeof(*cells));
    calendar_state_t st = {.q = q, .cells = cells};
    return each_result(gen, q, calendar_emit, &st);
}

/* -------------------------------------------------------------- routes */

static int summary_cmp(const void *a, const void *b)
{
    const fs_route_summary_t *x = a, *y = b;
    return (int)x->destination - (int)y->destination;
}

/* What fs_routes_from builds: the summaries so far, and where each destination's is (a linear
 * scan per route made explore from a hub quadratic in its destinations). Only has[] (2.2 KB) is
 * cleared per call, not at[] (35 KB): clearing at[] was a third of an explore once the route
 * table answered it (720 -> 476 ns per explore in micro_index). */
typedef struct summaries {
    fs_route_summary_t *out;
    unsigned n, max;
    uint64_t has[(FS_AIRPORT_COUNT + 63) / 64]; /* bit a: at[a] is set */
    uint16_t at[FS_AIRPORT_COUNT]; /* index in out, valid where has[] says so */
    budget_t budget;
} summaries_t;

/* The index in sum->out of destination's summary, or -1. */
static int summary_at(const summaries_t *sum, fs_airport_t destination)
{
    return (sum->has[destination >> 6] >> (destination & 63)) & 1 ? sum->at[destination] : -1;
}

/* Adds legs of one route (filtered) to the summary of its destination. */
static int add_summary(const fs_segment_t *seg, const fs_route_t *route, fs_airport_t destination, const fs_search_query_t *filter,
                       summaries_t *sum, int stops, int count_legs)
{
    int at = summary_at(sum, destination);
    if (at >= 0 && sum->out[at].stops < stops)
        return 0; /* already reachable with fewer stops: nothing of this route can show */
    uint64_t legs = 0;
    int32_t first = -1, last = -1;
    uint32_t i = 0, end = route->count;
    if (filter != NULL && filter->carrier_count != 0 && route->carrier != FS_ROUTE_CARRIERS_MIXED &&
        !carrier_wanted(filter, route->carrier))
        return 0; /* one carrier flies the route, not one asked for */
    if (filter != NULL)
        fs_route_days(seg, route, filter->start_day, filter->end_day, &i, &end);
    /* a route one carrier flies has every leg or none of them wanted by a carrier filter */
    if (filter == NULL || filter->carrier_count == 0 || route->carrier != FS_ROUTE_CARRIERS_MIXED) {
        /* legs are sorted by day within a route: the count and the first and last days come from
         * the range alone (202 us -> a few hundred ns per route on 10M legs in the bench), and
         * from the route table alone when the range holds the whole route (no date filter, as
         * /v1/routes asks by default): explore then reads no leg at all */
        if (i < end) {
            legs = end - i;
            first = i == 0 ? route->first_day : route->legs[i].day;
            last = end == route->count ? route->last_day : route->legs[end - 1].day;
        }
    } else if (!count_legs) {
        /* a 1-stop summary has no leg count: the first matching leg from each end is enough */
        for (; i < end; i++) {
            if (budget_spent(&sum->budget))
                return FS_ETIMEDOUT;
            if (carrier_wanted(filter, route->legs[i].carrier))
                break;
        }
        if (i < end) {
            first = route->legs[i].day;
            while (!carrier_wanted(filter, route->legs[end - 1].carrier)) {
                if (budget_spent(&sum->budget))
                    return FS_ETIMEDOUT;
                end--;
            }
            last = route->legs[end - 1].day;
            legs = 1;
        }
    } else {
        for (; i < end; i++) {
            const fs_leg_t *leg = &route->legs[i];
            if (budget_spent(&sum->budget))
                return FS_ETIMEDOUT;
            if (!carrier_wanted(filter, leg->carrier))
                continue;
            if (first < 0)
                first = leg->day;
            last = leg->day;
            legs++;
        }
    }
    if (legs == 0)
        return 0;
    fs_route_summary_t *out = sum->out;
    unsigned k;
    if (at >= 0) {
        k = (unsigned)at;
    } else {
        if (sum->n == sum->max)
            return FS_ERANGE;
        k = sum->n++;
        sum->at[destination] = (uint16_t)k;
        sum->has[destination >> 6] |= 1ull << (destination & 63);
        out[k] = (fs_route_summary_t){.destination = destination, .legs = 0, .first_day = first, .last_day = last, .stops = stops};
    }
    if (stops < out[k].stops) { /* a nonstop found after a 1-stop summary: the nonstop defines it */
        out[k] = (fs_route_summary_t){.destination = destination, .legs = 0, .first_day = first, .last_day = last, .stops = stops};
    } else if (stops > out[k].stops) {
        return 0; /* already reachable nonstop */
    }
    if (count_legs)
        out[k].legs += legs;
    if (first < out[k].first_day)
        out[k].first_day = first;
    if (last > out[k].last_day)
        out[k].last_day = last;
    return 0;
}

int fs_routes_from(const fs_generation_t *gen, fs_airport_t origin, const fs_search_query_t *filter,
                   fs_route_summary_t *out, unsigned max)
{
    summaries_t sum; /* ~35 KB on the caller's stack: explore runs on event-loop threads with 8 MB */
    memset(sum.has, 0, sizeof(sum.has));
    sum.out = out;
    sum.n = 0;
    sum.max = max;
    sum.budget = (budget_t){.deadline_us = filter != NULL ? filter->deadline_us : 0};
    for (unsigned s = 0; s < gen->segment_count; s++) {
        const fs_segment_t *seg = gen->segments[s];
        if (filter != NULL && !source_wanted(filter, seg))
            continue;
        uint32_t r, rend;
        fs_segment_routes_from(seg, origin, &r, &rend);
        for (; r < rend; r++) {
            if (budget_spent(&sum.budget))
                return FS_ETIMEDOUT;
            int rc = add_summary(seg, &seg->routes[r], seg->routes[r].destination, filter, &sum, 0, 1);
            if (rc != 0)
                return rc;
        }
    }
    if (filter != NULL && filter->max_stops >= 1) {
        /* one stop: B is reachable when some A->X and X->B routes exist (schedules not matched:
         * explore shows where one can go; search says when). Dates are the X->B legs'. */
        unsigned nonstop_count = sum.n;
        for (unsigned k = 0; k < nonstop_count; k++) {
            fs_airport_t x = out[k].destination;
            for (unsigned s = 0; s < gen->segment_count; s++) {
                const fs_segment_t *seg = gen->segments[s];
                if (!source_wanted(filter, seg))
                    continue;
                uint32_t r, rend;
                fs_segment_routes_from(seg, x, &r, &rend);
                for (; r < rend; r++) {
                    if (budget_spent(&sum.budget))
                        return FS_ETIMEDOUT;
                    fs_airport_t b = seg->routes[r].destination;
                    if (b == origin)
                        continue;
                    int rc = add_summary(seg, &seg->routes[r], b, filter, &sum, 1, 0);
                    if (rc != 0)
                        return rc;
                }
            }
        }
    }
    qsort(out, sum.n, sizeof(*out), summary_cmp);
    return (int)sum.n;
}
