/*
 * 1-stop and 2-stop itineraries against brute force. Random networks over a few airports with UTC offsets
 * spread over -12:00..+14:00 (so connections cross midnight, time zones and the date line), random
 * connection windows, cabins, filters and sorts; every answer (page contents and order, totals,
 * cursor paging, calendar cells) is compared with an enumeration of every pair of legs written
 * here, independently of index/search.c. Times are computed here from each leg's own (day,
 * minute, offset, duration); ids and dates with libc's gmtime.
 */
#include <stdlib.h>
#include <time.h>
#include "index/index.h"
#include "tests/test.h"

#define NSRC 3
#define NAIRPORTS 6
#define NLEGS 1500
#define BASE_DAY 20800

static const char *const src_names[NSRC] = {"alpha", "beta", "gamma"};
static const char *const airport_codes[NAIRPORTS] = {"GRU", "LIS", "JFK", "LHR", "NRT", "AKL"};
static const char *const carrier_codes[3] = {"TP", "G3", "NZ"};
static const char *const currencies[2] = {"BRL", "EUR"};
static const char cabin_letter[4] = {'Y', 'W', 'J', 'F'};

typedef struct tleg {
    int src, origin, dest, carrier, flight, currency;
    int day, minute, dep_off, dur, arr_off;
    unsigned mask;
    int seats[4], miles[4], taxes[4];
} tleg_t;

static tleg_t legs[NLEGS];
static unsigned long long rng = 0x9e3779b97f4a7c15ull;
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

typedef struct tquery {
    int origins[3], no, dests[3], nd;
    int start, end, cabin, seats, src_filter, carrier_filter, sort, limit, max_stops;
    int minc, maxc, mixed, same_source, max_duration, after, before;
} tquery_t;

typedef struct expect {
    const tleg_t *l1, *l2, *l3;
    int cabin, k1, k2, k3, seats;
    long long miles, taxes, dep, dur, sortv;
    char id[200];
} expect_t;

/* docs/api.md "Order": after the sort value and the departure, each leg's source name, carrier
 * code, flight number, origin code, date, cabin (economy first), first leg then second then third;
 * a shorter itinerary before the longer ones that start with its legs. Codes as text, numbers as
 * numbers. */
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
    int c = leg_cmp(x->l1, x->k1, y->l1, y->k1);
    if (c != 0)
        return c;
    if (x->l2 == NULL || y->l2 == NULL)
        return (x->l2 != NULL) - (y->l2 != NULL);
    c = leg_cmp(x->l2, x->k2, y->l2, y->k2);
    if (c != 0)
        return c;
    if (x->l3 == NULL || y->l3 == NULL)
        return (x->l3 != NULL) - (y->l3 != NULL);
    return leg_cmp(x->l3, x->k3, y->l3, y->k3);
}

static void cursor_leg(const tleg_t *l, int cabin, fs_cursor_leg_t *out)
{
    strcpy(out->source, src_names[l->src]);
    fs_carrier_parse(carrier_codes[l->carrier], 2, &out->carrier);
    out->flight = (uint16_t)l->flight;
    fs_airport_parse(airport_codes[l->origin], 3, &out->origin);
    out->day = (uint16_t)l->day;
    out->cabin = (uint8_t)cabin;
}

static int in_list(const int *list, int n, int v)
{
    for (int i = 0; i < n; i++)
        if (list[i] == v)
            return 1;
    return 0;
}

static int open_cabin(const tleg_t *l, int c, int seats)
{
    return (l->mask & (1u << c)) && l->seats[c] >= seats;
}

static int leg_passes(const tquery_t *q, const tleg_t *l)
{
    if (q->src_filter >= 0 && l->src != q->src_filter)
        return 0;
    if (q->carrier_filter >= 0 && l->carrier != q->carrier_filter)
        return 0;
    return 1;
}

static int first_leg_passes(const tquery_t *q, const tleg_t *l)
{
    return l->day >= q->start && l->day <= q->end && (q->after < 0 || l->minute >= q->after) &&
           (q->before < 0 || l->minute <= q->before);
}

/* The cabin a leg takes in an itinerary searched in cabin c (mixed: its best at or below c). */
static int take_cabin(const tquery_t *q, const tleg_t *l, int c)
{
    if (!q->mixed)
        return open_cabin(l, c, q->seats) ? c : -1;
    for (int k = c; k >= 0; k--)
        if (open_cabin(l, k, q->seats))
            return k;
    return -1;
}

/* Every A->X->Y->B itinerary starting with leg a: the four airports distinct, each gap within
 * [minc, maxc] minutes in UTC, one currency, the same cabin rules as one stop. */
static size_t two_stops(const tquery_t *q, const tleg_t *a, expect_t *out, size_t n, size_t cap)
{
    for (int j = 0; j < NLEGS; j++) {
        const tleg_t *b = &legs[j];
        /* X = a->dest, Y = b->dest: Y is not A (legs never return to their own origin: X != A, Y != X) */
        if (b->origin != a->dest || b->dest == a->origin || !leg_passes(q, b) ||
            (q->same_source && b->src != a->src) || b->currency != a->currency)
            continue;
        long long gap1 = dep_utc(b) - (dep_utc(a) + a->dur);
        if (gap1 < q->minc || gap1 > q->maxc)
            continue;
        for (int k = 0; k < NLEGS; k++) {
            const tleg_t *c3 = &legs[k];
            /* B = c3->dest: not X, not A (Y != B as a leg's ends) */
            if (c3->origin != b->dest || !in_list(q->dests, q->nd, c3->dest) || c3->dest == a->dest || c3->dest == a->origin ||
                !leg_passes(q, c3) || (q->same_source && c3->src != a->src) ||
                c3->currency != a->currency)
                continue;
            long long gap2 = dep_utc(c3) - (dep_utc(b) + b->dur);
            if (gap2 < q->minc || gap2 > q->maxc)
                continue;
            long long dur = dep_utc(c3) + c3->dur - dep_utc(a);
            if (q->max_duration != 0 && dur > q->max_duration)
                continue;
            for (int c = 0; c < 4; c++) {
                if (q->cabin >= 0 ? c != q->cabin : q->mixed && c != 3)
                    continue;
                int k1 = take_cabin(q, a, c), k2 = take_cabin(q, b, c), k3 = take_cabin(q, c3, c);
                if (k1 < 0 || k2 < 0 || k3 < 0)
                    continue;
                if (n == cap)
                    return n;
                expect_t *e = &out[n++];
                memset(e, 0, sizeof(*e));
                e->l1 = a;
                e->l2 = b;
                e->l3 = c3;
                e->k1 = k1;
                e->k2 = k2;
                e->k3 = k3;
                e->cabin = k1 < k2 ? (k1 < k3 ? k1 : k3) : (k2 < k3 ? k2 : k3);
                e->seats = a->seats[k1];
                if (b->seats[k2] < e->seats)
                    e->seats = b->seats[k2];
                if (c3->seats[k3] < e->seats)
                    e->seats = c3->seats[k3];
                e->miles = a->miles[k1] + b->miles[k2] + c3->miles[k3];
                e->taxes = a->taxes[k1] + b->taxes[k2] + c3->taxes[k3];
                e->dep = dep_utc(a);
                e->dur = dur;
                char id2[100];
                leg_id(a, k1, e->id, sizeof(e->id));
                leg_id(b, k2, id2, sizeof(id2));
                strcat(e->id, "+");
                strcat(e->id, id2);
                leg_id(c3, k3, id2, sizeof(id2));
                strcat(e->id, "+");
                strcat(e->id, id2);
            }
        }
    }
    return n;
}

static size_t brute_force(const tquery_t *q, expect_t *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < NLEGS; i++) {
        const tleg_t *a = &legs[i];
        if (!in_list(q->origins, q->no, a->origin) || !leg_passes(q, a) || !first_leg_passes(q, a))
            continue;
        /* nonstop */
        if (in_list(q->dests, q->nd, a->dest) && (q->max_duration == 0 || a->dur <= q->max_duration)) {
            for (int c = 0; c < 4; c++) {
                if ((q->cabin >= 0 && c != q->cabin) || !open_cabin(a, c, q->seats))
                    continue;
                expect_t *e = &out[n++];
                memset(e, 0, sizeof(*e));
                e->l1 = a;
                e->cabin = e->k1 = c;
                e->seats = a->seats[c];
                e->miles = a->miles[c];
                e->taxes = a->taxes[c];
                e->dep = dep_utc(a);
                e->dur = a->dur;
                leg_id(a, c, e->id, sizeof(e->id));
            }
        }
        if (q->max_stops < 1)
            continue;
        for (int j = 0; j < NLEGS; j++) {
            const tleg_t *b = &legs[j];
            if (b->origin != a->dest || !in_list(q->dests, q->nd, b->dest) || b->dest == a->origin || !leg_passes(q, b))
                continue;
            if (q->same_source && b->src != a->src)
                continue;
            long long gap = dep_utc(b) - (dep_utc(a) + a->dur);
            if (gap < q->minc || gap > q->maxc)
                continue;
            long long dur = dep_utc(b) + b->dur - dep_utc(a);
            if (q->max_duration != 0 && dur > q->max_duration)
                continue;
            if (a->currency != b->currency)
                continue;
            for (int c = 0; c < 4; c++) {
                int k1 = c, k2 = c;
                if (q->mixed) {
                    int top = q->cabin >= 0 ? q->cabin : 3;
                    if (c != top)
                        continue;
                    k1 = k2 = -1;
                    for (int k = top; k >= 0 && k1 < 0; k--)
                        if (open_cabin(a, k, q->seats))
                            k1 = k;
                    for (int k = top; k >= 0 && k2 < 0; k--)
                        if (open_cabin(b, k, q->seats))
                            k2 = k;
                    if (k1 < 0 || k2 < 0)
                        continue;
                } else if ((q->cabin >= 0 && c != q->cabin) || !open_cabin(a, c, q->seats) || !open_cabin(b, c, q->seats)) {
                    continue;
                }
                if (n == cap)
                    return n;
                expect_t *e = &out[n++];
                memset(e, 0, sizeof(*e));
                e->l1 = a;
                e->l2 = b;
                e->k1 = k1;
                e->k2 = k2;
                e->cabin = k1 < k2 ? k1 : k2;
                e->seats = a->seats[k1] < b->seats[k2] ? a->seats[k1] : b->seats[k2];
                e->miles = a->miles[k1] + b->miles[k2];
                e->taxes = a->taxes[k1] + b->taxes[k2];
                e->dep = dep_utc(a);
                e->dur = dur;
                char id2[100];
                leg_id(a, k1, e->id, sizeof(e->id));
                leg_id(b, k2, id2, sizeof(id2));
                strcat(e->id, "+");
                strcat(e->id, id2);
            }
        }
        if (q->max_stops >= 2)
            n = two_stops(q, a, out, n, cap);
    }
    for (size_t i = 0; i < n; i++)
        out[i].sortv = q->sort == 0 ? out[i].miles : q->sort == 1 ? out[i].dep : out[i].dur;
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
    q->max_stops = (unsigned)t->max_stops;
    q->min_connection = (unsigned)t->minc;
    q->max_connection = (unsigned)t->maxc;
    q->mixed_cabin = t->mixed;
    q->same_source = t->same_source;
    q->max_duration = (unsigned)t->max_duration;
    q->depart_after = t->after;
    q->depart_before = t->before;
    q->sort = t->sort == 0 ? FS_SORT_MILES : t->sort == 1 ? FS_SORT_DEPARTURE : FS_SORT_DURATION;
    q->limit = (unsigned)t->limit;
}

static void random_query(tquery_t *t)
{
    memset(t, 0, sizeof(*t));
    t->no = 1 + (int)rnd(2);
    t->nd = 1 + (int)rnd(2);
    for (int i = 0; i < t->no; i++)
        t->origins[i] = (int)rnd(NAIRPORTS);
    for (int i = 0; i < t->nd; i++)
        t->dests[i] = (int)rnd(NAIRPORTS);
    if (t->no == 2 && t->origins[0] == t->origins[1])
        t->no = 1;
    if (t->nd == 2 && t->dests[0] == t->dests[1])
        t->nd = 1;
    t->start = BASE_DAY + (int)rnd(10);
    t->end = t->start + (int)rnd(3);
    t->cabin = rnd(3) == 0 ? -1 : (int)rnd(4);
    t->seats = 1 + (int)rnd(2);
    t->src_filter = rnd(5) == 0 ? (int)rnd(NSRC) : -1;
    t->carrier_filter = rnd(5) == 0 ? (int)rnd(3) : -1;
    t->sort = (int)rnd(3);
    t->limit = 1 + (int)rnd(25);
    t->max_stops = rnd(6) == 0 ? 0 : rnd(3) == 0 ? 2 : 1;
    t->minc = rnd(3) == 0 ? 0 : (int)rnd(180);
    t->maxc = t->minc + (int)rnd(1800);
    if (t->maxc > FS_MAX_CONNECTION_MIN)
        t->maxc = FS_MAX_CONNECTION_MIN;
    t->mixed = rnd(3) == 0;
    t->same_source = rnd(4) == 0;
    t->max_duration = rnd(4) == 0 ? 300 + (int)rnd(2000) : 0;
    t->after = rnd(5) == 0 ? (int)rnd(1440) : -1;
    t->before = rnd(5) == 0 ? (t->after < 0 ? 0 : t->after) + (int)rnd(1440 - (t->after < 0 ? 0 : t->after)) : -1;
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
        l->flight = next_flight[l->src]++;
        l->currency = rnd(8) == 0 ? 1 : 0; /* mostly one currency, some legs another */
        l->day = BASE_DAY - 2 + (int)rnd(16);
        l->minute = (int)rnd(96) * 15;
        /* offsets at the extremes often: date-line crossings */
        int r = (int)rnd(4);
        l->dep_off = r == 0 ? -720 : r == 1 ? 840 : ((int)rnd(105) - 48) * 15;
        r = (int)rnd(4);
        l->arr_off = r == 0 ? -720 : r == 1 ? 840 : ((int)rnd(105) - 48) * 15;
        l->dur = 30 + (int)rnd(60) * 20;
        do
            l->mask = rnd(16);
        while (l->mask == 0);
        for (int c = 0; c < 4; c++) {
            l->seats[c] = (int)rnd(4);
            l->miles[c] = 5000 * (1 + (int)rnd(6));
            l->taxes[c] = (int)rnd(50000);
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
    long long arr = dep_utc(l) + l->dur + l->arr_off;
    long long aday = arr >= 0 ? arr / 1440 : (arr - 1439) / 1440;
    in.arrives = (fs_localtime_t){(int32_t)aday, (uint16_t)(arr - aday * 1440), (int16_t)l->arr_off};
    in.cabin_mask = (uint8_t)l->mask;
    fs_currency_t cur;
    fs_currency_parse(currencies[l->currency], 3, &cur);
    for (int c = 0; c < 4; c++) {
        in.seats[c] = (uint8_t)l->seats[c];
        in.fare[c] = (fs_fare_t){(uint32_t)l->miles[c], (uint32_t)l->taxes[c], cur};
    }
    in.last_seen = 1790000000;
    return in;
}

int main(void)
{
    make_legs();
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    for (int s = 0; s < NSRC; s++) {
        fs_segment_builder_t *b = fs_segment_builder_new(src_names[s], 1, 1790000000);
        for (int i = 0; i < NLEGS; i++) {
            if (legs[i].src != s)
                continue;
            fs_leg_in_t in = to_leg_in(&legs[i]);
            CHECK_EQ_INT(fs_segment_builder_add(b, &in), 0);
        }
        CHECK(fs_index_publish_segment(idx, &th, fs_segment_builder_finish(b, 0)) > 0);
    }

    static expect_t expected[200000];
    static fs_result_t page[FS_SEARCH_MAX_LIMIT];
    static fs_calendar_cell_t cells[FS_CALENDAR_MAX_DAYS * FS_CABIN_COUNT];
    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    unsigned with_connections = 0, multipage = 0, mixed_seen = 0, midnight = 0, two_stop = 0, two_stop_multipage = 0;
    for (int iter = 0; iter < 1000; iter++) {
        tquery_t t;
        random_query(&t);
        size_t n = brute_force(&t, expected, sizeof(expected) / sizeof(expected[0]));
        for (size_t i = 0; i < n; i++) {
            if (expected[i].l2 != NULL) {
                with_connections++;
                mixed_seen += expected[i].k1 != expected[i].k2;
                /* the second leg departs on a later local date than the first */
                midnight += expected[i].l2->day != expected[i].l1->day;
                two_stop += expected[i].l3 != NULL;
            }
        }
        fs_search_query_t q;
        to_index_query(&t, &q);
        size_t seen = 0;
        for (int pageno = 0; pageno < 100000; pageno++) {
            fs_search_result_t res;
            CHECK_EQ_INT(fs_search(gen, &q, page, &res), 0);
            CHECK_EQ_INT(res.total, n);
            for (unsigned i = 0; i < res.count && seen + i < n; i++) {
                const fs_result_t *r = &page[i];
                const expect_t *e = &expected[seen + i];
                char id[FS_ID_MAX];
                fs_result_id(r, id);
                CHECK_EQ_STR(id, e->id);
                CHECK_EQ_INT(r->miles, e->miles);
                CHECK_EQ_INT(r->taxes_cents, e->taxes);
                CHECK_EQ_INT(r->seats, e->seats);
                CHECK_EQ_INT(r->cabin, e->cabin);
                CHECK_EQ_INT(r->duration_min, e->dur);
                CHECK_EQ_INT(r->departs_utc_min, e->dep);
                CHECK_EQ_INT(r->leg2 != NULL, e->l2 != NULL);
                CHECK_EQ_INT(r->leg3 != NULL, e->l3 != NULL);
            }
            seen += res.count;
            CHECK_EQ_INT(res.has_more, seen < n);
            if (!res.has_more || res.count == 0)
                break;
            multipage += pageno == 1;
            two_stop_multipage += pageno == 1 && t.max_stops == 2;
            const expect_t *last = &expected[seen - 1];
            memset(&q.cursor, 0, sizeof(q.cursor));
            q.cursor.present = 1;
            q.cursor.sort_value = last->sortv;
            q.cursor.departs_utc_min = last->dep;
            q.cursor.leg_count = last->l3 != NULL ? 3 : last->l2 != NULL ? 2 : 1;
            cursor_leg(last->l1, last->k1, &q.cursor.legs[0]);
            if (last->l2 != NULL)
                cursor_leg(last->l2, last->k2, &q.cursor.legs[1]);
            if (last->l3 != NULL)
                cursor_leg(last->l3, last->k3, &q.cursor.legs[2]);
        }
        CHECK_EQ_INT(seen, n);

        /* calendar over the same query: per first-leg local date and itinerary cabin */
        CHECK_EQ_INT(fs_calendar(gen, &q, cells), 0);
        for (int d = t.start; d <= t.end; d++) {
            for (int c = 0; c < 4; c++) {
                unsigned count = 0, max_seats = 0;
                long long min_miles = 0;
                for (size_t i = 0; i < n; i++) {
                    const expect_t *e = &expected[i];
                    if (e->l1->day != d || e->cabin != c)
                        continue;
                    if (count == 0 || e->miles < min_miles)
                        min_miles = e->miles;
                    if ((unsigned)e->seats > max_seats)
                        max_seats = (unsigned)e->seats;
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
    /* the time budget: a deadline already passed refuses a wide search outright (no partial
     * page), the same search without a deadline completes */
    {
        tquery_t t;
        memset(&t, 0, sizeof(t));
        for (int i = 0; i < 3; i++)
            t.origins[i] = t.dests[i] = i;
        t.no = t.nd = 3;
        t.start = BASE_DAY - 2;
        t.end = BASE_DAY + 14;
        t.cabin = -1;
        t.seats = 1;
        t.src_filter = t.carrier_filter = -1;
        t.limit = 10;
        t.max_stops = 1;
        t.maxc = 2880;
        t.after = t.before = -1;
        fs_search_query_t q;
        to_index_query(&t, &q);
        fs_search_result_t res;
        CHECK_EQ_INT(fs_search(gen, &q, page, &res), 0);
        CHECK(res.total > 1000); /* wide enough to visit many legs */
        q.deadline_us = 1;       /* 1 microsecond after boot: long past */
        CHECK_EQ_INT(fs_search(gen, &q, page, &res), FS_ETIMEDOUT);
        CHECK_EQ_INT(res.count, 0);
        CHECK_EQ_INT(fs_calendar(gen, &q, cells), FS_ETIMEDOUT);
    }
    fs_index_read_end(idx, &th);
    printf("itineraries with a connection checked: %u (mixed cabins %u, second leg on a later local date %u, two stops %u), "
           "multi-page queries %u (two stops %u)\n",
           with_connections, mixed_seen, midnight, two_stop, multipage, two_stop_multipage);
    /* the random queries must exercise every case, or the test proves nothing */
    CHECK(with_connections > 1000);
    CHECK(mixed_seen > 20);
    CHECK(midnight > 100);
    CHECK(multipage > 20);
    CHECK(two_stop > 1000);
    CHECK(two_stop_multipage > 5);
    fs_index_free(idx);
    TEST_DONE();
}
