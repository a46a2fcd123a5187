/*
 * The `fields` parameter (src/fields.c) against hand-worked masks: each case lists by hand the
 * fields its value selects, and the parsed mask must hold exactly those bits; each malformed value
 * must be refused naming `fields` and the culprit. The writers' use of the mask is checked by
 * test_src_results (hand-written documents) and e2e_read_api (against the full answers).
 */
#include <string.h>
#include "src/server.h"
#include "tests/test.h"

#define B(bit) ((fs_fields_t)1 << (bit))

#define CHECK_EQ_U64(a, b)                                                                                                 \
    do {                                                                                                                   \
        uint64_t a_ = (a), b_ = (b);                                                                                       \
        CHECK(a_ == b_);                                                                                                   \
        if (a_ != b_)                                                                                                      \
            fprintf(stderr, "  line %d: mask %#llx, expected %#llx\n", __LINE__, (unsigned long long)a_,                   \
                    (unsigned long long)b_);                                                                               \
    } while (0)

/* Every field of a search result, segments and their fields included: the names listed in
 * docs/api.md's result table, one bit each. */
static fs_fields_t whole_result(void)
{
    static const int bits[] = {FS_FIELD_R_ID,          FS_FIELD_R_ORIGIN,      FS_FIELD_R_DESTINATION,  FS_FIELD_R_DATE,
                               FS_FIELD_R_DEPARTS_AT,  FS_FIELD_R_ARRIVES_AT,  FS_FIELD_R_DURATION_MIN, FS_FIELD_R_STOPS,
                               FS_FIELD_R_CABIN,       FS_FIELD_R_MILES,       FS_FIELD_R_TAXES_CENTS,  FS_FIELD_R_CURRENCY,
                               FS_FIELD_R_SEATS,       FS_FIELD_R_SOURCE,      FS_FIELD_R_LAST_SEEN,    FS_FIELD_R_SEGMENTS,
                               FS_FIELD_S_CARRIER,     FS_FIELD_S_FLIGHT,      FS_FIELD_S_ORIGIN,       FS_FIELD_S_DESTINATION,
                               FS_FIELD_S_DEPARTS_AT,  FS_FIELD_S_ARRIVES_AT,  FS_FIELD_S_DURATION_MIN, FS_FIELD_S_CABIN,
                               FS_FIELD_S_SEATS,       FS_FIELD_S_MILES,       FS_FIELD_S_SOURCE};
    fs_fields_t m = B(FS_FIELD_RESULTS);
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        m |= B(bits[i]);
    return m;
}

static fs_fields_t parsed(fs_endpoint_t ep, const char *spec)
{
    fs_fields_t m = 0;
    fs_param_error_t err;
    if (fs_fields_parse(ep, spec, &m, &err) != 0) {
        fprintf(stderr, "  refused '%s': %s\n", spec, err.message);
        return 0;
    }
    return m;
}

/* A value expected to be refused: the parameter is `fields` and the message contains want. */
static void refused(fs_endpoint_t ep, const char *spec, const char *want)
{
    fs_fields_t m = 0;
    fs_param_error_t err;
    int rc = fs_fields_parse(ep, spec, &m, &err);
    CHECK_EQ_INT(rc, FS_EINVAL);
    if (rc != FS_EINVAL)
        return;
    CHECK_EQ_STR(err.parameter, "fields");
    CHECK(strstr(err.message, want) != NULL);
    if (strstr(err.message, want) == NULL)
        fprintf(stderr, "  '%s': message '%s' lacks '%s'\n", spec, err.message, want);
}

int main(void)
{
    /* search: the list view */
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "results(id,miles,seats,departs_at),next_cursor"),
                 B(FS_FIELD_RESULTS) | B(FS_FIELD_R_ID) | B(FS_FIELD_R_MILES) | B(FS_FIELD_R_SEATS) | B(FS_FIELD_R_DEPARTS_AT) |
                     B(FS_FIELD_NEXT_CURSOR));
    /* a container alone is all of it; the same field twice is once */
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "results"), whole_result());
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "results,results(id)"), whole_result());
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "total,total"), B(FS_FIELD_TOTAL));
    /* a path is the same as one nested name; both reach the segments */
    fs_fields_t carrier = B(FS_FIELD_RESULTS) | B(FS_FIELD_R_SEGMENTS) | B(FS_FIELD_S_CARRIER);
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "results/segments/carrier"), carrier);
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "results(segments(carrier))"), carrier);
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "results/segments(carrier)"), carrier);
    /* the same name at two levels: origin of the result, origin of its segments */
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "results(origin,segments/origin)"),
                 B(FS_FIELD_RESULTS) | B(FS_FIELD_R_ORIGIN) | B(FS_FIELD_R_SEGMENTS) | B(FS_FIELD_S_ORIGIN));
    /* segments alone: the container and its eleven fields */
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "results/segments"),
                 B(FS_FIELD_RESULTS) | B(FS_FIELD_R_SEGMENTS) | B(FS_FIELD_S_CARRIER) | B(FS_FIELD_S_FLIGHT) |
                     B(FS_FIELD_S_ORIGIN) | B(FS_FIELD_S_DESTINATION) | B(FS_FIELD_S_DEPARTS_AT) | B(FS_FIELD_S_ARRIVES_AT) |
                     B(FS_FIELD_S_DURATION_MIN) | B(FS_FIELD_S_CABIN) | B(FS_FIELD_S_SEATS) | B(FS_FIELD_S_MILES) |
                     B(FS_FIELD_S_SOURCE));
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "searched"),
                 B(FS_FIELD_SEARCHED) | B(FS_FIELD_SEARCHED_SOURCE) | B(FS_FIELD_SEARCHED_SEQUENCE) |
                     B(FS_FIELD_SEARCHED_UPDATED_AT) | B(FS_FIELD_SEARCHED_LEGS));
    CHECK_EQ_U64(parsed(FS_EP_SEARCH, "count,total,generation,origins,destinations,took_us"),
                 B(FS_FIELD_COUNT) | B(FS_FIELD_TOTAL) | B(FS_FIELD_GENERATION) | B(FS_FIELD_ORIGINS) | B(FS_FIELD_DESTINATIONS) |
                     B(FS_FIELD_TOOK_US));

    /* calendar: a cabin is a map of three figures (economy is 0, first is 3) */
    CHECK_EQ_U64(parsed(FS_EP_CALENDAR, "days(date,business/min_miles)"),
                 B(FS_FIELD_DAYS) | B(FS_FIELD_DAY_DATE) | B(FS_FIELD_DAY_CABIN(FS_CABIN_BUSINESS)) |
                     B(FS_FIELD_DAY_CABIN(FS_CABIN_BUSINESS) + 1));
    CHECK_EQ_U64(parsed(FS_EP_CALENDAR, "days/first"),
                 B(FS_FIELD_DAYS) | B(FS_FIELD_DAY_CABIN(FS_CABIN_FIRST)) | B(FS_FIELD_DAY_CABIN(FS_CABIN_FIRST) + 1) |
                     B(FS_FIELD_DAY_CABIN(FS_CABIN_FIRST) + 2) | B(FS_FIELD_DAY_CABIN(FS_CABIN_FIRST) + 3));
    CHECK_EQ_U64(parsed(FS_EP_CALENDAR, "days(economy(count))"),
                 B(FS_FIELD_DAYS) | B(FS_FIELD_DAY_CABIN(FS_CABIN_ECONOMY)) | B(FS_FIELD_DAY_CABIN(FS_CABIN_ECONOMY) + 3));
    /* routes: destinations is the list of destinations */
    CHECK_EQ_U64(parsed(FS_EP_ROUTES, "destinations(destination,legs),origin"),
                 B(FS_FIELD_DESTINATIONS) | B(FS_FIELD_D_DESTINATION) | B(FS_FIELD_D_LEGS) | B(FS_FIELD_ORIGIN));

    /* refused, naming the culprit and what is there instead */
    refused(FS_EP_SEARCH, "results(milez)", "unknown field 'milez' in results");
    refused(FS_EP_SEARCH, "results(milez)", "seats, source, last_seen, segments");
    refused(FS_EP_SEARCH, "resultz", "unknown field 'resultz'");
    refused(FS_EP_SEARCH, "id", "unknown field 'id' (the answer's fields: results, count");
    refused(FS_EP_SEARCH, "results/segments/flight_number", "unknown field 'flight_number' in segments");
    refused(FS_EP_SEARCH, "total(x)", "total has no fields inside it");
    refused(FS_EP_SEARCH, "results/id/x", "id has no fields inside it");
    refused(FS_EP_SEARCH, "results(id", "'(' after results is not closed");
    refused(FS_EP_SEARCH, "results)", "closes nothing");
    refused(FS_EP_SEARCH, "results,", "missing at the end");
    refused(FS_EP_SEARCH, ",results", "expected a field name at ',results'");
    refused(FS_EP_SEARCH, "results()", "expected a field name at ')'");
    refused(FS_EP_SEARCH, "Results", "expected a field name");
    refused(FS_EP_SEARCH, "results id", "unexpected ' '");
    refused(FS_EP_SEARCH, "results(*)", "expected a field name at '*)'");
    refused(FS_EP_CALENDAR, "results", "unknown field 'results' (the answer's fields: days");
    refused(FS_EP_CALENDAR, "days(business(miles))", "unknown field 'miles' in business (its fields: min_miles, max_seats, count)");
    refused(FS_EP_ROUTES, "destinations(miles)", "unknown field 'miles' in destinations");
    refused(FS_EP_ROUTES, "next_cursor", "unknown field 'next_cursor'");
    refused(FS_EP_TRIPS, "total", "not taken by trips");

    /* through the query parser: absent is everything; percent-decoded first; only where documented */
    fs_search_query_t q;
    fs_fields_t f = 0;
    fs_param_error_t err;
    static const char base[] = "origin=GRU&destination=LIS&date=2026-12-01";
    CHECK_EQ_INT(fs_query_parse_fields(FS_EP_SEARCH, base, strlen(base), &q, &f, &err), 0);
    CHECK_EQ_U64(f, FS_FIELDS_ALL);
    static const char enc[] = "origin=GRU&destination=LIS&date=2026-12-01&fields=results%28id%2Cmiles%29";
    CHECK_EQ_INT(fs_query_parse_fields(FS_EP_SEARCH, enc, strlen(enc), &q, &f, &err), 0);
    CHECK_EQ_U64(f, B(FS_FIELD_RESULTS) | B(FS_FIELD_R_ID) | B(FS_FIELD_R_MILES));
    static const char twice[] = "origin=GRU&destination=LIS&date=2026-12-01&fields=total&fields=count";
    CHECK_EQ_INT(fs_query_parse_fields(FS_EP_SEARCH, twice, strlen(twice), &q, &f, &err), FS_EINVAL);
    CHECK_EQ_STR(err.parameter, "fields");
    static const char bad[] = "origin=GRU&destination=LIS&date=2026-12-01&fields=results(cost)";
    CHECK_EQ_INT(fs_query_parse(FS_EP_SEARCH, bad, strlen(bad), &q, &err), FS_EINVAL);
    CHECK_EQ_STR(err.parameter, "fields");
    static const char trips[] = "origin=GRU&destination=LIS&date=2026-12-01&fields=total";
    CHECK_EQ_INT(fs_query_parse(FS_EP_TRIPS, trips, strlen(trips), &q, &err), FS_EINVAL);
    CHECK_EQ_STR(err.parameter, "fields");
    static const char watch[] = "origin=GRU&destination=LIS&date=2026-12-01&fields=total";
    CHECK_EQ_INT(fs_query_parse(FS_EP_WATCHES, watch, strlen(watch), &q, &err), FS_EINVAL);
    CHECK_EQ_STR(err.parameter, "fields");
    TEST_DONE();
}
