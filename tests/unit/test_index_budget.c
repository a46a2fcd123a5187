/*
 * The search budget reaches every loop a query can grow: with a deadline already past, a search
 * whose work lies in second legs, a calendar over the same, and route explore over many routes
 * (nonstop and with max_stops=1), and a 2-stop search whose work lies in its middle routes, must
 * answer FS_ETIMEDOUT; with no deadline they answer in full,
 * the counts checked against the network built here. Once, the budget was read only while
 * scanning first legs, and explore had none: these all answered 0 past their deadline.
 */
#include <string.h>
#include "index/index.h"
#include "tests/test.h"

#define DAY 20600       /* 2026-05-27 */
#define SECOND_LEGS 3000 /* X->B legs, each a valid connection from the one A->X leg */
#define ROUTES 600      /* routes leaving the explore origin */
#define MIDDLES 2000    /* 2 stops: SCL->BOG, then BOG->Y and Y->MEX for this many airports Y */

static fs_airport_t airport(const char *code)
{
    fs_airport_t a = 0;
    fs_airport_parse(code, 3, &a);
    return a;
}

static fs_airport_t nth_airport(unsigned i) /* "AAA", "AAB", ...: distinct for i < 17576 */
{
    char c[3] = {(char)('A' + i / 676 % 26), (char)('A' + i / 26 % 26), (char)('A' + i % 26)};
    return airport(c);
}

static fs_leg_in_t leg(fs_airport_t o, fs_airport_t d, unsigned carrier, unsigned flight, unsigned minute)
{
    fs_leg_in_t l = {0};
    l.carrier = (fs_carrier_t)carrier;
    l.flight = (uint16_t)flight;
    l.origin = o;
    l.destination = d;
    l.departs = (fs_localtime_t){DAY, (uint16_t)minute, 0};
    l.arrives = (fs_localtime_t){DAY, (uint16_t)(minute + 60), 0};
    l.cabin_mask = 1;
    l.seats[0] = 2;
    l.fare[0] = (fs_fare_t){10000, 500, 0};
    l.last_seen = 1700000000;
    return l;
}

int main(void)
{
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    fs_airport_t a = airport("GRU"), x = airport("LIS"), b = airport("FRA");

    /* one A->X leg at 06:00-07:00; SECOND_LEGS X->B legs leaving 08:00-19:00, all within the
     * 60-720 minute connection window; ROUTES routes leaving "ZZZ" */
    fs_segment_builder_t *sb = fs_segment_builder_new("budget", 1, 1700000000);
    fs_leg_in_t l = leg(a, x, 1, 1, 360);
    CHECK(fs_segment_builder_add(sb, &l) == 0);
    for (unsigned i = 0; i < SECOND_LEGS; i++) {
        l = leg(x, b, 2 + i / 9000, 1 + i % 9000, 480 + i % 661); /* 08:00-19:00: 60-720 min after 07:00 */
        CHECK(fs_segment_builder_add(sb, &l) == 0);
    }
    fs_airport_t hub = airport("ZZZ");
    for (unsigned i = 0; i < ROUTES; i++) {
        l = leg(hub, nth_airport(i), 3, 1 + i, 600);
        CHECK(fs_segment_builder_add(sb, &l) == 0);
    }
    /* 2 stops: one SCL->BOG leg (06:00-07:00), BOG->Y at 08:00 and Y->MEX at 10:00 for MIDDLES
     * airports Y (none of the explore hub's): every Y makes one itinerary, and no 1-stop exists */
    fs_airport_t a2 = airport("SCL"), x2 = airport("BOG"), b2 = airport("MEX");
    l = leg(a2, x2, 4, 1, 360);
    CHECK(fs_segment_builder_add(sb, &l) == 0);
    for (unsigned i = 0, k = ROUTES; i < MIDDLES; i++, k++) {
        fs_airport_t y = nth_airport(k);
        if (y == a2 || y == x2 || y == b2)
            y = nth_airport(++k); /* never two of them in a row */
        l = leg(x2, y, 5, 1 + i, 480);
        CHECK(fs_segment_builder_add(sb, &l) == 0);
        l = leg(y, b2, 6, 1 + i, 600);
        CHECK(fs_segment_builder_add(sb, &l) == 0);
    }
    CHECK(fs_index_publish_segment(idx, &th, fs_segment_builder_finish(sb, 0)) > 0);

    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    static fs_result_t results[FS_SEARCH_MAX_LIMIT];
    static fs_calendar_cell_t cells[FS_CABIN_COUNT];
    static fs_route_summary_t routes[FS_AIRPORT_COUNT];

    fs_search_query_t q;
    fs_search_query_init(&q);
    q.origins[0] = a;
    q.origin_count = 1;
    q.destinations[0] = b;
    q.destination_count = 1;
    q.start_day = q.end_day = DAY;
    q.max_stops = 1;
    q.limit = 10;
    fs_search_result_t res;
    /* no deadline: every X->B leg makes one itinerary with the one first leg */
    CHECK_EQ_INT(fs_search(gen, &q, results, &res), 0);
    CHECK_EQ_INT(res.total, SECOND_LEGS);
    CHECK_EQ_INT(fs_calendar(gen, &q, cells), 0);
    CHECK_EQ_INT(cells[FS_CABIN_ECONOMY].count, SECOND_LEGS);
    /* a deadline in the past: the work is all second legs, one first leg */
    q.deadline_us = 1;
    CHECK_EQ_INT(fs_search(gen, &q, results, &res), FS_ETIMEDOUT);
    CHECK_EQ_INT(fs_calendar(gen, &q, cells), FS_ETIMEDOUT);

    /* 2 stops: nothing nonstop or with one stop; MIDDLES itineraries with two; none past the
     * deadline, whose work is all middle routes and third legs */
    fs_search_query_t q2;
    fs_search_query_init(&q2);
    q2.origins[0] = a2;
    q2.origin_count = 1;
    q2.destinations[0] = b2;
    q2.destination_count = 1;
    q2.start_day = q2.end_day = DAY;
    q2.limit = 10;
    q2.max_stops = 1;
    CHECK_EQ_INT(fs_search(gen, &q2, results, &res), 0);
    CHECK_EQ_INT(res.total, 0);
    q2.max_stops = 2;
    CHECK_EQ_INT(fs_search(gen, &q2, results, &res), 0);
    CHECK_EQ_INT(res.total, MIDDLES);
    CHECK_EQ_INT(fs_calendar(gen, &q2, cells), 0);
    CHECK_EQ_INT(cells[FS_CABIN_ECONOMY].count, MIDDLES);
    q2.deadline_us = 1;
    CHECK_EQ_INT(fs_search(gen, &q2, results, &res), FS_ETIMEDOUT);
    CHECK_EQ_INT(fs_calendar(gen, &q2, cells), FS_ETIMEDOUT);

    /* route explore from the hub: ROUTES destinations nonstop, and the same with max_stops=1 */
    fs_search_query_t f;
    fs_search_query_init(&f);
    f.start_day = DAY;
    f.end_day = DAY;
    CHECK_EQ_INT(fs_routes_from(gen, hub, &f, routes, FS_AIRPORT_COUNT), ROUTES);
    f.max_stops = 1;
    CHECK_EQ_INT(fs_routes_from(gen, hub, &f, routes, FS_AIRPORT_COUNT), ROUTES);
    f.deadline_us = 1;
    CHECK_EQ_INT(fs_routes_from(gen, hub, &f, routes, FS_AIRPORT_COUNT), FS_ETIMEDOUT);
    f.max_stops = 0;
    CHECK_EQ_INT(fs_routes_from(gen, hub, &f, routes, FS_AIRPORT_COUNT), FS_ETIMEDOUT);
    /* 1-stop explore from A: LIS nonstop, FRA through LIS */
    f.deadline_us = 0;
    f.max_stops = 1;
    int n = fs_routes_from(gen, a, &f, routes, FS_AIRPORT_COUNT);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK(routes[0].destination == b && routes[0].stops == 1); /* FRA sorts before LIS */
        CHECK(routes[1].destination == x && routes[1].stops == 0 && routes[1].legs == 1);
    }
    fs_index_read_end(idx, &th);
    fs_index_free(idx);
    TEST_DONE();
}
