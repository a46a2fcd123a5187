/*
 * Trips (round trips, open jaws, multi-city) and the trip date grid against brute force. Random
 * networks over a few airports with UTC offsets spread over -12:00..+14:00 (overnight legs,
 * connections across midnight and the date line); each slice's itineraries (nonstop and 1-stop)
 * are enumerated here from the legs, every combination of slices is tried, and the valid ones
 * (each slice departing min_connection minutes or more after the previous one arrives, stays
 * between the first two slices' local dates) are sorted by the documented order: the trip's sort
 * value, then slice by slice each itinerary's order (docs/api.md "Order"). The answers' totals,
 * pages, has_more and cursor paging (also across a publish that adds legs) must match exactly;
 * the grid's cells must be the minimum per (outbound date, return date, lower cabin).
 */
#include <stdlib.h>
#include <time.h>
#include "index/index.h"
#include "tests/test.h"

#define NSRC 4 /* the fourth is published between two pages */
#define NAIRPORTS 5
#define NLEGS 900
#define NEXTRA 300
#define BASE_DAY 20800

static const char *const src_names[NSRC] = {"alpha", "beta", "gamma", "zulu"};
static const char *const airport_codes[NAIRPORTS] = {"GRU", "LIS", "JFK", "NRT", "AKL"};
static const char *const carrier_codes[3] = {"TP", "G3", "NZ"};
static const char cabin_letter[4] = {'Y', 'W', 'J', 'F'};

typedef struct tleg {
    int src, origin, dest, carrier, flight;
    int day, minute, dep_off, dur, arr_off;
    unsigned mask;
    int seats[4], miles[4];
} tleg_t;

static tleg_t legs[NLEGS + NEXTRA];
static int nlegs;
static unsigned long long rng = 0x2545f4914f6cdd1dull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static long long dep_utc(const tleg_t *l)
{
    return (long long)l->day * 1440 + l->minute - l->dep_off;
}

static void leg_id(const tleg_t *l, int cabin, char *out, size_t cap)
{
    time_t t = (time_t)l->day * 86400;
    struct tm tm;
    char date[16];
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y%m%d", &tm);
    snprintf(out, cap, "%s-%s%d-%s-%s-%c", src_names[l->src], carrier_codes[l->carrier], l->flight, airport_codes[l->origin], date,
             cabin_letter[cabin]);
}

/* ------------------------------------------------------------ itineraries */

typedef struct slice_q {
    int origin, dest, start, end, cabin, max_stops;
} slice_q_t;

typedef struct itin {
    const tleg_t *l1, *l2;
    int cabin;
    long long miles, dep, arr, dur, sortv;
    char id[120];
} itin_t;

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

static int itin_cmp(const itin_t *x, const itin_t *y)
{
    if (x->sortv != y->sortv)
        return x->sortv < y->sortv ? -1 : 1;
    if (x->dep != y->dep)
        return x->dep < y->dep ? -1 : 1;
    int c = leg_cmp(x->l1, x->cabin, y->l1, y->cabin);
    if (c != 0)
        return c;
    if (x->l2 == NULL || y->l2 == NULL)
        return (x->l2 != NULL) - (y->l2 != NULL);
    return leg_cmp(x->l2, x->cabin, y->l2, y->cabin);
}

static int itin_qsort(const void *a, const void *b)
{
    return itin_cmp(a, b);
}

static int open_cabin(const tleg_t *l, int c)
{
    return (l->mask & (1u << c)) && l->seats[c] >= 1;
}

#define MINC 60
#define MAXC 900

/* Every itinerary of a slice (default connection window, one seat, one currency), sorted. */
static size_t slice_brute(const slice_q_t *s, int sort, itin_t *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < nlegs; i++) {
        const tleg_t *a = &legs[i];
        if (a->origin != s->origin || a->day < s->start || a->day > s->end)
            continue;
        for (int j = -1; j < (s->max_stops >= 1 ? nlegs : 0); j++) {
            const tleg_t *b = j < 0 ? NULL : &legs[j];
            if (b == NULL && a->dest != s->dest)
                continue;
            if (b != NULL) {
                if (b->origin != a->dest || b->dest != s->dest || a->dest == s->dest || b->dest == a->origin)
                    continue;
                long long gap = dep_utc(b) - (dep_utc(a) + a->dur);
                if (gap < MINC || gap > MAXC)
                    continue;
            }
            for (int c = 0; c < 4; c++) {
                if ((s->cabin >= 0 && c != s->cabin) || !open_cabin(a, c) || (b != NULL && !open_cabin(b, c)))
                    continue;
                if (n == cap)
                    return n;
                itin_t *e = &out[n++];
                memset(e, 0, sizeof(*e));
                e->l1 = a;
                e->l2 = b;
                e->cabin = c;
                e->miles = a->miles[c] + (b ? b->miles[c] : 0);
                e->dep = dep_utc(a);
                e->arr = b ? dep_utc(b) + b->dur : dep_utc(a) + a->dur;
                e->dur = e->arr - e->dep;
                e->sortv = sort == 0 ? e->miles : sort == 1 ? e->dep : e->dur;
                leg_id(a, c, e->id, sizeof(e->id));
                if (b != NULL) {
                    char id2[60];
                    leg_id(b, c, id2, sizeof(id2));
                    strcat(e->id, "+");
                    strcat(e->id, id2);
                }
            }
        }
    }
    qsort(out, n, sizeof(*out), itin_qsort);
    return n;
}

/* ------------------------------------------------------------------ trips */

#define MAX_ITIN 4000
#define MAX_TRIPS 400000

typedef struct trip_q {
    slice_q_t s[4];
    int n, sort, limit, minc, min_stay, max_stay;
} trip_q_t;

static itin_t itins[4][MAX_ITIN];
static size_t nitins[4];

typedef struct etrip {
    int k[4];
    long long sortv;
} etrip_t;

static etrip_t expected[MAX_TRIPS];

/* Slices are sorted in result order, so comparing two trips slice by slice is comparing indexes. */
static int etrip_cmp(const void *a, const void *b)
{
    const etrip_t *x = a, *y = b;
    if (x->sortv != y->sortv)
        return x->sortv < y->sortv ? -1 : 1;
    for (int i = 0; i < 4; i++)
        if (x->k[i] != y->k[i])
            return x->k[i] < y->k[i] ? -1 : 1;
    return 0;
}

static long long trip_value(const trip_q_t *q, const int *k)
{
    long long v = 0;
    for (int i = 0; i < q->n; i++) {
        const itin_t *it = &itins[i][k[i]];
        v += q->sort == 0 ? it->miles : q->sort == 2 ? it->dur : i == 0 ? it->dep : 0;
    }
    return v;
}

/* Every valid combination, sorted; -1 when there are more than MAX_TRIPS (the query is skipped). */
static long trips_brute(const trip_q_t *q)
{
    for (int i = 0; i < q->n; i++) {
        nitins[i] = slice_brute(&q->s[i], q->sort, itins[i], MAX_ITIN);
        if (nitins[i] == MAX_ITIN)
            return -1;
    }
    long n = 0;
    int k[4] = {0, 0, 0, 0};
    /* odometer over every combination, pruning at the first invalid slice */
    int depth = 0;
    k[0] = -1;
    while (depth >= 0) {
        k[depth]++;
        if ((size_t)k[depth] >= nitins[depth]) {
            depth--;
            continue;
        }
        if (depth > 0) {
            const itin_t *prev = &itins[depth - 1][k[depth - 1]], *cur = &itins[depth][k[depth]];
            if (cur->dep < prev->arr + q->minc)
                continue;
            if (depth == 1 && q->min_stay >= 0) {
                int stay = cur->l1->day - prev->l1->day;
                if (stay < q->min_stay || stay > q->max_stay)
                    continue;
            }
        }
        if (depth + 1 < q->n) {
            depth++;
            k[depth] = -1;
            continue;
        }
        if (n == MAX_TRIPS)
            return -1;
        etrip_t *e = &expected[n++];
        memset(e, 0, sizeof(*e));
        for (int i = 0; i < q->n; i++)
            e->k[i] = k[i];
        e->sortv = trip_value(q, k);
    }
    qsort(expected, (size_t)n, sizeof(*expected), etrip_cmp);
    return n;
}

static void to_index(const trip_q_t *t, fs_trip_query_t *q)
{
    fs_trip_query_init(q);
    q->slice_count = (unsigned)t->n;
    for (int i = 0; i < t->n; i++) {
        fs_search_query_t *s = &q->slices[i];
        fs_airport_parse(airport_codes[t->s[i].origin], 3, &s->origins[s->origin_count++]);
        fs_airport_parse(airport_codes[t->s[i].dest], 3, &s->destinations[s->destination_count++]);
        s->start_day = t->s[i].start;
        s->end_day = t->s[i].end;
        s->cabin = t->s[i].cabin;
        s->max_stops = (unsigned)t->s[i].max_stops;
        s->min_connection = MINC;
        s->max_connection = MAXC;
    }
    q->min_connection = (unsigned)t->minc;
    q->min_stay = t->min_stay;
    q->max_stay = t->max_stay;
    q->sort = t->sort == 0 ? FS_SORT_MILES : t->sort == 1 ? FS_SORT_DEPARTURE : FS_SORT_DURATION;
    q->limit = (unsigned)t->limit;
}

static void trip_id(const fs_trip_t *t, char *out, size_t cap)
{
    size_t n = 0;
    for (unsigned i = 0; i < t->slice_count; i++) {
        char id[FS_ID_MAX];
        fs_result_id(&t->slices[i], id);
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", id);
    }
}

static void etrip_id(const trip_q_t *q, const etrip_t *e, char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < q->n; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", itins[i][e->k[i]].id);
}

static void random_trip(trip_q_t *t, int kind)
{
    memset(t, 0, sizeof(*t));
    t->sort = (int)rnd(3);
    t->limit = 1 + (int)rnd(20);
    t->minc = rnd(3) == 0 ? 0 : (int)rnd(600);
    t->min_stay = t->max_stay = -1;
    int cabin = rnd(3) == 0 ? -1 : (int)rnd(4), stops = (int)rnd(2);
    int a = (int)rnd(NAIRPORTS), b;
    do
        b = (int)rnd(NAIRPORTS);
    while (b == a);
    int start = BASE_DAY + (int)rnd(5);
    if (kind <= 1) { /* 0: round trip, 1: open jaw */
        t->n = 2;
        t->s[0] = (slice_q_t){a, b, start, start + (int)rnd(3), cabin, stops};
        int ra = b, rb = a;
        if (kind == 1) {
            do
                ra = (int)rnd(NAIRPORTS);
            while (ra == a);
            if (rnd(2) == 0) {
                do
                    rb = (int)rnd(NAIRPORTS);
                while (rb == ra);
            }
        }
        int rstart = start + (int)rnd(4) - 1; /* returns may overlap the outbound dates */
        t->s[1] = (slice_q_t){ra, rb, rstart, rstart + (int)rnd(4), rnd(4) == 0 ? (int)rnd(4) : cabin, stops};
        if (rnd(3) == 0) {
            t->min_stay = (int)rnd(3);
            t->max_stay = t->min_stay + (int)rnd(3);
        }
        return;
    }
    t->n = kind == 2 ? 3 : 4; /* multi-city: one date per slice, so the combinations stay countable */
    int from = a, day = start;
    for (int i = 0; i < t->n; i++) {
        int to;
        do
            to = (int)rnd(NAIRPORTS);
        while (to == from);
        t->s[i] = (slice_q_t){from, to, day, day + (int)rnd(2), cabin, t->n == 4 ? 0 : stops};
        from = to;
        day += (int)rnd(3);
    }
}

/* ------------------------------------------------------------------ setup */

static void make_leg(tleg_t *l, int src, int flight)
{
    l->src = src;
    l->origin = (int)rnd(NAIRPORTS);
    do
        l->dest = (int)rnd(NAIRPORTS);
    while (l->dest == l->origin);
    l->carrier = (int)rnd(3);
    l->flight = flight;
    l->day = BASE_DAY - 1 + (int)rnd(12);
    l->minute = (int)rnd(96) * 15;
    int r = (int)rnd(4);
    l->dep_off = r == 0 ? -720 : r == 1 ? 840 : ((int)rnd(105) - 48) * 15;
    r = (int)rnd(4);
    l->arr_off = r == 0 ? -720 : r == 1 ? 840 : ((int)rnd(105) - 48) * 15;
    l->dur = 30 + (int)rnd(50) * 20; /* up to ~17 h: many arrive the next local day */
    do
        l->mask = rnd(16);
    while (l->mask == 0);
    for (int c = 0; c < 4; c++) {
        l->seats[c] = (int)rnd(3);
        l->miles[c] = 5000 * (1 + (int)rnd(4)); /* few values: many ties on the sort value */
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
    long long arr = dep_utc(l) + l->dur + l->arr_off;
    long long aday = arr >= 0 ? arr / 1440 : (arr - 1439) / 1440;
    in.arrives = (fs_localtime_t){(int32_t)aday, (uint16_t)(arr - aday * 1440), (int16_t)l->arr_off};
    in.cabin_mask = (uint8_t)l->mask;
    fs_currency_t cur;
    fs_currency_parse("EUR", 3, &cur);
    for (int c = 0; c < 4; c++) {
        in.seats[c] = (uint8_t)l->seats[c];
        in.fare[c] = (fs_fare_t){(uint32_t)l->miles[c], 1000, cur};
    }
    in.last_seen = 1790000000;
    return in;
}

static void publish(fs_index_t *idx, fs_index_thread_t *th, int s)
{
    fs_segment_builder_t *b = fs_segment_builder_new(src_names[s], 1, 1790000000);
    for (int i = 0; i < nlegs; i++) {
        if (legs[i].src != s)
            continue;
        fs_leg_in_t in = to_leg_in(&legs[i]);
        CHECK_EQ_INT(fs_segment_builder_add(b, &in), 0);
    }
    CHECK(fs_index_publish_segment(idx, th, fs_segment_builder_finish(b, 0)) > 0);
}

/* The brute-force trip at or before which a cursor stands, compared with another by content
 * (itineraries by their legs, so it holds across networks). */
typedef struct kept {
    itin_t s[4];
    tleg_t l1[4], l2[4]; /* copies: the legs array is rewritten by the publish */
    long long sortv;
} kept_t;

static int kept_cmp(const trip_q_t *q, const etrip_t *e, const kept_t *c)
{
    if (e->sortv != c->sortv)
        return e->sortv < c->sortv ? -1 : 1;
    for (int i = 0; i < q->n; i++) {
        int r = itin_cmp(&itins[i][e->k[i]], &c->s[i]);
        if (r != 0)
            return r;
    }
    return 0;
}

/* One query, paged to the end (or to a publish after the first page when publish_after). */
static fs_trip_t page[FS_SEARCH_MAX_LIMIT];
static unsigned checked_pages, multi_page, stays_seen, overnight;

static void check_query(fs_index_t *idx, fs_index_thread_t *th, const trip_q_t *t, long n)
{
    fs_trip_query_t q;
    to_index(t, &q);
    const fs_generation_t *gen = fs_index_read_begin(idx, th);
    long seen = 0;
    for (int pageno = 0; pageno < 100000; pageno++) {
        fs_trip_result_t res;
        CHECK_EQ_INT(fs_trips(gen, &q, page, &res), 0);
        CHECK_EQ_INT(res.total, n);
        checked_pages++;
        for (unsigned i = 0; i < res.count && seen + i < n; i++) {
            char got[800], want[800];
            trip_id(&page[i], got, sizeof(got));
            etrip_id(t, &expected[seen + i], want, sizeof(want));
            CHECK_EQ_STR(got, want);
            CHECK_EQ_INT(page[i].sort_value, expected[seen + i].sortv);
            if (t->n >= 2 && page[i].slices[1].leg->day != page[i].slices[0].leg->day)
                overnight++;
        }
        CHECK(seen + res.count <= n);
        seen += res.count;
        CHECK_EQ_INT(res.has_more, seen < n);
        if (!res.has_more || res.count == 0)
            break;
        multi_page += pageno == 1;
        fs_trip_cursor_at(&page[res.count - 1], &q.cursor);
    }
    CHECK_EQ_INT(seen, n);
    fs_index_read_end(idx, th);
}

int main(void)
{
    int next_flight[NSRC] = {1, 1, 1, 1};
    for (nlegs = 0; nlegs < NLEGS; nlegs++) {
        int s = (int)rnd(3);
        make_leg(&legs[nlegs], s, next_flight[s]++);
    }
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    for (int s = 0; s < 3; s++)
        publish(idx, &th, s);

    unsigned queries = 0, skipped = 0, kinds[4] = {0, 0, 0, 0};
    long long trips_total = 0;
    for (int iter = 0; iter < 400; iter++) {
        trip_q_t t;
        int kind = iter % 4;
        random_trip(&t, kind);
        long n = trips_brute(&t);
        if (n < 0) {
            skipped++;
            continue;
        }
        queries++;
        kinds[kind] += n > 0;
        stays_seen += t.min_stay >= 0 && n > 0;
        trips_total += n;
        if (n / t.limit > 300) /* at most ~300 pages per query (each page runs the whole query) */
            t.limit = (int)(n / 300 + 1 > 500 ? 500 : n / 300 + 1);
        check_query(idx, &th, &t, n);
    }

    /* cursor paging across a publish: page 1 on the first network, then a source that adds legs
     * is published, and the pages after the cursor are the new network's trips after that trip */
    unsigned across = 0;
    for (int iter = 0; iter < 60; iter++) {
        trip_q_t t;
        random_trip(&t, iter % 2);
        t.limit = 3;
        long n = trips_brute(&t);
        if (n <= 3)
            continue;
        fs_trip_query_t q;
        to_index(&t, &q);
        const fs_generation_t *gen = fs_index_read_begin(idx, &th);
        fs_trip_result_t res;
        CHECK_EQ_INT(fs_trips(gen, &q, page, &res), 0);
        CHECK_EQ_INT(res.count, 3);
        fs_trip_cursor_at(&page[2], &q.cursor);
        fs_index_read_end(idx, &th);
        kept_t cur;
        for (int i = 0; i < t.n; i++) {
            cur.s[i] = itins[i][expected[2].k[i]];
            cur.l1[i] = *cur.s[i].l1;
            cur.s[i].l1 = &cur.l1[i];
            if (cur.s[i].l2 != NULL) {
                cur.l2[i] = *cur.s[i].l2;
                cur.s[i].l2 = &cur.l2[i];
            }
        }
        cur.sortv = expected[2].sortv;
        /* the fourth source: NEXTRA legs, republished each round with new ones */
        for (int i = 0; i < NEXTRA; i++)
            make_leg(&legs[NLEGS + i], 3, 1 + i + iter * NEXTRA % 5000);
        nlegs = NLEGS + NEXTRA;
        publish(idx, &th, 3);
        long m = trips_brute(&t);
        CHECK(m >= 0);
        long first = 0;
        while (first < m && kept_cmp(&t, &expected[first], &cur) <= 0)
            first++;
        q.limit = 50;
        gen = fs_index_read_begin(idx, &th);
        CHECK_EQ_INT(fs_trips(gen, &q, page, &res), 0);
        CHECK_EQ_INT(res.total, m);
        long want = m - first < 50 ? m - first : 50;
        CHECK_EQ_INT(res.count, want);
        for (long i = 0; i < want && i < (long)res.count; i++) {
            char got[800], wanted[800];
            trip_id(&page[i], got, sizeof(got));
            etrip_id(&t, &expected[first + i], wanted, sizeof(wanted));
            CHECK_EQ_STR(got, wanted);
        }
        CHECK_EQ_INT(res.has_more, m - first > 50);
        fs_index_read_end(idx, &th);
        across += m > n;
    }

    /* the date grid: the cheapest trip per (outbound date, return date, lower cabin) */
    static fs_trip_cell_t cells[FS_TRIP_GRID_MAX_DAYS * FS_TRIP_GRID_MAX_DAYS * FS_CABIN_COUNT];
    unsigned grid_cells = 0;
    for (int iter = 0; iter < 40; iter++) {
        trip_q_t t;
        random_trip(&t, iter % 2);
        t.s[0].end = t.s[0].start + (int)rnd(6);
        t.s[1].end = t.s[1].start + (int)rnd(6);
        t.s[1].cabin = t.s[0].cabin;
        long n = trips_brute(&t);
        if (n < 0)
            continue;
        fs_trip_query_t q;
        to_index(&t, &q);
        const fs_generation_t *gen = fs_index_read_begin(idx, &th);
        CHECK_EQ_INT(fs_trip_grid(gen, &q, cells), 0);
        fs_index_read_end(idx, &th);
        int days0 = t.s[0].end - t.s[0].start + 1, days1 = t.s[1].end - t.s[1].start + 1;
        for (int d0 = 0; d0 < days0; d0++)
            for (int d1 = 0; d1 < days1; d1++)
                for (int c = 0; c < 4; c++) {
                    long long min = -1;
                    unsigned long long count = 0;
                    for (long i = 0; i < n; i++) {
                        const itin_t *o = &itins[0][expected[i].k[0]], *r = &itins[1][expected[i].k[1]];
                        int cabin = o->cabin < r->cabin ? o->cabin : r->cabin;
                        if (o->l1->day - t.s[0].start != d0 || r->l1->day - t.s[1].start != d1 || cabin != c)
                            continue;
                        count++;
                        if (min < 0 || o->miles + r->miles < min)
                            min = o->miles + r->miles;
                    }
                    const fs_trip_cell_t *cell = &cells[((size_t)d0 * (size_t)days1 + (size_t)d1) * 4 + (size_t)c];
                    CHECK_EQ_INT(cell->count, count);
                    if (count > 0) {
                        CHECK_EQ_INT(cell->min_miles, min);
                        grid_cells++;
                    }
                }
    }

    /* the budget: a deadline long past refuses (no partial page), and so does the grid */
    {
        trip_q_t t;
        random_trip(&t, 0);
        fs_trip_query_t q;
        to_index(&t, &q);
        q.slices[0].origin_count = q.slices[0].destination_count = 0;
        for (int a = 0; a < NAIRPORTS; a++) {
            fs_airport_parse(airport_codes[a], 3, &q.slices[0].origins[q.slices[0].origin_count++]);
            fs_airport_parse(airport_codes[a], 3, &q.slices[0].destinations[q.slices[0].destination_count++]);
        }
        q.slices[1] = q.slices[0];
        q.deadline_us = 1;
        const fs_generation_t *gen = fs_index_read_begin(idx, &th);
        fs_trip_result_t res;
        CHECK_EQ_INT(fs_trips(gen, &q, page, &res), FS_ETIMEDOUT);
        CHECK_EQ_INT(res.count, 0);
        CHECK_EQ_INT(fs_trip_grid(gen, &q, cells), FS_ETIMEDOUT);
        q.slice_count = 1;
        q.deadline_us = 0;
        CHECK_EQ_INT(fs_trips(gen, &q, page, &res), FS_EINVAL);
        q.slice_count = 5;
        CHECK_EQ_INT(fs_trips(gen, &q, page, &res), FS_EINVAL);
        fs_index_read_end(idx, &th);
    }

    printf("queries %u (skipped %u), trips %lld, pages %u, multi-page %u, with trips by kind %u/%u/%u/%u, with stays %u, "
           "return on a later date %u, paged across a publish %u, grid cells %u\n",
           queries, skipped, trips_total, checked_pages, multi_page, kinds[0], kinds[1], kinds[2], kinds[3], stays_seen,
           overnight, across, grid_cells);
    /* the random queries must reach every case, or the test proves nothing */
    CHECK(kinds[0] > 20 && kinds[1] > 20 && kinds[2] > 20 && kinds[3] > 10);
    CHECK(multi_page > 50);
    CHECK(stays_seen > 10);
    CHECK(across > 10);
    CHECK(grid_cells > 100);
    fs_index_free(idx);
    TEST_DONE();
}
