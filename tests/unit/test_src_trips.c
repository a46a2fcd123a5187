/*
 * Trip parsing (src/trips_http.c) against hand-worked expectations: the return slice built from
 * the outbound's parameters (airports swapped, open jaws, its own cabin and dates, stays), the
 * shared options, the fields errors name, multi-city bodies, and trip cursors (encoded from a
 * trip, parsed back, refused for another sort or another number of slices).
 */
#include <string.h>
#include "src/server.h"
#include "tests/test.h"

static fs_airport_t ap(const char *code)
{
    fs_airport_t a = 0;
    fs_airport_parse(code, 3, &a);
    return a;
}

static int32_t day(int y, unsigned m, unsigned d)
{
    return fs_days_from_civil(y, m, d);
}

static int has(const fs_airport_t *list, unsigned n, const char *code)
{
    for (unsigned i = 0; i < n; i++)
        if (list[i] == ap(code))
            return 1;
    return 0;
}

static fs_trip_query_t q;
static fs_param_error_t err;

static int get(fs_endpoint_t ep, const char *qs)
{
    return fs_trips_parse_query(ep, qs, strlen(qs), &q, &err);
}

static const char *refused(fs_endpoint_t ep, const char *qs)
{
    return get(ep, qs) == 0 ? "(accepted)" : err.parameter;
}

static int post(const char *body)
{
    return fs_trips_parse_body(body, strlen(body), &q, &err);
}

static const char *refused_body(const char *body)
{
    return post(body) == 0 ? "(accepted)" : err.parameter;
}

int main(void)
{
    const fs_endpoint_t T = FS_EP_TRIPS, G = FS_EP_CALENDAR_TRIPS;

    /* a round trip with stays: the return flies LIS->GRU on the dates the stays reach */
    CHECK_EQ_INT(get(T, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-07&min_stay=10&max_stay=14"), 0);
    CHECK_EQ_INT(q.slice_count, 2);
    CHECK(q.slices[0].origins[0] == ap("GRU") && q.slices[0].destinations[0] == ap("LIS"));
    CHECK(q.slices[1].origins[0] == ap("LIS") && q.slices[1].destinations[0] == ap("GRU"));
    CHECK_EQ_INT(q.slices[1].origin_count, 1);
    CHECK_EQ_INT(q.slices[0].start_day, day(2026, 12, 1));
    CHECK_EQ_INT(q.slices[0].end_day, day(2026, 12, 7));
    CHECK_EQ_INT(q.slices[1].start_day, day(2026, 12, 11));
    CHECK_EQ_INT(q.slices[1].end_day, day(2026, 12, 21));
    CHECK_EQ_INT(q.min_stay, 10);
    CHECK_EQ_INT(q.max_stay, 14);
    CHECK_EQ_INT(q.sort, FS_SORT_MILES);
    CHECK_EQ_INT(q.limit, 50);
    CHECK_EQ_INT(q.min_connection, 60);
    CHECK(!q.cursor.present);

    /* an open jaw home to a city code, its own cabin, shared options on both slices */
    CHECK_EQ_INT(get(T, "origin=GRU&destination=LIS&date=2026-12-05&return_origin=MAD&return_destination=SAO"
                        "&return_date=2026-12-15&cabin=business&return_cabin=economy&max_stops=1&sources=tap&seats=2"
                        "&min_connection=90&sort=duration&limit=7"),
                 0);
    CHECK(q.slices[1].origins[0] == ap("MAD"));
    CHECK(has(q.slices[1].destinations, q.slices[1].destination_count, "GRU") &&
          has(q.slices[1].destinations, q.slices[1].destination_count, "VCP"));
    CHECK_EQ_INT(q.slices[0].cabin, FS_CABIN_BUSINESS);
    CHECK_EQ_INT(q.slices[1].cabin, FS_CABIN_ECONOMY);
    CHECK_EQ_INT(q.slices[1].start_day, day(2026, 12, 15));
    CHECK_EQ_INT(q.slices[1].end_day, day(2026, 12, 15));
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(q.slices[k].max_stops, 1);
        CHECK_EQ_INT(q.slices[k].source_count, 1);
        CHECK_EQ_INT(q.slices[k].seats, 2);
    }
    CHECK_EQ_INT(q.min_connection, 90);
    CHECK_EQ_INT(q.sort, FS_SORT_DURATION);
    CHECK_EQ_INT(q.limit, 7);
    CHECK_EQ_INT(q.min_stay, -1);
    /* without return_cabin the return takes cabin */
    CHECK_EQ_INT(get(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-15&cabin=first"), 0);
    CHECK_EQ_INT(q.slices[1].cabin, FS_CABIN_FIRST);
    /* stays with explicit return dates: the dates as given, the stays a filter */
    CHECK_EQ_INT(get(T, "origin=GRU&destination=LIS&date=2026-12-05&return_start_date=2026-12-10&return_end_date=2026-12-20"
                        "&min_stay=6&max_stay=8"),
                 0);
    CHECK_EQ_INT(q.slices[1].start_day, day(2026, 12, 10));
    CHECK_EQ_INT(q.slices[1].end_day, day(2026, 12, 20));
    CHECK_EQ_INT(q.min_stay, 6);

    /* the fields errors name */
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05"), "return_date");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-04"), "return_date");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_start_date=2026-12-01&return_end_date=2026-12-04"),
                 "return_end_date");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_start_date=2026-12-10"), "return_end_date");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-02-30"), "return_date");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-10&return_date=2026-12-11"),
                 "return_date");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-10&return_origin=XX"), "return_origin");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-10&return_destination=1"),
                 "return_destination");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-10&return_cabin=lounge"),
                 "return_cabin");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&min_stay=3"), "max_stay");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&max_stay=3"), "min_stay");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&min_stay=4&max_stay=3"), "max_stay");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&min_stay=0&max_stay=91"), "max_stay");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&min_stay=-1&max_stay=3"), "min_stay");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-10&max_stops=7"), "max_stops");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-10&cabn=first"), "cabn");
    CHECK_EQ_STR(refused(T, "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-10&cursor=xyz"), "cursor");
    CHECK_EQ_STR(refused(T, "destination=LIS&date=2026-12-05&return_date=2026-12-10"), "origin");

    /* the grid: both ranges required, each at most 31 days; no pages */
    CHECK_EQ_INT(get(G, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-31&return_start_date=2026-12-10"
                        "&return_end_date=2027-01-09"),
                 0);
    CHECK_EQ_INT(q.slices[1].end_day - q.slices[1].start_day + 1, 31);
    CHECK_EQ_STR(refused(G, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2027-01-01&return_start_date=2026-12-10"
                            "&return_end_date=2026-12-20"),
                 "end_date");
    CHECK_EQ_STR(refused(G, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-02&return_start_date=2026-12-10"
                            "&return_end_date=2027-01-10"),
                 "return_end_date");
    CHECK_EQ_STR(refused(G, "origin=GRU&destination=LIS&date=2026-12-01&return_start_date=2026-12-10&return_end_date=2026-12-11"),
                 "date");
    CHECK_EQ_STR(refused(G, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-02&return_start_date=2026-12-10"
                            "&return_end_date=2026-12-11&limit=5"),
                 "limit");

    /* multi-city */
    const char *three = "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"},"
                        " {\"origin\": [\"LIS\", \"OPO\"], \"destination\": \"MAD\", \"start_date\": \"2026-12-08\", \"end_date\": \"2026-12-10\"},"
                        " {\"origin\": \"MAD\", \"destination\": \"SAO\", \"date\": \"2026-12-15\"}],"
                        " \"cabin\": \"business\", \"max_stops\": 1, \"mixed_cabin\": true, \"sources\": [\"tap\", \"latam\"],"
                        " \"sort\": \"departure\", \"limit\": 3, \"min_connection\": 120}";
    CHECK_EQ_INT(post(three), 0);
    CHECK_EQ_INT(q.slice_count, 3);
    CHECK_EQ_INT(q.slices[1].origin_count, 2);
    CHECK(q.slices[1].destinations[0] == ap("MAD"));
    CHECK_EQ_INT(q.slices[1].start_day, day(2026, 12, 8));
    CHECK_EQ_INT(q.slices[1].end_day, day(2026, 12, 10));
    CHECK(has(q.slices[2].destinations, q.slices[2].destination_count, "CGH"));
    for (int k = 0; k < 3; k++) {
        CHECK_EQ_INT(q.slices[k].cabin, FS_CABIN_BUSINESS);
        CHECK_EQ_INT(q.slices[k].mixed_cabin, 1);
        CHECK_EQ_INT(q.slices[k].source_count, 2);
    }
    CHECK_EQ_INT(q.sort, FS_SORT_DEPARTURE);
    CHECK_EQ_INT(q.limit, 3);
    CHECK_EQ_INT(q.min_connection, 120);
    CHECK_EQ_INT(q.min_stay, -1);
    CHECK_EQ_STR(refused_body("{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"}]}"), "slices");
    CHECK_EQ_STR(refused_body("{\"slices\": []}"), "slices");
    CHECK_EQ_STR(refused_body("{\"cabin\": \"economy\"}"), "slices");
    CHECK_EQ_STR(refused_body("{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"},"
                              " {\"origin\": \"LIS\", \"destination\": \"GRU\", \"date\": \"2026-02-30\"}]}"),
                 "slices[1].date");
    CHECK_EQ_STR(refused_body("{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"},"
                              " {\"origin\": \"LIS\", \"destination\": \"GRU\", \"date\": \"2026-12-04\"}]}"),
                 "slices");
    CHECK_EQ_STR(refused_body("{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"},"
                              " {\"origin\": \"LIS\", \"destination\": \"GRU\", \"date\": \"2026-12-09\", \"cabin\": \"first\"}]}"),
                 "slices");
    CHECK_EQ_STR(refused_body("{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"},"
                              " {\"origin\": \"LIS\", \"destination\": \"GRU\", \"date\": \"2026-12-09\"}], \"seats\": 10}"),
                 "seats");
    CHECK_EQ_STR(refused_body("{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"},"
                              " {\"origin\": \"LIS\", \"destination\": \"GRU\", \"date\": \"2026-12-09\"}], \"origin\": \"GRU\"}"),
                 "origin");
    CHECK_EQ_STR(refused_body("{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"},"
                              " {\"origin\": \"LIS\", \"destination\": \"GRU\", \"date\": \"2026-12-09\"}], \"colour\": \"red\"}"),
                 "colour");
    CHECK_EQ_STR(refused_body("{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"}"), "slices");
    CHECK_EQ_STR(refused_body("[1, 2]"), "");

    /* cursors: a trip of two slices, encoded, parsed back; refused for another sort or count */
    fs_segment_t seg;
    memset(&seg, 0, sizeof(seg));
    strcpy(seg.source, "tap");
    fs_leg_t l1, l2;
    memset(&l1, 0, sizeof(l1));
    memset(&l2, 0, sizeof(l2));
    fs_carrier_parse("TP", 2, &l1.carrier);
    l1.flight = 101;
    l1.origin = ap("GRU");
    l1.day = (uint16_t)day(2026, 12, 5);
    l2 = l1;
    l2.flight = 102;
    l2.origin = ap("LIS");
    l2.day = (uint16_t)day(2026, 12, 15);
    fs_trip_t t;
    memset(&t, 0, sizeof(t));
    t.slice_count = 2;
    t.sort_value = 92000;
    t.slices[0] = (fs_result_t){.segment = &seg, .leg = &l1, .cabin = 2, .leg_cabin = {2, 0}, .miles = 57000, .sort_value = 57000,
                                .departs_utc_min = 29940700};
    t.slices[1] = (fs_result_t){.segment = &seg, .leg = &l2, .cabin = 0, .leg_cabin = {0, 0}, .miles = 35000, .sort_value = 35000,
                                .departs_utc_min = 29954920};
    char token[FS_TRIP_CURSOR_TOKEN_MAX], qs[FS_TRIP_CURSOR_TOKEN_MAX + 200];
    size_t n = fs_trip_cursor_encode(FS_SORT_MILES, &t, token, sizeof(token));
    CHECK(n > 4 && n == strlen(token) && strncmp(token, "T1m.92000.", 10) == 0);
    snprintf(qs, sizeof(qs), "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-15&cursor=%s", token);
    CHECK_EQ_INT(get(T, qs), 0);
    CHECK(q.cursor.present);
    CHECK_EQ_INT(q.cursor.sort_value, 92000);
    CHECK_EQ_INT(q.cursor.slice_count, 2);
    CHECK_EQ_INT(q.cursor.slices[0].sort_value, 57000);
    CHECK_EQ_INT(q.cursor.slices[0].legs[0].flight, 101);
    CHECK_EQ_INT(q.cursor.slices[0].legs[0].cabin, 2);
    CHECK_EQ_STR(q.cursor.slices[0].legs[0].source, "tap");
    CHECK_EQ_INT(q.cursor.slices[1].departs_utc_min, 29954920);
    CHECK_EQ_INT(q.cursor.slices[1].legs[0].flight, 102);
    CHECK_EQ_INT(q.cursor.slices[1].legs[0].day, day(2026, 12, 15));
    snprintf(qs, sizeof(qs), "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-15&sort=duration&cursor=%s", token);
    CHECK_EQ_STR(refused(T, qs), "cursor");
    char body[FS_TRIP_CURSOR_TOKEN_MAX + 400];
    snprintf(body, sizeof(body),
             "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-05\"},"
             " {\"origin\": \"LIS\", \"destination\": \"MAD\", \"date\": \"2026-12-09\"},"
             " {\"origin\": \"MAD\", \"destination\": \"GRU\", \"date\": \"2026-12-19\"}], \"cursor\": \"%s\"}",
             token);
    CHECK_EQ_STR(refused_body(body), "cursor"); /* two slices' cursor for three slices */
    token[n - 3] = token[n - 3] == 'A' ? 'B' : 'A'; /* a slice token broken */
    snprintf(qs, sizeof(qs), "origin=GRU&destination=LIS&date=2026-12-05&return_date=2026-12-15&cursor=%.*s.!", (int)n, token);
    CHECK_EQ_STR(refused(T, qs), "cursor");
    TEST_DONE();
}
