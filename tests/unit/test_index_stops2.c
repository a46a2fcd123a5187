/*
 * 2-stop itineraries (max_stops=2) against brute force. Random networks over 14 airports with UTC
 * offsets spread over -12:00..+14:00 (connections cross midnight, time zones and the date line),
 * overnight legs, three sources, random connection windows, cabins, filters and sorts. Every
 * 0-, 1- and 2-stop itinerary is enumerated here by loops over all legs, with the rules of the
 * issue written out again (A, X, Y, B distinct; each connection within the window in UTC;
 * max_duration over the whole trip; one currency; same_source; mixed cabins), independently of
 * index/search.c. Each answer (set, order, total, cursor paging, calendar
 * cells) is compared with it.
 *
 * Then the budget: a fully connected network, wide windows and a week of dates make a 2-stop
 * search of millions of itineraries; with a small budget it answers FS_ETIMEDOUT and no list.
 */
#include <stdlib.h>
#include <time.h>
#include "index/index.h"
#include "tests/test.h"

#define NSRC 3
#define NAIRPORTS 14
#define NLEGS 2400
#define BASE_DAY 20800

static const char *const src_names[NSRC] = {"alpha", "beta", "gamma"};
static const char *const airport_codes[NAIRPORTS] = {"GRU", "LIS", "JFK", "LHR", "NRT", "AKL", "SYD",
                                                     "HNL", "APW", "CDG", "DXB", "SIN", "LAX", "FRA"};
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

static long long arr_utc(const tleg_t *l)
{
    return dep_utc(l) + l->dur;
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
    const tleg_t *l[3];
    int n; /* legs */
    int cabin, k[3], seats;
    long long miles, taxes, dep, dur, sortv;
    char id[200];
} expect_t;

/* docs/api.md "Order": after the sort value and the departure, each leg's source name, carrier
 * code, flight number, origin code, date, cabin (economy first), leg by leg; an itinerary before
 * the longer ones that start with all its legs. Codes as text, numbers as numbers. */
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
    for (int i = 0; i < 3; i++) {
        if (i >= x->n || i >= y->n)
            return (i < x->n) - (i < y->n);
        int c = leg_cmp(x->l[i], x->k[i], y->l[i], y->k[i]);
        if (c != 0)
            return c;
    }
    return 0;
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
    return (q->src_filter < 0 || l->src == q->src_filter) && (q->carrier_filter < 0 || l->carrier == q->carrier_filter);
}

static int first_leg_passes(const tquery_t *q, const tleg_t *l)
{
    return l->day >= q->start && l->day <= q->end && (q->after < 0 || l->minute >= q->after) &&
           (q->before < 0 || l->minute <= q->before);
}

static int connects(const tquery_t *q, const tleg_t *from, const tleg_t *to)
{
    long long gap = dep_utc(to) - arr_utc(from);
    return to->origin == from->dest && gap >= q->minc && gap <= q->maxc && leg_passes(q, to) &&
           (!q->same_source || to->src == from->src) && to->currency == from->currency;
}

/* Appends the itinerary of legs l[0..n) in every cabin it qualifies for. */
static size_t add(const tquery_t *q, const tleg_t *const *l, int n, expect_t *out, size_t at, size_t cap)
{
    long long dur = arr_utc(l[n - 1]) - dep_utc(l[0]);
    if (q->max_duration != 0 && dur > q->max_duration)
        return at;
    for (int c = 0; c < 4; c++) {
        int k[3] = {c, c, c}, ok = 1;
        if (q->mixed) {
            int top = q->cabin >= 0 ? q->cabin : 3;
            if (c != top || n == 1)
                ok = n == 1 && (q->cabin < 0 || c == q->cabin) && open_cabin(l[0], c, q->seats);
            else
                for (int i = 0; i < n; i++) {
                    k[i] = -1;
                    for (int kk = top; kk >= 0 && k[i] < 0; kk--)
                        if (open_cabin(l[i], kk, q->seats))
                            k[i] = kk;
                    ok &= k[i] >= 0;
                }
        } else {
            ok = q->cabin < 0 || c == q->cabin;
            for (int i = 0; i < n; i++)
                ok &= open_cabin(l[i], c, q->seats);
        }
        if (!ok)
            continue;
        if (at == cap)
            return at;
        expect_t *e = &out[at++];
        memset(e, 0, sizeof(*e));
        e->n = n;
        e->cabin = 3;
        e->seats = 100;
        for (int i = 0; i < n; i++) {
            e->l[i] = l[i];
            e->k[i] = k[i];
            e->cabin = k[i] < e->cabin ? k[i] : e->cabin;
            e->seats = l[i]->seats[k[i]] < e->seats ? l[i]->seats[k[i]] : e->seats;
            e->miles += l[i]->miles[k[i]];
            e->taxes += l[i]->taxes[k[i]];
            char id[100];
            leg_id(l[i], k[i], id, sizeof(id));
            if (i > 0)
                strcat(e->id, "+");
            strcat(e->id, id);
        }
        e->dep = dep_utc(l[0]);
        e->dur = dur;
    }
    return at;
}

static size_t brute_force(const tquery_t *q, expect_t *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < NLEGS; i++) {
        const tleg_t *a = &legs[i];
        int A = a->origin;
        if (!in_list(q->origins, q->no, A) || !leg_passes(q, a) || !first_leg_passes(q, a))
            continue;
        if (in_list(q->dests, q->nd, a->dest)) {
            const tleg_t *l[1] = {a};
            n = add(q, l, 1, out, n, cap);
        }
        if (q->max_stops < 1)
            continue;
        for (int j = 0; j < NLEGS; j++) {
            const tleg_t *b = &legs[j];
            if (!connects(q, a, b) || b->dest == A)
                continue;
            if (in_list(q->dests, q->nd, b->dest) && a->dest != b->dest) {
                const tleg_t *l[2] = {a, b};
                n = add(q, l, 2, out, n, cap);
            }
            /* a 2-stop itinerary: A->X->Y->B, the four distinct (X may be another of the
             * query's destinations: it is not this itinerary's B) */
            if (q->max_stops < 2)
                continue;
            for (int k = 0; k < NLEGS; k++) {
                const tleg_t *c = &legs[k];
                if (!connects(q, b, c) || !in_list(q->dests, q->nd, c->dest) || c->dest == A || c->dest == a->dest ||
                    c->dest == b->dest || b->dest == a->dest || b->dest == c->dest)
                    continue;
                if (q->same_source && c->src != a->src)
                    continue;
                const tleg_t *l[3] = {a, b, c};
                n = add(q, l, 3, out, n, cap);
            }
        }
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
    t->nd = 1 + (int)rnd(3);
    for (int i = 0; i < t->no; i++)
        t->origins[i] = (int)rnd(NAIRPORTS);
    for (int i = 0; i < t->nd; i++)
        t->dests[i] = (int)rnd(NAIRPORTS);
    if (t->no == 2 && t->origins[0] == t->origins[1])
        t->no = 1;
    for (int i = t->nd - 1; i > 0; i--)
        if (in_list(t->dests, i, t->dests[i]))
            t->dests[i] = t->dests[--t->nd];
    t->start = BASE_DAY + (int)rnd(10);
    t->end = t->start + (int)rnd(3);
    t->cabin = rnd(3) == 0 ? -1 : (int)rnd(4);
    t->seats = 1 + (int)rnd(2);
    t->src_filter = rnd(6) == 0 ? (int)rnd(NSRC) : -1;
    t->carrier_filter = rnd(6) == 0 ? (int)rnd(3) : -1;
    t->sort = (int)rnd(3);
    t->limit = 1 + (int)rnd(25);
    t->max_stops = rnd(8) == 0 ? (int)rnd(2) : 2;
    t->minc = rnd(3) == 0 ? 0 : (int)rnd(180);
    t->maxc = t->minc + (int)rnd(2200);
    if (t->maxc > FS_MAX_CONNECTION_MIN)
        t->maxc = FS_MAX_CONNECTION_MIN;
    t->mixed = rnd(3) == 0;
    t->same_source = rnd(4) == 0;
    t->max_duration = rnd(4) == 0 ? 600 + (int)rnd(4000) : 0;
    t->after = rnd(6) == 0 ? (int)rnd(1440) : -1;
    t->before = rnd(6) == 0 ? (t->after < 0 ? 0 : t->after) + (int)rnd(1440 - (t->after < 0 ? 0 : t->after)) : -1;
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
        l->currency = rnd(10) == 0 ? 1 : 0; /* mostly one currency, some legs another */
        l->day = BASE_DAY - 2 + (int)rnd(16);
        l->minute = (int)rnd(96) * 15;
        /* offsets at the extremes often: date-line crossings */
        int r = (int)rnd(4);
        l->dep_off = r == 0 ? -720 : r == 1 ? 840 : ((int)rnd(105) - 48) * 15;
        r = (int)rnd(4);
        l->arr_off = r == 0 ? -720 : r == 1 ? 840 : ((int)rnd(105) - 48) * 15;
        l->dur = 30 + (int)rnd(60) * 20; /* up to ~20 h: overnight legs */
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
    long long arr = arr_utc(l) + l->arr_off;
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

static expect_t expected[300000];
static fs_result_t page[FS_SEARCH_MAX_LIMIT];
static fs_calendar_cell_t cells[FS_CALENDAR_MAX_DAYS * FS_CABIN_COUNT];

/* One query: every page through cursors built from the expected list, then the calendar. */
static void check_query(const fs_generation_t *gen, const tquery_t *t, size_t n, unsigned *multipage)
{
    fs_search_query_t q;
    to_index_query(t, &q);
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
            CHECK_EQ_INT((r->leg2 != NULL) + (r->leg3 != NULL) + 1, e->n);
        }
        seen += res.count;
        CHECK_EQ_INT(res.has_more, seen < n);
        if (!res.has_more || res.count == 0)
            break;
        *multipage += pageno == 1;
        const expect_t *last = &expected[seen - 1];
        memset(&q.cursor, 0, sizeof(q.cursor));
        q.cursor.present = 1;
        q.cursor.sort_value = last->sortv;
        q.cursor.departs_utc_min = last->dep;
        q.cursor.leg_count = (unsigned)last->n;
        for (int i = 0; i < last->n; i++)
            cursor_leg(last->l[i], last->k[i], &q.cursor.legs[i]);
    }
    CHECK_EQ_INT(seen, n);

    /* calendar: per first-leg local date and itinerary cabin */
    CHECK_EQ_INT(fs_calendar(gen, &q, cells), 0);
    for (int d = t->start; d <= t->end; d++) {
        for (int c = 0; c < 4; c++) {
            unsigned count = 0, max_seats = 0;
            long long min_miles = 0;
            for (size_t i = 0; i < n; i++) {
                const expect_t *e = &expected[i];
                if (e->l[0]->day != d || e->cabin != c)
                    continue;
                if (count == 0 || e->miles < min_miles)
                    min_miles = e->miles;
                if ((unsigned)e->seats > max_seats)
                    max_seats = (unsigned)e->seats;
                count++;
            }
            const fs_calendar_cell_t *cell = &cells[(d - t->start) * FS_CABIN_COUNT + c];
            CHECK_EQ_INT(cell->count, count);
            if (count > 0) {
                CHECK_EQ_INT(cell->min_miles, min_miles);
                CHECK_EQ_INT(cell->max_seats, max_seats);
            }
        }
    }
}

static void test_brute_force(void)
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
    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    unsigned two_stops = 0, mixed_seen = 0, partners = 0, later_date = 0, multipage = 0;
    for (int iter = 0; iter < 1500; iter++) {
        tquery_t t;
        random_query(&t);
        size_t n = brute_force(&t, expected, sizeof(expected) / sizeof(expected[0]));
        CHECK(n < sizeof(expected) / sizeof(expected[0]));
        for (size_t i = 0; i < n; i++) {
            const expect_t *e = &expected[i];
            if (e->n != 3)
                continue;
            two_stops++;
            mixed_seen += e->k[0] != e->k[1] || e->k[1] != e->k[2];
            partners += e->l[0]->src != e->l[1]->src || e->l[1]->src != e->l[2]->src;
            later_date += e->l[2]->day != e->l[0]->day;
        }
        check_query(gen, &t, n, &multipage);
    }
    fs_index_read_end(idx, &th);
    printf("2-stop itineraries checked: %u (mixed cabins %u, partners %u, third leg on a later local date %u), multi-page "
           "queries %u\n",
           two_stops, mixed_seen, partners, later_date, multipage);
    /* the random queries must exercise every case, or the test proves nothing */
    CHECK(two_stops > 1000);
    CHECK(mixed_seen > 20);
    CHECK(partners > 100);
    CHECK(later_date > 100);
    CHECK(multipage > 20);
    fs_index_free(idx);
}

/* ------------------------------------------------------------------ budget */

#define HUB_AIRPORTS 40
#define HUB_DAYS 7
#define HUB_PER_DAY 4

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void test_budget(void)
{
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    fs_airport_t ap[HUB_AIRPORTS];
    for (unsigned i = 0; i < HUB_AIRPORTS; i++) {
        char c[3] = {'Q', (char)('A' + i / 26), (char)('A' + i % 26)};
        fs_airport_parse(c, 3, &ap[i]);
    }
    /* every ordered pair, HUB_PER_DAY flights a day for a week: from one origin, ~1,100 first
     * legs, ~300 second legs each within a 48-hour window, ~8 third legs each: millions */
    fs_segment_builder_t *sb = fs_segment_builder_new("hub", 1, 1790000000);
    unsigned flight = 1;
    for (unsigned o = 0; o < HUB_AIRPORTS; o++)
        for (unsigned d = 0; d < HUB_AIRPORTS; d++)
            for (unsigned day = 0; o != d && day < HUB_DAYS; day++)
                for (unsigned k = 0; k < HUB_PER_DAY; k++) {
                    fs_leg_in_t l;
                    memset(&l, 0, sizeof(l));
                    fs_carrier_parse("TP", 2, &l.carrier);
                    l.flight = (uint16_t)(flight++ % 60000 + 1);
                    l.origin = ap[o];
                    l.destination = ap[d];
                    l.departs = (fs_localtime_t){BASE_DAY + (int32_t)day, (uint16_t)(k * 360), 0};
                    l.arrives = (fs_localtime_t){BASE_DAY + (int32_t)day, (uint16_t)(k * 360 + 90), 0};
                    l.cabin_mask = 1;
                    l.seats[0] = 2;
                    l.fare[0] = (fs_fare_t){10000, 500, 0};
                    l.last_seen = 1790000000;
                    CHECK_EQ_INT(fs_segment_builder_add(sb, &l), 0);
                }
    CHECK(fs_index_publish_segment(idx, &th, fs_segment_builder_finish(sb, 0)) > 0);
    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    fs_search_query_t q;
    fs_search_query_init(&q);
    q.origins[q.origin_count++] = ap[0];
    q.destinations[q.destination_count++] = ap[1];
    q.start_day = BASE_DAY;
    q.end_day = BASE_DAY + HUB_DAYS - 1;
    q.max_stops = 2;
    q.min_connection = 0;
    q.max_connection = FS_MAX_CONNECTION_MIN;
    q.limit = 10;
    fs_search_result_t res;
    /* a deadline already past, then 2 ms from now: no list either way, and the search stops
     * soon after its deadline (a tick is read every 256 steps) */
    q.deadline_us = 1;
    CHECK_EQ_INT(fs_search(gen, &q, page, &res), FS_ETIMEDOUT);
    CHECK_EQ_INT(res.count, 0);
    CHECK_EQ_INT(res.total, 0);
    CHECK_EQ_INT(fs_calendar(gen, &q, cells), FS_ETIMEDOUT);
    int64_t t0 = now_us();
    q.deadline_us = t0 + 2000;
    CHECK_EQ_INT(fs_search(gen, &q, page, &res), FS_ETIMEDOUT);
    int64_t spent = now_us() - t0;
    CHECK_EQ_INT(res.count, 0);
    CHECK_EQ_INT(res.has_more, 0);
    CHECK(spent < 200000); /* 2 ms asked; the whole search runs far longer */
    printf("budget: a 2-stop search over %u fully connected airports stopped after %lld us (2 ms budget)\n", HUB_AIRPORTS,
           (long long)spent);
    /* the same from the calendar */
    q.deadline_us = now_us() + 2000;
    CHECK_EQ_INT(fs_calendar(gen, &q, cells), FS_ETIMEDOUT);
    /* max_stops=1 on the same network finishes within a generous budget: the explosion is the
     * third leg, and the budget does not refuse what fits it. Count: 38 X, each A->X leg joins
     * the X->B legs 0-48 h after it arrives. */
    q.max_stops = 1;
    q.deadline_us = now_us() + 10 * 1000000;
    CHECK_EQ_INT(fs_search(gen, &q, page, &res), 0);
    CHECK(res.total > 0);
    fs_index_read_end(idx, &th);
    fs_index_free(idx);
}

int main(void)
{
    test_brute_force();
    test_budget();
    TEST_DONE();
}
