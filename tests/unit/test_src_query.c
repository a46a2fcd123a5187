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
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&max_stops=3"), "max_stops");
    /* 2 stops: search and calendar only; explore, trips, the trip grid and watches stop at 1 */
    CHECK_EQ_STR(refused(FS_EP_SEARCH, "origin=GRU&destination=LIS&date=2026-12-01&max_stops=2"), "(accepted)");
    CHECK_EQ_STR(refused(FS_EP_CALENDAR, "origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-02&max_stops=2"),
                 "(accepted)");
    CHECK_EQ_STR(refused(FS_EP_ROUTES, "origin=GRU&max_stops=2"), "max_stops");
    CHECK_EQ_STR(refused(FS_EP_TRIPS, "origin=GRU&destination=LIS&date=2026-12-01&max_stops=2"), "max_stops");
    CHECK_EQ_STR(refused(FS_EP_WATCHES, "origin=GRU&destination=LIS&date=2026-12-01&max_stops=2"), "max_stops");
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

    /* cursors, version 2: base64url (no padding) of "2<sort letter>.<sort value>.<departure>"
     * then ".<source>.<carrier>.<flight>.<origin>.<day>.<cabin>" per leg (src/query.c). The
     * tokens below were made outside the project (Python's base64.urlsafe_b64encode); the codes
     * by hand: TP = 29 * 36 + 25 = 1069, GRU = 6 * 676 + 17 * 26 + 20 = 4518, LHR = 11 * 676 +
     * 7 * 26 + 17 = 7635; 2026-12-01 is day 20788. */
    static const char tok_tap[] = "Mm0uMzUwMDAuMjk5MzU2NTUudGFwLjEwNjkuODIuNDUxOC4yMDc4OC4w"; /* 2m.35000.29935655.tap.1069.82.4518.20788.0 */
    fs_segment_t seg, seg2;
    memset(&seg, 0, sizeof(seg));
    memset(&seg2, 0, sizeof(seg2));
    strcpy(seg.source, "tap");
    strcpy(seg2.source, "beta_2");
    fs_leg_t leg, leg2;
    memset(&leg, 0, sizeof(leg));
    memset(&leg2, 0, sizeof(leg2));
    fs_carrier_parse("TP", 2, &leg.carrier);
    leg.flight = 82;
    leg.origin = ap("GRU");
    leg.day = 20788;
    fs_carrier_parse("TP", 2, &leg2.carrier);
    leg2.flight = 7;
    leg2.origin = ap("LHR");
    leg2.day = 20789;
    fs_result_t r;
    memset(&r, 0, sizeof(r));
    r.segment = &seg;
    r.leg = &leg;
    r.sort_value = 35000;
    r.departs_utc_min = 29935655;
    char tok[FS_CURSOR_TOKEN_MAX];
    const char *why = NULL;
    fs_cursor_t cur;

    /* cursor_encode_nonstop: the exact token */
    size_t n = fs_cursor_encode(FS_SORT_MILES, &r, tok, sizeof(tok));
    CHECK_EQ_STR(tok, tok_tap);
    CHECK_EQ_INT(n, strlen(tok_tap));

    /* cursor_decode_nonstop: every field back */
    CHECK_EQ_INT(fs_cursor_decode(FS_SORT_MILES, tok_tap, strlen(tok_tap), &cur, &why), 0);
    CHECK(cur.present && cur.sort_value == 35000 && cur.departs_utc_min == 29935655 && cur.leg_count == 1);
    CHECK_EQ_STR(cur.legs[0].source, "tap");
    CHECK_EQ_INT(cur.legs[0].carrier, 1069);
    CHECK_EQ_INT(cur.legs[0].flight, 82);
    CHECK_EQ_INT(cur.legs[0].origin, 4518);
    CHECK_EQ_INT(cur.legs[0].day, 20788);
    CHECK_EQ_INT(cur.legs[0].cabin, FS_CABIN_ECONOMY);

    /* cursor_round_trip_one_stop: the second leg (business, first leg economy) */
    r.segment2 = &seg2;
    r.leg2 = &leg2;
    r.leg_cabin[0] = FS_CABIN_ECONOMY;
    r.leg_cabin[1] = FS_CABIN_FIRST;
    n = fs_cursor_encode(FS_SORT_MILES, &r, tok, sizeof(tok));
    /* 2m.35000.29935655.tap.1069.82.4518.20788.0.beta_2.1069.7.7635.20789.3 */
    CHECK_EQ_STR(tok, "Mm0uMzUwMDAuMjk5MzU2NTUudGFwLjEwNjkuODIuNDUxOC4yMDc4OC4wLmJldGFfMi4xMDY5LjcuNzYzNS4yMDc4OS4z");
    CHECK_EQ_INT(fs_cursor_decode(FS_SORT_MILES, tok, n, &cur, &why), 0);
    CHECK(cur.leg_count == 2 && cur.legs[1].carrier == 1069 && cur.legs[1].flight == 7 && cur.legs[1].origin == 7635 &&
          cur.legs[1].day == 20789 && cur.legs[1].cabin == FS_CABIN_FIRST);
    CHECK_EQ_STR(cur.legs[1].source, "beta_2");

    /* cursor_negative_and_extreme_numbers: 2m.-5.-9223372036854775808.tap.1069.82.4518.20788.0 */
    static const char tok_min[] = "Mm0uLTUuLTkyMjMzNzIwMzY4NTQ3NzU4MDgudGFwLjEwNjkuODIuNDUxOC4yMDc4OC4w";
    CHECK_EQ_INT(fs_cursor_decode(FS_SORT_MILES, tok_min, strlen(tok_min), &cur, &why), 0);
    CHECK(cur.sort_value == -5 && cur.departs_utc_min == INT64_MIN);
    /* and written: the same token from a nonstop result with those numbers (the digits are
     * formatted by hand, INT64_MIN's magnitude included) */
    {
        fs_result_t neg = r;
        neg.segment2 = NULL;
        neg.leg2 = NULL;
        neg.sort_value = -5;
        neg.departs_utc_min = INT64_MIN;
        n = fs_cursor_encode(FS_SORT_MILES, &neg, tok, sizeof(tok));
        CHECK_EQ_STR(tok, tok_min);
        CHECK_EQ_INT(n, strlen(tok_min));
        /* the longest: three legs of 32-character sources, every number at its widest; under the
         * 304 characters docs/api.md promises, and it decodes back */
        fs_segment_t wide;
        memset(&wide, 0, sizeof(wide));
        memset(wide.source, 'z', FS_SOURCE_NAME_MAX);
        fs_leg_t far = leg;
        far.flight = FS_MAX_FLIGHT;
        far.day = 65535;
        neg.segment = neg.segment2 = neg.segment3 = &wide;
        neg.leg = neg.leg2 = neg.leg3 = &far;
        neg.leg_cabin[0] = neg.leg_cabin[1] = neg.leg_cabin[2] = FS_CABIN_FIRST;
        neg.sort_value = INT64_MIN;
        n = fs_cursor_encode(FS_SORT_DEPARTURE, &neg, tok, sizeof(tok));
        CHECK(n > 0 && n <= 304);
        CHECK_EQ_INT(fs_cursor_decode(FS_SORT_DEPARTURE, tok, n, &cur, &why), 0);
        CHECK(cur.leg_count == 3 && cur.sort_value == INT64_MIN && cur.legs[2].flight == FS_MAX_FLIGHT &&
              cur.legs[2].day == 65535 && strlen(cur.legs[2].source) == FS_SOURCE_NAME_MAX);
    }

    /* cursor_other_sort: refused, saying so */
    why = NULL;
    CHECK_EQ_INT(fs_cursor_decode(FS_SORT_DURATION, tok_tap, strlen(tok_tap), &cur, &why), FS_EINVAL);
    CHECK(why != NULL && strstr(why, "another sort") != NULL);

    /* cursor_version_1: the old format (m.35000.29935655.tap-TP82-GRU-20261201-Y) is refused with
     * a message saying to restart from the first page */
    static const char tok_v1[] = "bS4zNTAwMC4yOTkzNTY1NS50YXAtVFA4Mi1HUlUtMjAyNjEyMDEtWQ";
    why = NULL;
    CHECK_EQ_INT(fs_cursor_decode(FS_SORT_MILES, tok_v1, strlen(tok_v1), &cur, &why), FS_EINVAL);
    CHECK(why != NULL && strstr(why, "earlier version") != NULL && strstr(why, "restart from the first page") != NULL);
    fs_search_query_t qc;
    fs_param_error_t qerr;
    char qs[256];
    snprintf(qs, sizeof(qs), "origin=GRU&destination=LIS&date=2026-12-01&cursor=%s", tok_v1);
    CHECK_EQ_INT(parse(FS_EP_SEARCH, qs, &qc, &qerr), FS_EINVAL);
    CHECK_EQ_STR(qerr.parameter, "cursor");
    CHECK(strncmp(qerr.message, "cursor: ", 8) == 0 && strstr(qerr.message, "restart from the first page") != NULL);
    snprintf(qs, sizeof(qs), "origin=GRU&destination=LIS&date=2026-12-01&cursor=%s", tok_tap);
    CHECK_EQ_INT(parse(FS_EP_SEARCH, qs, &qc, &qerr), 0);
    CHECK(qc.cursor.present && qc.cursor.legs[0].flight == 82);

    /* cursor_malformed: each refused with the restart advice */
    static const char *const bad_tokens[] = {
        "",
        "A",                                                          /* a length base64 cannot have */
        "Mm0uMzUwMDAuMjk5MzU2NTUudGFwLjEwNjkuODIuNDUxOC4yMDc4OC4w=", /* padding */
        "Mm0uMzUwMDAuMjk5MzU2NTUudGFwLjEwNjkuODIuNDUxOC4yMDc4OC4w+", /* not base64url */
        "M20uMzUwMDAuMjk5MzU2NTUudGFwLjEwNjkuODIuNDUxOC4yMDc4OC4w",  /* version 3 */
        "Mm0uMzUwMDAuMjk5MzU2NTUudGFwLjEwNjkuODIuNDUxOC4yMDc4OC40",  /* cabin 4 */
        "Mm0uMzUwMDAuMjk5MzU2NTUuVGFwLjEwNjkuODIuNDUxOC4yMDc4OC4w",  /* source "Tap" */
        "Mm0uMzUwMDAuMjk5MzU2NTUudGFwLjEwNjkuODIuNDUxOC4yMDc4OC4wLg", /* a trailing '.' */
        "Mm0uNS45MjIzMzcyMDM2ODU0Nzc1ODA4LnRhcC4xMDY5LjgyLjQ1MTguMjA3ODguMA", /* departure 2^63 */
        "Mm0uNS4xLnRhcC4xMjk2LjgyLjQ1MTguMjA3ODguMA",                /* carrier 1296 */
        "Mm0uMzUwMDAuMjk5MzU2NTU",                                    /* 2m.35000.29935655: no leg */
        "garbage",
    };
    for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
        why = NULL;
        int rc = fs_cursor_decode(FS_SORT_MILES, bad_tokens[i], strlen(bad_tokens[i]), &cur, &why);
        CHECK_EQ_INT(rc, FS_EINVAL);
        CHECK(why != NULL && strstr(why, "restart from the first page") != NULL);
        if (rc == 0)
            fprintf(stderr, "accepted bad token %zu: %s\n", i, bad_tokens[i]);
    }
    TEST_DONE();
}
