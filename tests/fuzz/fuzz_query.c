/*
 * tests/fuzz/fuzz_query.c: query strings into fs_query_parse, and cursor tokens into
 * fs_cursor_decode (src/query.c). The first byte picks what the rest is:
 *   0, 1, 2 (mod 4)  the query string of /v1/search, /v1/calendar, /v1/routes;
 *   3                a cursor token, decoded for each sort; the same bytes also describe a result
 *                    (sort key, one or two legs) whose cursor must decode back to it.
 * Properties: a query that parses satisfies every limit the index relies on (codes in range,
 * 1..FS_QUERY_MAX_AIRPORTS distinct airports, a date range in order inside the 16-bit range,
 * seats 1..9, limit 1..FS_SEARCH_MAX_LIMIT, connections in order, ...); parsing is deterministic;
 * a refusal names a parameter and a sentence, NUL-terminated; a decoded cursor carries one or
 * two legs with valid source names and codes in range; encode then decode is the identity on the
 * cursor (fs_cursor_at of the result); a `fields` value gives a mask of the endpoint's fields only.
 */
#include <string.h>

#include "index/index.h"
#include "src/server.h"
#include "tests/fuzz/fuzz.h"

static int source_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void check_cursor_fields(const fs_cursor_t *cur)
{
    FUZZ_ASSERT(cur->present == 1, "present %d", cur->present);
    FUZZ_ASSERT(cur->leg_count == 1 || cur->leg_count == 2, "%u legs", cur->leg_count);
    for (unsigned i = 0; i < cur->leg_count && i < 2; i++) {
        const fs_cursor_leg_t *l = &cur->legs[i];
        FUZZ_ASSERT(fuzz_terminated(l->source, sizeof(l->source)) && l->source[0] != '\0', "cursor source");
        for (const char *p = l->source; *p; p++)
            FUZZ_ASSERT(source_char(*p), "cursor source character 0x%02x", (unsigned)(unsigned char)*p);
        FUZZ_ASSERT(l->carrier < FS_CARRIER_COUNT && l->flight <= FS_MAX_FLIGHT && l->origin < FS_AIRPORT_COUNT &&
                        l->cabin < FS_CABIN_COUNT,
                    "cursor leg %u out of range", i);
    }
}

static void check_query(fs_endpoint_t ep, const char *qs, size_t len)
{
    fs_search_query_t q, q2;
    fs_param_error_t err, err2;
    memset(&err, 0x5a, sizeof(err));
    int rc = fs_query_parse(ep, qs, len, &q, &err);
    FUZZ_ASSERT(rc == 0 || rc == FS_EINVAL, "fs_query_parse returned %d", rc);
    FUZZ_ASSERT(fuzz_terminated(err.parameter, sizeof(err.parameter)) && fuzz_terminated(err.message, sizeof(err.message)),
                "error not NUL-terminated");
    int rc2 = fs_query_parse(ep, qs, len, &q2, &err2);
    FUZZ_ASSERT(rc2 == rc && strcmp(err.parameter, err2.parameter) == 0 && strcmp(err.message, err2.message) == 0,
                "a second parse answers differently");
    if (rc != 0) {
        FUZZ_ASSERT(err.message[0] != '\0', "refused without a message");
        return;
    }
    FUZZ_ASSERT(memcmp(&q, &q2, sizeof(q)) == 0, "a second parse gives another query");

    FUZZ_ASSERT(q.origin_count >= 1 && q.origin_count <= FS_QUERY_MAX_AIRPORTS, "%u origins", q.origin_count);
    if (ep == FS_EP_ROUTES)
        FUZZ_ASSERT(q.origin_count == 1 && q.destination_count == 0, "routes with %u origins, %u destinations", q.origin_count,
                    q.destination_count);
    else
        FUZZ_ASSERT(q.destination_count >= 1 && q.destination_count <= FS_QUERY_MAX_AIRPORTS, "%u destinations",
                    q.destination_count);
    for (unsigned i = 0; i < q.origin_count; i++) {
        FUZZ_ASSERT(q.origins[i] < FS_AIRPORT_COUNT, "origin %u", (unsigned)q.origins[i]);
        for (unsigned j = 0; j < i; j++)
            FUZZ_ASSERT(q.origins[i] != q.origins[j], "origin listed twice");
    }
    for (unsigned i = 0; i < q.destination_count; i++) {
        FUZZ_ASSERT(q.destinations[i] < FS_AIRPORT_COUNT, "destination %u", (unsigned)q.destinations[i]);
        for (unsigned j = 0; j < i; j++)
            FUZZ_ASSERT(q.destinations[i] != q.destinations[j], "destination listed twice");
    }
    FUZZ_ASSERT(q.start_day >= 0 && q.start_day <= q.end_day && q.end_day <= 65535, "days %d..%d", (int)q.start_day,
                (int)q.end_day);
    if (ep == FS_EP_CALENDAR)
        FUZZ_ASSERT(q.end_day - q.start_day + 1 <= FS_CALENDAR_MAX_DAYS, "calendar of %d days", (int)(q.end_day - q.start_day + 1));
    FUZZ_ASSERT(q.cabin >= -1 && q.cabin < FS_CABIN_COUNT, "cabin %d", q.cabin);
    FUZZ_ASSERT(q.seats >= 1 && q.seats <= 9, "seats %u", q.seats);
    FUZZ_ASSERT(q.limit >= 1 && q.limit <= FS_SEARCH_MAX_LIMIT, "limit %u", q.limit);
    FUZZ_ASSERT(q.sort == FS_SORT_MILES || q.sort == FS_SORT_DEPARTURE || q.sort == FS_SORT_DURATION, "sort %d", (int)q.sort);
    FUZZ_ASSERT(q.source_count <= FS_QUERY_MAX_FILTER && q.carrier_count <= FS_QUERY_MAX_FILTER, "filters");
    for (unsigned i = 0; i < q.source_count; i++)
        FUZZ_ASSERT(fuzz_terminated(q.sources[i], sizeof(q.sources[i])) && strlen(q.sources[i]) >= 1, "source %u", i);
    for (unsigned i = 0; i < q.carrier_count; i++)
        FUZZ_ASSERT(q.carriers[i] < FS_CARRIER_COUNT, "carrier %u", (unsigned)q.carriers[i]);
    /* 2 stops on search and calendar only (docs/api.md); explore stops at 1 */
    FUZZ_ASSERT(q.max_stops <= (ep == FS_EP_ROUTES ? 1u : 2u), "max_stops %u", q.max_stops);
    FUZZ_ASSERT(q.min_connection <= q.max_connection && q.max_connection <= FS_MAX_CONNECTION_MIN, "connections %u..%u",
                q.min_connection, q.max_connection);
    FUZZ_ASSERT(q.depart_after >= -1 && q.depart_after < 1440 && q.depart_before >= -1 && q.depart_before < 1440,
                "departure window %d..%d", q.depart_after, q.depart_before);
    if (q.cursor.present)
        check_cursor_fields(&q.cursor);

    /* fields: the same verdict through fs_query_parse_fields, and a mask inside the endpoint's
     * answer (src/server.h: 40 fields of a search, 27 of a calendar, 15 of routes) */
    fs_fields_t fields = 0;
    fs_search_query_t q3;
    FUZZ_ASSERT(fs_query_parse_fields(ep, qs, len, &q3, &fields, &err2) == 0, "fields: another verdict");
    if (fields != FS_FIELDS_ALL) {
        unsigned count = ep == FS_EP_SEARCH ? FS_FIELD_S_SOURCE + 1 : ep == FS_EP_CALENDAR ? FS_FIELD_DAY_CABIN(FS_CABIN_FIRST) + 4
                                                                                          : FS_FIELD_D_STOPS + 1;
        FUZZ_ASSERT(fields != 0 && (fields >> count) == 0, "fields mask %#llx for %u fields", (unsigned long long)fields, count);
    }
}

/* A little reader over the input for the cursor round trip: zeros once it runs out. */
typedef struct bytes {
    const uint8_t *p;
    size_t n;
} bytes_t;

static uint64_t take(bytes_t *b, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | (b->n ? *b->p : 0);
        if (b->n)
            b->p++, b->n--;
    }
    return v;
}

static void make_leg(bytes_t *b, fs_segment_t *seg, fs_leg_t *leg)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";
    size_t n = 1 + take(b, 1) % FS_SOURCE_NAME_MAX;
    for (size_t i = 0; i < n; i++)
        seg->source[i] = chars[take(b, 1) % (sizeof(chars) - 1)];
    seg->source[n] = '\0';
    memset(leg, 0, sizeof(*leg));
    leg->carrier = (fs_carrier_t)(take(b, 2) % FS_CARRIER_COUNT);
    leg->flight = (uint16_t)(1 + take(b, 2) % FS_MAX_FLIGHT);
    leg->origin = (fs_airport_t)(take(b, 2) % FS_AIRPORT_COUNT);
    leg->destination = (fs_airport_t)(take(b, 2) % FS_AIRPORT_COUNT);
    leg->day = (uint16_t)take(b, 2);
}

static void check_cursor(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int decoded = 0;
    for (int sort = FS_SORT_MILES; sort <= FS_SORT_DURATION; sort++) {
        fs_cursor_t cur;
        memset(&cur, 0x5a, sizeof(cur));
        const char *why = NULL;
        int rc = fs_cursor_decode((enum fs_sort)sort, s, size, &cur, &why);
        FUZZ_ASSERT(rc == 0 || rc == FS_EINVAL, "fs_cursor_decode returned %d", rc);
        if (rc != 0) {
            FUZZ_ASSERT(why != NULL && why[0] != '\0', "a cursor refused without a reason");
            continue;
        }
        decoded++;
        check_cursor_fields(&cur);
    }
    FUZZ_ASSERT(decoded <= 1, "one cursor valid for %d sorts", decoded);

    /* encode -> decode */
    bytes_t b = {data, size};
    enum fs_sort sort = (enum fs_sort)(take(&b, 1) % 3);
    int two = (int)(take(&b, 1) & 1);
    fs_segment_t seg1, seg2;
    fs_leg_t leg1, leg2;
    memset(&seg1, 0, sizeof(seg1));
    memset(&seg2, 0, sizeof(seg2));
    fs_result_t r;
    memset(&r, 0, sizeof(r));
    r.sort_value = (int64_t)take(&b, 8);
    r.departs_utc_min = (int64_t)take(&b, 8);
    r.leg_cabin[0] = (uint8_t)(take(&b, 1) % FS_CABIN_COUNT);
    r.leg_cabin[1] = (uint8_t)(take(&b, 1) % FS_CABIN_COUNT);
    r.cabin = r.leg_cabin[0];
    make_leg(&b, &seg1, &leg1);
    r.segment = &seg1;
    r.leg = &leg1;
    if (two) {
        make_leg(&b, &seg2, &leg2);
        r.segment2 = &seg2;
        r.leg2 = &leg2;
    }
    char token[FS_CURSOR_TOKEN_MAX + 1], id[FS_ID_MAX];
    size_t n = fs_cursor_encode(sort, &r, token, sizeof(token));
    FUZZ_ASSERT(n > 0 && n < FS_CURSOR_TOKEN_MAX && strlen(token) == n, "token of %zu bytes", n);
    size_t idlen = fs_result_id(&r, id);
    FUZZ_ASSERT(idlen < FS_ID_MAX && strlen(id) == idlen, "id of %zu bytes", idlen);
    fs_cursor_t cur;
    const char *why = NULL;
    int rc = fs_cursor_decode(sort, token, n, &cur, &why);
    FUZZ_ASSERT(rc == 0, "the cursor of %lld/%lld/%s does not decode (%s): %s", (long long)r.sort_value,
                (long long)r.departs_utc_min, id, why != NULL ? why : "?", token);
    FUZZ_ASSERT(cur.sort_value == r.sort_value && cur.departs_utc_min == r.departs_utc_min && cur.leg_count == (two ? 2u : 1u),
                "cursor of %lld/%lld/%s decodes to %lld/%lld, %u legs", (long long)r.sort_value, (long long)r.departs_utc_min, id,
                (long long)cur.sort_value, (long long)cur.departs_utc_min, cur.leg_count);
    for (unsigned i = 0; i < cur.leg_count && i < 2; i++) {
        const fs_segment_t *sg = i == 0 ? r.segment : r.segment2;
        const fs_leg_t *lg = i == 0 ? r.leg : r.leg2;
        const fs_cursor_leg_t *cl = &cur.legs[i];
        FUZZ_ASSERT(strcmp(cl->source, sg->source) == 0 && cl->carrier == lg->carrier && cl->flight == lg->flight &&
                        cl->origin == lg->origin && cl->day == lg->day && cl->cabin == r.leg_cabin[i],
                    "leg %u of the cursor of %s decodes to another leg", i, id);
    }
    for (int other = FS_SORT_MILES; other <= FS_SORT_DURATION; other++)
        if (other != (int)sort)
            FUZZ_ASSERT(fs_cursor_decode((enum fs_sort)other, token, n, &cur, NULL) != 0, "cursor accepted for another sort");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fs_endpoint_t eps[3] = {FS_EP_SEARCH, FS_EP_CALENDAR, FS_EP_ROUTES};
    if (size == 0)
        return 0;
    unsigned pick = data[0] % 4;
    if (pick < 3)
        check_query(eps[pick], (const char *)data + 1, size - 1);
    else
        check_cursor(data + 1, size - 1);
    return 0;
}
