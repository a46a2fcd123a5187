/*
 * Query parsing (src/query.c) against hand-worked expectations: defaults, every parameter's
 * range, city codes, the endpoints' parameter sets, and cursors.
 */
#include <string.h>
#include "src/server.h"
#include "tests/test.h"

static int parse(fs_endpoint_t ep, const char *qs, fs_search_query_t *q, fs_param_error_t *err)
{
    return fs_query_parse(ep, qs, strlen(qs), q, err);
}

static fs_airport_t ap(const char *code)
{
    fs_airport_t a = 0;
    fs_airport_parse(code, 3, &a);
    return a;
}

static int has(const fs_airport_t *list, unsigned n, const char *code)
{
    for (unsigned i = 0; i < n; i++)
        if (list[i] == ap(code))
            return 1;
    return 0;
}

/* The parameter an error names, for a query expected to fail. */
static const char *refused(fs_endpoint_t ep, const char *qs)
{
    static fs_param_error_t err;
    fs_search_query_t q;
    if (parse(ep, qs, &q, &err) == 0)
        return "(accepted)";
    return err.parameter;
}

int main(void)
{
    fs_search_query_t q;
    fs_param_error_t err;
    char buf[64];

    /* defaults; 2026-12-01 is day 20788 (2026-11-21 = 20778, hand-counted in test_index_time) */
    CHECK_EQ_INT(parse(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01", &q, &err), 0);
    CHECK_EQ_INT(q.origin_count, 1);
    CHECK(q.origins[0] == ap("GRU") && q.destinations[0] == ap("LIS"));
    CHECK_EQ_INT(q.start_day, 20788);
    CHECK_EQ_INT(q.end_day, 20788);
    CHECK_EQ_INT(q.cabin, -1);
    CHECK_EQ_INT(q.seats, 1);
    CHECK_EQ_INT(q.limit, 50);
    CHECK_EQ_INT(q.max_stops, 0);
    CHECK_EQ_INT(q.min_connection, 60);
    CHECK_EQ_INT(q.max_connection, 720);
    CHECK_EQ_INT(q.depart_after, -1);
    CHECK(q.sort == FS_SORT_MILES && !q.cursor.present);

    /* everything set, percent-encoded commas */
    CHECK_EQ_INT(parse(FS_EP_SEARCH,
                       "origin=GRU%2CGIG&destination=LIS&start_date=2026-12-01&end_date=2026-12-07&cabin=business&seats=2"
                       "&sources=tap,latam&carriers=TP&max_stops=1&min_connection=45&max_connection=300&mixed_cabin=true"
                       "&same_source=1&max_duration=900&depart_after=06:30&depart_before=22:15&sort=duration&limit=10",
                       &q, &err),
                 0);
    CHECK_EQ_INT(q.origin_count, 2);
    CHECK_EQ_INT(q.end_day - q.start_day, 6);
    CHECK_EQ_INT(q.cabin, FS_CABIN_BUSINESS);
    CHECK_EQ_INT(q.seats, 2);
    CHECK(q.source_count == 2 && strcmp(q.sources[1], "latam") == 0);
    CHECK_EQ_INT(q.carrier_count, 1);
    CHECK(q.max_stops == 1 && q.min_connection == 45 && q.max_connection == 300 && q.mixed_cabin && q.same_source);
    CHECK_EQ_INT(q.max_duration, 900);
    CHECK_EQ_INT(q.depart_after, 6 * 60 + 30);
    CHECK_EQ_INT(q.depart_before, 22 * 60 + 15);
    CHECK(q.sort == FS_SORT_DURATION && q.limit == 10);

    /* city codes: SAO is GRU, CGH, VCP; GRU given twice counts once */
    CHECK_EQ_INT(parse(FS_EP_SEARCH, "origin=SAO,GRU&destination=LON&date=2026-12-01", &q, &err), 0);
    CHECK_EQ_INT(q.origin_count, 3);
    CHECK(has(q.origins, q.origin_count, "GRU") && has(q.origins, q.origin_count, "CGH") && has(q.origins, q.origin_count, "VCP"));
    CHECK_EQ_INT(q.destination_count, 6);
    CHECK(has(q.destinations, q.destination_count, "LHR") && has(q.destinations, q.destination_count, "SEN"));
    /* routes: a city code that is also one of its airports means that airport (BKK is BKK and DMK
     * as a city); a city code alone is refused, naming its airports */
    CHECK_EQ_INT(parse(FS_EP_ROUTES, "origin=BKK", &q, &err), 0);
    CHECK(q.origin_count == 1 && q.origins[0] == ap("BKK"));
    CHECK_EQ_INT(parse(FS_EP_ROUTES, "origin=SAO", &q, &err), FS_EINVAL);
    CHECK(strcmp(err.parameter, "origin") == 0 && strstr(err.message, "GRU,CGH,VCP") != NULL);
    CHECK_EQ_STR(refused(FS_EP_ROUTES, "origin=GRU,GIG"), "origin");

    /* ranges: 90 days for search (inclusive), 366 for calendar */
    CHECK_EQ_INT(parse(FS_EP_SEARCH, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2027-02-28", &q, &err), 0);
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2027-03-01"), "end_date");
    CHECK_EQ_INT(parse(FS_EP_CALENDAR, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2027-12-01", &q, &err), 0);
    CHECK_EQ_STR(refused(FS_EP_CALENDAR, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2027-12-02"), "end_date");

    /* refusals name their parameter */
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "destination=LIS&date=2026-12-01"), "origin");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=gru&destination=LIS&date=2026-12-01"), "origin");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-02-30"), "date");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&date=2026-12-02"), "date");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&cabn=business"), "cabn");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&seats=10"), "seats");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&limit=501"), "limit");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&max_stops=2"), "max_stops");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&depart_after=24:00"), "depart_after");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&min_connection=500&max_connection=100"),
                 "max_connection");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&mixed_cabin=maybe"), "mixed_cabin");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=A,B,C,D,E,F,G,H,I,J,K&destination=LIS&date=2026-12-01"), "origin");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU,GIG,LIS,JFK,LHR,CDG,MAD,MIA,EZE,SCL,BOG&destination=LIS&date=2026-12-01"),
                 "origin");
    CHECK_EQ_STR(refused(FS_EP_CALENDAR, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-02&sort=miles"),
                 "sort");
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&cursor=%%%"), "cursor");

    /* cursors: the token carries the sort letter and the key, and is refused for another sort */
    fs_segment_t seg;
    memset(&seg, 0, sizeof(seg));
    strcpy(seg.source, "tap");
    fs_leg_t leg;
    memset(&leg, 0, sizeof(leg));
    fs_carrier_parse("TP", 2, &leg.carrier);
    leg.flight = 82;
    leg.origin = ap("GRU");
    leg.day = 20788;
    fs_result_t r;
    memset(&r, 0, sizeof(r));
    r.segment = &seg;
    r.leg = &leg;
    r.sort_value = 35000;
    r.departs_utc_min = 29935655;
    size_t n = fs_cursor_encode(FS_SORT_MILES, &r, buf, sizeof(buf));
    CHECK(n > 0 && n < sizeof(buf));
    fs_cursor_t cur;
    CHECK_EQ_INT(fs_cursor_decode(FS_SORT_MILES, buf, n, &cur), 0);
    CHECK(cur.present && cur.sort_value == 35000 && cur.departs_utc_min == 29935655);
    CHECK_EQ_STR(cur.id, "tap-TP82-GRU-20261201-Y");
    CHECK_EQ_INT(fs_cursor_decode(FS_SORT_DURATION, buf, n, &cur), FS_EINVAL);
    TEST_DONE();
}
