/*
 * A 1-stop itinerary's price is the sum of its legs' in 64 bits: two legs whose taxes each fit
 * 32 bits (3,000,000,000 minor units, stored before feeds were bounded to FS_MAX_TAXES_CENTS, or
 * built directly) sum past 2^32. The sum once wrapped to 1,705,032,704.
 */
#include "index/index.h"
#include "tests/test.h"

#define DAY 20600

static fs_leg_in_t leg(const char *o, const char *d, unsigned flight, unsigned minute, uint32_t miles, uint32_t taxes)
{
    fs_leg_in_t l = {0};
    fs_carrier_parse("TP", 2, &l.carrier);
    l.flight = (uint16_t)flight;
    fs_airport_parse(o, 3, &l.origin);
    fs_airport_parse(d, 3, &l.destination);
    l.departs = (fs_localtime_t){DAY, (uint16_t)minute, 0};
    l.arrives = (fs_localtime_t){DAY, (uint16_t)(minute + 60), 0};
    l.cabin_mask = 1;
    l.seats[0] = 3;
    l.fare[0] = (fs_fare_t){miles, taxes, 0};
    l.last_seen = 1700000000;
    return l;
}

int main(void)
{
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    fs_segment_builder_t *b = fs_segment_builder_new("sums", 1, 1700000000);
    fs_leg_in_t l1 = leg("GRU", "LIS", 1, 360, FS_MAX_MILES, 3000000000u), l2 = leg("LIS", "FRA", 2, 600, FS_MAX_MILES, 3000000000u);
    CHECK(fs_segment_builder_add(b, &l1) == 0 && fs_segment_builder_add(b, &l2) == 0);
    CHECK(fs_index_publish_segment(idx, &th, fs_segment_builder_finish(b, 0)) > 0);
    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    fs_search_query_t q;
    fs_search_query_init(&q);
    fs_airport_parse("GRU", 3, &q.origins[0]);
    fs_airport_parse("FRA", 3, &q.destinations[0]);
    q.origin_count = q.destination_count = 1;
    q.start_day = q.end_day = DAY;
    q.max_stops = 1;
    static fs_result_t results[FS_SEARCH_MAX_LIMIT];
    fs_search_result_t res;
    CHECK_EQ_INT(fs_search(gen, &q, results, &res), 0);
    CHECK_EQ_INT(res.count, 1);
    if (res.count == 1) {
        CHECK(results[0].taxes_cents == 6000000000ull);
        CHECK_EQ_INT(results[0].miles, 2 * FS_MAX_MILES);
    }
    fs_index_read_end(idx, &th);
    fs_index_free(idx);
    TEST_DONE();
}
