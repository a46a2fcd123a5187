/*
 * tests/unit/test_index_rank.c: the order of results and cursors (docs/api.md, "Order").
 *
 *   ties_by_fields        17 results with equal miles and equal UTC departure, differing only in
 *                         carrier, flight (9 before 12 before 100), origin, date, cabin, second
 *                         leg and source ("a" before "a-1"): the page is the hand-written list
 *   compare_pairs         fs_result_compare on hand-built results: each field decides, a nonstop
 *                         comes before a connection that starts with its leg, the order is
 *                         antisymmetric
 *   paging_every_limit    every page size from 1 to 18, through cursor tokens
 *                         (fs_cursor_encode/decode): the pages concatenate to the same list
 *   across_generations    page 1; a generation that adds a source sorting first and changes other
 *                         routes; page 2 continues exactly; a generation that removes the
 *                         cursor's own leg and adds one tied leg before it and one after; page 3
 *                         continues after where the removed result was
 * The expected lists are written out below, from the documented order, not read from the index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "index/index.h"
#include "src/server.h"
#include "tests/test.h"

#define D 20788 /* 2026-12-01 */

/* A leg as this test writes it: local departure (day, minute, offset), 600 minutes long,
 * economy and first at the given miles (0: that cabin absent). */
typedef struct tl {
    const char *carrier;
    unsigned flight;
    const char *origin, *destination;
    int day, minute, offset;
    unsigned economy, first;
} tl_t;

static fs_leg_in_t leg_in(const tl_t *t)
{
    fs_leg_in_t in;
    memset(&in, 0, sizeof(in));
    fs_carrier_parse(t->carrier, 2, &in.carrier);
    in.flight = (uint16_t)t->flight;
    fs_airport_parse(t->origin, 3, &in.origin);
    fs_airport_parse(t->destination, 3, &in.destination);
    in.departs = (fs_localtime_t){t->day, (uint16_t)t->minute, (int16_t)t->offset};
    /* arrival 600 minutes later, written at offset 0 */
    long long arr = (long long)t->day * 1440 + t->minute - t->offset + 600;
    in.arrives = (fs_localtime_t){(int32_t)(arr / 1440), (uint16_t)(arr % 1440), 0};
    fs_currency_t eur;
    fs_currency_parse("EUR", 3, &eur);
    if (t->economy) {
        in.cabin_mask |= 1u << FS_CABIN_ECONOMY;
        in.seats[FS_CABIN_ECONOMY] = 9;
        in.fare[FS_CABIN_ECONOMY] = (fs_fare_t){t->economy, 1000, eur};
    }
    if (t->first) {
        in.cabin_mask |= 1u << FS_CABIN_FIRST;
        in.seats[FS_CABIN_FIRST] = 9;
        in.fare[FS_CABIN_FIRST] = (fs_fare_t){t->first, 1000, eur};
    }
    in.last_seen = 1790000000;
    return in;
}

static void publish(fs_index_t *idx, fs_index_thread_t *th, const char *source, const tl_t *legs, size_t n)
{
    fs_segment_builder_t *b = fs_segment_builder_new(source, 1, 1790000000);
    for (size_t i = 0; i < n; i++) {
        fs_leg_in_t in = leg_in(&legs[i]);
        CHECK_EQ_INT(fs_segment_builder_add(b, &in), 0);
    }
    fs_segment_t *seg = fs_segment_builder_finish(b, 0);
    CHECK(seg != NULL);
    CHECK(fs_index_publish_segment(idx, th, seg) > 0);
}

/* Every leg departs 2026-12-01T13:00Z; nonstops cost 30000 in economy and in first, a
 * connection 10000 + 20000 in economy. */
#define GRU_D "GRU", "LIS", D, 600, -180             /* 10:00-03:00 */
#define GRU_D1 "GRU", "LIS", D + 1, 0, 660           /* 00:00+11:00 the next local day */
#define VCP_D "VCP", "LIS", D, 600, -180
#define MAD_D1 "MAD", "LIS", D + 1, 180, 60          /* 03:00+01:00: 3 hours after TP100 lands */
static const tl_t a_legs[] = {
    {"TP", 12, GRU_D, 30000, 30000},
    {"TP", 9, GRU_D, 30000, 30000},
    {"TP", 9, VCP_D, 30000, 30000},
    {"TP", 9, GRU_D1, 30000, 30000},
    {"G3", 500, GRU_D, 30000, 30000},
    {"2X", 700, GRU_D, 30000, 30000},
    {"TP", 100, "GRU", "MAD", D, 600, -180, 10000, 0},
    {"IB", 12, MAD_D1, 20000, 0},
    {"IB", 9, MAD_D1, 20000, 0},
};
static const tl_t a1_legs[] = {
    {"2X", 1, GRU_D, 30000, 30000},
    {"IB", 1, MAD_D1, 20000, 0},
};

/* The documented order of that tie, written by hand: source, carrier (2X < G3 < TP), flight
 * (9 < 12 < 100), origin (GRU < VCP), date, cabin (economy before first), a connection's second
 * leg (IB9 < IB12 < a-1's IB1). */
static const char *const expected[] = {
    "a-2X700-GRU-20261201-Y",
    "a-2X700-GRU-20261201-F",
    "a-G3500-GRU-20261201-Y",
    "a-G3500-GRU-20261201-F",
    "a-TP9-GRU-20261201-Y",
    "a-TP9-GRU-20261201-F",
    "a-TP9-GRU-20261202-Y",
    "a-TP9-GRU-20261202-F",
    "a-TP9-VCP-20261201-Y",
    "a-TP9-VCP-20261201-F",
    "a-TP12-GRU-20261201-Y",
    "a-TP12-GRU-20261201-F",
    "a-TP100-GRU-20261201-Y+a-IB9-MAD-20261202-Y",
    "a-TP100-GRU-20261201-Y+a-IB12-MAD-20261202-Y",
    "a-TP100-GRU-20261201-Y+a-1-IB1-MAD-20261202-Y",
    "a-1-2X1-GRU-20261201-Y",
    "a-1-2X1-GRU-20261201-F",
};
#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static void query(fs_search_query_t *q, unsigned limit)
{
    fs_search_query_init(q);
    fs_airport_parse("GRU", 3, &q->origins[0]);
    fs_airport_parse("VCP", 3, &q->origins[1]);
    q->origin_count = 2;
    fs_airport_parse("LIS", 3, &q->destinations[0]);
    q->destination_count = 1;
    q->start_day = D;
    q->end_day = D + 1;
    q->max_stops = 1;
    q->limit = limit;
}

static fs_index_t *idx;
static fs_index_thread_t th;

/* One page from the current generation; its ids into ids[], the next cursor (through a token)
 * into q. Returns the count, or -1 on a failed search. */
static int page(fs_search_query_t *q, char ids[][FS_ID_MAX], uint64_t *total, int *more)
{
    static fs_result_t results[FS_SEARCH_MAX_LIMIT];
    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    fs_search_result_t res;
    int rc = fs_search(gen, q, results, &res);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fs_index_read_end(idx, &th);
        return -1;
    }
    for (unsigned i = 0; i < res.count; i++)
        fs_result_id(&results[i], ids[i]);
    *total = res.total;
    *more = res.has_more;
    if (res.count > 0) {
        char tok[FS_CURSOR_TOKEN_MAX];
        size_t n = fs_cursor_encode(q->sort, &results[res.count - 1], tok, sizeof(tok));
        const char *why = NULL;
        CHECK_EQ_INT(fs_cursor_decode(q->sort, tok, n, &q->cursor, &why), 0);
    }
    fs_index_read_end(idx, &th);
    return (int)res.count;
}

static void test_ties_by_fields(void)
{
    fs_search_query_t q;
    query(&q, 50);
    static char ids[FS_SEARCH_MAX_LIMIT][FS_ID_MAX];
    uint64_t total;
    int more;
    CHECK_EQ_INT(page(&q, ids, &total, &more), N_EXPECTED);
    CHECK_EQ_INT(total, N_EXPECTED);
    CHECK(!more);
    for (size_t i = 0; i < N_EXPECTED; i++) {
        CHECK_EQ_STR(ids[i], expected[i]);
        if (strcmp(ids[i], expected[i]) != 0)
            fprintf(stderr, "  ties_by_fields: position %zu\n", i);
    }
}

static void test_paging_every_limit(void)
{
    for (unsigned limit = 1; limit <= N_EXPECTED + 1; limit++) {
        fs_search_query_t q;
        query(&q, limit);
        static char ids[FS_SEARCH_MAX_LIMIT][FS_ID_MAX];
        size_t seen = 0;
        for (int pages = 0; pages < 40; pages++) {
            uint64_t total;
            int more;
            int n = page(&q, ids, &total, &more);
            if (n < 0)
                break;
            CHECK_EQ_INT(total, N_EXPECTED);
            for (int i = 0; i < n && seen + (size_t)i < N_EXPECTED; i++)
                CHECK_EQ_STR(ids[i], expected[seen + (size_t)i]);
            seen += (size_t)n;
            CHECK_EQ_INT(more, seen < N_EXPECTED);
            if (!more)
                break;
        }
        CHECK_EQ_INT(seen, N_EXPECTED);
    }
}

/* A hand-built result over stack segments and legs. */
typedef struct hb {
    fs_segment_t seg[2];
    fs_leg_t leg[2];
    fs_result_t r;
} hb_t;

static void hb_leg(hb_t *h, int i, const char *source, const char *carrier, unsigned flight, const char *origin, int day,
                   int cabin)
{
    strcpy(h->seg[i].source, source);
    fs_carrier_parse(carrier, 2, &h->leg[i].carrier);
    h->leg[i].flight = (uint16_t)flight;
    fs_airport_parse(origin, 3, &h->leg[i].origin);
    h->leg[i].day = (uint16_t)day;
    h->r.leg_cabin[i] = (uint8_t)cabin;
    if (i == 0) {
        h->r.segment = &h->seg[0];
        h->r.leg = &h->leg[0];
    } else {
        h->r.segment2 = &h->seg[1];
        h->r.leg2 = &h->leg[1];
    }
    h->r.sort_value = 30000;
    h->r.departs_utc_min = 29936460;
}

/* a strictly before b, and b after a. */
static void before(const char *what, const hb_t *a, const hb_t *b)
{
    int ab = fs_result_compare(FS_SORT_MILES, &a->r, &b->r), ba = fs_result_compare(FS_SORT_MILES, &b->r, &a->r);
    CHECK(ab < 0 && ba > 0);
    if (!(ab < 0 && ba > 0))
        fprintf(stderr, "  compare_pairs: %s (%d, %d)\n", what, ab, ba);
}

static void test_compare_pairs(void)
{
    static hb_t x, y; /* static: zeroed */
    memset(&x, 0, sizeof(x));
    memset(&y, 0, sizeof(y));
    hb_leg(&x, 0, "a", "TP", 9, "GRU", D, FS_CABIN_ECONOMY);
    hb_leg(&y, 0, "a", "TP", 9, "GRU", D, FS_CABIN_ECONOMY);
    CHECK_EQ_INT(fs_result_compare(FS_SORT_MILES, &x.r, &y.r), 0); /* the same result */
    y.r.sort_value = 30001;
    before("sort value", &x, &y);
    y.r.sort_value = 30000;
    y.r.departs_utc_min++;
    before("departure", &x, &y);
    y.r.departs_utc_min--;
    strcpy(y.seg[0].source, "a-1");
    before("source a < a-1", &x, &y);
    strcpy(x.seg[0].source, "a0");
    before("source a-1 < a0", &y, &x);
    strcpy(x.seg[0].source, "a");
    strcpy(y.seg[0].source, "a");
    fs_carrier_parse("2X", 2, &x.leg[0].carrier);
    before("carrier 2X < TP", &x, &y);
    fs_carrier_parse("TP", 2, &x.leg[0].carrier);
    y.leg[0].flight = 12;
    before("flight 9 < 12", &x, &y);
    y.leg[0].flight = 9;
    fs_airport_parse("VCP", 3, &y.leg[0].origin);
    before("origin GRU < VCP", &x, &y);
    fs_airport_parse("GRU", 3, &y.leg[0].origin);
    y.leg[0].day = D + 1;
    before("date", &x, &y);
    y.leg[0].day = D;
    y.r.leg_cabin[0] = FS_CABIN_PREMIUM;
    before("economy < premium", &x, &y);
    x.r.leg_cabin[0] = FS_CABIN_BUSINESS;
    y.r.leg_cabin[0] = FS_CABIN_FIRST;
    before("business < first", &x, &y);
    x.r.leg_cabin[0] = y.r.leg_cabin[0] = FS_CABIN_ECONOMY;

    /* a nonstop before a connection that starts with its leg; then second legs */
    hb_leg(&y, 1, "a", "IB", 12, "MAD", D + 1, FS_CABIN_ECONOMY);
    before("nonstop before connection", &x, &y);
    hb_leg(&x, 1, "a", "IB", 9, "MAD", D + 1, FS_CABIN_ECONOMY);
    before("second flight 9 < 12", &x, &y);
    y.leg[1].flight = 9;
    CHECK_EQ_INT(fs_result_compare(FS_SORT_MILES, &x.r, &y.r), 0);
    strcpy(y.seg[1].source, "b");
    before("second source a < b", &x, &y);
    strcpy(y.seg[1].source, "a");
    y.r.leg_cabin[1] = FS_CABIN_FIRST;
    before("second cabin", &x, &y);
    y.r.leg_cabin[1] = FS_CABIN_ECONOMY;
    y.leg[1].day = D + 2;
    before("second date", &x, &y);
    y.leg[1].day = D + 1;
    fs_carrier_parse("TP", 2, &y.leg[1].carrier);
    before("second carrier", &x, &y);
    /* the first leg outranks the second */
    y.leg[0].flight = 8;
    before("first leg decides", &y, &x);
}

static void test_across_generations(void)
{
    static char ids[FS_SEARCH_MAX_LIMIT][FS_ID_MAX];
    uint64_t total;
    int more;
    fs_search_query_t q;
    query(&q, 5);
    CHECK_EQ_INT(page(&q, ids, &total, &more), 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_STR(ids[i], expected[i]);

    /* another generation: a source that sorts before every other, and "a" republished with a
     * leg on another route; the route searched is unchanged */
    static const tl_t first_legs[] = {{"AA", 1, "JFK", "LHR", D, 600, -300, 30000, 30000}};
    publish(idx, &th, "0first", first_legs, 1);
    tl_t a2[sizeof(a_legs) / sizeof(a_legs[0]) + 1];
    memcpy(a2, a_legs, sizeof(a_legs));
    a2[sizeof(a_legs) / sizeof(a_legs[0])] = (tl_t){"TP", 77, "LIS", "GRU", D, 600, 0, 30000, 30000};
    publish(idx, &th, "a", a2, sizeof(a2) / sizeof(a2[0]));
    CHECK_EQ_INT(page(&q, ids, &total, &more), 5);
    CHECK_EQ_INT(total, N_EXPECTED);
    CHECK(more);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_STR(ids[i], expected[5 + i]);
    /* the cursor now stands at a-TP9-VCP-20261201-F */

    /* a generation where the searched route changes: TP9 from VCP (the cursor's own leg) is
     * gone, TP5 (before the cursor) and TP10 (after it) are new */
    static const tl_t a3[] = {
        {"TP", 12, GRU_D, 30000, 30000}, {"TP", 9, GRU_D, 30000, 30000},  {"TP", 9, GRU_D1, 30000, 30000},
        {"G3", 500, GRU_D, 30000, 30000}, {"2X", 700, GRU_D, 30000, 30000}, {"TP", 100, "GRU", "MAD", D, 600, -180, 10000, 0},
        {"IB", 12, MAD_D1, 20000, 0},    {"IB", 9, MAD_D1, 20000, 0},     {"TP", 5, GRU_D, 30000, 30000},
        {"TP", 10, GRU_D, 30000, 30000},
    };
    publish(idx, &th, "a", a3, sizeof(a3) / sizeof(a3[0]));
    static const char *const rest[] = {
        "a-TP10-GRU-20261201-Y",
        "a-TP10-GRU-20261201-F",
        "a-TP12-GRU-20261201-Y",
        "a-TP12-GRU-20261201-F",
        "a-TP100-GRU-20261201-Y+a-IB9-MAD-20261202-Y",
        "a-TP100-GRU-20261201-Y+a-IB12-MAD-20261202-Y",
        "a-TP100-GRU-20261201-Y+a-1-IB1-MAD-20261202-Y",
        "a-1-2X1-GRU-20261201-Y",
        "a-1-2X1-GRU-20261201-F",
    };
    size_t seen = 0;
    for (int pages = 0; pages < 5; pages++) {
        int n = page(&q, ids, &total, &more);
        if (n < 0)
            break;
        CHECK_EQ_INT(total, N_EXPECTED - 2 + 4);
        for (int i = 0; i < n && seen + (size_t)i < sizeof(rest) / sizeof(rest[0]); i++)
            CHECK_EQ_STR(ids[i], rest[seen + (size_t)i]);
        seen += (size_t)n;
        CHECK_EQ_INT(more, seen < sizeof(rest) / sizeof(rest[0]));
        if (!more)
            break;
    }
    CHECK_EQ_INT(seen, sizeof(rest) / sizeof(rest[0]));
}

int main(void)
{
    idx = fs_index_new();
    fs_index_thread_register(idx, &th);
    publish(idx, &th, "a", a_legs, sizeof(a_legs) / sizeof(a_legs[0]));
    publish(idx, &th, "a-1", a1_legs, sizeof(a1_legs) / sizeof(a1_legs[0]));

    test_ties_by_fields();
    test_compare_pairs();
    test_paging_every_limit();
    test_across_generations();

    fs_index_free(idx);
    TEST_DONE();
}
