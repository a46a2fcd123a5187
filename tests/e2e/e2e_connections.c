/*
 * tests/e2e/e2e_connections.c: 1-stop itineraries and city codes (docs/api.md, "1-stop
 * itineraries" and "City codes") through the real binary (argv[1]), end to end.
 *
 * Data: two snapshots written as msgpack seed files (msgpack-c's packer), "tap" and "star", with
 * legs chosen by hand around GRU, VCP, LIS, LHR, LGW, CDG, AKL, HNL and JFK on 2026-12-10/11:
 *   - GRU-LIS-LHR connections of 6 h (overnight at LIS), 50 min (under the default 60), 13 h
 *     (over the default 720) and 12 h 10 (just over 720);
 *   - a first leg that departs in the evening and lands the next day, connecting at noon;
 *   - AKL-HNL across the date line (+13:00 / -10:00): HNL is reached "before" AKL is left, and
 *     a HNL-JFK leg dated the day before, which leaves at the very instant AKL-HNL does;
 *   - business to Lisbon with only economy onwards (mixed cabin);
 *   - a first leg priced in EUR that combines with an EUR second leg and never with BRL ones;
 *   - connections whose legs come from the two sources ("star+tap", last_seen the older);
 *   - a return leg LIS-GRU (never GRU-LIS-GRU) and VCP/LGW legs for the SAO and LON codes.
 *
 * Expected answers come from this file: a brute-force enumeration over the legs above (every
 * pair of legs, the rules of docs/api.md applied one by one, the test's own calendar arithmetic
 * from lib_feed.c), and a few itineraries also written out by hand, which checks the model.
 *
 * The suite runs over HTTP/1.1 and over h2 with prior knowledge; then a second server with a
 * --cities file (LON overridden, a new code added), and a bad --cities file that must stop the
 * server with exit status 1 and a message naming the file and the line.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/e2e/lib_server.h"
#include "tests/e2e/e2e_check.h"
#include "tests/test.h"

static const char *binary;

/* ----------------------------------------------------------------- data */

#define Y_(seats, miles, taxes, cur) [E2E_ECONOMY] = {1, seats, miles, taxes, cur}
#define W_(seats, miles, taxes, cur) [E2E_PREMIUM] = {1, seats, miles, taxes, cur}
#define J_(seats, miles, taxes, cur) [E2E_BUSINESS] = {1, seats, miles, taxes, cur}
#define F_(seats, miles, taxes, cur) [E2E_FIRST] = {1, seats, miles, taxes, cur}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Offsets in December: GRU/VCP -03:00, LIS/LHR/LGW +00:00, CDG +01:00, AKL +13:00, HNL -10:00,
 * JFK -05:00. UTC times in the comments were worked out by hand. */
static const e2e_leg_t tap_legs[] = {
    /* 0: 11:00Z-21:30Z */
    {"TP", 82, "GRU", "LIS", "2026-12-10T08:00:00-03:00", "2026-12-10T21:30:00+00:00",
     {Y_(9, 35000, 12345, "BRL"), J_(2, 90000, 45000, "BRL")}},
    /* 1: departs 21:35 local, lands the next day (00:35Z-11:05Z on the 11th) */
    {"TP", 88, "GRU", "LIS", "2026-12-10T21:35:00-03:00", "2026-12-11T11:05:00+00:00",
     {Y_(5, 30000, 10000, "BRL"), J_(1, 85000, 40000, "BRL")}},
    /* 2: priced in EUR, 13:00Z-23:00Z */
    {"TP", 92, "GRU", "LIS", "2026-12-10T10:00:00-03:00", "2026-12-10T23:00:00+00:00", {Y_(6, 34000, 5000, "EUR")}},
    /* 3: 03:30Z on the 11th: 6 h after TP82 (overnight at LIS) */
    {"TP", 1350, "LIS", "LHR", "2026-12-11T03:30:00+00:00", "2026-12-11T06:10:00+00:00",
     {Y_(7, 15000, 3000, "BRL"), J_(2, 40000, 9000, "BRL")}},
    /* 4: 50 min after TP82 */
    {"TP", 1352, "LIS", "LHR", "2026-12-10T22:20:00+00:00", "2026-12-11T00:45:00+00:00", {Y_(9, 12000, 2000, "BRL")}},
    /* 5: 13 h after TP82; economy only */
    {"TP", 1360, "LIS", "LHR", "2026-12-11T10:30:00+00:00", "2026-12-11T12:55:00+00:00", {Y_(4, 14000, 2500, "BRL")}},
    /* 6: 2 h 05 after TP88; 12 h 10 after LA8100 */
    {"TP", 1366, "LIS", "LHR", "2026-12-11T13:10:00+00:00", "2026-12-11T15:35:00+00:00",
     {Y_(2, 13000, 2500, "BRL"), J_(1, 35000, 8000, "BRL")}},
    /* 7: priced in EUR, 01:00Z */
    {"TP", 1370, "LIS", "LHR", "2026-12-11T01:00:00+00:00", "2026-12-11T03:25:00+00:00", {Y_(5, 11000, 1500, "EUR")}},
    /* 8: nonstop, 19:00Z-07:45Z */
    {"BA", 247, "GRU", "LHR", "2026-12-10T16:00:00-03:00", "2026-12-11T07:45:00+00:00",
     {Y_(4, 60000, 30000, "BRL"), J_(2, 150000, 60000, "BRL")}},
    /* 9: LON's second airport */
    {"TP", 1336, "LIS", "LGW", "2026-12-11T12:00:00+00:00", "2026-12-11T14:30:00+00:00", {Y_(3, 12500, 2000, "BRL")}},
    /* 10: back to the origin: GRU-LIS-GRU is no itinerary, and GRU is no destination of GRU */
    {"TP", 83, "LIS", "GRU", "2026-12-11T12:00:00+00:00", "2026-12-11T19:30:00-03:00", {Y_(9, 35000, 5000, "BRL")}},
    /* 11: from VCP (SAO), 21:00Z-07:30Z */
    {"AD", 8750, "VCP", "LIS", "2026-12-10T18:00:00-03:00", "2026-12-11T07:30:00+00:00", {Y_(4, 33000, 8000, "BRL")}},
    /* 12, 13: the next day */
    {"TP", 82, "GRU", "LIS", "2026-12-11T08:00:00-03:00", "2026-12-11T21:30:00+00:00", {Y_(8, 35000, 12345, "BRL")}},
    {"TP", 1350, "LIS", "LHR", "2026-12-12T03:30:00+00:00", "2026-12-12T06:10:00+00:00", {Y_(7, 15000, 3000, "BRL")}},
};

static const e2e_leg_t star_legs[] = {
    /* 0: 15:00Z-01:00Z; business with 4 seats */
    {"LA", 8100, "GRU", "LIS", "2026-12-10T12:00:00-03:00", "2026-12-11T01:00:00+00:00",
     {Y_(3, 32000, 9000, "BRL"), J_(4, 80000, 30000, "BRL")}},
    /* 1: via Paris, 20:00Z-08:00Z */
    {"AF", 457, "GRU", "CDG", "2026-12-10T17:00:00-03:00", "2026-12-11T09:00:00+01:00",
     {Y_(6, 40000, 20000, "BRL"), J_(3, 110000, 50000, "BRL"), F_(0, 200000, 50000, "BRL")}},
    /* 2: 10:00Z-11:20Z */
    {"AF", 1080, "CDG", "LHR", "2026-12-11T11:00:00+01:00", "2026-12-11T11:20:00+00:00",
     {Y_(9, 8000, 4000, "BRL"), J_(2, 20000, 9000, "BRL")}},
    /* 3: nonstop, 02:55Z-15:40Z, one seat */
    {"LA", 8070, "GRU", "LHR", "2026-12-10T23:55:00-03:00", "2026-12-11T15:40:00+00:00", {Y_(1, 55000, 20000, "BRL")}},
    /* 4: across the date line: 08:00Z-17:15Z on the 10th, arriving at an earlier local time */
    {"NZ", 10, "AKL", "HNL", "2026-12-10T21:00:00+13:00", "2026-12-10T07:15:00-10:00",
     {Y_(5, 40000, 5000, "USD"), J_(2, 95000, 5000, "USD")}},
    /* 5: 01:00Z-11:50Z on the 11th: 7 h 45 after NZ10 */
    {"HA", 50, "HNL", "JFK", "2026-12-10T15:00:00-10:00", "2026-12-11T06:50:00-05:00", {Y_(3, 25000, 3000, "USD")}},
    /* 6: dated the 9th locally; leaves at 08:00Z on the 10th, the instant NZ10 leaves AKL */
    {"HA", 52, "HNL", "JFK", "2026-12-09T22:00:00-10:00", "2026-12-10T13:30:00-05:00", {Y_(3, 24000, 3000, "USD")}},
    /* 7: 19:00Z-04:30Z: 1 h 45 after NZ10 */
    {"HA", 54, "HNL", "JFK", "2026-12-10T09:00:00-10:00", "2026-12-10T23:30:00-05:00",
     {Y_(2, 26000, 3000, "USD"), J_(1, 60000, 3000, "USD")}},
    /* 8: 17:00Z-20:00Z on the 11th: VCP reaches JFK only through LIS and LHR (2 stops) */
    {"BA", 175, "LHR", "JFK", "2026-12-11T17:00:00+00:00", "2026-12-11T15:00:00-05:00", {Y_(5, 20000, 4000, "BRL")}},
};

typedef struct source {
    const char *name;
    uint64_t sequence;
    const char *generated_at; /* written in UTC, so it is also last_seen */
    const e2e_leg_t *legs;
    size_t count;
} source_t;

static const source_t sources[] = {
    {"star", 3, "2026-12-02T08:00:00Z", star_legs, COUNT(star_legs)},
    {"tap", 5, "2026-12-01T10:00:00Z", tap_legs, COUNT(tap_legs)},
};

/* ---------------------------------------------------------------- model */

typedef struct mleg {
    const source_t *src;
    const e2e_leg_t *leg;
    e2e_time_t dep, arr;
    int64_t dep_utc, arr_utc;
    int32_t day; /* local departure date */
} mleg_t;

static mleg_t legs[64];
static size_t leg_count;

static void model_init(void)
{
    for (size_t s = 0; s < COUNT(sources); s++) {
        for (size_t i = 0; i < sources[s].count; i++) {
            mleg_t *m = &legs[leg_count++];
            m->src = &sources[s];
            m->leg = &sources[s].legs[i];
            if (e2e_time_parse(m->leg->departs_at, &m->dep) != 0 || e2e_time_parse(m->leg->arrives_at, &m->arr) != 0) {
                fprintf(stderr, "test data: bad time in %s%u\n", m->leg->carrier, m->leg->flight);
                abort();
            }
            m->dep_utc = e2e_time_utc_min(&m->dep);
            m->arr_utc = e2e_time_utc_min(&m->arr);
            m->day = e2e_days(m->dep.year, m->dep.month, m->dep.day);
        }
    }
}

/* A query, as sent and as the model reads it. */
typedef struct cq {
    const char *origin, *destination;   /* as sent: airport or city codes */
    const char *origins, *destinations; /* the airports they stand for (the model's reading) */
    const char *date;                   /* or: */
    const char *start_date, *end_date;
    const char *cabin;                  /* NULL: every cabin */
    unsigned seats;                     /* 0: not sent (1) */
    int stops;                          /* 1: max_stops=1 sent; 0: not sent (nonstop only) */
    int min_conn, max_conn;             /* -1: not sent (60, 720) */
    int mixed, same_source;             /* 1: sent as true */
    unsigned max_duration;              /* 0: not sent */
    const char *depart_after, *depart_before;
    const char *sort;                   /* NULL: miles */
    const char *sources;                /* NULL: every source */
    unsigned limit;                     /* 0: 500 is sent, so the whole list is one page */
} cq_t;

static void query_string(const cq_t *q, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "origin=%s&destination=%s", q->origin, q->destination);
#define ADD(...)                                                                                                           \
    if (n < cap)                                                                                                           \
    n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__)
    if (q->date)
        ADD("&date=%s", q->date);
    if (q->start_date)
        ADD("&start_date=%s&end_date=%s", q->start_date, q->end_date);
    if (q->cabin)
        ADD("&cabin=%s", q->cabin);
    if (q->seats)
        ADD("&seats=%u", q->seats);
    if (q->stops)
        ADD("&max_stops=1");
    if (q->min_conn >= 0)
        ADD("&min_connection=%d", q->min_conn);
    if (q->max_conn >= 0)
        ADD("&max_connection=%d", q->max_conn);
    if (q->mixed)
        ADD("&mixed_cabin=true");
    if (q->same_source)
        ADD("&same_source=true");
    if (q->max_duration)
        ADD("&max_duration=%u", q->max_duration);
    if (q->depart_after)
        ADD("&depart_after=%s", q->depart_after);
    if (q->depart_before)
        ADD("&depart_before=%s", q->depart_before);
    if (q->sort)
        ADD("&sort=%s", q->sort);
    if (q->sources)
        ADD("&sources=%s", q->sources);
    ADD("&limit=%u", q->limit ? q->limit : 500);
#undef ADD
}

/* 1 when list is NULL (no filter) or has item as one of its comma-separated entries. */
static int in_list(const char *list, const char *item)
{
    if (list == NULL)
        return 1;
    size_t n = strlen(item);
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, item, n) == 0)
            return 1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int32_t date_days(const char *s)
{
    return e2e_days(atoi(s), atoi(s + 5), atoi(s + 8));
}

static int hhmm(const char *s)
{
    return atoi(s) * 60 + atoi(s + 3);
}

/* One expected result: a nonstop (n = 1) or a connection (n = 2). */
typedef struct itin {
    const mleg_t *l[2];
    int n;
    int leg_cabin[2];
    int cabin; /* the lower of the legs' */
    unsigned miles, taxes, seats;
    const char *currency;
    int64_t dep_utc, duration, sort_value;
    char id[200];
} itin_t;

#define MAX_ITIN 512

static void leg_id(const mleg_t *m, int cabin, char *out, size_t cap)
{
    snprintf(out, cap, "%s-%s%u-%s-%04d%02d%02d-%c", m->src->name, m->leg->carrier, m->leg->flight, m->leg->origin, m->dep.year,
             m->dep.month, m->dep.day, e2e_cabin_letters[cabin]);
}

static int open_cabin(const mleg_t *m, int c, unsigned seats)
{
    return m->leg->cabin[c].present && m->leg->cabin[c].seats >= seats;
}

static void add_itin(itin_t *out, size_t *n, const cq_t *q, const mleg_t *a, const mleg_t *b, int ca, int cb)
{
    if (*n == MAX_ITIN)
        abort();
    itin_t *x = &out[(*n)++];
    memset(x, 0, sizeof(*x));
    x->l[0] = a;
    x->n = b != NULL ? 2 : 1;
    x->leg_cabin[0] = ca;
    const e2e_cabin_t *fa = &a->leg->cabin[ca];
    x->miles = fa->miles;
    x->taxes = fa->taxes_cents;
    x->seats = fa->seats;
    x->currency = fa->currency;
    x->cabin = ca;
    x->dep_utc = a->dep_utc;
    x->duration = a->arr_utc - a->dep_utc;
    leg_id(a, ca, x->id, sizeof(x->id));
    if (b != NULL) {
        const e2e_cabin_t *fb = &b->leg->cabin[cb];
        x->l[1] = b;
        x->leg_cabin[1] = cb;
        x->miles += fb->miles;
        x->taxes += fb->taxes_cents;
        x->seats = fb->seats < x->seats ? fb->seats : x->seats;
        x->cabin = cb < ca ? cb : ca;
        x->duration = b->arr_utc - a->dep_utc;
        size_t len = strlen(x->id);
        x->id[len++] = '+';
        leg_id(b, cb, x->id + len, sizeof(x->id) - len);
    }
    if (q->sort == NULL || strcmp(q->sort, "miles") == 0)
        x->sort_value = x->miles;
    else if (strcmp(q->sort, "departure") == 0)
        x->sort_value = x->dep_utc;
    else
        x->sort_value = x->duration;
}

/* docs/api.md "Order": a leg's source name, carrier code, flight number, origin code, local
 * date, cabin (economy first); codes compare as text, numbers as numbers. */
static int mleg_cmp(const mleg_t *a, int ca, const mleg_t *b, int cb)
{
    int c = strcmp(a->src->name, b->src->name);
    if (c == 0)
        c = strcmp(a->leg->carrier, b->leg->carrier);
    if (c == 0)
        c = (a->leg->flight > b->leg->flight) - (a->leg->flight < b->leg->flight);
    if (c == 0)
        c = strcmp(a->leg->origin, b->leg->origin);
    if (c == 0)
        c = (a->day > b->day) - (a->day < b->day);
    if (c == 0)
        c = (ca > cb) - (ca < cb);
    return c;
}

/* The sort value, the departure, the first leg, then the second (a nonstop first). */
static int itin_cmp(const void *pa, const void *pb)
{
    const itin_t *x = pa, *y = pb;
    if (x->sort_value != y->sort_value)
        return x->sort_value < y->sort_value ? -1 : 1;
    if (x->dep_utc != y->dep_utc)
        return x->dep_utc < y->dep_utc ? -1 : 1;
    int c = mleg_cmp(x->l[0], x->leg_cabin[0], y->l[0], y->leg_cabin[0]);
    if (c == 0)
        c = x->n != y->n ? x->n - y->n : x->n == 2 ? mleg_cmp(x->l[1], x->leg_cabin[1], y->l[1], y->leg_cabin[1]) : 0;
    return c;
}

/* Highest cabin at or below top with the seats, or -1. */
static int mixed_pick(const mleg_t *m, int top, unsigned seats)
{
    for (int c = top; c >= 0; c--)
        if (open_cabin(m, c, seats))
            return c;
    return -1;
}

/* Every result of q, by brute force over every leg and every pair of legs, sorted. */
static size_t model_search(const cq_t *q, itin_t *out)
{
    int32_t from = q->date ? date_days(q->date) : date_days(q->start_date);
    int32_t to = q->date ? from : date_days(q->end_date);
    unsigned seats = q->seats ? q->seats : 1;
    int want_cabin = -1;
    for (int c = 0; q->cabin != NULL && c < E2E_CABINS; c++)
        if (strcmp(q->cabin, e2e_cabin_names[c]) == 0)
            want_cabin = c;
    int64_t min_conn = q->min_conn >= 0 ? q->min_conn : 60, max_conn = q->max_conn >= 0 ? q->max_conn : 720;
    int after = q->depart_after ? hhmm(q->depart_after) : -1, before = q->depart_before ? hhmm(q->depart_before) : -1;
    size_t n = 0;
    for (size_t i = 0; i < leg_count; i++) {
        const mleg_t *a = &legs[i];
        int minute = a->dep.hour * 60 + a->dep.minute;
        if (!in_list(q->origins, a->leg->origin) || a->day < from || a->day > to || !in_list(q->sources, a->src->name) ||
            (after >= 0 && minute < after) || (before >= 0 && minute > before))
            continue;
        /* nonstop: one result per cabin with the seats */
        if (in_list(q->destinations, a->leg->destination) && (q->max_duration == 0 || a->arr_utc - a->dep_utc <= q->max_duration))
            for (int c = 0; c < E2E_CABINS; c++)
                if (open_cabin(a, c, seats) && (want_cabin < 0 || want_cabin == c))
                    add_itin(out, &n, q, a, NULL, c, c);
        if (!q->stops)
            continue;
        /* A -> X -> B: X is neither A nor B */
        for (size_t j = 0; j < leg_count; j++) {
            const mleg_t *b = &legs[j];
            if (strcmp(b->leg->origin, a->leg->destination) != 0 || !in_list(q->destinations, b->leg->destination) ||
                strcmp(b->leg->destination, a->leg->origin) == 0 || !in_list(q->sources, b->src->name) ||
                (q->same_source && a->src != b->src))
                continue;
            int64_t gap = b->dep_utc - a->arr_utc;
            if (gap < min_conn || gap > max_conn)
                continue;
            if (q->max_duration != 0 && b->arr_utc - a->dep_utc > q->max_duration)
                continue;
            if (q->mixed) {
                int top = want_cabin < 0 ? E2E_FIRST : want_cabin;
                int ca = mixed_pick(a, top, seats), cb = mixed_pick(b, top, seats);
                if (ca >= 0 && cb >= 0 && strcmp(a->leg->cabin[ca].currency, b->leg->cabin[cb].currency) == 0)
                    add_itin(out, &n, q, a, b, ca, cb);
            } else {
                for (int c = 0; c < E2E_CABINS; c++)
                    if ((want_cabin < 0 || want_cabin == c) && open_cabin(a, c, seats) && open_cabin(b, c, seats) &&
                        strcmp(a->leg->cabin[c].currency, b->leg->cabin[c].currency) == 0)
                        add_itin(out, &n, q, a, b, c, c);
            }
        }
    }
    qsort(out, n, sizeof(*out), itin_cmp);
    return n;
}

/* ------------------------------------------------------- field checks */

static char what[4096]; /* what is being checked, printed with a failure */

#define check_str(map, key, expected) e2e_check_str(what, (map), (key), (expected))
#define check_int(map, key, expected) e2e_check_int(what, (map), (key), (expected))

static void check_result(const msgpack_object *r, const itin_t *x)
{
    const mleg_t *first = x->l[0], *last = x->l[x->n - 1];
    char dep[32], arr[32], date[16], src[80];
    e2e_time_format_local(&first->dep, dep);
    e2e_time_format_local(&last->arr, arr);
    e2e_date_format(first->day, date);
    if (x->n == 2 && first->src != last->src)
        snprintf(src, sizeof(src), "%s+%s", first->src->name, last->src->name);
    else
        snprintf(src, sizeof(src), "%s", first->src->name);
    /* last_seen: the older of the legs' (generated_at is written in UTC) */
    const char *seen = first->src->generated_at;
    if (x->n == 2 && strcmp(last->src->generated_at, seen) < 0)
        seen = last->src->generated_at;

    check_str(r, "id", x->id);
    check_str(r, "origin", first->leg->origin);
    check_str(r, "destination", last->leg->destination);
    check_str(r, "date", date);
    check_str(r, "departs_at", dep);
    check_str(r, "arrives_at", arr);
    check_int(r, "duration_min", x->duration);
    check_int(r, "stops", x->n - 1);
    check_str(r, "cabin", e2e_cabin_names[x->cabin]);
    check_int(r, "miles", x->miles);
    check_int(r, "taxes_cents", x->taxes);
    check_str(r, "currency", x->currency);
    check_int(r, "seats", x->seats);
    check_str(r, "source", src);
    check_str(r, "last_seen", seen);
    const msgpack_object_array *segs = e2e_mp_array(r, "segments");
    CHECK(segs != NULL && segs->size == (uint32_t)x->n);
    if (segs == NULL || segs->size != (uint32_t)x->n) {
        fprintf(stderr, "  segments of %s\n", what);
        return;
    }
    for (int k = 0; k < x->n; k++) {
        const mleg_t *m = x->l[k];
        const msgpack_object *s = &segs->ptr[k];
        const e2e_cabin_t *cab = &m->leg->cabin[x->leg_cabin[k]];
        e2e_time_format_local(&m->dep, dep);
        e2e_time_format_local(&m->arr, arr);
        check_str(s, "carrier", m->leg->carrier);
        check_int(s, "flight", m->leg->flight);
        check_str(s, "origin", m->leg->origin);
        check_str(s, "destination", m->leg->destination);
        check_str(s, "departs_at", dep);
        check_str(s, "arrives_at", arr);
        check_int(s, "duration_min", m->arr_utc - m->dep_utc);
        check_str(s, "cabin", e2e_cabin_names[x->leg_cabin[k]]);
        check_int(s, "seats", cab->seats);
        check_int(s, "miles", cab->miles);
        check_str(s, "source", m->src->name);
    }
}

/* ------------------------------------------------------------- requests */

/* SIGTERM, wait, then the server's stderr must hold no sanitizer error (in the ASan build: memory
 * errors and undefined behaviour found while it served this test). Returns the exit status. */
static int stop_server(e2e_server_t *s)
{
    e2e_server_signal(s, SIGTERM);
    int status = e2e_server_wait(s, 15000);
    char *log = e2e_server_stderr(s);
    const char *bad = strstr(log, "ERROR: AddressSanitizer");
    if (bad == NULL)
        bad = strstr(log, "runtime error:");
    CHECK(bad == NULL);
    if (bad != NULL)
        fprintf(stderr, "  the server's stderr reports: %.1500s\n", bad);
    const char *leak = strstr(log, "SUMMARY: AddressSanitizer");
    if (leak != NULL && status != 0)
        fprintf(stderr, "  exit status %d after SIGTERM: %.120s\n", status, leak);
    free(log);
    e2e_server_stop(s); /* the log dir */
    return status;
}

typedef struct ctx {
    e2e_server_t *srv;
    e2e_client_t client[E2E_PROTO_COUNT];
} ctx_t;

static long get(ctx_t *c, e2e_proto_t proto, const char *path, const char *header, e2e_response_t *res)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", c->srv->url, path);
    if (e2e_get(&c->client[proto], proto, url, header, res) != 0) {
        CHECK(!"request failed");
        fprintf(stderr, "  GET %s over %s: %s\n", path, e2e_proto_names[proto], res->error);
        return 0;
    }
    long want = proto == E2E_H1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2_0;
    CHECK_EQ_INT(res->http_version, want);
    return res->status;
}

/* GET path as msgpack; 0 and *doc (free it) on a 200 that decodes as one map. */
static int get_mp(ctx_t *c, e2e_proto_t proto, const char *path, e2e_mp_t *doc)
{
    e2e_response_t res;
    long status = get(c, proto, path, "Accept: application/msgpack", &res);
    int ok = status == 200 && e2e_mp_parse(doc, res.body, res.body_len) == 0;
    if (ok && doc->root->type != MSGPACK_OBJECT_MAP) {
        e2e_mp_free(doc);
        ok = 0;
    }
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  GET %s over %s: status %ld: %.400s\n", path, e2e_proto_names[proto], status,
                status == 200 ? "(not one msgpack map)" : res.body);
    e2e_response_free(&res);
    return ok ? 0 : -1;
}

/* An array of strings equal, as a set, to a comma list. */
static void check_code_set(const msgpack_object *root, const char *key, const char *list)
{
    const msgpack_object_array *a = e2e_mp_array(root, key);
    CHECK(a != NULL);
    if (a == NULL)
        return;
    size_t expected = 1;
    for (const char *p = list; *p; p++)
        expected += *p == ',';
    CHECK_EQ_INT(a->size, expected);
    for (uint32_t i = 0; i < a->size; i++) {
        char code[8] = "";
        const msgpack_object *o = &a->ptr[i];
        if (o->type == MSGPACK_OBJECT_STR && o->via.str.size < sizeof(code))
            memcpy(code, o->via.str.ptr, o->via.str.size);
        CHECK(in_list(list, code));
        if (!in_list(list, code))
            fprintf(stderr, "  \"%s\" lists %s, expected only %s, in %s\n", key, code, list, what);
    }
}

/* Runs q (limit 500 unless q says) and compares the whole answer with the model. */
static size_t check_search(ctx_t *c, e2e_proto_t proto, const cq_t *q)
{
    static itin_t expected[MAX_ITIN];
    char qs[1024], path[1200];
    query_string(q, qs, sizeof(qs));
    snprintf(path, sizeof(path), "/v1/search?%s", qs);
    size_t n = model_search(q, expected);
    unsigned limit = q->limit ? q->limit : 500;
    size_t page = n < limit ? n : limit;
    e2e_mp_t doc;
    if (get_mp(c, proto, path, &doc) != 0)
        return n;
    const msgpack_object *root = doc.root;
    snprintf(what, sizeof(what), "GET %s over %s", path, e2e_proto_names[proto]);
    check_int(root, "count", (int64_t)page);
    check_int(root, "total", (int64_t)n);
    check_code_set(root, "origins", q->origins);
    check_code_set(root, "destinations", q->destinations);
    const msgpack_object_array *results = e2e_mp_array(root, "results");
    CHECK(results != NULL);
    if (results != NULL) {
        CHECK_EQ_INT(results->size, page);
        if (results->size != page) {
            fprintf(stderr, "  %s: %u results, expected %zu:\n", what, results->size, page);
            for (size_t i = 0; i < page; i++)
                fprintf(stderr, "    expected %s\n", expected[i].id);
            for (uint32_t i = 0; i < results->size; i++) {
                char id[200];
                fprintf(stderr, "    got      %s\n", e2e_mp_str(&results->ptr[i], "id", id, sizeof(id)) ? id : "?");
            }
        }
        char base[1400];
        snprintf(base, sizeof(base), "%.1300s", what);
        for (uint32_t i = 0; i < results->size && i < page; i++) {
            snprintf(what, sizeof(what), "%s result %u (expected %s)", base, i, expected[i].id);
            check_result(&results->ptr[i], &expected[i]);
        }
        snprintf(what, sizeof(what), "%s", base);
    }
    const msgpack_object *next = e2e_mp_get(root, "next_cursor");
    CHECK(next != NULL && (n > page ? next->type == MSGPACK_OBJECT_STR : next->type == MSGPACK_OBJECT_NIL));
    e2e_mp_free(&doc);
    return n;
}

/* The result with this id in a search answer: its fields checked against hand-written values,
 * or its absence. Hand-written, so that the model above is checked too. */
typedef struct hand {
    const char *id;
    int present;
    const char *cabin;
    int64_t miles, taxes, seats, duration;
    const char *currency, *source, *last_seen, *date, *departs_at, *arrives_at;
    const char *seg_cabin[2];
} hand_t;

static void check_hand(ctx_t *c, e2e_proto_t proto, const char *qs, const hand_t *h)
{
    char path[1200];
    snprintf(path, sizeof(path), "/v1/search?%s&limit=500", qs);
    e2e_mp_t doc;
    if (get_mp(c, proto, path, &doc) != 0)
        return;
    snprintf(what, sizeof(what), "GET %s over %s, result %s", path, e2e_proto_names[proto], h->id);
    const msgpack_object_array *results = e2e_mp_array(doc.root, "results");
    const msgpack_object *r = NULL;
    for (uint32_t i = 0; results != NULL && i < results->size; i++)
        if (e2e_mp_str_is(e2e_mp_get(&results->ptr[i], "id"), h->id))
            r = &results->ptr[i];
    CHECK((r != NULL) == h->present);
    if ((r != NULL) != h->present)
        fprintf(stderr, "  %s: expected %s\n", what, h->present ? "present" : "absent");
    if (r != NULL && h->present) {
        check_str(r, "cabin", h->cabin);
        check_int(r, "miles", h->miles);
        check_int(r, "taxes_cents", h->taxes);
        check_int(r, "seats", h->seats);
        check_int(r, "duration_min", h->duration);
        check_int(r, "stops", 1);
        check_str(r, "currency", h->currency);
        check_str(r, "source", h->source);
        check_str(r, "last_seen", h->last_seen);
        check_str(r, "date", h->date);
        check_str(r, "departs_at", h->departs_at);
        check_str(r, "arrives_at", h->arrives_at);
        const msgpack_object_array *segs = e2e_mp_array(r, "segments");
        CHECK(segs != NULL && segs->size == 2);
        for (uint32_t k = 0; segs != NULL && k < segs->size && k < 2; k++)
            check_str(&segs->ptr[k], "cabin", h->seg_cabin[k]);
    }
    e2e_mp_free(&doc);
}

/* ----------------------------------------------------------------- tests */

#define GRU_LHR .origin = "GRU", .destination = "LHR", .origins = "GRU", .destinations = "LHR"
#define D "2026-12-10"

static void test_search(ctx_t *c, e2e_proto_t proto)
{
    const cq_t queries[] = {
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1},
        {GRU_LHR, .date = D, .stops = 0, .min_conn = -1, .max_conn = -1},
        {GRU_LHR, .date = D, .stops = 1, .cabin = "economy", .min_conn = -1, .max_conn = -1},
        {GRU_LHR, .date = D, .stops = 1, .cabin = "business", .min_conn = -1, .max_conn = -1},
        {GRU_LHR, .date = D, .stops = 1, .cabin = "first", .min_conn = -1, .max_conn = -1},
        {GRU_LHR, .date = D, .stops = 1, .seats = 2, .min_conn = -1, .max_conn = -1},
        {GRU_LHR, .date = D, .stops = 1, .seats = 4, .min_conn = -1, .max_conn = -1},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = 45, .max_conn = -1},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = 800},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = 0, .max_conn = 2880},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = 200, .max_conn = 400},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = 0, .max_conn = 0},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .cabin = "business", .mixed = 1},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .cabin = "economy", .mixed = 1},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .mixed = 1},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = 800, .cabin = "business", .mixed = 1, .seats = 2},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .same_source = 1},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .sources = "tap"},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .sources = "star"},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .max_duration = 900},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .max_duration = 1150},
        {GRU_LHR, .date = D, .stops = 0, .min_conn = -1, .max_conn = -1, .max_duration = 765},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .depart_after = "10:00", .depart_before = "17:00"},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .depart_after = "12:01"},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .depart_before = "09:59"},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .sort = "departure"},
        {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .sort = "duration"},
        {GRU_LHR, .start_date = "2026-12-09", .end_date = "2026-12-12", .stops = 1, .min_conn = -1, .max_conn = -1},
        {GRU_LHR, .date = "2026-12-11", .stops = 1, .min_conn = -1, .max_conn = -1},
        {.origin = "GRU", .destination = "LIS", .origins = "GRU", .destinations = "LIS", .date = D, .stops = 1, .min_conn = -1,
         .max_conn = -1},
        {.origin = "GRU", .destination = "GRU", .origins = "GRU", .destinations = "GRU", .start_date = "2026-12-09",
         .end_date = "2026-12-12", .stops = 1, .min_conn = -1, .max_conn = -1},
        {.origin = "AKL", .destination = "JFK", .origins = "AKL", .destinations = "JFK", .date = D, .stops = 1, .min_conn = -1,
         .max_conn = -1},
        {.origin = "AKL", .destination = "JFK", .origins = "AKL", .destinations = "JFK", .date = D, .stops = 1, .min_conn = 0,
         .max_conn = 2880},
        {.origin = "AKL", .destination = "JFK", .origins = "AKL", .destinations = "JFK", .date = "2026-12-09", .stops = 1,
         .min_conn = -1, .max_conn = -1},
        {.origin = "AKL", .destination = "JFK,HNL", .origins = "AKL", .destinations = "JFK,HNL", .start_date = "2026-12-09",
         .end_date = "2026-12-11", .stops = 1, .min_conn = -1, .max_conn = -1, .sort = "duration"},
        /* city codes: every airport of both cities, one merged list */
        {.origin = "SAO", .destination = "LON", .origins = "GRU,CGH,VCP", .destinations = "LHR,LGW,LCY,STN,LTN,SEN", .date = D,
         .stops = 1, .min_conn = -1, .max_conn = -1},
        {.origin = "SAO", .destination = "LON", .origins = "GRU,CGH,VCP", .destinations = "LHR,LGW,LCY,STN,LTN,SEN", .date = D,
         .stops = 1, .min_conn = -1, .max_conn = -1, .limit = 3},
        {.origin = "SAO", .destination = "LON", .origins = "GRU,CGH,VCP", .destinations = "LHR,LGW,LCY,STN,LTN,SEN", .date = D,
         .stops = 1, .min_conn = -1, .max_conn = -1, .limit = 1, .sort = "departure"},
        {.origin = "SAO", .destination = "LON", .origins = "GRU,CGH,VCP", .destinations = "LHR,LGW,LCY,STN,LTN,SEN", .date = D,
         .stops = 0, .min_conn = -1, .max_conn = -1},
        {.origin = "VCP,GRU", .destination = "LGW", .origins = "VCP,GRU", .destinations = "LGW", .date = D, .stops = 1,
         .min_conn = -1, .max_conn = -1},
        {.origin = "SAO,GRU", .destination = "LON,LHR", .origins = "GRU,CGH,VCP", .destinations = "LHR,LGW,LCY,STN,LTN,SEN",
         .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .sort = "duration", .limit = 4},
        {.origin = "GRU", .destination = "PAR,LON", .origins = "GRU", .destinations = "CDG,ORY,BVA,LHR,LGW,LCY,STN,LTN,SEN",
         .date = D, .stops = 1, .min_conn = -1, .max_conn = -1},
    };
    size_t nonempty = 0;
    for (size_t i = 0; i < COUNT(queries); i++)
        nonempty += check_search(c, proto, &queries[i]) > 0;
    CHECK(nonempty >= COUNT(queries) - 4); /* the data is not so thin that empty answers pass for right ones */
}

/* Itineraries written out by hand (times in the comments of the data). */
static void test_hand(ctx_t *c, e2e_proto_t proto)
{
    const char *base = "origin=GRU&destination=LHR&date=" D "&max_stops=1";
    char qs[512];
    static const hand_t six_hours = {"tap-TP82-GRU-20261210-Y+tap-TP1350-LIS-20261211-Y", 1, "economy", 50000, 15345, 7, 1150,
                                     "BRL", "tap", "2026-12-01T10:00:00Z", "2026-12-10", "2026-12-10T08:00:00-03:00",
                                     "2026-12-11T06:10:00+00:00", {"economy", "economy"}};
    check_hand(c, proto, base, &six_hours);
    static const hand_t six_hours_j = {"tap-TP82-GRU-20261210-J+tap-TP1350-LIS-20261211-J", 1, "business", 130000, 54000, 2, 1150,
                                       "BRL", "tap", "2026-12-01T10:00:00Z", "2026-12-10", "2026-12-10T08:00:00-03:00",
                                       "2026-12-11T06:10:00+00:00", {"business", "business"}};
    check_hand(c, proto, base, &six_hours_j);
    /* 50 minutes: too short by default, in with min_connection=45 */
    static const hand_t fifty_out = {"tap-TP82-GRU-20261210-Y+tap-TP1352-LIS-20261210-Y", 0};
    check_hand(c, proto, base, &fifty_out);
    static const hand_t fifty_in = {"tap-TP82-GRU-20261210-Y+tap-TP1352-LIS-20261210-Y", 1, "economy", 47000, 14345, 9, 825,
                                    "BRL", "tap", "2026-12-01T10:00:00Z", "2026-12-10", "2026-12-10T08:00:00-03:00",
                                    "2026-12-11T00:45:00+00:00", {"economy", "economy"}};
    snprintf(qs, sizeof(qs), "%s&min_connection=45", base);
    check_hand(c, proto, qs, &fifty_in);
    /* 13 hours: too long by default, in with max_connection=800 */
    static const hand_t thirteen_out = {"tap-TP82-GRU-20261210-Y+tap-TP1360-LIS-20261211-Y", 0};
    check_hand(c, proto, base, &thirteen_out);
    static const hand_t thirteen_in = {"tap-TP82-GRU-20261210-Y+tap-TP1360-LIS-20261211-Y", 1, "economy", 49000, 14845, 4, 1555,
                                       "BRL", "tap", "2026-12-01T10:00:00Z", "2026-12-10", "2026-12-10T08:00:00-03:00",
                                       "2026-12-11T12:55:00+00:00", {"economy", "economy"}};
    snprintf(qs, sizeof(qs), "%s&max_connection=800", base);
    check_hand(c, proto, qs, &thirteen_in);
    /* 12 h 10: just over the default */
    static const hand_t over = {"star-LA8100-GRU-20261210-Y+tap-TP1366-LIS-20261211-Y", 0};
    check_hand(c, proto, base, &over);
    /* leaves in the evening, lands the next day, connects at 13:10 */
    static const hand_t overnight = {"tap-TP88-GRU-20261210-J+tap-TP1366-LIS-20261211-J", 1, "business", 120000, 48000, 1, 900,
                                     "BRL", "tap", "2026-12-01T10:00:00Z", "2026-12-10", "2026-12-10T21:35:00-03:00",
                                     "2026-12-11T15:35:00+00:00", {"business", "business"}};
    check_hand(c, proto, base, &overnight);
    /* two partners: "star+tap", last_seen the older (tap's) */
    static const hand_t two_sources = {"star-LA8100-GRU-20261210-Y+tap-TP1350-LIS-20261211-Y", 1, "economy", 47000, 12000, 3, 910,
                                       "BRL", "star+tap", "2026-12-01T10:00:00Z", "2026-12-10", "2026-12-10T12:00:00-03:00",
                                       "2026-12-11T06:10:00+00:00", {"economy", "economy"}};
    check_hand(c, proto, base, &two_sources);
    snprintf(qs, sizeof(qs), "%s&same_source=true", base);
    static const hand_t two_sources_out = {"star-LA8100-GRU-20261210-Y+tap-TP1350-LIS-20261211-Y", 0};
    check_hand(c, proto, qs, &two_sources_out);
    /* via Paris, one partner */
    static const hand_t paris = {"star-AF457-GRU-20261210-J+star-AF1080-CDG-20261211-J", 1, "business", 130000, 59000, 2, 920,
                                 "BRL", "star", "2026-12-02T08:00:00Z", "2026-12-10", "2026-12-10T17:00:00-03:00",
                                 "2026-12-11T11:20:00+00:00", {"business", "business"}};
    check_hand(c, proto, base, &paris);
    /* EUR with EUR only */
    static const hand_t eur = {"tap-TP92-GRU-20261210-Y+tap-TP1370-LIS-20261211-Y", 1, "economy", 45000, 6500, 5, 865, "EUR", "tap",
                               "2026-12-01T10:00:00Z", "2026-12-10", "2026-12-10T10:00:00-03:00", "2026-12-11T03:25:00+00:00",
                               {"economy", "economy"}};
    check_hand(c, proto, base, &eur);
    static const hand_t eur_brl = {"tap-TP92-GRU-20261210-Y+tap-TP1350-LIS-20261211-Y", 0};
    check_hand(c, proto, base, &eur_brl);
    static const hand_t brl_eur = {"tap-TP82-GRU-20261210-Y+tap-TP1370-LIS-20261211-Y", 0};
    check_hand(c, proto, base, &brl_eur);
    /* business to Lisbon, economy on to London, reported as economy */
    snprintf(qs, sizeof(qs), "%s&cabin=business&mixed_cabin=true", base);
    static const hand_t mixed = {"star-LA8100-GRU-20261210-J+tap-TP1360-LIS-20261211-Y", 1, "economy", 94000, 32500, 4, 1315,
                                 "BRL", "star+tap", "2026-12-01T10:00:00Z", "2026-12-10", "2026-12-10T12:00:00-03:00",
                                 "2026-12-11T12:55:00+00:00", {"business", "economy"}};
    check_hand(c, proto, qs, &mixed);
    static const hand_t mixed_off = {"star-LA8100-GRU-20261210-J+tap-TP1360-LIS-20261211-Y", 0};
    snprintf(qs, sizeof(qs), "%s&cabin=business", base);
    check_hand(c, proto, qs, &mixed_off);
    /* across the date line: AKL 21:00 (+13:00) = 08:00Z, HNL 07:15 (-10:00) = 17:15Z; HNL 15:00 = 01:00Z
     * the next day, JFK 06:50 (-05:00) = 11:50Z: 27 h 50 */
    const char *akl = "origin=AKL&destination=JFK&date=" D "&max_stops=1";
    static const hand_t dateline = {"star-NZ10-AKL-20261210-Y+star-HA50-HNL-20261210-Y", 1, "economy", 65000, 8000, 3, 1670,
                                    "USD", "star", "2026-12-02T08:00:00Z", "2026-12-10", "2026-12-10T21:00:00+13:00",
                                    "2026-12-11T06:50:00-05:00", {"economy", "economy"}};
    check_hand(c, proto, akl, &dateline);
    static const hand_t dateline_short = {"star-NZ10-AKL-20261210-J+star-HA54-HNL-20261210-J", 1, "business", 155000, 8000, 1, 1230,
                                          "USD", "star", "2026-12-02T08:00:00Z", "2026-12-10", "2026-12-10T21:00:00+13:00",
                                          "2026-12-10T23:30:00-05:00", {"business", "business"}};
    check_hand(c, proto, akl, &dateline_short);
    /* HA52 is dated the 9th locally and leaves at 08:00Z on the 10th: before NZ10 lands */
    static const hand_t dateline_gone = {"star-NZ10-AKL-20261210-Y+star-HA52-HNL-20261209-Y", 0};
    check_hand(c, proto, akl, &dateline_gone);
}

/* Two stops, worked by hand: VCP flies only to LIS, and nothing flies LIS-JFK, so VCP-JFK has no
 * nonstop and no 1-stop itinerary. With two stops: AD8750 lands at LIS 07:30Z; TP1360 leaves
 * 10:30Z (3 h) and lands at LHR 12:55Z, TP1366 leaves 13:10Z (5 h 40) and lands 15:35Z; BA175
 * leaves LHR 17:00Z (4 h 05 and 1 h 25 later; TP1350 and the others leave LIS before 07:30Z).
 * Both run 21:00Z on the 10th to 20:00Z on the 11th: 1,380 minutes. */
static void test_two_stops(ctx_t *c, e2e_proto_t proto)
{
    static const struct {
        const char *id;
        int64_t miles, taxes, seats;
    } want[] = {
        /* 33,000 + 13,000 + 20,000 miles; taxes 8,000 + 2,500 + 4,000; seats min(4, 2, 5) */
        {"tap-AD8750-VCP-20261210-Y+tap-TP1366-LIS-20261211-Y+star-BA175-LHR-20261211-Y", 66000, 14500, 2},
        /* 33,000 + 14,000 + 20,000; the same taxes; seats min(4, 4, 5) */
        {"tap-AD8750-VCP-20261210-Y+tap-TP1360-LIS-20261211-Y+star-BA175-LHR-20261211-Y", 67000, 14500, 4},
    };
    e2e_mp_t doc;
    snprintf(what, sizeof(what), "VCP-JFK with max_stops=1 over %s", e2e_proto_names[proto]);
    if (get_mp(c, proto, "/v1/search?origin=VCP&destination=JFK&date=" D "&max_stops=1", &doc) == 0) {
        check_int(doc.root, "total", 0);
        e2e_mp_free(&doc);
    }
    snprintf(what, sizeof(what), "VCP-JFK with max_stops=2 over %s", e2e_proto_names[proto]);
    if (get_mp(c, proto, "/v1/search?origin=VCP&destination=JFK&date=" D "&max_stops=2", &doc) != 0)
        return;
    check_int(doc.root, "total", 2);
    const msgpack_object_array *results = e2e_mp_array(doc.root, "results");
    CHECK(results != NULL && results->size == 2);
    for (uint32_t i = 0; results != NULL && i < results->size && i < 2; i++) {
        const msgpack_object *r = &results->ptr[i];
        check_str(r, "id", want[i].id);
        check_int(r, "stops", 2);
        check_int(r, "miles", want[i].miles);
        check_int(r, "taxes_cents", want[i].taxes);
        check_int(r, "seats", want[i].seats);
        check_int(r, "duration_min", 1380);
        check_str(r, "currency", "BRL");
        check_str(r, "cabin", "economy");
        check_str(r, "source", "tap+tap+star");
        check_str(r, "last_seen", "2026-12-01T10:00:00Z"); /* tap's, the older */
        check_str(r, "origin", "VCP");
        check_str(r, "destination", "JFK");
        check_str(r, "date", "2026-12-10");
        check_str(r, "departs_at", "2026-12-10T18:00:00-03:00");
        check_str(r, "arrives_at", "2026-12-11T15:00:00-05:00");
        const msgpack_object_array *segs = e2e_mp_array(r, "segments");
        CHECK(segs != NULL && segs->size == 3);
        for (uint32_t k = 0; segs != NULL && k < segs->size && k < 3; k++)
            check_str(&segs->ptr[k], "origin", k == 0 ? "VCP" : k == 1 ? "LIS" : "LHR");
    }
    e2e_mp_free(&doc);
    /* paging: the second page after the first result's cursor is the second result */
    snprintf(what, sizeof(what), "VCP-JFK with max_stops=2, limit=1, page 2, over %s", e2e_proto_names[proto]);
    if (get_mp(c, proto, "/v1/search?origin=VCP&destination=JFK&date=" D "&max_stops=2&limit=1", &doc) != 0)
        return;
    const msgpack_object *cur = e2e_mp_get(doc.root, "next_cursor");
    char path[1024];
    int ok = cur != NULL && cur->type == MSGPACK_OBJECT_STR && cur->via.str.size < 400;
    CHECK(ok);
    if (ok)
        snprintf(path, sizeof(path), "/v1/search?origin=VCP&destination=JFK&date=" D "&max_stops=2&limit=1&cursor=%.*s",
                 (int)cur->via.str.size, cur->via.str.ptr);
    e2e_mp_free(&doc);
    if (!ok || get_mp(c, proto, path, &doc) != 0)
        return;
    results = e2e_mp_array(doc.root, "results");
    CHECK(results != NULL && results->size == 1);
    if (results != NULL && results->size == 1)
        check_str(&results->ptr[0], "id", want[1].id);
    e2e_mp_free(&doc);
}

/* Pages of one answer with limit=1: the ids in the model's order, then next_cursor null. */
static void test_paging(ctx_t *c, e2e_proto_t proto)
{
    static const char *const sorts[] = {"miles", "departure", "duration"};
    static itin_t expected[MAX_ITIN];
    for (size_t s = 0; s < COUNT(sorts); s++) {
        cq_t q = {GRU_LHR, .date = D, .stops = 1, .min_conn = -1, .max_conn = -1, .sort = sorts[s], .limit = 1};
        size_t n = model_search(&q, expected);
        char qs[1024], cursor[512] = "";
        query_string(&q, qs, sizeof(qs));
        size_t pages = 0;
        int nonstops = 0, connections = 0;
        for (;;) {
            char path[2048];
            snprintf(path, sizeof(path), "/v1/search?%s%s%s", qs, cursor[0] ? "&cursor=" : "", cursor);
            e2e_mp_t doc;
            if (get_mp(c, proto, path, &doc) != 0)
                break;
            snprintf(what, sizeof(what), "GET %s over %s (page %zu)", path, e2e_proto_names[proto], pages);
            check_int(doc.root, "total", (int64_t)n);
            const msgpack_object_array *r = e2e_mp_array(doc.root, "results");
            CHECK(r != NULL && r->size == (pages < n ? 1u : 0u));
            if (r != NULL && r->size == 1 && pages < n) {
                char id[200];
                const char *got = e2e_mp_str(&r->ptr[0], "id", id, sizeof(id));
                CHECK_EQ_STR(got, expected[pages].id);
                if (got == NULL || strcmp(got, expected[pages].id) != 0)
                    fprintf(stderr, "  %s\n", what);
                nonstops += expected[pages].n == 1;
                connections += expected[pages].n == 2;
            }
            pages++;
            const msgpack_object *next = e2e_mp_get(doc.root, "next_cursor");
            int more = next != NULL && next->type == MSGPACK_OBJECT_STR && next->via.str.size < sizeof(cursor);
            if (more) {
                memcpy(cursor, next->via.str.ptr, next->via.str.size);
                cursor[next->via.str.size] = '\0';
            }
            e2e_mp_free(&doc);
            if (!more || pages > n + 2)
                break;
        }
        CHECK_EQ_INT(pages, n);
        CHECK(nonstops > 0 && connections > 0); /* the walk crossed both kinds */
    }
}

/* Calendar with max_stops=1: per day and cabin, over nonstops and connections counted on their
 * first leg's date under the itinerary's cabin. */
static void check_calendar(ctx_t *c, e2e_proto_t proto, const char *extra, const char *origin, const char *destination,
                           const char *cabin, int mixed)
{
    static itin_t all[MAX_ITIN];
    const char *start = "2026-12-08", *end = "2026-12-13";
    cq_t q = {.origin = origin, .destination = destination, .origins = origin, .destinations = destination, .start_date = start,
              .end_date = end, .stops = 1, .min_conn = -1, .max_conn = -1, .cabin = cabin, .mixed = mixed};
    size_t n = model_search(&q, all);
    char path[1024];
    snprintf(path, sizeof(path), "/v1/calendar?origin=%s&destination=%s&start_date=%s&end_date=%s&max_stops=1%s%s%s", origin,
             destination, start, end, cabin ? "&cabin=" : "", cabin ? cabin : "", extra);
    e2e_mp_t doc;
    if (get_mp(c, proto, path, &doc) != 0)
        return;
    snprintf(what, sizeof(what), "GET %s over %s", path, e2e_proto_names[proto]);
    const msgpack_object_array *days = e2e_mp_array(doc.root, "days");
    int32_t d0 = date_days(start), d1 = date_days(end);
    CHECK(days != NULL && days->size == (uint32_t)(d1 - d0 + 1));
    for (int32_t d = d0; days != NULL && d <= d1 && (uint32_t)(d - d0) < days->size; d++) {
        const msgpack_object *day = &days->ptr[d - d0];
        char date[16];
        e2e_date_format(d, date);
        check_str(day, "date", date);
        unsigned keys = 1;
        for (int cab = 0; cab < E2E_CABINS; cab++) {
            unsigned count = 0, min_miles = 0, max_seats = 0;
            for (size_t i = 0; i < n; i++) {
                if (all[i].l[0]->day != d || all[i].cabin != cab)
                    continue;
                if (count == 0 || all[i].miles < min_miles)
                    min_miles = all[i].miles;
                if (all[i].seats > max_seats)
                    max_seats = all[i].seats;
                count++;
            }
            const msgpack_object *cell = e2e_mp_get(day, e2e_cabin_names[cab]);
            CHECK((cell != NULL) == (count > 0));
            if ((cell != NULL) != (count > 0))
                fprintf(stderr, "  %s: %s %s expected %s\n", what, date, e2e_cabin_names[cab], count ? "present" : "absent");
            if (cell == NULL || count == 0)
                continue;
            keys++;
            char saved[sizeof(what)];
            snprintf(saved, sizeof(saved), "%s", what);
            snprintf(what, sizeof(what), "%.3000s, %s %s", saved, date, e2e_cabin_names[cab]);
            check_int(cell, "min_miles", min_miles);
            check_int(cell, "max_seats", max_seats);
            check_int(cell, "count", count);
            snprintf(what, sizeof(what), "%s", saved);
        }
        CHECK(day->type == MSGPACK_OBJECT_MAP && day->via.map.size == keys);
    }
    e2e_mp_free(&doc);
}

static void test_calendar(ctx_t *c, e2e_proto_t proto)
{
    check_calendar(c, proto, "", "GRU", "LHR", NULL, 0);
    check_calendar(c, proto, "", "GRU", "LHR", "business", 0);
    check_calendar(c, proto, "", "GRU", "LHR", "economy", 0);
    check_calendar(c, proto, "", "AKL", "JFK", NULL, 0);
}

/* Routes with max_stops=1: nonstop destinations with their legs and dates, then those reached
 * only through one of them ("stops": 1, "legs": 0, the dates of the onward legs). */
typedef struct route_x {
    char dest[4];
    unsigned legs;
    int32_t first, last;
    int stops;
} route_x_t;

static int route_cmp(const void *a, const void *b)
{
    return strcmp(((const route_x_t *)a)->dest, ((const route_x_t *)b)->dest);
}

static route_x_t *route_find(route_x_t *r, size_t n, const char *dest)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].dest, dest) == 0)
            return &r[i];
    return NULL;
}

static void check_routes(ctx_t *c, e2e_proto_t proto, const char *origin, int stops)
{
    route_x_t r[32];
    size_t n = 0;
    for (size_t i = 0; i < leg_count; i++) {
        const mleg_t *m = &legs[i];
        if (strcmp(m->leg->origin, origin) != 0)
            continue;
        route_x_t *x = route_find(r, n, m->leg->destination);
        if (x == NULL) {
            x = &r[n++];
            memset(x, 0, sizeof(*x));
            snprintf(x->dest, sizeof(x->dest), "%s", m->leg->destination);
            x->first = x->last = m->day;
        }
        x->legs++;
        x->first = m->day < x->first ? m->day : x->first;
        x->last = m->day > x->last ? m->day : x->last;
    }
    size_t direct = n;
    for (size_t k = 0; stops && k < direct; k++) {
        for (size_t i = 0; i < leg_count; i++) {
            const mleg_t *m = &legs[i];
            if (strcmp(m->leg->origin, r[k].dest) != 0 || strcmp(m->leg->destination, origin) == 0)
                continue;
            route_x_t *x = route_find(r, n, m->leg->destination);
            if (x != NULL && x->stops == 0)
                continue; /* served nonstop */
            if (x == NULL) {
                x = &r[n++];
                memset(x, 0, sizeof(*x));
                snprintf(x->dest, sizeof(x->dest), "%s", m->leg->destination);
                x->stops = 1;
                x->first = x->last = m->day;
            }
            x->first = m->day < x->first ? m->day : x->first;
            x->last = m->day > x->last ? m->day : x->last;
        }
    }
    qsort(r, n, sizeof(*r), route_cmp);
    char path[256];
    snprintf(path, sizeof(path), "/v1/routes?origin=%s%s", origin, stops ? "&max_stops=1" : "");
    e2e_mp_t doc;
    if (get_mp(c, proto, path, &doc) != 0)
        return;
    snprintf(what, sizeof(what), "GET %s over %s", path, e2e_proto_names[proto]);
    check_str(doc.root, "origin", origin);
    const msgpack_object_array *a = e2e_mp_array(doc.root, "destinations");
    CHECK(a != NULL && a->size == n);
    if (a == NULL || a->size != n)
        fprintf(stderr, "  %s: %u destinations, expected %zu\n", what, a ? a->size : 0, n);
    for (size_t i = 0; a != NULL && i < n && i < a->size; i++) {
        char first[16], last[16];
        e2e_date_format(r[i].first, first);
        e2e_date_format(r[i].last, last);
        check_str(&a->ptr[i], "destination", r[i].dest);
        check_int(&a->ptr[i], "legs", r[i].legs);
        check_int(&a->ptr[i], "stops", r[i].stops);
        check_str(&a->ptr[i], "first_date", first);
        check_str(&a->ptr[i], "last_date", last);
    }
    e2e_mp_free(&doc);
}

static void test_routes(ctx_t *c, e2e_proto_t proto)
{
    check_routes(c, proto, "GRU", 1);
    check_routes(c, proto, "GRU", 0);
    check_routes(c, proto, "AKL", 1);
    check_routes(c, proto, "VCP", 1);
    check_routes(c, proto, "CDG", 1);
}

/* An error answer: 400, JSON, invalid_parameter naming one of the parameters in `names`. */
static void check_error(ctx_t *c, e2e_proto_t proto, const char *path, const char *names)
{
    e2e_response_t res;
    long status = get(c, proto, path, "Accept: application/msgpack", &res);
    CHECK_EQ_INT(status, 400);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object doc;
    size_t at;
    int parsed = e2e_json_parse(res.body, res.body_len, &zone, &doc, &at) == 0;
    CHECK(parsed);
    snprintf(what, sizeof(what), "GET %s over %s: %ld %.300s", path, e2e_proto_names[proto], status, res.body);
    const msgpack_object *e = parsed ? e2e_mp_get(&doc, "error") : NULL;
    char code[64], param[64];
    int ok = e != NULL && e2e_mp_str(e, "code", code, sizeof(code)) != NULL && strcmp(code, "invalid_parameter") == 0 &&
             e2e_mp_str(e, "parameter", param, sizeof(param)) != NULL && in_list(names, param);
    CHECK(ok);
    if (!ok || status != 400)
        fprintf(stderr, "  %s: expected 400 invalid_parameter naming %s\n", what, names);
    msgpack_zone_destroy(&zone);
    e2e_response_free(&res);
}

static void test_errors(ctx_t *c, e2e_proto_t proto)
{
#define Q "/v1/search?origin=GRU&destination=LHR&date=" D
    check_error(c, proto, Q "&max_stops=3", "max_stops");
    check_error(c, proto, Q "&max_stops=-1", "max_stops");
    check_error(c, proto, Q "&max_stops=1&min_connection=300&max_connection=200", "min_connection,max_connection");
    check_error(c, proto, Q "&max_stops=1&min_connection=2881", "min_connection");
    check_error(c, proto, Q "&max_stops=1&max_connection=abc", "max_connection");
    check_error(c, proto, Q "&depart_after=25:00", "depart_after");
    check_error(c, proto, Q "&depart_after=10:60", "depart_after");
    check_error(c, proto, Q "&depart_before=9:00", "depart_before");
    check_error(c, proto, Q "&mixed_cabin=maybe", "mixed_cabin");
    check_error(c, proto, Q "&same_source=yes", "same_source");
    check_error(c, proto, Q "&max_duration=0", "max_duration");
    check_error(c, proto, Q "&max_duration=10081", "max_duration");
    check_error(c, proto, "/v1/calendar?origin=GRU&destination=LHR&start_date=2026-12-01&end_date=2026-12-02&max_stops=3",
                "max_stops");
    check_error(c, proto, "/v1/routes?origin=GRU&max_stops=2", "max_stops");
    check_error(c, proto, "/v1/routes?origin=SAO", "origin"); /* routes takes one airport, not a city */
#undef Q
}

static void run_suite(ctx_t *c, e2e_proto_t proto)
{
    fprintf(stderr, "e2e_connections: suite over %s\n", e2e_proto_names[proto]);
    test_search(c, proto);
    test_hand(c, proto);
    test_two_stops(c, proto);
    test_paging(c, proto);
    test_calendar(c, proto);
    test_routes(c, proto);
    test_errors(c, proto);
}

/* --cities: LON overridden with two airports, a new code ZSP; SAO stays built in. */
static void test_cities_file(const char *tmp, const char *data_dir)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/cities.txt", tmp);
    static const char text[] = "# our partners\n"
                               "LON LGW,LCY\n"
                               "\n"
                               "ZSP   GRU,VCP\n";
    CHECK(e2e_write_file(path, text, sizeof(text) - 1) == 0);
    const char *extra[] = {"--cities", path, NULL};
    e2e_server_t srv;
    if (e2e_server_start(&srv, binary, data_dir, extra) != 0) {
        CHECK(!"the server starts with a good --cities file");
        return;
    }
    ctx_t c = {.srv = &srv};
    e2e_client_init(&c.client[E2E_H1]);
    e2e_client_init(&c.client[E2E_H2]);
    const cq_t queries[] = {
        {.origin = "ZSP", .destination = "LON", .origins = "GRU,VCP", .destinations = "LGW,LCY", .date = D, .stops = 1,
         .min_conn = -1, .max_conn = -1},
        {.origin = "SAO", .destination = "LON", .origins = "GRU,CGH,VCP", .destinations = "LGW,LCY", .date = D, .stops = 1,
         .min_conn = -1, .max_conn = -1},
        {.origin = "ZSP", .destination = "LHR", .origins = "GRU,VCP", .destinations = "LHR", .date = D, .stops = 1, .min_conn = -1,
         .max_conn = -1},
        {.origin = "GRU", .destination = "PAR", .origins = "GRU", .destinations = "CDG,ORY,BVA", .date = D, .stops = 1,
         .min_conn = -1, .max_conn = -1},
    };
    for (size_t i = 0; i < COUNT(queries); i++) {
        CHECK(check_search(&c, E2E_H1, &queries[i]) > 0);
        check_search(&c, E2E_H2, &queries[i]);
    }
    e2e_client_free(&c.client[E2E_H1]);
    e2e_client_free(&c.client[E2E_H2]);
    CHECK_EQ_INT(stop_server(&srv), 0);
}

/* A bad --cities file: exit status 1 before serving, the message naming the file and the line. */
static void test_bad_cities(const char *tmp, const char *data_dir)
{
    static const struct {
        const char *text, *line;
    } bad[] = {
        {"# fine\nNYC JFK,EWR\nLON LHR,lgw\n", "line 3"},
        {"LON\n", "line 1"},
        {"ZZZ GRU\nlon LHR\n", "line 2"},
        {"\n\n\n\nZZZ GRU LHR\n", "line 5"},
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        char path[400], listen[64];
        snprintf(path, sizeof(path), "%s/bad-cities-%zu.txt", tmp, i);
        CHECK(e2e_write_file(path, bad[i].text, strlen(bad[i].text)) == 0);
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", e2e_free_port());
        char *argv[] = {(char *)binary, "--listen", listen, "--data-dir", (char *)data_dir, "--quiet", "--cities", path, NULL};
        char *out = NULL;
        int status = e2e_run(argv, &out, 10000);
        CHECK_EQ_INT(status, 1);
        int named = out != NULL && strstr(out, path) != NULL && strstr(out, bad[i].line) != NULL;
        CHECK(named);
        if (status != 1 || !named)
            fprintf(stderr, "  --cities with %s: status %d, expected 1 and a message naming %s and %s; output: %s\n", bad[i].text,
                    status, path, bad[i].line, out ? out : "(none)");
        free(out);
    }
    /* a file that does not exist */
    char missing[400], listen[64];
    snprintf(missing, sizeof(missing), "%s/no-such-cities.txt", tmp);
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", e2e_free_port());
    char *argv[] = {(char *)binary, "--listen", listen, "--data-dir", (char *)data_dir, "--quiet", "--cities", missing, NULL};
    char *out = NULL;
    int status = e2e_run(argv, &out, 10000);
    CHECK(status != 0 && status < 128);
    CHECK(out != NULL && strstr(out, missing) != NULL);
    free(out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-flightsearch\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    e2e_http_init();
    model_init();

    char tmp[256], data_dir[300], path[400];
    if (e2e_tmpdir(tmp, sizeof(tmp)) != 0) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    snprintf(data_dir, sizeof(data_dir), "%s/data", tmp);
    mkdir(data_dir, 0755);
    for (size_t s = 0; s < COUNT(sources); s++) {
        e2e_feed_t f = {sources[s].name, sources[s].sequence, sources[s].generated_at, sources[s].legs, sources[s].count};
        snprintf(path, sizeof(path), "%s/%s.msgpack", data_dir, sources[s].name);
        CHECK(e2e_feed_write_msgpack(path, &f) == 0);
    }

    e2e_server_t srv;
    if (e2e_server_start(&srv, binary, data_dir, NULL) != 0) {
        CHECK(!"the server starts with the two snapshots");
        e2e_rmtree(tmp);
        TEST_DONE();
    }
    ctx_t c;
    memset(&c, 0, sizeof(c));
    c.srv = &srv;
    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_init(&c.client[p]);
    run_suite(&c, E2E_H1);
    run_suite(&c, E2E_H2);
    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_free(&c.client[p]);
    CHECK_EQ_INT(stop_server(&srv), 0);

    fprintf(stderr, "e2e_connections: --cities\n");
    test_cities_file(tmp, data_dir);
    test_bad_cities(tmp, data_dir);

    e2e_rmtree(tmp);
    curl_global_cleanup();
    TEST_DONE();
}
