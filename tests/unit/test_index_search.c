/*
 * The index against brute force: random legs over a few airports, sources and days; random
 * queries; every answer (page contents and order, totals, cursor paging, calendar cells, route
 * summaries) compared with an enumeration written here, independently of index/search.c. Ids,
 * UTC times and dates are computed here with libc's gmtime, not with the project's helpers.
 */
#include <stdlib.h>
#include <time.h>
#include "index/index.h"
#include "tests/test.h"

#define NSRC 3
#define NAIRPORTS 5
#define NLEGS 1500
#define BASE_DAY 20600 /* 2026-05-27 */

static const char *const src_names[NSRC] = {"alpha", "beta_2", "c-3"};
static const char *const airport_codes[NAIRPORTS] = {"GRU", "LIS", "JFK", "LHR", "NRT"};
static const char *const carrier_codes[3] = {"TP", "G3", "2X"};
static const char cabin_letter[4] = {'Y', 'W', 'J', 'F'};

typedef struct tleg {
    int src, origin, dest, carrier, flight;
    int day, minute, dep_off, dur, arr_off;
    unsigned mask;
    int seats[4], miles[4], taxes[4];
} tleg_t;

static tleg_t legs[NLEGS];
static unsigned long long rng = 0x12345678abcdefull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void ymd(int day, char out[9])
{
    time_t t = (time_t)day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 9, "%Y%m%d", &tm);
}

static long long dep_utc(const tleg_t *l)
{
    return (long long)l->day * 1440 + l->minute - l->dep_off;
}

typedef struct expect {
    const tleg_t *leg;
    int cabin;
    long long sortv, dep;
    char id[96];
} expect_t;

/* docs/api.md "Order": after the sort value and the departure, source name, carrier code, flight
 * number, origin code, date, cabin (economy first); codes as text, numbers as numbers. */
static int leg_cmp(const tleg_t *a, int ca, const tleg_t *b, int cb)
{
    int c = strcmp(src_names[a->src], src_names[b->src]);
    if (c == 0)
        c = strcmp(carrier_codes[a->carrier], carrier_codes[b->carrier]);
    if (c == 0)
        c = (a->flight > b->flight) - (a->flight < b->flight);
    if (c == 0)
        c = strcmp(airport_codes[a->origin], airport_codes[b->origin]);
    if (c == 0)
        c = (a->day > b->day) - (a->day < b->day);
    if (c == 0)
        c = (ca > cb) - (ca < cb);
    return c;
}

static int expect_cmp(const void *a, const void *b)
{
    const expect_t *x = a, *y = b;
    if (x->sortv != y->sortv)
        return x->sortv < y->sortv ? -1 : 1;
    if (x->dep != y->dep)
        return x->dep < y->dep ? -1 : 1;
    return leg_cmp(x->leg, x->cabin, y->leg, y->cabin);
}

typedef struct tquery {
    int origins[3], no, dests[3], nd;
    int start, end, cabin, seats, src_filter, carrier_filter, sort, limit;
} tquery_t;

static int in_list(const int *list, int n, int v)
{
    for (int i = 0; i < n; i++)
        if (list[i] == v)
            return 1;
    return 0;
}

/* Every (leg, cabin) the query matches, sorted. */
static size_t brute_force(const tquery_t *q, expect_t *out)
{
    size_t n = 0;
    for (int i = 0; i < NLEGS; i++) {
        const tleg_t *l = &legs[i];
        if (!in_list(q->origins, q->no, l->origin) || !in_list(q->dests, q->nd, l->dest))
            continue;
        if (l->day < q->start || l->day > q->end)
            continue;
        if (q->src_filter >= 0 && l->src != q->src_filter)
            continue;
        if (q->carrier_filter >= 0 && l->carrier != q->carrier_filter)
            continue;
        for (int c = 0; c < 4; c++) {
            if (q->cabin >= 0 && c != q->cabin)
                continue;
            if (!(l->mask & (1u << c)) || l->seats[c] < q->seats)
                continue;
            expect_t *e = &out[n++];
            e->leg = l;
            e->cabin = c;
            e->dep = dep_utc(l);
            e->sortv = q->sort == 0 ? l->miles[c] : q->sort == 1 ? e->dep : l->dur;
            char date[16];
            ymd(l->day, date);
            snprintf(e->id, sizeof(e->id), "%s-%s%d-%s-%s-%c", src_names[l->src], carrier_codes[l->carrier], l->flight,
                     airport_codes[l->origin], date, cabin_letter[c]);
        }
    }
    qsort(out, n, sizeof(*out), expect_cmp);
    return n;
}

static void to_index_query(const tquery_t *t, fs_search_query_t *q)
{
    fs_search_query_init(q);
    for (int i = 0; i < t->no; i++)
        fs_airport_parse(airport_codes[t->origins[i]], 3, &q->origins[q->origin_count++]);
    for (int i = 0; i < t->nd; i++)
        fs_airport_parse(airport_codes[t->dests[i]], 3, &q->destinations[q->destination_count++]);
    q->start_day = t->start;
    q->end_day = t->end;
    q->cabin = t->cabin;
    q->seats = (unsigned)t->seats;
    if (t->src_filter >= 0) {
        strcpy(q->sources[0], src_names[t->src_filter]);
        q->source_count = 1;
    }
    if (t->carrier_filter >= 0) {
        fs_carrier_parse(carrier_codes[t->carrier_filter], 2, &q->carriers[0]);
        q->carrier_count = 1;
    }
    q->sort = t->sort == 0 ? FS_SORT_MILES : t->sort == 1 ? FS_SORT_DEPARTURE : FS_SORT_DURATION;
    q->limit = (unsigned)t->limit;
}

static void random_query(tquery_t *t)
{
    memset(t, 0, sizeof(*t));
    t->no = 1 + (int)rnd(2);
    t->nd = 1 + (int)rnd(3);
    for (int i = 0; i < t->no; i++)
        t->origins[i] = (int)rnd(NAIRPORTS);
    for (int i = 0; i < t->nd; i++)
        t->dests[i] = (int)rnd(NAIRPORTS);
    /* the index dedupes repeated codes at parse time; keep the lists distinct here */
    if (t->no == 2 && t->origins[0] == t->origins[1])
        t->no = 1;
    for (int i = 1; i < t->nd; i++)
        if (in_list(t->dests, i, t->dests[i]))
            t->dests[i--] = t->dests[--t->nd];
    t->start = BASE_DAY - 2 + (int)rnd(24);
    t->end = t->start + (int)rnd(8);
    t->cabin = rnd(3) == 0 ? -1 : (int)rnd(4);
    t->seats = 1 + (int)rnd(3);
    t->src_filter = rnd(4) == 0 ? (int)rnd(NSRC) : -1;
    t->carrier_filter = rnd(4) == 0 ? (int)rnd(3) : -1;
    t->sort = (int)rnd(3);
    t->limit = 1 + (int)rnd(12);
}

static void make_legs(void)
{
    int next_flight[NSRC] = {1, 1, 1};
    for (int i = 0; i < NLEGS; i++) {
        tleg_t *l = &legs[i];
        l->src = (int)rnd(NSRC);
        l->origin = (int)rnd(NAIRPORTS);
        do
            l->dest = (int)rnd(NAIRPORTS);
        while (l->dest == l->origin);
        l->carrier = (int)rnd(3);
        l->flight = next_flight[l->src]++; /* unique per source: no duplicate keys */
        l->day = BASE_DAY + (int)rnd(20);
        l->minute = (int)rnd(8) * 180 + (int)rnd(2) * 5; /* few distinct times: ties happen */
        l->dep_off = ((int)rnd(105) - 48) * 15;         /* -12:00 .. +14:00 */
        l->arr_off = ((int)rnd(105) - 48) * 15;
        l->dur = 30 + (int)rnd(6) * 120;
        do
            l->mask = rnd(16);
        while (l->mask == 0);
        for (int c = 0; c < 4; c++) {
            l->seats[c] = (int)rnd(5);
            l->miles[c] = 10000 + (int)rnd(4) * 5000; /* few distinct prices: ties happen */
            l->taxes[c] = (int)rnd(100000);
        }
    }
}

static fs_leg_in_t to_leg_in(const tleg_t *l)
{
    fs_leg_in_t in;
    memset(&in, 0, sizeof(in));
    fs_carrier_parse(carrier_codes[l->carrier], 2, &in.carrier);
    in.flight = (uint16_t)l->flight;
    fs_airport_parse(airport_codes[l->origin], 3, &in.origin);
    fs_airport_parse(airport_codes[l->dest], 3, &in.destination);
    in.departs = (fs_localtime_t){l->day, (uint16_t)l->minute, (int16_t)l->dep_off};
    long long arr = dep_utc(l) + l->dur + l->arr_off; /* local arrival, minutes since epoch */
    long long aday = arr >= 0 ? arr / 1440 : (arr - 1439) / 1440;
    in.arrives = (fs_localtime_t){(int32_t)aday, (uint16_t)(arr - aday * 1440), (int16_t)l->arr_off};
    in.cabin_mask = (uint8_t)l->mask;
    fs_currency_parse("BRL", 3, &in.fare[0].currency);
    for (int c = 0; c < 4; c++) {
        in.seats[c] = (uint8_t)l->seats[c];
        in.fare[c].miles = (uint32_t)l->miles[c];
        in.fare[c].taxes_cents = (uint32_t)l->taxes[c];
        in.fare[c].currency = in.fare[0].currency;
    }
    in.last_seen = 1790000000;
    return in;
}

static void check_result(const fs_result_t *r, const expect_t *e)
{
    char id[FS_ID_MAX];
    fs_result_id(r, id);
    CHECK_EQ_STR(id, e->id);
    CHECK_EQ_INT(r->miles, e->leg->miles[e->cabin]);
    CHECK_EQ_INT(r->seats, e->leg->seats[e->cabin]);
    CHECK_EQ_INT(r->taxes_cents, e->leg->taxes[e->cabin]);
    CHECK_EQ_INT(r->leg->duration_min, e->leg->dur);
    CHECK_EQ_INT(fs_leg_departs_utc_min(r->leg), e->dep);
}

int main(void)
{
    make_legs();
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t th;
    fs_index_thread_register(idx, &th);

    /* one segment per source, fed in random order (the builder must sort) */
    for (int s = 0; s < NSRC; s++) {
        fs_segment_builder_t *b = fs_segment_builder_new(src_names[s], 7, 1790000000);
        for (int i = 0; i < NLEGS; i++) {
            if (legs[i].src != s)
                continue;
            fs_leg_in_t in = to_leg_in(&legs[i]);
            CHECK_EQ_INT(fs_segment_builder_add(b, &in), 0);
        }
        fs_segment_t *seg = fs_segment_builder_finish(b, 0);
        CHECK(seg != NULL);
        CHECK_EQ_INT(fs_index_publish_segment(idx, &th, seg), s + 1);
    }

    static expect_t expected[NLEGS * 4];
    static fs_result_t page[FS_SEARCH_MAX_LIMIT];
    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    CHECK_EQ_INT(gen->segment_count, NSRC);
    CHECK_EQ_INT(gen->leg_count, NLEGS);
    /* fares are interned: each segment's table holds exactly the distinct (miles, taxes) pairs of
     * its present cabins (one currency here), counted here by pairwise comparison */
    for (int src = 0; src < NSRC; src++) {
        static long long seen[NLEGS * 4][2];
        unsigned distinct = 0;
        for (int i = 0; i < NLEGS; i++) {
            if (legs[i].src != src)
                continue;
            for (int c = 0; c < 4; c++) {
                if (!(legs[i].mask & (1u << c)))
                    continue;
                unsigned k = 0;
                while (k < distinct && !(seen[k][0] == legs[i].miles[c] && seen[k][1] == legs[i].taxes[c]))
                    k++;
                if (k == distinct) {
                    seen[distinct][0] = legs[i].miles[c];
                    seen[distinct][1] = legs[i].taxes[c];
                    distinct++;
                }
            }
        }
        const fs_segment_t *seg = fs_generation_source(gen, src_names[src]);
        CHECK(seg != NULL && seg->fare_count == distinct);
    }
    unsigned nonempty = 0, multipage = 0;
    for (int iter = 0; iter < 400; iter++) {
        tquery_t t;
        random_query(&t);
        size_t n = brute_force(&t, expected);
        nonempty += n > 0;
        fs_search_query_t q;
        to_index_query(&t, &q);
        /* walk every page with the cursor and compare the concatenation with brute force */
        size_t seen = 0;
        for (int pageno = 0; pageno < 10000; pageno++) {
            fs_search_result_t res;
            CHECK_EQ_INT(fs_search(gen, &q, page, &res), 0);
            CHECK_EQ_INT(res.total, n);
            CHECK(res.count <= (unsigned)t.limit);
            for (unsigned i = 0; i < res.count && seen + i < n; i++)
                check_result(&page[i], &expected[seen + i]);
            seen += res.count;
            CHECK_EQ_INT(res.has_more, seen < n);
            if (!res.has_more)
                break;
            multipage += pageno == 1;
            /* the cursor is the expected last result's key, computed here */
            const expect_t *last = &expected[seen - 1];
            memset(&q.cursor, 0, sizeof(q.cursor));
            q.cursor.present = 1;
            q.cursor.sort_value = last->sortv;
            q.cursor.departs_utc_min = last->dep;
            q.cursor.leg_count = 1;
            fs_cursor_leg_t *cl = &q.cursor.legs[0];
            strcpy(cl->source, src_names[last->leg->src]);
            fs_carrier_parse(carrier_codes[last->leg->carrier], 2, &cl->carrier);
            cl->flight = (uint16_t)last->leg->flight;
            fs_airport_parse(airport_codes[last->leg->origin], 3, &cl->origin);
            cl->day = (uint16_t)last->leg->day;
            cl->cabin = (uint8_t)last->cabin;
        }
        CHECK_EQ_INT(seen, n);
    }
    CHECK(nonempty > 100); /* the random queries must exercise something */
    CHECK(multipage > 20);

    /* calendar: per day and cabin, min miles, max seats, count */
    static fs_calendar_cell_t cells[FS_CALENDAR_MAX_DAYS * FS_CABIN_COUNT];
    for (int iter = 0; iter < 100; iter++) {
        tquery_t t;
        random_query(&t);
        t.end = t.start + (int)rnd(30);
        fs_search_query_t q;
        to_index_query(&t, &q);
        CHECK_EQ_INT(fs_calendar(gen, &q, cells), 0);
        for (int d = t.start; d <= t.end; d++) {
            for (int c = 0; c < 4; c++) {
                unsigned count = 0, max_seats = 0, min_miles = 0;
                for (int i = 0; i < NLEGS; i++) {
                    const tleg_t *l = &legs[i];
                    if (l->day != d || !in_list(t.origins, t.no, l->origin) || !in_list(t.dests, t.nd, l->dest))
                        continue;
                    if ((t.src_filter >= 0 && l->src != t.src_filter) || (t.carrier_filter >= 0 && l->carrier != t.carrier_filter))
                        continue;
                    if ((t.cabin >= 0 && c != t.cabin) || !(l->mask & (1u << c)) || l->seats[c] < t.seats)
                        continue;
                    if (count == 0 || (unsigned)l->miles[c] < min_miles)
                        min_miles = (unsigned)l->miles[c];
                    if ((unsigned)l->seats[c] > max_seats)
                        max_seats = (unsigned)l->seats[c];
                    count++;
                }
                const fs_calendar_cell_t *cell = &cells[(d - t.start) * FS_CABIN_COUNT + c];
                CHECK_EQ_INT(cell->count, count);
                if (count > 0) {
                    CHECK_EQ_INT(cell->min_miles, min_miles);
                    CHECK_EQ_INT(cell->max_seats, max_seats);
                }
            }
        }
    }

    /* routes explore from every airport, no filter */
    static fs_route_summary_t routes[FS_AIRPORT_COUNT];
    for (int o = 0; o < NAIRPORTS; o++) {
        fs_airport_t origin;
        fs_airport_parse(airport_codes[o], 3, &origin);
        int n = fs_routes_from(gen, origin, NULL, routes, FS_AIRPORT_COUNT);
        int expected_n = 0;
        for (int d = 0; d < NAIRPORTS; d++) {
            unsigned count = 0;
            int first = 1 << 30, last = -1;
            for (int i = 0; i < NLEGS; i++) {
                if (legs[i].origin != o || legs[i].dest != d)
                    continue;
                count++;
                first = legs[i].day < first ? legs[i].day : first;
                last = legs[i].day > last ? legs[i].day : last;
            }
            if (count == 0)
                continue;
            fs_airport_t dest;
            fs_airport_parse(airport_codes[d], 3, &dest);
            int found = 0;
            for (int k = 0; k < n; k++) {
                if (routes[k].destination != dest)
                    continue;
                found = 1;
                CHECK_EQ_INT(routes[k].legs, count);
                CHECK_EQ_INT(routes[k].first_day, first);
                CHECK_EQ_INT(routes[k].last_day, last);
            }
            CHECK(found);
            expected_n++;
        }
        CHECK_EQ_INT(n, expected_n);
        for (int k = 1; k < n; k++)
            CHECK(routes[k - 1].destination < routes[k].destination);
    }
    /* routes explore with filters: a date window, and sometimes one carrier and one source */
    for (int iter = 0; iter < 200; iter++) {
        int o = (int)rnd(NAIRPORTS), start = BASE_DAY - 2 + (int)rnd(24), end = start + (int)rnd(10);
        int carrier = rnd(2) ? (int)rnd(3) : -1, src = rnd(3) == 0 ? (int)rnd(NSRC) : -1;
        fs_search_query_t f;
        fs_search_query_init(&f);
        f.start_day = start;
        f.end_day = end;
        if (carrier >= 0) {
            fs_carrier_parse(carrier_codes[carrier], 2, &f.carriers[0]);
            f.carrier_count = 1;
        }
        if (src >= 0) {
            strcpy(f.sources[0], src_names[src]);
            f.source_count = 1;
        }
        fs_airport_t origin;
        fs_airport_parse(airport_codes[o], 3, &origin);
        int n = fs_routes_from(gen, origin, &f, routes, FS_AIRPORT_COUNT);
        int expected_n = 0;
        for (int d = 0; d < NAIRPORTS; d++) {
            unsigned count = 0;
            int first = 1 << 30, last = -1;
            for (int i = 0; i < NLEGS; i++) {
                const tleg_t *l = &legs[i];
                if (l->origin != o || l->dest != d || l->day < start || l->day > end || (carrier >= 0 && l->carrier != carrier) ||
                    (src >= 0 && l->src != src))
                    continue;
                count++;
                first = l->day < first ? l->day : first;
                last = l->day > last ? l->day : last;
            }
            if (count == 0)
                continue;
            expected_n++;
            fs_airport_t dest;
            fs_airport_parse(airport_codes[d], 3, &dest);
            for (int k = 0; k < n; k++) {
                if (routes[k].destination != dest)
                    continue;
                CHECK_EQ_INT(routes[k].legs, count);
                CHECK_EQ_INT(routes[k].first_day, first);
                CHECK_EQ_INT(routes[k].last_day, last);
            }
        }
        CHECK_EQ_INT(n, expected_n);
    }
    /* routes explore with max_stops=1 against an enumeration over every leg: every date (as
     * /v1/routes asks without dates) or a window, sometimes one carrier and one source. Nonstop
     * destinations count their legs; a destination reached only through a nonstop one (X) has
     * stops 1, legs 0 and the first and last days of the matching X->B legs. */
    int one_stop_seen = 0;
    for (int iter = 0; iter < 300; iter++) {
        int o = (int)rnd(NAIRPORTS), all = rnd(2) == 0;
        int start = all ? 0 : BASE_DAY - 2 + (int)rnd(24), end = all ? UINT16_MAX : start + (int)rnd(10);
        int carrier = rnd(2) ? (int)rnd(3) : -1, src = rnd(3) == 0 ? (int)rnd(NSRC) : -1;
        fs_search_query_t f;
        fs_search_query_init(&f);
        f.start_day = start;
        f.end_day = end;
        f.max_stops = 1;
        if (carrier >= 0) {
            fs_carrier_parse(carrier_codes[carrier], 2, &f.carriers[0]);
            f.carrier_count = 1;
        }
        if (src >= 0) {
            strcpy(f.sources[0], src_names[src]);
            f.source_count = 1;
        }
        unsigned count[NAIRPORTS][NAIRPORTS];
        int first[NAIRPORTS][NAIRPORTS], last[NAIRPORTS][NAIRPORTS];
        memset(count, 0, sizeof(count));
        for (int i = 0; i < NLEGS; i++) {
            const tleg_t *l = &legs[i];
            if (l->day < start || l->day > end || (carrier >= 0 && l->carrier != carrier) || (src >= 0 && l->src != src))
                continue;
            unsigned *c = &count[l->origin][l->dest];
            int *fd = &first[l->origin][l->dest], *ld = &last[l->origin][l->dest];
            if ((*c)++ == 0)
                *fd = *ld = l->day;
            *fd = l->day < *fd ? l->day : *fd;
            *ld = l->day > *ld ? l->day : *ld;
        }
        fs_airport_t origin;
        fs_airport_parse(airport_codes[o], 3, &origin);
        int n = fs_routes_from(gen, origin, &f, routes, FS_AIRPORT_COUNT);
        int expected_n = 0;
        for (int d = 0; d < NAIRPORTS; d++) {
            unsigned legs_d = count[o][d];
            int stops = 0, fd = 0, ld = 0;
            if (legs_d > 0) {
                fd = first[o][d];
                ld = last[o][d];
            } else if (d != o) {
                stops = -1;
                for (int x = 0; x < NAIRPORTS; x++) {
                    if (x == o || count[o][x] == 0 || count[x][d] == 0)
                        continue;
                    if (stops < 0 || first[x][d] < fd)
                        fd = first[x][d];
                    if (stops < 0 || last[x][d] > ld)
                        ld = last[x][d];
                    stops = 1;
                }
                if (stops < 0)
                    continue;
                one_stop_seen++;
            } else {
                continue;
            }
            expected_n++;
            fs_airport_t dest;
            fs_airport_parse(airport_codes[d], 3, &dest);
            int found = 0;
            for (int k = 0; k < n; k++) {
                if (routes[k].destination != dest)
                    continue;
                found = 1;
                CHECK_EQ_INT(routes[k].stops, stops);
                CHECK_EQ_INT(routes[k].legs, legs_d);
                CHECK_EQ_INT(routes[k].first_day, fd);
                CHECK_EQ_INT(routes[k].last_day, ld);
            }
            CHECK(found);
        }
        CHECK_EQ_INT(n, expected_n);
        for (int k = 1; k < n; k++)
            CHECK(routes[k - 1].destination < routes[k].destination);
    }
    CHECK(one_stop_seen > 20); /* the filters must leave some destinations one stop away */
    fs_index_read_end(idx, &th);

    /* replacing a source and retiring one */
    fs_segment_builder_t *b = fs_segment_builder_new("beta_2", 8, 1790000100);
    fs_leg_in_t one = to_leg_in(&legs[0]);
    CHECK_EQ_INT(fs_segment_builder_add(b, &one), 0);
    CHECK(fs_index_publish_segment(idx, &th, fs_segment_builder_finish(b, 0)) == NSRC + 1);
    gen = fs_index_read_begin(idx, &th);
    CHECK_EQ_INT(gen->segment_count, NSRC);
    const fs_segment_t *beta = fs_generation_source(gen, "beta_2");
    CHECK(beta != NULL && beta->leg_count == 1 && beta->sequence == 8);
    fs_index_read_end(idx, &th);
    CHECK(fs_index_retire_source(idx, &th, "alpha") == NSRC + 2);
    CHECK_EQ_INT(fs_index_retire_source(idx, &th, "alpha"), FS_ENOENT);
    gen = fs_index_read_begin(idx, &th);
    CHECK_EQ_INT(gen->segment_count, NSRC - 1);
    CHECK(fs_generation_source(gen, "alpha") == NULL);
    fs_index_read_end(idx, &th);

    fs_index_free(idx);
    TEST_DONE();
}
