/*
 * src/query.c: query strings into fs_search_query_t. Strict on purpose: an unknown or repeated
 * parameter is an error rather than silently ignored, because a frontend with a typo
 * ("cabn=business") would otherwise get plausible but wrong answers.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "loaders/loaders.h"
#include "src/enc.h"
#include "src/server.h"

#define VALUE_MAX 512

enum param {
    P_ORIGIN,
    P_DESTINATION,
    P_DATE,
    P_START_DATE,
    P_END_DATE,
    P_CABIN,
    P_SEATS,
    P_SOURCES,
    P_CARRIERS,
    P_MAX_STOPS,
    P_SORT,
    P_LIMIT,
    P_CURSOR,
    P_MIN_CONNECTION,
    P_MAX_CONNECTION,
    P_MIXED_CABIN,
    P_SAME_SOURCE,
    P_MAX_DURATION,
    P_DEPART_AFTER,
    P_DEPART_BEFORE,
    P_FIELDS,
    P_COUNT
};

static const char *const param_names[P_COUNT] = {
    "origin",    "destination", "date",           "start_date",     "end_date",    "cabin",       "seats",
    "sources",   "carriers",    "max_stops",      "sort",           "limit",       "cursor",      "min_connection",
    "max_connection", "mixed_cabin", "same_source", "max_duration", "depart_after", "depart_before", "fields"};

/* The parameters that shape itineraries, valid wherever max_stops is. */
#define ITINERARY_PARAMS                                                                                                   \
    (1u << P_MIN_CONNECTION | 1u << P_MAX_CONNECTION | 1u << P_MIXED_CABIN | 1u << P_SAME_SOURCE | 1u << P_MAX_DURATION |  \
     1u << P_DEPART_AFTER | 1u << P_DEPART_BEFORE)

/* Which parameters each endpoint takes. */
static const unsigned endpoint_params[FS_EP_COUNT] = {
    [FS_EP_SEARCH] = (1u << P_COUNT) - 1,
    [FS_EP_CALENDAR] = 1u << P_ORIGIN | 1u << P_DESTINATION | 1u << P_START_DATE | 1u << P_END_DATE | 1u << P_CABIN |
                       1u << P_SEATS | 1u << P_SOURCES | 1u << P_CARRIERS | 1u << P_MAX_STOPS | ITINERARY_PARAMS |
                       1u << P_FIELDS,
    [FS_EP_ROUTES] = 1u << P_ORIGIN | 1u << P_START_DATE | 1u << P_END_DATE | 1u << P_SOURCES | 1u << P_CARRIERS |
                     1u << P_MAX_STOPS | 1u << P_FIELDS,
    /* the trip cursor is src/trips_http.c's; a trip answer has no partial form */
    [FS_EP_TRIPS] = ((1u << P_COUNT) - 1) & ~(1u << P_CURSOR | 1u << P_FIELDS),
    [FS_EP_CALENDAR_TRIPS] = 1u << P_ORIGIN | 1u << P_DESTINATION | 1u << P_START_DATE | 1u << P_END_DATE | 1u << P_CABIN |
                             1u << P_SEATS | 1u << P_SOURCES | 1u << P_CARRIERS | 1u << P_MAX_STOPS | ITINERARY_PARAMS,
    [FS_EP_WATCHES] = 1u << P_ORIGIN | 1u << P_DESTINATION | 1u << P_DATE | 1u << P_START_DATE | 1u << P_END_DATE |
                      1u << P_CABIN | 1u << P_SEATS | 1u << P_SOURCES | 1u << P_CARRIERS | 1u << P_MAX_STOPS,
};

static int fail(fs_param_error_t *err, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(fs_param_error_t *err, const char *param, const char *fmt, ...)
{
    snprintf(err->parameter, sizeof(err->parameter), "%s", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return FS_EINVAL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src into dst (NUL-terminated). Returns the length or -1 when malformed/too long. */
static int url_decode(const char *src, size_t len, char *dst, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len) /* "%4" at the end: truncated escape */
                return -1;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || n + 1 >= cap)
            return -1;
        dst[n++] = (char)c;
    }
    dst[n] = '\0';
    return (int)n;
}

/* Calls fn on each comma-separated item of s; stops at the first nonzero return. */
static int each_item(const char *s, int (*fn)(void *arg, const char *item, size_t len), void *arg)
{
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        int r = fn(arg, s, len);
        if (r != 0)
            return r;
        if (comma == NULL)
            return 0;
        s = comma + 1;
    }
}

#define MAX_CODES_PER_PARAM 10

typedef struct airport_list {
    fs_airport_t *codes;
    unsigned *count;
    unsigned items, max_items; /* codes named so far, and how many may be */
    const char *param;
    fs_param_error_t *err;
} airport_list_t;

static int add_one_airport(airport_list_t *l, fs_airport_t a)
{
    for (unsigned i = 0; i < *l->count; i++)
        if (l->codes[i] == a)
            return 0; /* GRU,GRU is GRU; SAO,GRU is SAO */
    if (*l->count == FS_QUERY_MAX_AIRPORTS)
        return fail(l->err, l->param, "%s: the codes expand to more than %d airports", l->param, FS_QUERY_MAX_AIRPORTS);
    l->codes[(*l->count)++] = a;
    return 0;
}

static int add_airport(void *arg, const char *item, size_t len)
{
    airport_list_t *l = arg;
    fs_airport_t a, expanded[FS_QUERY_MAX_AIRPORTS];
    if (fs_airport_parse(item, len, &a) != 0)
        return fail(l->err, l->param, "%s: '%.*s' is not a 3-letter uppercase IATA airport or city code", l->param,
                    (int)(len > 20 ? 20 : len), item);
    if (++l->items > l->max_items)
        return fail(l->err, l->param, "%s: at most %u codes", l->param, l->max_items);
    unsigned n = fs_city_expand(a, expanded, FS_QUERY_MAX_AIRPORTS);
    if (n == 0)
        return add_one_airport(l, a);
    for (unsigned i = 0; i < n; i++)
        if (add_one_airport(l, expanded[i]) != 0)
            return FS_EINVAL;
    return 0;
}

/* "HH:MM" -> minute of the day. */
static int parse_hhmm(const char *v, int *out)
{
    if (strlen(v) != 5 || v[2] != ':')
        return FS_EINVAL;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (v[i] < '0' || v[i] > '9'))
            return FS_EINVAL;
    int h = (v[0] - '0') * 10 + (v[1] - '0'), m = (v[3] - '0') * 10 + (v[4] - '0');
    if (h > 23 || m > 59)
        return FS_EINVAL;
    *out = h * 60 + m;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return FS_EINVAL;
    return 0;
}

typedef struct filter_list {
    fs_search_query_t *q;
    fs_param_error_t *err;
} filter_list_t;

static int add_source(void *arg, const char *item, size_t len)
{
    filter_list_t *l = arg;
    if (!fs_feed_source_valid(item, len))
        return fail(l->err, "sources", "sources: '%.*s' is not a source name ([a-z0-9_-]{1,32})", (int)(len > 40 ? 40 : len),
                    item);
    if (l->q->source_count == FS_QUERY_MAX_FILTER)
        return fail(l->err, "sources", "sources: at most %d sources", FS_QUERY_MAX_FILTER);
    memcpy(l->q->sources[l->q->source_count], item, len);
    l->q->sources[l->q->source_count++][len] = '\0';
    return 0;
}

static int add_carrier(void *arg, const char *item, size_t len)
{
    filter_list_t *l = arg;
    fs_carrier_t c;
    if (fs_carrier_parse(item, len, &c) != 0)
        return fail(l->err, "carriers", "carriers: '%.*s' is not a 2-character IATA airline code (A-Z, 0-9)",
                    (int)(len > 20 ? 20 : len), item);
    if (l->q->carrier_count == FS_QUERY_MAX_FILTER)
        return fail(l->err, "carriers", "carriers: at most %d carriers", FS_QUERY_MAX_FILTER);
    l->q->carriers[l->q->carrier_count++] = c;
    return 0;
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
    if (*v == '\0' || strlen(v) > 9)
        return FS_EINVAL;
    unsigned n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return FS_EINVAL;
        n = n * 10 + (unsigned)(*p - '0');
    }
    if (n < min || n > max)
        return FS_EINVAL;
    *out = n;
    return 0;
}

static int parse_date_param(const char *name, const char *v, int32_t *day, fs_param_error_t *err)
{
    if (fs_date_parse(v, strlen(v), day) != 0)
        return fail(err, name, "%s: '%.*s' is not a calendar date in the form YYYY-MM-DD", name, 20, v);
    return 0;
}

static int query_parse(fs_endpoint_t ep, const char *qs, size_t len, fs_search_query_t *q, fs_fields_t *fields,
                       fs_param_error_t *err, unsigned max_codes)
{
    *fields = FS_FIELDS_ALL;
    fs_search_query_init(q);
    err->parameter[0] = err->message[0] = '\0';

    char values[P_COUNT][VALUE_MAX];
    unsigned seen = 0;
    const char *p = qs, *end = qs + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *item_end = amp ? amp : end;
        if (item_end == p) { /* "a=1&&b=2": tolerate empty items */
            p = item_end + 1;
            continue;
        }
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        const char *name_end = eq ? eq : item_end;
        char name[64];
        if (url_decode(p, (size_t)(name_end - p), name, sizeof(name)) < 0)
            return fail(err, "", "a parameter name is malformed or too long");
        int which = -1;
        for (int i = 0; i < P_COUNT; i++)
            if (strcmp(name, param_names[i]) == 0)
                which = i;
        if (which < 0 || (endpoint_params[ep] & (1u << which)) == 0)
            return fail(err, name, "unknown parameter '%s' for %s (see docs/api.md)", name, fs_endpoint_names[ep]);
        if (seen & (1u << which))
            return fail(err, name, "%s is given more than once", name);
        seen |= 1u << which;
        if (eq == NULL || url_decode(eq + 1, (size_t)(item_end - eq - 1), values[which], VALUE_MAX) < 0)
            return fail(err, name, "%s: the value is missing, malformed or longer than %d bytes", name, VALUE_MAX - 1);
        if (values[which][0] == '\0')
            return fail(err, name, "%s: the value is empty", name);
        p = item_end + (amp ? 1 : 0);
    }

#define HAS(x) ((seen & (1u << (x))) != 0)
    /* origin, destination */
    if (!HAS(P_ORIGIN))
        return fail(err, "origin", "origin is required (IATA airport codes, comma-separated)");
    if (ep == FS_EP_ROUTES) {
        /* explore starts from one airport. A city code that is also one of its own airports (BKK,
         * IST, SHA) means that airport here; a city code alone (SAO, NYC) is refused with its
         * airports named, so the caller can pick one. */
        fs_airport_t a, city[FS_QUERY_MAX_AIRPORTS];
        if (fs_airport_parse(values[P_ORIGIN], strlen(values[P_ORIGIN]), &a) != 0)
            return fail(err, "origin", "origin: routes takes exactly one 3-letter uppercase IATA airport code, got '%.20s'",
                        values[P_ORIGIN]);
        unsigned n = fs_city_expand(a, city, FS_QUERY_MAX_AIRPORTS), self = 0;
        for (unsigned i = 0; i < n; i++)
            self |= city[i] == a;
        if (n > 0 && !self) {
            char list[FS_QUERY_MAX_AIRPORTS * 4 + 1];
            size_t used = 0;
            for (unsigned i = 0; i < n; i++) {
                fs_airport_format(city[i], list + used);
                used += 3;
                list[used++] = i + 1 < n ? ',' : '\0';
            }
            return fail(err, "origin", "origin: %s is a city code; routes takes one of its airports: %s", values[P_ORIGIN], list);
        }
        q->origins[0] = a;
        q->origin_count = 1;
    } else {
        airport_list_t ol = {q->origins, &q->origin_count, 0, max_codes, "origin", err};
        if (each_item(values[P_ORIGIN], add_airport, &ol) != 0)
            return FS_EINVAL;
    }
    if (ep != FS_EP_ROUTES) {
        if (!HAS(P_DESTINATION))
            return fail(err, "destination", "destination is required (IATA airport codes, comma-separated)");
        airport_list_t dl = {q->destinations, &q->destination_count, 0, max_codes, "destination", err};
        if (each_item(values[P_DESTINATION], add_airport, &dl) != 0)
            return FS_EINVAL;
    }

    /* dates */
    if (HAS(P_DATE) && (HAS(P_START_DATE) || HAS(P_END_DATE)))
        return fail(err, "date", "give either date or start_date and end_date, not both");
    if (HAS(P_DATE)) {
        if (parse_date_param("date", values[P_DATE], &q->start_day, err) != 0)
            return FS_EINVAL;
        q->end_day = q->start_day;
    } else if (HAS(P_START_DATE) || HAS(P_END_DATE)) {
        if (!HAS(P_START_DATE))
            return fail(err, "start_date", "start_date is required with end_date");
        if (!HAS(P_END_DATE))
            return fail(err, "end_date", "end_date is required with start_date");
        if (parse_date_param("start_date", values[P_START_DATE], &q->start_day, err) != 0 ||
            parse_date_param("end_date", values[P_END_DATE], &q->end_day, err) != 0)
            return FS_EINVAL;
        if (q->end_day < q->start_day)
            return fail(err, "end_date", "end_date %s is before start_date %s", values[P_END_DATE], values[P_START_DATE]);
        int max_days = ep == FS_EP_CALENDAR || ep == FS_EP_WATCHES ? FS_CALENDAR_MAX_DAYS
                       : ep == FS_EP_SEARCH || ep == FS_EP_TRIPS ? 90
                       : ep == FS_EP_CALENDAR_TRIPS              ? FS_TRIP_GRID_MAX_DAYS
                                                                 : 366 * 2;
        if (q->end_day - q->start_day + 1 > max_days)
            return fail(err, "end_date", "the range is %d days; at most %d for %s", q->end_day - q->start_day + 1, max_days,
                        fs_endpoint_names[ep]);
    } else if (ep == FS_EP_ROUTES) {
        q->start_day = 0;
        q->end_day = UINT16_MAX;
    } else if (ep == FS_EP_CALENDAR || ep == FS_EP_CALENDAR_TRIPS) {
        return fail(err, "start_date", "start_date and end_date are required (YYYY-MM-DD, at most %d days)",
                    ep == FS_EP_CALENDAR ? FS_CALENDAR_MAX_DAYS : FS_TRIP_GRID_MAX_DAYS);
    } else {
        return fail(err, "date", "date (YYYY-MM-DD), or start_date and end_date, is required");
    }

    if (HAS(P_CABIN)) {
        q->cabin = fs_cabin_parse(values[P_CABIN], strlen(values[P_CABIN]));
        if (q->cabin < 0)
            return fail(err, "cabin", "cabin: expected economy, premium, business or first, got '%.20s'", values[P_CABIN]);
    }
    if (HAS(P_SEATS) && parse_uint(values[P_SEATS], 1, 9, &q->seats) != 0)
        return fail(err, "seats", "seats: expected a whole number from 1 to 9, got '%.20s'", values[P_SEATS]);
    filter_list_t fl = {q, err};
    if (HAS(P_SOURCES) && each_item(values[P_SOURCES], add_source, &fl) != 0)
        return FS_EINVAL;
    if (HAS(P_CARRIERS) && each_item(values[P_CARRIERS], add_carrier, &fl) != 0)
        return FS_EINVAL;
    if (HAS(P_MAX_STOPS)) {
        /* 2 stops where one itinerary list is answered; explore, trips and watches stop at 1 */
        if (ep == FS_EP_SEARCH || ep == FS_EP_CALENDAR) {
            if (parse_uint(values[P_MAX_STOPS], 0, 2, &q->max_stops) != 0)
                return fail(err, "max_stops", "max_stops: expected 0 (nonstop), 1 or 2 (up to that many connections), got '%.20s'",
                            values[P_MAX_STOPS]);
        } else if (parse_uint(values[P_MAX_STOPS], 0, 1, &q->max_stops) != 0) {
            return fail(err, "max_stops",
                        "max_stops: expected 0 (nonstop) or 1 (up to one connection) here, got '%.20s' (2 is accepted by "
                        "/v1/search and /v1/calendar)",
                        values[P_MAX_STOPS]);
        }
    }
    if (HAS(P_MIN_CONNECTION) && parse_uint(values[P_MIN_CONNECTION], 0, FS_MAX_CONNECTION_MIN, &q->min_connection) != 0)
        return fail(err, "min_connection", "min_connection: expected minutes from 0 to %d, got '%.20s'", FS_MAX_CONNECTION_MIN,
                    values[P_MIN_CONNECTION]);
    if (HAS(P_MAX_CONNECTION) && parse_uint(values[P_MAX_CONNECTION], 0, FS_MAX_CONNECTION_MIN, &q->max_connection) != 0)
        return fail(err, "max_connection", "max_connection: expected minutes from 0 to %d, got '%.20s'", FS_MAX_CONNECTION_MIN,
                    values[P_MAX_CONNECTION]);
    if (q->min_connection > q->max_connection)
        return fail(err, HAS(P_MAX_CONNECTION) ? "max_connection" : "min_connection",
                    "min_connection (%u) is greater than max_connection (%u)", q->min_connection, q->max_connection);
    if (HAS(P_MIXED_CABIN) && parse_bool(values[P_MIXED_CABIN], &q->mixed_cabin) != 0)
        return fail(err, "mixed_cabin", "mixed_cabin: expected true or false, got '%.20s'", values[P_MIXED_CABIN]);
    if (HAS(P_SAME_SOURCE) && parse_bool(values[P_SAME_SOURCE], &q->same_source) != 0)
        return fail(err, "same_source", "same_source: expected true or false, got '%.20s'", values[P_SAME_SOURCE]);
    if (HAS(P_MAX_DURATION) && parse_uint(values[P_MAX_DURATION], 1, 7 * 1440, &q->max_duration) != 0)
        return fail(err, "max_duration", "max_duration: expected minutes from 1 to %d, got '%.20s'", 7 * 1440, values[P_MAX_DURATION]);
    if (HAS(P_DEPART_AFTER) && parse_hhmm(values[P_DEPART_AFTER], &q->depart_after) != 0)
        return fail(err, "depart_after", "depart_after: expected a local time HH:MM, got '%.20s'", values[P_DEPART_AFTER]);
    if (HAS(P_DEPART_BEFORE) && parse_hhmm(values[P_DEPART_BEFORE], &q->depart_before) != 0)
        return fail(err, "depart_before", "depart_before: expected a local time HH:MM, got '%.20s'", values[P_DEPART_BEFORE]);
    if (q->depart_after >= 0 && q->depart_before >= 0 && q->depart_after > q->depart_before)
        return fail(err, "depart_before", "depart_before %s is earlier than depart_after %s", values[P_DEPART_BEFORE],
                    values[P_DEPART_AFTER]);
    if (HAS(P_SORT)) {
        const char *s = values[P_SORT];
        if (strcmp(s, "miles") == 0)
            q->sort = FS_SORT_MILES;
        else if (strcmp(s, "departure") == 0)
            q->sort = FS_SORT_DEPARTURE;
        else if (strcmp(s, "duration") == 0)
            q->sort = FS_SORT_DURATION;
        else
            return fail(err, "sort", "sort: expected miles, departure or duration, got '%.20s'", s);
    }
    if (HAS(P_LIMIT) && parse_uint(values[P_LIMIT], 1, FS_SEARCH_MAX_LIMIT, &q->limit) != 0)
        return fail(err, "limit", "limit: expected a whole number from 1 to %d, got '%.20s'", FS_SEARCH_MAX_LIMIT, values[P_LIMIT]);
    const char *why = NULL;
    if (HAS(P_CURSOR) && fs_cursor_decode(q->sort, values[P_CURSOR], strlen(values[P_CURSOR]), &q->cursor, &why) != 0)
        return fail(err, "cursor", "cursor: %s", why);
    if (HAS(P_FIELDS) && fs_fields_parse(ep, values[P_FIELDS], fields, err) != 0)
        return FS_EINVAL;
#undef HAS
    return 0;
}

/* ------------------------------------------------------------- cursors
 * A cursor is the order key of a page's last result (index.h, fs_result_compare) as text, in
 * unpadded base64url: opaque to clients, stateless for the server, and valid across generations
 * (the source travels by name, the codes are fixed numbers). Version 2, the text is
 *   "2<sort letter>.<sort value>.<departure UTC minute>" then per leg
 *   ".<source>.<carrier code>.<flight>.<origin code>.<local date, days>.<cabin>", one or two legs,
 * every number in decimal. Version 1 ("<sort letter>.<sort value>.<departure>.<result id>",
 * broken by comparing ids as strings, another order) is refused with a message saying to start
 * again from the first page: its position cannot be carried over into the new order. */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
int fs_query_parse(fs_endpoint_t ep, const char *qs, size_t len, fs_search_query_t *q, fs_param_error_t *err)
{
    fs_fields_t fields;
    return query_parse(ep, qs, len, q, &fields, err, MAX_CODES_PER_PARAM);
}

int fs_query_parse_fields(fs_endpoint_t ep, const char *qs, size_t len, fs_search_query_t *q, fs_fields_t *fields,
                          fs_param_error_t *err)
{
    return query_parse(ep, qs, len, q, fields, err, MAX_CODES_PER_PARAM);
}

int fs_query_parse_stored(fs_endpoint_t ep, const char *qs, size_t len, fs_search_query_t *q, fs_param_error_t *err)
{
    fs_fields_t fields;
    return query_parse(ep, qs, len, q, &fields, err, FS_QUERY_MAX_AIRPORTS);
}

static const char sort_letters[] = {'m', 'd', 't'};
#define CURSOR_VERSION '2'
/* "2m." + two int64 + per leg (up to 3) a name and five numbers (4 + 5 + 5 + 5 + 1 digits), dots */
#define CURSOR_TEXT_MAX (3 + 2 * 21 + 3 * (FS_SOURCE_NAME_MAX + 2 + 4 + 5 + 5 + 5 + 1 + 5))
_Static_assert((CURSOR_TEXT_MAX + 2) / 3 * 4 < FS_CURSOR_TOKEN_MAX, "a cursor token fits FS_CURSOR_TOKEN_MAX");

/* "-"? decimal digits of v at p; returns the end (fs_enc_format_u64: no snprintf per page). */
static char *put_i64(char *p, int64_t v)
{
    char digits[24], *end = digits + sizeof(digits), *d = fs_enc_format_u64(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, end);
    if (v < 0)
        *p++ = '-';
    memcpy(p, d, (size_t)(end - d));
    return p + (end - d);
}

size_t fs_cursor_encode(enum fs_sort sort, const fs_result_t *last, char *out, size_t cap)
{
    fs_cursor_t cur;
    fs_cursor_at(last, &cur);
    /* the longest text: 2 + 2 x 21 for the sort value and departure, then per leg a separator,
     * the source and five numbers of at most 10 digits with their dots */
    char text[2 + 2 * 21 + 3 * (2 + FS_SOURCE_NAME_MAX + 5 * 11)], *p = text;
    *p++ = CURSOR_VERSION;
    *p++ = sort_letters[sort];
    *p++ = '.';
    p = put_i64(p, cur.sort_value);
    *p++ = '.';
    p = put_i64(p, cur.departs_utc_min);
    for (unsigned i = 0; i < cur.leg_count && i < 3; i++) {
        const fs_cursor_leg_t *l = &cur.legs[i];
        size_t len = strnlen(l->source, FS_SOURCE_NAME_MAX);
        *p++ = '.';
        memcpy(p, l->source, len);
        p += len;
        const unsigned fields[5] = {(unsigned)l->carrier, (unsigned)l->flight, (unsigned)l->origin, (unsigned)l->day,
                                    (unsigned)l->cabin};
        for (unsigned k = 0; k < 5; k++) {
            *p++ = '.';
            p = put_i64(p, fields[k]);
        }
    }
    int n = (int)(p - text);
    if ((size_t)n > CURSOR_TEXT_MAX || cap == 0)
        return 0; /* cannot happen with names of at most FS_SOURCE_NAME_MAX characters */
    size_t o = 0;
    for (int i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)text[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)text[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)text[i + 2];
        int chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        for (int k = 0; k < chars && o + 1 < cap; k++)
            out[o++] = b64url[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
    return o;
}

/* "-"? digits, into an int64; advances *p. Only what the encoder writes: no spaces, no '+'. */
static int take_i64(const char **p, int64_t *out)
{
    const char *s = *p;
    int neg = *s == '-';
    s += neg;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    const char *digits = s;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10)
            return FS_EINVAL;
        v = v * 10 + d;
    }
    if (s == digits || s - digits > 19)
        return FS_EINVAL;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    *p = s;
    return 0;
}

/* '.' then a decimal number from 0 to max. */
static int take_field(const char **p, unsigned max, unsigned *out)
{
    int64_t v;
    if (**p != '.')
        return FS_EINVAL;
    (*p)++;
    if (**p == '-' || take_i64(p, &v) != 0 || v > (int64_t)max)
        return FS_EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int take_leg(const char **p, fs_cursor_leg_t *l)
{
    if (**p != '.')
        return FS_EINVAL;
    const char *name = ++*p, *dot = strchr(name, '.');
    if (dot == NULL || !fs_feed_source_valid(name, (size_t)(dot - name)))
        return FS_EINVAL;
    memcpy(l->source, name, (size_t)(dot - name));
    l->source[dot - name] = '\0';
    *p = dot;
    unsigned carrier, flight, origin, day, cabin;
    if (take_field(p, FS_CARRIER_COUNT - 1, &carrier) != 0 || take_field(p, FS_MAX_FLIGHT, &flight) != 0 ||
        take_field(p, FS_AIRPORT_COUNT - 1, &origin) != 0 || take_field(p, UINT16_MAX, &day) != 0 ||
        take_field(p, FS_CABIN_COUNT - 1, &cabin) != 0)
        return FS_EINVAL;
    l->carrier = (fs_carrier_t)carrier;
    l->flight = (uint16_t)flight;
    l->origin = (fs_airport_t)origin;
    l->day = (uint16_t)day;
    l->cabin = (uint8_t)cabin;
    return 0;
}

static int refuse(const char **why, const char *reason)
{
    if (why != NULL)
        *why = reason;
    return FS_EINVAL;
}

int fs_cursor_decode(enum fs_sort sort, const char *s, size_t len, fs_cursor_t *out, const char **why)
{
    static const char malformed[] = "not a next_cursor of this API; restart from the first page (without cursor)";
    char text[CURSOR_TEXT_MAX + 1];
    size_t n = 0;
    if (len == 0 || len > CURSOR_TEXT_MAX * 4 / 3 + 2 || len % 4 == 1)
        return refuse(why, malformed);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = memchr(b64url, s[i], 64); /* NOLINT(bugprone-not-null-terminated-result): the NUL must not match */
        if (p == NULL || s[i] == '\0')
            return refuse(why, malformed);
        acc = (acc << 6) | (uint32_t)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            if (c == '\0' || n == CURSOR_TEXT_MAX)
                return refuse(why, malformed);
            text[n++] = c;
        }
    }
    text[n] = '\0';
    if (n >= 2 && memchr(sort_letters, text[0], sizeof(sort_letters)) != NULL && text[1] == '.')
        return refuse(why, "made by an earlier version of the server, whose order this one no longer follows; restart from "
                           "the first page (without cursor)");
    if (n < 2 || text[0] != CURSOR_VERSION || memchr(sort_letters, text[1], sizeof(sort_letters)) == NULL)
        return refuse(why, malformed);
    if (text[1] != sort_letters[sort])
        return refuse(why, "made for another sort; use the sort of the search that returned it, or restart from the first "
                           "page (without cursor)");
    fs_cursor_t cur;
    memset(&cur, 0, sizeof(cur));
    const char *p = text + 2;
    if (*p != '.')
        return refuse(why, malformed);
    p++;
    if (take_i64(&p, &cur.sort_value) != 0 || *p++ != '.' || take_i64(&p, &cur.departs_utc_min) != 0)
        return refuse(why, malformed);
    while (cur.leg_count < 3 && *p != '\0') {
        if (take_leg(&p, &cur.legs[cur.leg_count]) != 0)
            return refuse(why, malformed);
        cur.leg_count++;
    }
    if (cur.leg_count == 0 || *p != '\0')
        return refuse(why, malformed);
    cur.present = 1;
    memcpy(out, &cur, sizeof(cur)); /* padding too: two parses of one query compare equal byte for byte */
    return 0;
}
