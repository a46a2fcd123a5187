/*
 * tests/e2e/e2e_read_api.c: the read API of the real binary (argv[1]), end to end.
 *
 * Data: this file lists 20 legs by hand, in two sources: "alpha" (written as msgpack with
 * msgpack-c's packer) and "beta" (written as JSON text), over GRU, GIG, LIS, JFK and LHR from
 * 2026-12-01 to 2026-12-06, plus "gamma", whose second leg has 0 miles: the server must start
 * without it and say why on stderr. Among the legs: several cabins, sold-out cabins (0 seats),
 * a leg crossing local midnight, offsets of +05:45 and -03:30, an arrival written with "Z", a
 * time with seconds and one without, equal miles on several legs (ties broken by departure,
 * then id), the same flight in both sources.
 *
 * Expected answers come from this file only: a brute-force model (loops over the legs above,
 * with the test's own calendar arithmetic in lib_feed.c) gives every result, order, total, id,
 * date and time, and a few answers are also written out by hand, which checks the model itself.
 * Answers are decoded with msgpack-c (Accept: application/msgpack); JSON answers are parsed by
 * the strict parser in lib_json.c and must carry the same values as the msgpack ones.
 *
 * The whole suite (search with every filter, city codes, paging with limit=2 under every sort,
 * calendar, routes, HEAD, health, ETag and 304, JSON = msgpack, every parameter error, 404, 405,
 * 413, /metrics against the requests this test counted) runs over HTTP/1.1 and over h2 with prior
 * knowledge against one server, then
 *   - one search over h2c by Upgrade, checked to end on HTTP/2;
 *   - a second server with TLS (self-signed certificate from the openssl CLI): h2 by ALPN;
 *   - SIGTERM while 50 requests are in flight, twice (test_graceful_stop): all complete, exit 0.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "tests/e2e/lib_server.h"
#include "tests/e2e/e2e_check.h"
#include "tests/test.h"

static const char *binary;
static time_t test_started;
static char what[4096]; /* what is being checked, printed with a failure */
static int64_t started_ms;

/* A progress line with the time since the start (ctest shows it with --output-on-failure). */
static void progress(const char *step)
{
    fprintf(stderr, "e2e_read_api: %6.1f s  %s\n", (double)(e2e_now_ms() - started_ms) / 1000, step);
}

/* ----------------------------------------------------------------- data */

#define Y_(seats, miles, taxes, cur) [E2E_ECONOMY] = {1, seats, miles, taxes, cur}
#define W_(seats, miles, taxes, cur) [E2E_PREMIUM] = {1, seats, miles, taxes, cur}
#define J_(seats, miles, taxes, cur) [E2E_BUSINESS] = {1, seats, miles, taxes, cur}
#define F_(seats, miles, taxes, cur) [E2E_FIRST] = {1, seats, miles, taxes, cur}

/* The legs, one a line: a table reads better than what clang-format would make of it. */
/* clang-format off */
static const e2e_leg_t alpha_legs[] = {
    /* A1: crosses midnight in UTC (local date 12-01, UTC 12-02); same flight as beta's B1 */
    {"TP", 82, "GRU", "LIS", "2026-12-01T21:35:00-03:00", "2026-12-02T11:05:00+00:00",
     {Y_(9, 35000, 12345, "BRL"), J_(2, 90000, 22345, "BRL")}},
    /* A2: premium sold out; economy 35000 like A1 and A3, but departs earlier */
    {"TP", 84, "GRU", "LIS", "2026-12-01T08:00:00-03:00", "2026-12-01T21:30:00+00:00",
     {Y_(4, 35000, 12345, "BRL"), W_(0, 50000, 15000, "BRL")}},
    /* A3: the same miles and the same departure instant as A1: the id decides (LA < TP) */
    {"LA", 8084, "GRU", "LIS", "2026-12-01T21:35:00-03:00", "2026-12-02T11:20:00+00:00", {Y_(5, 35000, 9900, "BRL")}},
    /* A4: arrival written with Z */
    {"TP", 82, "GRU", "LIS", "2026-12-03T21:35:00-03:00", "2026-12-04T11:05:00Z",
     {Y_(1, 30000, 12345, "BRL"), F_(1, 150000, 40000, "BRL")}},
    /* A5: departure with seconds (dropped: schedules are to the minute) */
    {"TP", 1, "LIS", "GRU", "2026-12-02T10:00:30+00:00", "2026-12-02T17:30:00-03:00", {Y_(9, 40000, 5000, "EUR")}},
    {"G3", 1234, "GRU", "GIG", "2026-12-01T07:00:00-03:00", "2026-12-01T08:05:00-03:00", {Y_(9, 7500, 2500, "BRL")}},
    /* A7: crosses local midnight */
    {"G3", 1236, "GRU", "GIG", "2026-12-01T23:30:00-03:00", "2026-12-02T00:35:00-03:00", {Y_(3, 7500, 2500, "BRL")}},
    /* A8: every cabin, first sold out */
    {"AA", 950, "GRU", "JFK", "2026-12-02T22:00:00-03:00", "2026-12-03T06:00:00-05:00",
     {Y_(5, 40000, 8000, "USD"), W_(2, 60000, 8000, "USD"), J_(1, 110000, 8000, "USD"), F_(0, 200000, 8000, "USD")}},
    {"BA", 246, "GRU", "LHR", "2026-12-04T16:00:00-03:00", "2026-12-05T07:45:00+00:00",
     {Y_(7, 50000, 30000, "GBP"), J_(4, 120000, 60000, "GBP")}},
    /* A10: +05:45 at departure, -03:30 at arrival; a carrier code with a digit */
    {"9W", 45, "LHR", "LIS", "2026-12-02T09:15:00+05:45", "2026-12-02T07:00:00-03:30", {Y_(6, 25000, 1000, "INR")}},
    {"TP", 101, "LIS", "JFK", "2026-12-05T11:00:00+00:00", "2026-12-05T14:00:00-05:00", {Y_(2, 30000, 4000, "EUR")}},
    /* A12: economy sold out */
    {"TP", 82, "GRU", "LIS", "2026-12-02T21:35:00-03:00", "2026-12-03T11:05:00+00:00",
     {Y_(0, 35000, 12345, "BRL"), J_(5, 95000, 22345, "BRL")}},
};

static const e2e_leg_t beta_legs[] = {
    {"TP", 82, "GRU", "LIS", "2026-12-01T21:35:00-03:00", "2026-12-02T11:05:00+00:00",
     {Y_(6, 32000, 11000, "BRL"), J_(3, 88000, 21000, "BRL")}},
    /* B2: 30000 miles and the same departure instant as A4: the id decides (alpha < beta) */
    {"LA", 8084, "GRU", "LIS", "2026-12-03T21:35:00-03:00", "2026-12-04T11:20:00+00:00", {Y_(9, 30000, 9000, "BRL")}},
    /* B3: times without seconds */
    {"AZ", 675, "GIG", "LIS", "2026-12-02T16:00-03:00", "2026-12-03T06:30+00:00",
     {Y_(9, 42000, 10000, "EUR"), W_(3, 65000, 10000, "EUR")}},
    {"DL", 104, "JFK", "GRU", "2026-12-04T21:00:00-05:00", "2026-12-05T09:10:00-03:00", {Y_(8, 45000, 5600, "USD")}},
    /* B5: -03:30; local date 12-03 while it is 12-04 in UTC */
    {"AC", 90, "JFK", "LHR", "2026-12-03T23:50:00-03:30", "2026-12-04T09:05:00+00:00", {Y_(4, 38000, 7000, "CAD")}},
    {"TP", 84, "GRU", "LIS", "2026-12-01T08:00:00-03:00", "2026-12-01T21:30:00+00:00", {Y_(9, 36000, 11000, "BRL")}},
    {"G3", 1234, "GRU", "GIG", "2026-12-02T07:00:00-03:00", "2026-12-02T08:05:00-03:00", {Y_(9, 7500, 2000, "BRL")}},
    {"BA", 247, "LHR", "GRU", "2026-12-05T22:35:00+00:00", "2026-12-06T06:15:00-03:00",
     {Y_(2, 55000, 35000, "GBP"), F_(1, 180000, 70000, "GBP")}},
};

/* Refused as a whole: record 1 has 0 miles. Its valid first leg (GIG-JFK) must not be served. */
static const e2e_leg_t gamma_legs[] = {
    {"UX", 11, "GIG", "JFK", "2026-12-02T10:00:00-03:00", "2026-12-02T19:00:00-05:00", {Y_(9, 20000, 100, "USD")}},
    {"UX", 12, "GIG", "LIS", "2026-12-02T10:00:00-03:00", "2026-12-02T23:00:00+00:00", {Y_(9, 0, 100, "EUR")}},
};
/* clang-format on */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct source {
    const char *name;
    uint64_t sequence;
    const char *generated_at; /* as written in the feed */
    const char *last_seen;    /* the same instant in UTC, worked out by hand */
    const e2e_leg_t *legs;
    size_t count;
} source_t;

/* The sources the server must serve, in name order. */
static const source_t sources[] = {
    {"alpha", 42, "2026-11-21T20:00:00Z", "2026-11-21T20:00:00Z", alpha_legs, COUNT(alpha_legs)},
    {"beta", 7, "2026-11-22T08:30:15+01:00", "2026-11-22T07:30:15Z", beta_legs, COUNT(beta_legs)},
};

/* ---------------------------------------------------------------- model */

typedef struct query {
    const char *origin, *destination; /* comma lists, as sent */
    const char *date, *start_date, *end_date;
    const char *cabin;              /* NULL: every cabin */
    unsigned seats;                 /* 0: not sent (1) */
    const char *sources, *carriers; /* NULL: every one */
    const char *sort;               /* NULL: not sent (miles) */
    unsigned limit;                 /* 0: not sent (50) */
    const char *extra;              /* appended verbatim, e.g. "&max_stops=0" */
} query_t;

static void query_string(const query_t *q, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
#define ADD_S(name, v)                                                                                                             \
    if ((v) != NULL && n < cap)                                                                                                    \
    n += (size_t)snprintf(out + n, cap - n, "%s%s=%s", n ? "&" : "", name, v)
#define ADD_U(name, v)                                                                                                             \
    if ((v) != 0 && n < cap)                                                                                                       \
    n += (size_t)snprintf(out + n, cap - n, "%s%s=%u", n ? "&" : "", name, v)
    ADD_S("origin", q->origin);
    ADD_S("destination", q->destination);
    ADD_S("date", q->date);
    ADD_S("start_date", q->start_date);
    ADD_S("end_date", q->end_date);
    ADD_S("cabin", q->cabin);
    ADD_U("seats", q->seats);
    ADD_S("sources", q->sources);
    ADD_S("carriers", q->carriers);
    ADD_S("sort", q->sort);
    ADD_U("limit", q->limit);
#undef ADD_S
#undef ADD_U
    if (q->extra != NULL && n < cap)
        snprintf(out + n, cap - n, "%s", q->extra);
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

/* The metropolitan codes this test uses, as docs/api.md lists them. */
static const struct {
    const char *code, *airports;
} cities[] = {{"SAO", "GRU,CGH,VCP"}, {"RIO", "GIG,SDU"}, {"NYC", "JFK,EWR,LGA"}, {"LON", "LHR,LGW,LCY,STN,LTN,SEN"}};

/* A comma list of codes with city codes replaced by their airports and repeats dropped, in order:
 * the airports a query searches. */
static void expand_codes(const char *list, char *out, size_t cap)
{
    char items[512];
    size_t n = 0;
    out[0] = '\0';
    snprintf(items, sizeof(items), "%s", list);
    for (char *save = NULL, *code = strtok_r(items, ",", &save); code != NULL; code = strtok_r(NULL, ",", &save)) {
        const char *airports = code;
        for (size_t i = 0; i < sizeof(cities) / sizeof(cities[0]); i++)
            if (strcmp(cities[i].code, code) == 0)
                airports = cities[i].airports;
        for (const char *p = airports; *p;) {
            char a[4] = {p[0], p[1], p[2], 0};
            if (!(n > 0 && in_list(out, a)) && n + 4 < cap)
                n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", a);
            p += p[3] == ',' ? 4 : 3;
        }
    }
}

/* "origins" or "destinations" of an answer: exactly the expanded list. */
static void check_airports(const msgpack_object *root, const char *key, const char *expanded)
{
    const msgpack_object_array *a = e2e_mp_array(root, key);
    char got[512] = "";
    size_t n = 0;
    for (uint32_t i = 0; a != NULL && i < a->size && n + 5 < sizeof(got); i++) {
        const msgpack_object *o = &a->ptr[i];
        if (o->type == MSGPACK_OBJECT_STR)
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%.*s", i ? "," : "", (int)o->via.str.size, o->via.str.ptr);
    }
    CHECK(a != NULL);
    CHECK_EQ_STR(got, expanded);
    if (a == NULL || strcmp(got, expanded) != 0)
        fprintf(stderr, "  \"%s\" in %s\n", key, what);
}

static int32_t date_days(const char *s)
{
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return e2e_days(y, m, d);
}

/* Times of a leg, from the test's own parser. */
typedef struct leg_times {
    e2e_time_t dep, arr;
    int64_t dep_utc, arr_utc;
    int32_t day; /* local departure date */
} leg_times_t;

static leg_times_t times_of(const e2e_leg_t *l)
{
    leg_times_t t;
    if (e2e_time_parse(l->departs_at, &t.dep) != 0 || e2e_time_parse(l->arrives_at, &t.arr) != 0) {
        fprintf(stderr, "test data: bad time in %s%u\n", l->carrier, l->flight);
        abort();
    }
    t.dep_utc = e2e_time_utc_min(&t.dep);
    t.arr_utc = e2e_time_utc_min(&t.arr);
    t.day = e2e_days(t.dep.year, t.dep.month, t.dep.day);
    return t;
}

typedef struct xres {
    char id[96];
    const source_t *src;
    const e2e_leg_t *leg;
    int cabin;
    int64_t sort_value, dep_utc;
    int32_t day; /* local departure date */
} xres_t;

#define MAX_X 256

static int xres_cmp(const void *a, const void *b)
{
    const xres_t *x = a, *y = b;
    if (x->sort_value != y->sort_value)
        return x->sort_value < y->sort_value ? -1 : 1;
    if (x->dep_utc != y->dep_utc)
        return x->dep_utc < y->dep_utc ? -1 : 1;
    /* docs/api.md "Order": source name, carrier code, flight number, origin code, local date,
     * cabin (economy first); codes as text, numbers as numbers */
    int c = strcmp(x->src->name, y->src->name);
    if (c == 0)
        c = strcmp(x->leg->carrier, y->leg->carrier);
    if (c == 0)
        c = (x->leg->flight > y->leg->flight) - (x->leg->flight < y->leg->flight);
    if (c == 0)
        c = strcmp(x->leg->origin, y->leg->origin);
    if (c == 0)
        c = (x->day > y->day) - (x->day < y->day);
    if (c == 0)
        c = (x->cabin > y->cabin) - (x->cabin < y->cabin);
    return c;
}

static void query_days(const query_t *q, int32_t *from, int32_t *to)
{
    if (q->date != NULL) {
        *from = *to = date_days(q->date);
    } else {
        *from = date_days(q->start_date);
        *to = date_days(q->end_date);
    }
}

/* Every result of q, sorted, by brute force over the test's legs. Returns how many. */
static size_t model_search(const query_t *q, xres_t *out)
{
    int32_t from, to;
    query_days(q, &from, &to);
    unsigned seats = q->seats ? q->seats : 1;
    char origins[256], destinations[256];
    expand_codes(q->origin, origins, sizeof(origins));
    expand_codes(q->destination, destinations, sizeof(destinations));
    size_t n = 0;
    for (size_t s = 0; s < COUNT(sources); s++) {
        const source_t *src = &sources[s];
        if (!in_list(q->sources, src->name))
            continue;
        for (size_t i = 0; i < src->count; i++) {
            const e2e_leg_t *l = &src->legs[i];
            leg_times_t t = times_of(l);
            if (!in_list(origins, l->origin) || !in_list(destinations, l->destination) || !in_list(q->carriers, l->carrier) ||
                t.day < from || t.day > to)
                continue;
            for (int c = 0; c < E2E_CABINS; c++) {
                const e2e_cabin_t *cab = &l->cabin[c];
                if (!cab->present || cab->seats < seats || (q->cabin != NULL && strcmp(q->cabin, e2e_cabin_names[c]) != 0))
                    continue;
                if (n == MAX_X)
                    abort();
                xres_t *x = &out[n++];
                x->src = src;
                x->leg = l;
                x->cabin = c;
                x->dep_utc = t.dep_utc;
                x->day = t.day;
                snprintf(x->id, sizeof(x->id), "%s-%s%u-%s-%04d%02d%02d-%c", src->name, l->carrier, l->flight, l->origin,
                         t.dep.year, t.dep.month, t.dep.day, e2e_cabin_letters[c]);
                if (q->sort == NULL || strcmp(q->sort, "miles") == 0)
                    x->sort_value = cab->miles;
                else if (strcmp(q->sort, "departure") == 0)
                    x->sort_value = t.dep_utc;
                else
                    x->sort_value = t.arr_utc - t.dep_utc;
            }
        }
    }
    qsort(out, n, sizeof(*out), xres_cmp);
    return n;
}

/* ------------------------------------------------------- field checks */

#define check_str(map, key, expected) e2e_check_str(what, (map), (key), (expected))
#define check_int(map, key, expected) e2e_check_int(what, (map), (key), (expected))

/* A result map against the model's entry, every documented field. */
static void check_result(const msgpack_object *r, const xres_t *x)
{
    const e2e_leg_t *l = x->leg;
    const e2e_cabin_t *cab = &l->cabin[x->cabin];
    leg_times_t t = times_of(l);
    char dep[32], arr[32], date[16];
    e2e_time_format_local(&t.dep, dep);
    e2e_time_format_local(&t.arr, arr);
    e2e_date_format(t.day, date);

    check_str(r, "id", x->id);
    check_str(r, "origin", l->origin);
    check_str(r, "destination", l->destination);
    check_str(r, "date", date);
    check_str(r, "departs_at", dep);
    check_str(r, "arrives_at", arr);
    check_int(r, "duration_min", t.arr_utc - t.dep_utc);
    check_int(r, "stops", 0);
    check_str(r, "cabin", e2e_cabin_names[x->cabin]);
    check_int(r, "miles", cab->miles);
    check_int(r, "taxes_cents", cab->taxes_cents);
    check_str(r, "currency", cab->currency);
    check_int(r, "seats", cab->seats);
    check_str(r, "source", x->src->name);
    check_str(r, "last_seen", x->src->last_seen);
    const msgpack_object_array *segs = e2e_mp_array(r, "segments");
    CHECK(segs != NULL && segs->size == 1);
    if (segs == NULL || segs->size != 1)
        return;
    const msgpack_object *s = &segs->ptr[0];
    check_str(s, "carrier", l->carrier);
    check_int(s, "flight", l->flight);
    check_str(s, "origin", l->origin);
    check_str(s, "destination", l->destination);
    check_str(s, "departs_at", dep);
    check_str(s, "arrives_at", arr);
    check_int(s, "duration_min", t.arr_utc - t.dep_utc);
    check_str(s, "cabin", e2e_cabin_names[x->cabin]);
    check_int(s, "seats", cab->seats);
    check_int(s, "miles", cab->miles);
    check_str(s, "source", x->src->name);
}

/* "YYYY-MM-DDTHH:MM:SSZ" within the run of this test (a publish time). */
static void check_recent_timestamp(const msgpack_object *map, const char *key)
{
    char buf[64];
    e2e_time_t t;
    const char *s = e2e_mp_str(map, key, buf, sizeof(buf));
    int ok = s != NULL && strlen(s) == 20 && s[19] == 'Z' && e2e_time_parse(s, &t) == 0;
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  field \"%s\" is not a UTC timestamp in %s\n", key, what);
        return;
    }
    int64_t sec = e2e_time_utc_sec(&t);
    CHECK(sec >= (int64_t)test_started - 5 && sec <= (int64_t)time(NULL) + 5);
}

/* ------------------------------------------------------------- context */

enum { EP_SEARCH, EP_CALENDAR, EP_ROUTES, EP_HEALTHZ, EP_READYZ, EP_METRICS, EP_OTHER, EP_COUNT };
static const char *const ep_names[EP_COUNT] = {"search", "calendar", "routes", "healthz", "readyz", "metrics", "other"};
static const int counted_statuses[] = {200, 304, 400, 404, 405, 413};
#define N_STATUSES (sizeof(counted_statuses) / sizeof(counted_statuses[0]))

/* One server under test and what this test sent it. */
typedef struct ctx {
    e2e_server_t *srv;
    e2e_client_t client[E2E_PROTO_COUNT];
    unsigned counts[EP_COUNT][N_STATUSES]; /* answers by endpoint and status, counted here */
    uint64_t generation;                   /* the first one seen; the index does not change */
} ctx_t;

static int endpoint_of(const char *path)
{
    static const char *const paths[] = {"/v1/search", "/v1/calendar", "/v1/routes", "/healthz", "/readyz", "/metrics"};
    size_t len = strcspn(path, "?");
    for (int i = 0; i < EP_OTHER; i++)
        if (strlen(paths[i]) == len && memcmp(paths[i], path, len) == 0)
            return i;
    return EP_OTHER;
}

/* One request to the server; checks what every answer must have and counts it. */
static long fetch(ctx_t *c, e2e_proto_t proto, const char *method, const char *path, const char *const *headers, const char *body,
                  size_t body_len, e2e_response_t *res)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", proto == E2E_HTTPS ? c->srv->tls_url : c->srv->url, path);
    if (e2e_request(&c->client[proto], proto, method, url, headers, body, body_len, res) != 0) {
        CHECK(!"request failed");
        fprintf(stderr, "  %s %s over %s: %s\n", method ? method : "GET", path, e2e_proto_names[proto], res->error);
        return 0;
    }
    long want = proto == E2E_H1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2_0;
    CHECK_EQ_INT(res->http_version, want);
    const char *server = e2e_header(res, "server");
    CHECK(server != NULL && strncmp(server, "flightsearch", 12) == 0);
    int ep = endpoint_of(path);
    for (size_t i = 0; i < N_STATUSES; i++)
        if (counted_statuses[i] == res->status)
            c->counts[ep][i]++;
    return res->status;
}

static long get(ctx_t *c, e2e_proto_t proto, const char *path, const char *header, e2e_response_t *res)
{
    const char *headers[2] = {header, NULL};
    return fetch(c, proto, "GET", path, header ? headers : NULL, NULL, 0, res);
}

/* GET path as msgpack; 0 and *doc (free it) on a 200 that decodes as one document. */
static int get_mp(ctx_t *c, e2e_proto_t proto, const char *path, e2e_mp_t *doc)
{
    e2e_response_t res;
    long status = get(c, proto, path, "Accept: application/msgpack", &res);
    const char *ct = e2e_header(&res, "content-type");
    int ok = status == 200 && ct != NULL && strncmp(ct, "application/msgpack", 19) == 0;
    int parsed = ok && e2e_mp_parse(doc, res.body, res.body_len) == 0;
    if (parsed && doc->root->type != MSGPACK_OBJECT_MAP) {
        e2e_mp_free(doc);
        parsed = 0;
    }
    ok = ok && parsed;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  GET %s over %s: status %ld, content-type %s, %zu bytes: %.300s\n", path, e2e_proto_names[proto], status,
                ct ? ct : "(none)", res.body_len, status == 200 ? "(msgpack)" : res.body);
    e2e_response_free(&res);
    return ok ? 0 : -1;
}

/* generation: the same number in every answer of one server. */
static void check_generation(ctx_t *c, const msgpack_object *root)
{
    int64_t g = 0;
    CHECK(e2e_mp_int(root, "generation", &g) && g > 0);
    if (c->generation == 0)
        c->generation = (uint64_t)g;
    CHECK_EQ_INT(g, c->generation);
}

/* searched: the loaded sources that pass the sources filter, in name order. */
static void check_searched(const msgpack_object *root, const char *source_filter)
{
    const msgpack_object_array *a = e2e_mp_array(root, "searched");
    CHECK(a != NULL);
    if (a == NULL)
        return;
    uint32_t k = 0;
    for (size_t s = 0; s < COUNT(sources); s++) {
        if (!in_list(source_filter, sources[s].name))
            continue;
        CHECK(k < a->size);
        if (k >= a->size)
            return;
        const msgpack_object *e = &a->ptr[k++];
        check_str(e, "source", sources[s].name);
        check_int(e, "sequence", (int64_t)sources[s].sequence);
        check_int(e, "legs", (int64_t)sources[s].count);
        check_recent_timestamp(e, "updated_at");
    }
    CHECK_EQ_INT(a->size, k);
}

/* ---------------------------------------------------------------- search */

/* Runs q and compares the whole answer with the model. Returns the model's count. */
static size_t check_search(ctx_t *c, e2e_proto_t proto, const query_t *q, xres_t *expected)
{
    char qs[1024], path[1200];
    query_string(q, qs, sizeof(qs));
    snprintf(path, sizeof(path), "/v1/search?%s", qs);
    size_t n = model_search(q, expected);
    unsigned limit = q->limit ? q->limit : 50;
    size_t page = n < limit ? n : limit;
    e2e_mp_t doc;
    if (get_mp(c, proto, path, &doc) != 0)
        return n;
    const msgpack_object *root = doc.root;
    snprintf(what, sizeof(what), "GET %s over %s", path, e2e_proto_names[proto]);
    const msgpack_object_array *results = e2e_mp_array(root, "results");
    CHECK(results != NULL);
    check_int(root, "count", (int64_t)page);
    check_int(root, "total", (int64_t)n);
    if (results != NULL) {
        CHECK_EQ_INT(results->size, page);
        if (results->size != page)
            fprintf(stderr, "  %s: %u results, expected %zu\n", what, results->size, page);
        for (uint32_t i = 0; i < results->size && i < page; i++) {
            char base[1400];
            snprintf(base, sizeof(base), "%.1300s", what);
            snprintf(what, sizeof(what), "%s result %u (expected %s)", base, i, expected[i].id);
            check_result(&results->ptr[i], &expected[i]);
            snprintf(what, sizeof(what), "%s", base);
        }
    }
    const msgpack_object *next = e2e_mp_get(root, "next_cursor");
    CHECK(next != NULL);
    if (next != NULL) {
        if (n > page)
            CHECK(next->type == MSGPACK_OBJECT_STR && next->via.str.size > 0);
        else
            CHECK(next->type == MSGPACK_OBJECT_NIL);
    }
    check_generation(c, root);
    check_searched(root, q->sources);
    char airports[256];
    expand_codes(q->origin, airports, sizeof(airports));
    check_airports(root, "origins", airports);
    expand_codes(q->destination, airports, sizeof(airports));
    check_airports(root, "destinations", airports);
    int64_t took;
    CHECK(e2e_mp_int(root, "took_us", &took) && took >= 0);
    e2e_mp_free(&doc);
    return n;
}

/* The ids of a search answer, as a list to compare with hand-written ones. */
static void check_ids(ctx_t *c, e2e_proto_t proto, const char *path, const char *const *ids, size_t count)
{
    e2e_mp_t doc;
    if (get_mp(c, proto, path, &doc) != 0)
        return;
    const msgpack_object_array *results = e2e_mp_array(doc.root, "results");
    CHECK(results != NULL && results->size == count);
    for (size_t i = 0; results != NULL && i < results->size && i < count; i++) {
        char id[128];
        const char *got = e2e_mp_str(&results->ptr[i], "id", id, sizeof(id));
        CHECK_EQ_STR(got, ids[i]);
    }
    e2e_mp_free(&doc);
}

/* The first result of a search, checked against values written out by hand. */
typedef struct hand {
    const char *path;
    const char *id, *date, *departs_at, *arrives_at, *last_seen;
    int duration_min;
} hand_t;

static void check_hand(ctx_t *c, e2e_proto_t proto, const hand_t *h)
{
    e2e_mp_t doc;
    if (get_mp(c, proto, h->path, &doc) != 0)
        return;
    const msgpack_object_array *results = e2e_mp_array(doc.root, "results");
    CHECK(results != NULL && results->size >= 1);
    if (results != NULL && results->size >= 1) {
        const msgpack_object *r = &results->ptr[0];
        snprintf(what, sizeof(what), "GET %s (hand-worked)", h->path);
        check_str(r, "id", h->id);
        check_str(r, "date", h->date);
        check_str(r, "departs_at", h->departs_at);
        check_str(r, "arrives_at", h->arrives_at);
        check_str(r, "last_seen", h->last_seen);
        check_int(r, "duration_min", h->duration_min);
    }
    e2e_mp_free(&doc);
}

#define RANGE "start_date=2026-12-01&end_date=2026-12-05"

static const query_t search_queries[] = {
    {.origin = "GRU", .destination = "LIS", .date = "2026-12-01"},
    {.origin = "GRU", .destination = "LIS", .date = "2026-12-01", .cabin = "economy"},
    {.origin = "GRU", .destination = "LIS", .date = "2026-12-01", .cabin = "business"},
    {.origin = "GRU", .destination = "LIS", .date = "2026-12-01", .cabin = "premium"}, /* only a sold-out one */
    {.origin = "GRU", .destination = "LIS", .date = "2026-12-02"},
    {.origin = "GRU", .destination = "LIS", .start_date = "2026-12-01", .end_date = "2026-12-05", .seats = 3},
    {.origin = "GRU", .destination = "LIS", .start_date = "2026-12-01", .end_date = "2026-12-05", .sources = "beta"},
    {.origin = "GRU",
     .destination = "LIS",
     .start_date = "2026-12-01",
     .end_date = "2026-12-05",
     .sources = "alpha,beta",
     .carriers = "LA,G3"},
    {.origin = "GRU,GIG", .destination = "LIS,LHR,JFK", .start_date = "2026-12-01", .end_date = "2026-12-05", .sort = "departure"},
    {.origin = "GRU,GIG", .destination = "LIS,LHR,JFK", .start_date = "2026-12-01", .end_date = "2026-12-05", .sort = "duration"},
    {.origin = "GRU,GIG", .destination = "LIS,LHR,JFK", .start_date = "2026-12-01", .end_date = "2026-12-05", .seats = 9},
    {.origin = "GRU", .destination = "JFK", .date = "2026-12-02"},
    {.origin = "GRU", .destination = "JFK", .date = "2026-12-02", .cabin = "first"}, /* sold out */
    {.origin = "JFK", .destination = "LHR", .date = "2026-12-03"},
    {.origin = "JFK", .destination = "LHR", .date = "2026-12-04"}, /* the same leg is 12-04 only in UTC */
    {.origin = "LHR", .destination = "LIS", .date = "2026-12-02"},
    {.origin = "GRU", .destination = "GIG", .date = "2026-12-01"},
    {.origin = "GRU",
     .destination = "GIG",
     .start_date = "2026-12-01",
     .end_date = "2026-12-02",
     .carriers = "G3",
     .extra = "&max_stops=0"},
    {.origin = "GIG", .destination = "JFK", .start_date = "2026-12-01", .end_date = "2026-12-05"}, /* gamma's only */
    {.origin = "GRU", .destination = "LIS", .start_date = "2026-12-01", .end_date = "2026-12-05", .sources = "gamma"},
    {.origin = "LIS",
     .destination = "GRU,JFK",
     .start_date = "2026-12-01",
     .end_date = "2026-12-05",
     .cabin = "economy",
     .limit = 1},
    {.origin = "LIS,GRU,LHR,JFK,GIG",
     .destination = "GRU,GIG,LIS,LHR,JFK",
     .start_date = "2026-12-01",
     .end_date = "2026-12-06",
     .limit = 7,
     .sort = "duration"},
    {.origin = "LHR", .destination = "GRU", .start_date = "2026-12-05", .end_date = "2026-12-06", .cabin = "first"},
    {.origin = "GRU,GRU", .destination = "LIS", .date = "2026-12-03"}, /* a repeated airport counts once */
    /* city codes: each airport of the city is searched */
    {.origin = "SAO", .destination = "LIS", .date = "2026-12-01"},
    {.origin = "SAO,RIO", .destination = "LON,LIS,NYC", .start_date = "2026-12-01", .end_date = "2026-12-05", .sort = "departure"},
    {.origin = "NYC", .destination = "LON", .start_date = "2026-12-01", .end_date = "2026-12-05"},
    {.origin = "SAO,GRU", .destination = "LIS", .date = "2026-12-03", .cabin = "economy"}, /* GRU is already in SAO */
    {.origin = "MAD", .destination = "LIS", .date = "2026-12-01"},                         /* no such route */
};

static void test_search(ctx_t *c, e2e_proto_t proto)
{
    static xres_t expected[MAX_X];
    for (size_t i = 0; i < COUNT(search_queries); i++)
        check_search(c, proto, &search_queries[i], expected);

    /* the model must agree with hand-worked answers, or it proves nothing */
    static const char *const economy_1201[] = {"beta-TP82-GRU-20261201-Y", "alpha-TP84-GRU-20261201-Y",
                                               "alpha-LA8084-GRU-20261201-Y", "alpha-TP82-GRU-20261201-Y",
                                               "beta-TP84-GRU-20261201-Y"};
    query_t q = {.origin = "GRU", .destination = "LIS", .date = "2026-12-01", .cabin = "economy"};
    size_t n = model_search(&q, expected);
    CHECK_EQ_INT(n, COUNT(economy_1201));
    for (size_t i = 0; i < n && i < COUNT(economy_1201); i++)
        CHECK_EQ_STR(expected[i].id, economy_1201[i]);
    check_ids(c, proto, "/v1/search?origin=GRU&destination=LIS&date=2026-12-01&cabin=economy", economy_1201, COUNT(economy_1201));

    /* 12-03: 30000 miles twice at the same instant; alpha's id sorts first */
    static const char *const economy_1203[] = {"alpha-TP82-GRU-20261203-Y", "beta-LA8084-GRU-20261203-Y"};
    check_ids(c, proto, "/v1/search?origin=GRU&destination=LIS&date=2026-12-03&cabin=economy", economy_1203, 2);
    /* 12-02: economy sold out, business left */
    static const char *const all_1202[] = {"alpha-TP82-GRU-20261202-J"};
    check_ids(c, proto, "/v1/search?origin=GRU&destination=LIS&date=2026-12-02", all_1202, 1);
    /* GRU-JFK: every cabin but the sold-out first, by miles */
    static const char *const jfk[] = {"alpha-AA950-GRU-20261202-Y", "alpha-AA950-GRU-20261202-W", "alpha-AA950-GRU-20261202-J"};
    check_ids(c, proto, "/v1/search?origin=GRU&destination=JFK&date=2026-12-02", jfk, 3);
    /* equal miles on G3 1234 and 1236: the earlier departure first */
    static const char *const gig[] = {"alpha-G31234-GRU-20261201-Y", "alpha-G31236-GRU-20261201-Y"};
    check_ids(c, proto, "/v1/search?origin=GRU&destination=GIG&date=2026-12-01", gig, 2);
    check_ids(c, proto, "/v1/search?origin=JFK&destination=LHR&date=2026-12-04", NULL, 0);
    check_ids(c, proto, "/v1/search?origin=GIG&destination=JFK&start_date=2026-12-01&end_date=2026-12-05", NULL, 0);

    static const hand_t hands[] = {
        {"/v1/search?origin=GRU&destination=LIS&date=2026-12-01&cabin=business", "beta-TP82-GRU-20261201-J", "2026-12-01",
         "2026-12-01T21:35:00-03:00", "2026-12-02T11:05:00+00:00", "2026-11-22T07:30:15Z", 630},
        {"/v1/search?origin=JFK&destination=LHR&date=2026-12-03", "beta-AC90-JFK-20261203-Y", "2026-12-03",
         "2026-12-03T23:50:00-03:30", "2026-12-04T09:05:00+00:00", "2026-11-22T07:30:15Z", 345},
        {"/v1/search?origin=LHR&destination=LIS&date=2026-12-02", "alpha-9W45-LHR-20261202-Y", "2026-12-02",
         "2026-12-02T09:15:00+05:45", "2026-12-02T07:00:00-03:30", "2026-11-21T20:00:00Z", 420},
        {"/v1/search?origin=GRU&destination=LIS&date=2026-12-03&cabin=first", "alpha-TP82-GRU-20261203-F", "2026-12-03",
         "2026-12-03T21:35:00-03:00", "2026-12-04T11:05:00+00:00", "2026-11-21T20:00:00Z", 630},
        {"/v1/search?origin=LIS&destination=GRU&date=2026-12-02", "alpha-TP1-LIS-20261202-Y", "2026-12-02",
         "2026-12-02T10:00:00+00:00", "2026-12-02T17:30:00-03:00", "2026-11-21T20:00:00Z", 630},
        {"/v1/search?origin=GIG&destination=LIS&date=2026-12-02&cabin=premium", "beta-AZ675-GIG-20261202-W", "2026-12-02",
         "2026-12-02T16:00:00-03:00", "2026-12-03T06:30:00+00:00", "2026-11-22T07:30:15Z", 690},
        {"/v1/search?origin=GRU&destination=GIG&date=2026-12-01&sort=duration&carriers=G3&seats=3&sources=alpha&limit=2",
         "alpha-G31234-GRU-20261201-Y", "2026-12-01", "2026-12-01T07:00:00-03:00", "2026-12-01T08:05:00-03:00",
         "2026-11-21T20:00:00Z", 65},
    };
    for (size_t i = 0; i < COUNT(hands); i++)
        check_hand(c, proto, &hands[i]);
    /* the leg that crosses local midnight, by hand */
    static const hand_t midnight = {"/v1/search?origin=GRU&destination=GIG&date=2026-12-01&sort=departure&cabin=economy&limit=2"
                                    "&sources=alpha",
                                    "alpha-G31234-GRU-20261201-Y",
                                    "2026-12-01",
                                    "2026-12-01T07:00:00-03:00",
                                    "2026-12-01T08:05:00-03:00",
                                    "2026-11-21T20:00:00Z",
                                    65};
    check_hand(c, proto, &midnight);
    e2e_mp_t doc;
    if (get_mp(c, proto, "/v1/search?origin=GRU&destination=GIG&date=2026-12-01&sort=departure", &doc) == 0) {
        const msgpack_object_array *r = e2e_mp_array(doc.root, "results");
        CHECK(r != NULL && r->size == 2);
        if (r != NULL && r->size == 2) {
            snprintf(what, sizeof(what), "G3 1236 (crosses local midnight)");
            check_str(&r->ptr[1], "id", "alpha-G31236-GRU-20261201-Y");
            check_str(&r->ptr[1], "date", "2026-12-01");
            check_str(&r->ptr[1], "departs_at", "2026-12-01T23:30:00-03:00");
            check_str(&r->ptr[1], "arrives_at", "2026-12-02T00:35:00-03:00");
            check_int(&r->ptr[1], "duration_min", 65);
        }
        e2e_mp_free(&doc);
    }
}

/* Every page of a query with limit=2: their concatenation is the model's sorted list. */
static void walk_pages(ctx_t *c, e2e_proto_t proto, const query_t *q_in)
{
    static xres_t expected[MAX_X];
    query_t q = *q_in;
    q.limit = 2;
    size_t n = model_search(&q, expected), got = 0;
    CHECK(n > 10); /* several pages, or the walk proves little */
    char qs[1024], cursor[512] = "";
    query_string(&q, qs, sizeof(qs));
    for (unsigned page = 0; page <= n / 2 + 1; page++) {
        char path[2048];
        snprintf(path, sizeof(path), "/v1/search?%s%s%s", qs, cursor[0] ? "&cursor=" : "", cursor);
        e2e_mp_t doc;
        if (get_mp(c, proto, path, &doc) != 0)
            return;
        snprintf(what, sizeof(what), "page %u of %s over %s", page, qs, e2e_proto_names[proto]);
        const msgpack_object_array *results = e2e_mp_array(doc.root, "results");
        size_t want = n - got < 2 ? n - got : 2;
        CHECK(results != NULL && results->size == want);
        check_int(doc.root, "count", (int64_t)want);
        check_int(doc.root, "total", (int64_t)n);
        for (uint32_t i = 0; results != NULL && i < results->size && got < n; i++, got++)
            check_result(&results->ptr[i], &expected[got]);
        const msgpack_object *next = e2e_mp_get(doc.root, "next_cursor");
        int more = next != NULL && next->type == MSGPACK_OBJECT_STR;
        CHECK(next != NULL && (more || next->type == MSGPACK_OBJECT_NIL));
        CHECK_EQ_INT(more, got < n);
        if (more) {
            size_t len = next->via.str.size < sizeof(cursor) - 1 ? next->via.str.size : sizeof(cursor) - 1;
            memcpy(cursor, next->via.str.ptr, len);
            cursor[len] = '\0';
        }
        int empty = results == NULL || results->size == 0;
        e2e_mp_free(&doc);
        if (!more || empty)
            break;
    }
    CHECK_EQ_INT(got, n);
}

static void test_paging(ctx_t *c, e2e_proto_t proto)
{
    static const char *const sorts[] = {"miles", "departure", "duration", NULL};
    for (int i = 0; i < 4; i++) {
        query_t q = {.origin = "GRU,GIG,LIS,JFK,LHR",
                     .destination = "LIS,LHR,JFK,GIG,GRU",
                     .start_date = "2026-12-01",
                     .end_date = "2026-12-06",
                     .sort = sorts[i]};
        walk_pages(c, proto, &q);
    }
    query_t economy = {.origin = "GRU",
                       .destination = "LIS,GIG,JFK,LHR",
                       .start_date = "2026-11-01",
                       .end_date = "2027-01-29",
                       .cabin = "economy",
                       .sort = "duration"};
    xres_t scratch[MAX_X];
    if (model_search(&economy, scratch) > 10)
        walk_pages(c, proto, &economy);
}

/* -------------------------------------------------------------- calendar */

typedef struct cell {
    unsigned min_miles, max_seats, count;
} cell_t;

static void check_calendar(ctx_t *c, e2e_proto_t proto, const query_t *q)
{
    char qs[1024], path[1200];
    query_string(q, qs, sizeof(qs));
    snprintf(path, sizeof(path), "/v1/calendar?%s", qs);
    int32_t from = date_days(q->start_date), to = date_days(q->end_date);
    unsigned seats = q->seats ? q->seats : 1;
    char origins[256], destinations[256];
    expand_codes(q->origin, origins, sizeof(origins));
    expand_codes(q->destination, destinations, sizeof(destinations));
    e2e_mp_t doc;
    if (get_mp(c, proto, path, &doc) != 0)
        return;
    snprintf(what, sizeof(what), "GET %s over %s", path, e2e_proto_names[proto]);
    const msgpack_object_array *days = e2e_mp_array(doc.root, "days");
    CHECK(days != NULL && days->size == (uint32_t)(to - from + 1));
    for (int32_t d = from; days != NULL && d <= to && (uint32_t)(d - from) < days->size; d++) {
        cell_t cells[E2E_CABINS] = {{0, 0, 0}};
        for (size_t s = 0; s < COUNT(sources); s++) {
            if (!in_list(q->sources, sources[s].name))
                continue;
            for (size_t i = 0; i < sources[s].count; i++) {
                const e2e_leg_t *l = &sources[s].legs[i];
                if (times_of(l).day != d || !in_list(origins, l->origin) || !in_list(destinations, l->destination) ||
                    !in_list(q->carriers, l->carrier))
                    continue;
                for (int k = 0; k < E2E_CABINS; k++) {
                    const e2e_cabin_t *cab = &l->cabin[k];
                    if (!cab->present || cab->seats < seats || (q->cabin != NULL && strcmp(q->cabin, e2e_cabin_names[k]) != 0))
                        continue;
                    if (cells[k].count == 0 || cab->miles < cells[k].min_miles)
                        cells[k].min_miles = cab->miles;
                    if (cab->seats > cells[k].max_seats)
                        cells[k].max_seats = cab->seats;
                    cells[k].count++;
                }
            }
        }
        const msgpack_object *entry = &days->ptr[d - from];
        char date[16];
        e2e_date_format(d, date);
        check_str(entry, "date", date);
        unsigned keys = 1;
        for (int k = 0; k < E2E_CABINS; k++) {
            const msgpack_object *cell = e2e_mp_get(entry, e2e_cabin_names[k]);
            CHECK_EQ_INT(cell != NULL, cells[k].count > 0);
            if ((cell != NULL) != (cells[k].count > 0))
                fprintf(stderr, "  %s: %s on %s %s\n", what, e2e_cabin_names[k], date, cell ? "listed, expected none" : "missing");
            if (cell == NULL || cells[k].count == 0)
                continue;
            keys++;
            check_int(cell, "min_miles", cells[k].min_miles);
            check_int(cell, "max_seats", cells[k].max_seats);
            check_int(cell, "count", cells[k].count);
        }
        CHECK_EQ_INT(entry->type == MSGPACK_OBJECT_MAP ? entry->via.map.size : 0, keys);
    }
    check_generation(c, doc.root);
    check_searched(doc.root, q->sources);
    check_airports(doc.root, "origins", origins);
    check_airports(doc.root, "destinations", destinations);
    e2e_mp_free(&doc);
}

static void test_calendar(ctx_t *c, e2e_proto_t proto)
{
    static const query_t queries[] = {
        {.origin = "GRU", .destination = "LIS", .start_date = "2026-11-30", .end_date = "2026-12-06"},
        {.origin = "GRU", .destination = "LIS", .start_date = "2026-11-30", .end_date = "2026-12-06", .cabin = "business"},
        {.origin = "GRU", .destination = "LIS", .start_date = "2026-11-30", .end_date = "2026-12-06", .seats = 5},
        {.origin = "GRU,GIG",
         .destination = "LIS,JFK,LHR",
         .start_date = "2026-12-01",
         .end_date = "2026-12-31",
         .sources = "alpha",
         .carriers = "TP,AA",
         .extra = "&max_stops=0"},
        {.origin = "JFK,LHR,LIS", .destination = "GRU,LHR,LIS,JFK", .start_date = "2026-12-02", .end_date = "2026-12-06"},
        {.origin = "GRU", .destination = "LIS", .start_date = "2026-01-01", .end_date = "2027-01-01"}, /* 366 days, the most */
        {.origin = "GIG", .destination = "JFK", .start_date = "2026-12-01", .end_date = "2026-12-03"}, /* gamma's only */
        {.origin = "SAO,RIO", .destination = "LON,LIS", .start_date = "2026-12-01", .end_date = "2026-12-07"},
    };
    for (size_t i = 0; i < COUNT(queries); i++)
        check_calendar(c, proto, &queries[i]);

    /* 2026-12-01 and 12-03 on GRU-LIS, worked out by hand */
    e2e_mp_t doc;
    if (get_mp(c, proto, "/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-03", &doc) == 0) {
        const msgpack_object_array *days = e2e_mp_array(doc.root, "days");
        CHECK(days != NULL && days->size == 3);
        if (days != NULL && days->size == 3) {
            snprintf(what, sizeof(what), "calendar GRU-LIS by hand");
            const msgpack_object *d1 = &days->ptr[0], *d2 = &days->ptr[1], *d3 = &days->ptr[2];
            const msgpack_object *y1 = e2e_mp_get(d1, "economy"), *j1 = e2e_mp_get(d1, "business");
            CHECK(y1 != NULL && j1 != NULL && e2e_mp_get(d1, "premium") == NULL && e2e_mp_get(d1, "first") == NULL);
            check_int(y1, "min_miles", 32000);
            check_int(y1, "max_seats", 9);
            check_int(y1, "count", 5);
            check_int(j1, "min_miles", 88000);
            check_int(j1, "max_seats", 3);
            check_int(j1, "count", 2);
            CHECK(e2e_mp_get(d2, "economy") == NULL); /* sold out */
            check_int(e2e_mp_get(d2, "business"), "min_miles", 95000);
            check_int(e2e_mp_get(d3, "economy"), "min_miles", 30000);
            check_int(e2e_mp_get(d3, "economy"), "max_seats", 9);
            check_int(e2e_mp_get(d3, "economy"), "count", 2);
            check_int(e2e_mp_get(d3, "first"), "count", 1);
        }
        e2e_mp_free(&doc);
    }
}

/* ---------------------------------------------------------------- routes */

typedef struct route_sum {
    const char *destination;
    unsigned legs;
    int32_t first, last;
} route_sum_t;

static int route_cmp(const void *a, const void *b)
{
    return strcmp(((const route_sum_t *)a)->destination, ((const route_sum_t *)b)->destination);
}

static void check_routes(ctx_t *c, e2e_proto_t proto, const char *origin, const char *start, const char *end,
                         const char *source_filter, const char *carriers)
{
    char path[512];
    int n = snprintf(path, sizeof(path), "/v1/routes?origin=%s", origin);
    if (start != NULL)
        n += snprintf(path + n, sizeof(path) - (size_t)n, "&start_date=%s&end_date=%s", start, end);
    if (source_filter != NULL)
        n += snprintf(path + n, sizeof(path) - (size_t)n, "&sources=%s", source_filter);
    if (carriers != NULL)
        snprintf(path + n, sizeof(path) - (size_t)n, "&carriers=%s", carriers);
    int32_t from = start ? date_days(start) : INT32_MIN, to = start ? date_days(end) : INT32_MAX;

    route_sum_t sums[16];
    size_t count = 0;
    for (size_t s = 0; s < COUNT(sources); s++) {
        if (!in_list(source_filter, sources[s].name))
            continue;
        for (size_t i = 0; i < sources[s].count; i++) {
            const e2e_leg_t *l = &sources[s].legs[i];
            int32_t day = times_of(l).day;
            if (strcmp(l->origin, origin) != 0 || !in_list(carriers, l->carrier) || day < from || day > to)
                continue;
            size_t k = 0;
            while (k < count && strcmp(sums[k].destination, l->destination) != 0)
                k++;
            if (k == count)
                sums[count++] = (route_sum_t){l->destination, 0, day, day};
            sums[k].legs++;
            if (day < sums[k].first)
                sums[k].first = day;
            if (day > sums[k].last)
                sums[k].last = day;
        }
    }
    qsort(sums, count, sizeof(sums[0]), route_cmp);

    e2e_mp_t doc;
    if (get_mp(c, proto, path, &doc) != 0)
        return;
    snprintf(what, sizeof(what), "GET %s over %s", path, e2e_proto_names[proto]);
    check_str(doc.root, "origin", origin);
    const msgpack_object_array *dests = e2e_mp_array(doc.root, "destinations");
    CHECK(dests != NULL && dests->size == count);
    for (size_t k = 0; dests != NULL && k < dests->size && k < count; k++) {
        char first[16], last[16];
        e2e_date_format(sums[k].first, first);
        e2e_date_format(sums[k].last, last);
        check_str(&dests->ptr[k], "destination", sums[k].destination);
        check_int(&dests->ptr[k], "legs", sums[k].legs);
        check_str(&dests->ptr[k], "first_date", first);
        check_str(&dests->ptr[k], "last_date", last);
        check_int(&dests->ptr[k], "stops", 0);
    }
    check_generation(c, doc.root);
    check_searched(doc.root, source_filter);
    e2e_mp_free(&doc);
}

static void test_routes(ctx_t *c, e2e_proto_t proto)
{
    check_routes(c, proto, "GRU", NULL, NULL, NULL, NULL);
    check_routes(c, proto, "GIG", NULL, NULL, NULL, NULL); /* not JFK: that was gamma's */
    check_routes(c, proto, "LHR", NULL, NULL, NULL, NULL);
    check_routes(c, proto, "JFK", NULL, NULL, NULL, NULL);
    check_routes(c, proto, "GRU", NULL, NULL, "beta", NULL);
    check_routes(c, proto, "GRU", NULL, NULL, NULL, "TP");
    check_routes(c, proto, "GRU", "2026-12-02", "2026-12-03", NULL, NULL);
    check_routes(c, proto, "GRU", "2026-12-02", "2026-12-03", "alpha,beta", "G3,TP,AA");
    check_routes(c, proto, "MAD", NULL, NULL, NULL, NULL);

    /* GRU by hand: legs count flights with or without seats (A12's economy is sold out) */
    e2e_mp_t doc;
    if (get_mp(c, proto, "/v1/routes?origin=GRU", &doc) == 0) {
        static const route_sum_t hand[] = {{"GIG", 3, 0, 0}, {"JFK", 1, 0, 0}, {"LHR", 1, 0, 0}, {"LIS", 8, 0, 0}};
        static const char *const dates[][2] = {
            {"2026-12-01", "2026-12-02"}, {"2026-12-02", "2026-12-02"}, {"2026-12-04", "2026-12-04"}, {"2026-12-01", "2026-12-03"}};
        const msgpack_object_array *dests = e2e_mp_array(doc.root, "destinations");
        CHECK(dests != NULL && dests->size == 4);
        snprintf(what, sizeof(what), "routes from GRU by hand");
        for (uint32_t k = 0; dests != NULL && k < dests->size && k < 4; k++) {
            check_str(&dests->ptr[k], "destination", hand[k].destination);
            check_int(&dests->ptr[k], "legs", hand[k].legs);
            check_str(&dests->ptr[k], "first_date", dates[k][0]);
            check_str(&dests->ptr[k], "last_date", dates[k][1]);
        }
        e2e_mp_free(&doc);
    }

    /* HEAD: the headers of a GET, no body */
    e2e_response_t res;
    CHECK_EQ_INT(fetch(c, proto, "HEAD", "/v1/routes?origin=GRU", NULL, NULL, 0, &res), 200);
    CHECK_EQ_INT(res.body_len, 0);
    CHECK(e2e_header(&res, "etag") != NULL);
    e2e_response_free(&res);
}

/* -------------------------------------------------------- health, ETag */

static void test_health(ctx_t *c, e2e_proto_t proto)
{
    e2e_mp_t doc;
    if (get_mp(c, proto, "/healthz", &doc) == 0) {
        snprintf(what, sizeof(what), "/healthz");
        check_str(doc.root, "status", "ok");
        e2e_mp_free(&doc);
    }
    if (get_mp(c, proto, "/readyz", &doc) == 0) {
        snprintf(what, sizeof(what), "/readyz");
        check_str(doc.root, "status", "ready");
        check_generation(c, doc.root);
        e2e_mp_free(&doc);
    }
}

static char *dup_header(const e2e_response_t *res, const char *name)
{
    const char *v = e2e_header(res, name);
    return v != NULL ? strdup(v) : NULL;
}

static void test_etag(ctx_t *c, e2e_proto_t proto)
{
    static const char *const paths[] = {"/v1/search?origin=GRU&destination=LIS&date=2026-12-01",
                                        "/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-07",
                                        "/v1/routes?origin=GRU"};
    char *first_etag = NULL;
    for (size_t i = 0; i < COUNT(paths); i++) {
        e2e_response_t res;
        CHECK_EQ_INT(get(c, proto, paths[i], NULL, &res), 200);
        char *json_etag = dup_header(&res, "etag");
        CHECK(json_etag != NULL && json_etag[0] == '"' && json_etag[strlen(json_etag) - 1] == '"');
        e2e_response_free(&res);
        if (json_etag == NULL)
            continue;
        if (i == 0)
            first_etag = strdup(json_etag);
        else
            CHECK(first_etag == NULL || strcmp(first_etag, json_etag) != 0); /* another request, another tag */

        char inm[256];
        snprintf(inm, sizeof(inm), "If-None-Match: %s", json_etag);
        CHECK_EQ_INT(get(c, proto, paths[i], inm, &res), 304);
        CHECK_EQ_INT(res.body_len, 0);
        e2e_response_free(&res);

        /* the msgpack document is another representation: another tag, and the JSON one does not match it */
        const char *mp_inm[] = {"Accept: application/msgpack", inm, NULL};
        CHECK_EQ_INT(fetch(c, proto, "GET", paths[i], mp_inm, NULL, 0, &res), 200);
        const char *ct = e2e_header(&res, "content-type");
        CHECK(ct != NULL && strncmp(ct, "application/msgpack", 19) == 0);
        char *mp_etag = dup_header(&res, "etag");
        CHECK(mp_etag != NULL && strcmp(mp_etag, json_etag) != 0);
        e2e_response_free(&res);
        if (mp_etag != NULL) {
            char inm2[256];
            snprintf(inm2, sizeof(inm2), "If-None-Match: %s", mp_etag);
            const char *h[] = {"Accept: application/msgpack", inm2, NULL};
            CHECK_EQ_INT(fetch(c, proto, "GET", paths[i], h, NULL, 0, &res), 304);
            CHECK_EQ_INT(res.body_len, 0);
            e2e_response_free(&res);
        }
        /* a tag that is not the current one: the full answer */
        CHECK_EQ_INT(get(c, proto, paths[i], "If-None-Match: \"0-0000000000000000\"", &res), 200);
        CHECK(res.body_len > 0);
        e2e_response_free(&res);
        free(mp_etag);
        free(json_etag);
    }
    free(first_etag);
}

/* --------------------------------------------------------- JSON = msgpack */

/* The JSON answer parses strictly and carries the msgpack answer's values (took_us aside). */
static void check_same_document(ctx_t *c, e2e_proto_t proto, const char *path, const char *const *substrings)
{
    e2e_response_t json, mp;
    long s1 = get(c, proto, path, NULL, &json);
    long s2 = get(c, proto, path, "Accept: application/msgpack", &mp);
    CHECK_EQ_INT(s1, 200);
    CHECK_EQ_INT(s2, 200);
    const char *ct = e2e_header(&json, "content-type");
    CHECK(ct != NULL && strncmp(ct, "application/json", 16) == 0);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object jdoc;
    size_t err_at = 0;
    int parsed = e2e_json_parse(json.body, json.body_len, &zone, &jdoc, &err_at) == 0;
    CHECK(parsed);
    if (!parsed)
        fprintf(stderr, "  %s: JSON not well-formed at byte %zu: %.200s\n", path, err_at, json.body + err_at);
    e2e_mp_t mdoc;
    int decoded = e2e_mp_parse(&mdoc, mp.body, mp.body_len) == 0;
    CHECK(decoded);
    if (parsed && decoded) {
        char where[256];
        int same = e2e_mp_equal(&jdoc, mdoc.root, "took_us", where, sizeof(where));
        CHECK(same);
        if (!same)
            fprintf(stderr, "  %s: JSON and msgpack answers differ: %s\n", path, where);
        CHECK(e2e_mp_get(&jdoc, "took_us") == NULL || e2e_mp_get(mdoc.root, "took_us") != NULL);
    }
    for (int i = 0; substrings != NULL && substrings[i] != NULL; i++) {
        CHECK(strstr(json.body, substrings[i]) != NULL);
        if (strstr(json.body, substrings[i]) == NULL)
            fprintf(stderr, "  %s: JSON lacks %s\n", path, substrings[i]);
    }
    if (decoded)
        e2e_mp_free(&mdoc);
    msgpack_zone_destroy(&zone);
    e2e_response_free(&json);
    e2e_response_free(&mp);
}

static void test_json(ctx_t *c, e2e_proto_t proto)
{
    static const char *const search_sub[] = {"\"id\":\"beta-TP82-GRU-20261201-Y\"",
                                             "\"departs_at\":\"2026-12-01T21:35:00-03:00\"",
                                             "\"arrives_at\":\"2026-12-02T11:05:00+00:00\"",
                                             "\"last_seen\":\"2026-11-22T07:30:15Z\"",
                                             "\"stops\":0",
                                             "\"next_cursor\":null",
                                             "\"total\":7",
                                             NULL};
    check_same_document(c, proto, "/v1/search?origin=GRU&destination=LIS&date=2026-12-01", search_sub);
    static const char *const paged_sub[] = {"\"count\":3", "\"next_cursor\":\"", NULL};
    check_same_document(c, proto, "/v1/search?origin=GRU,GIG&destination=LIS,JFK,LHR,GIG&" RANGE "&limit=3&sort=duration",
                        paged_sub);
    static const char *const plus545_sub[] = {"\"departs_at\":\"2026-12-02T09:15:00+05:45\"",
                                              "\"arrives_at\":\"2026-12-02T07:00:00-03:30\"", "\"duration_min\":420", NULL};
    check_same_document(c, proto, "/v1/search?origin=LHR&destination=LIS&date=2026-12-02", plus545_sub);
    static const char *const cal_sub[] = {"{\"date\":\"2026-11-30\"}", "\"min_miles\":32000", NULL};
    check_same_document(c, proto, "/v1/calendar?origin=GRU&destination=LIS&start_date=2026-11-30&end_date=2026-12-06", cal_sub);
    static const char *const routes_sub[] = {"\"origin\":\"GRU\"", "\"destination\":\"GIG\"", NULL};
    check_same_document(c, proto, "/v1/routes?origin=GRU", routes_sub);
    check_same_document(c, proto, "/v1/routes?origin=MAD", NULL);
    check_same_document(c, proto, "/healthz", NULL);
    check_same_document(c, proto, "/readyz", NULL);
}

/* ---------------------------------------------------------------- fields */

/* Partial responses. The oracle: the full answer to the same query (which the tests above check
 * against the model) projected by the paths each case lists by hand. A listed path keeps its whole
 * value; a map key on the way to a listed path is kept and projected in turn; every other key must
 * be absent. took_us is compared for presence only. */
static int path_listed(const char *const *paths, const char *path, int below)
{
    size_t len = strlen(path);
    for (int i = 0; paths[i] != NULL; i++) {
        if (!below && strcmp(paths[i], path) == 0)
            return 1;
        if (below && strncmp(paths[i], path, len) == 0 && paths[i][len] == '.')
            return 1;
    }
    return 0;
}

static void check_projection(const msgpack_object *full, const msgpack_object *part, const char *path, const char *const *paths,
                             const char *url)
{
    if (full->type == MSGPACK_OBJECT_ARRAY) {
        CHECK(part->type == MSGPACK_OBJECT_ARRAY && part->via.array.size == full->via.array.size);
        if (part->type != MSGPACK_OBJECT_ARRAY || part->via.array.size != full->via.array.size) {
            fprintf(stderr, "  %s: %s is not an array of %u\n", url, path, full->via.array.size);
            return;
        }
        for (uint32_t i = 0; i < full->via.array.size; i++)
            check_projection(&full->via.array.ptr[i], &part->via.array.ptr[i], path, paths, url);
        return;
    }
    CHECK(full->type == MSGPACK_OBJECT_MAP && part->type == MSGPACK_OBJECT_MAP);
    if (full->type != MSGPACK_OBJECT_MAP || part->type != MSGPACK_OBJECT_MAP)
        return;
    uint32_t expected_keys = 0;
    for (uint32_t i = 0; i < full->via.map.size; i++) {
        const msgpack_object_kv *kv = &full->via.map.ptr[i];
        char key[64], sub[256];
        snprintf(key, sizeof(key), "%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
        snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
        const msgpack_object *got = e2e_mp_get(part, key);
        if (path_listed(paths, sub, 0)) {
            expected_keys++;
            char where[256];
            int same = got != NULL && (strcmp(sub, "took_us") == 0 || e2e_mp_equal(&kv->val, got, NULL, where, sizeof(where)));
            CHECK(same);
            if (!same)
                fprintf(stderr, "  %s: %s %s\n", url, sub, got == NULL ? "is missing" : "differs from the full answer's");
        } else if (path_listed(paths, sub, 1)) {
            expected_keys++;
            CHECK(got != NULL);
            if (got == NULL)
                fprintf(stderr, "  %s: %s is missing\n", url, sub);
            else
                check_projection(&kv->val, got, sub, paths, url);
        } else {
            CHECK(got == NULL);
            if (got != NULL)
                fprintf(stderr, "  %s: %s was not asked for\n", url, sub);
        }
    }
    CHECK_EQ_INT(part->via.map.size, expected_keys); /* nothing the full answer lacks either */
}

static void check_fields(ctx_t *c, e2e_proto_t proto, const char *query, const char *fields, const char *const *paths)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s&fields=%s", query, fields);
    e2e_mp_t full, part;
    if (get_mp(c, proto, query, &full) != 0)
        return;
    if (get_mp(c, proto, url, &part) == 0) {
        check_projection(full.root, part.root, "", paths, url);
        e2e_mp_free(&part);
    }
    e2e_mp_free(&full);
    check_same_document(c, proto, url, NULL); /* the JSON form carries the same */
}

static void test_fields(ctx_t *c, e2e_proto_t proto)
{
    static const char search[] = "/v1/search?origin=GRU,GIG&destination=LIS,JFK,LHR,GIG&" RANGE "&limit=3&max_stops=1";
    static const char *const list_view[] = {"results.id", "results.miles", "results.seats", "results.departs_at", "next_cursor",
                                            NULL};
    check_fields(c, proto, search, "results(id,miles,seats,departs_at),next_cursor", list_view);
    static const char *const segments[] = {"results.segments.carrier", "results.segments.flight", "total", NULL};
    check_fields(c, proto, search, "results/segments(carrier,flight),total", segments);
    check_fields(c, proto, search, "results(segments/carrier,segments/flight),total", segments);
    static const char *const whole[] = {"results", "took_us", NULL};
    check_fields(c, proto, search, "results,took_us", whole);
    static const char *const meta[] = {"searched.source", "searched.legs", "generation", "origins", "destinations", "count", NULL};
    check_fields(c, proto, search, "searched(source,legs),generation,origins,destinations,count", meta);
    /* percent-encoded, as a browser's URLSearchParams sends it */
    check_fields(c, proto, search, "results%28id%2Cstops%29", (const char *const[]){"results.id", "results.stops", NULL});

    static const char calendar[] = "/v1/calendar?origin=GRU&destination=LIS&start_date=2026-11-30&end_date=2026-12-06";
    static const char *const days[] = {"days.date", "days.business", NULL};
    check_fields(c, proto, calendar, "days(date,business)", days);
    static const char *const economy[] = {"days.economy.min_miles", NULL};
    check_fields(c, proto, calendar, "days/economy/min_miles", economy);

    static const char *const routes[] = {"destinations.destination", "destinations.stops", "origin", NULL};
    check_fields(c, proto, "/v1/routes?origin=GRU&max_stops=1", "destinations(destination,stops),origin", routes);
}

/* ---------------------------------------------------------------- errors */

/* An error answer: status, JSON whatever was asked, {"error": {"code", "message", "parameter"}}. */
static void check_error(ctx_t *c, e2e_proto_t proto, const char *method, const char *path, const char *body, long status,
                        const char *code, const char *parameter)
{
    e2e_response_t res;
    const char *headers[] = {"Accept: application/msgpack", NULL};
    long got = fetch(c, proto, method, path, headers, body, body ? strlen(body) : 0, &res);
    CHECK_EQ_INT(got, status);
    const char *ct = e2e_header(&res, "content-type");
    CHECK(ct != NULL && strncmp(ct, "application/json", 16) == 0);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object doc;
    size_t err_at;
    int parsed = e2e_json_parse(res.body, res.body_len, &zone, &doc, &err_at) == 0;
    CHECK(parsed);
    snprintf(what, sizeof(what), "%s %s over %s: %.300s", method ? method : "GET", path, e2e_proto_names[proto], res.body);
    if (got != status)
        fprintf(stderr, "  %s\n", what);
    if (parsed) {
        const msgpack_object *e = e2e_mp_get(&doc, "error");
        CHECK(e != NULL && e->type == MSGPACK_OBJECT_MAP);
        check_str(e, "code", code);
        const msgpack_object *msg = e2e_mp_get(e, "message");
        CHECK(msg != NULL && msg->type == MSGPACK_OBJECT_STR && msg->via.str.size > 0);
        if (parameter != NULL)
            check_str(e, "parameter", parameter);
    }
    msgpack_zone_destroy(&zone);
    e2e_response_free(&res);
}

#define S "/v1/search?origin=GRU&destination=LIS&"
/* A cursor of the first format: base64url of "m.35000.29935655.tap-TP82-GRU-20261201-Y". */
#define CURSOR_V1 "bS4zNTAwMC4yOTkzNTY1NS50YXAtVFA4Mi1HUlUtMjAyNjEyMDEtWQ"

static void test_errors(ctx_t *c, e2e_proto_t proto)
{
    static const struct {
        const char *path, *parameter;
    } bad[] = {
        {"/v1/search?destination=LIS&date=2026-12-01", "origin"},
        {S "date=2026-12-01&fields=results(milez)", "fields"},
        {S "date=2026-12-01&fields=results(id", "fields"},
        {S "date=2026-12-01&fields=total(x)", "fields"},
        {S "date=2026-12-01&fields=results,", "fields"},
        {"/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-02&fields=results", "fields"},
        {"/v1/routes?origin=GRU&fields=destinations(miles)", "fields"},
        {"/v1/search?origin=gru&destination=LIS&date=2026-12-01", "origin"},
        {"/v1/search?origin=GRU&destination=Lis&date=2026-12-01", "destination"},
        {"/v1/search?origin=GRU&date=2026-12-01", "destination"},
        {"/v1/search?origin=GRU,GIG,LIS,JFK,LHR,OPO,MAD,CDG,FRA,AMS,BCN&destination=LIS&date=2026-12-01", "origin"},
        {"/v1/search?origin=GRUU&destination=LIS&date=2026-12-01", "origin"},
        {S "date=2026-02-30", "date"},
        {S "date=2026-13-01", "date"},
        {S "date=2026-12-1", "date"},
        {S "date=2026-12-01&start_date=2026-12-01&end_date=2026-12-02", "date"},
        {S "start_date=2026-12-05&end_date=2026-12-01", "end_date"},
        {S "start_date=2026-12-01&end_date=2027-03-01", "end_date"}, /* 91 days */
        {S "start_date=2026-12-01", "end_date"},
        {S "end_date=2026-12-01", "start_date"},
        {S "foo=1&date=2026-12-01", "foo"},
        {S "date=2026-12-01&cabn=business", "cabn"},
        {S "date=2026-12-01&cabin=economy&cabin=business", "cabin"},
        {S "date=2026-12-01&origin=GIG", "origin"},
        {S "date=2026-12-01&seats=0", "seats"},
        {S "date=2026-12-01&seats=10", "seats"},
        {S "date=2026-12-01&seats=two", "seats"},
        {S "date=2026-12-01&limit=0", "limit"},
        {S "date=2026-12-01&limit=501", "limit"},
        {S "date=2026-12-01&cabin=coach", "cabin"},
        {S "date=2026-12-01&cabin=", "cabin"},
        {S "date=2026-12-01&sort=price", "sort"},
        {S "date=2026-12-01&max_stops=3", "max_stops"}, /* 0, 1 and 2 are valid (docs/api.md) */
        {S "date=2026-12-01&max_stops=-1", "max_stops"},
        {S "date=2026-12-01&sources=Alpha", "sources"},
        {S "date=2026-12-01&carriers=TAP", "carriers"},
        {S "date=2026-12-01&cursor=garbage", "cursor"},
        {S "date=2026-12-01&cursor=%zz", "cursor"},
        {S "date=2026-12-01&cursor=" CURSOR_V1, "cursor"},
        {"/v1/calendar?origin=GRU&destination=LIS&start_date=2026-01-01&end_date=2027-01-02", "end_date"}, /* 367 days */
        {"/v1/calendar?origin=GRU&destination=LIS&date=2026-12-01", "date"},
        {"/v1/calendar?origin=GRU&destination=LIS", "start_date"},
        {"/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-02&sort=miles", "sort"},
        {"/v1/routes?origin=GRU&destination=LIS", "destination"},
        {"/v1/routes?origin=GRU,GIG", "origin"},
        {"/v1/routes", "origin"},
    };
    for (size_t i = 0; i < COUNT(bad); i++)
        check_error(c, proto, "GET", bad[i].path, NULL, 400, "invalid_parameter", bad[i].parameter);

    /* a cursor of the first format (ids compared as text, another order) says to restart */
    {
        e2e_response_t res;
        const char *headers[] = {"Accept: application/msgpack", NULL};
        long got = fetch(c, proto, "GET", S "date=2026-12-01&cursor=" CURSOR_V1, headers, NULL, 0, &res);
        CHECK_EQ_INT(got, 400);
        CHECK(res.body != NULL && strstr(res.body, "\"parameter\":\"cursor\"") != NULL &&
              strstr(res.body, "restart from the first page") != NULL);
        e2e_response_free(&res);
    }

    /* a cursor is tied to its sort: one made for miles is refused with duration */
    e2e_mp_t doc;
    if (get_mp(c, proto, S "start_date=2026-12-01&end_date=2026-12-05&limit=1", &doc) == 0) {
        char cursor[512], path[1024];
        if (e2e_mp_str(doc.root, "next_cursor", cursor, sizeof(cursor)) != NULL) {
            snprintf(path, sizeof(path), S "start_date=2026-12-01&end_date=2026-12-05&limit=1&sort=duration&cursor=%s", cursor);
            check_error(c, proto, "GET", path, NULL, 400, "invalid_parameter", "cursor");
            snprintf(path, sizeof(path), S "start_date=2026-12-01&end_date=2026-12-05&limit=1&sort=miles&cursor=%s", cursor);
            e2e_response_t res;
            CHECK_EQ_INT(get(c, proto, path, NULL, &res), 200); /* the same sort takes it */
            e2e_response_free(&res);
        } else {
            CHECK(!"a page of 1 out of many has a next_cursor");
        }
        e2e_mp_free(&doc);
    }

    /* the limits themselves are accepted */
    static const char *const good[] = {S "start_date=2026-12-01&end_date=2027-02-28", /* 90 days */
                                       S "date=2026-12-01&limit=500&seats=9", S "date=2026-12-01&limit=1&seats=1&max_stops=0",
                                       S "date=2026-12-01&&cabin=first", /* an empty item is tolerated */
                                       "/v1/calendar?origin=GRU&destination=LIS&start_date=2026-01-01&end_date=2027-01-01"};
    for (size_t i = 0; i < COUNT(good); i++) {
        e2e_response_t res;
        long status = get(c, proto, good[i], NULL, &res);
        CHECK_EQ_INT(status, 200);
        if (status != 200)
            fprintf(stderr, "  GET %s: %ld %.300s\n", good[i], status, res.body);
        e2e_response_free(&res);
    }

    /* paths and methods */
    check_error(c, proto, "GET", "/v1/nope", NULL, 404, "not_found", NULL);
    check_error(c, proto, "GET", "/v1", NULL, 404, "not_found", NULL); /* / is the web page (e2e_web.c) */
    check_error(c, proto, "GET", "/v1/search/extra?origin=GRU", NULL, 404, "not_found", NULL);
    static const char *const read_paths[] = {S "date=2026-12-01",
                                             "/v1/calendar?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-02",
                                             "/v1/routes?origin=GRU"};
    static const char *const methods[] = {"POST", "PUT", "DELETE"};
    for (size_t p = 0; p < COUNT(read_paths); p++) {
        for (size_t m = 0; m < COUNT(methods); m++) {
            const char *body = m == 0 ? "{}" : NULL;
            check_error(c, proto, methods[m], read_paths[p], body, 405, "method_not_allowed", NULL);
            e2e_response_t res;
            fetch(c, proto, methods[m], read_paths[p], NULL, body, body ? 2 : 0, &res);
            const char *allow = e2e_header(&res, "allow");
            CHECK(allow != NULL && strstr(allow, "GET") != NULL);
            e2e_response_free(&res);
        }
        check_error(c, proto, "GET", read_paths[p], "origin=GRU", 413, "body_not_allowed", NULL);
    }
}

/* --------------------------------------------------------------- metrics */

/* The value of the line that starts with "name " in Prometheus text, or -1. */
static long long metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtoll(p + n + 1, NULL, 10);
    return -1;
}

static void test_metrics(ctx_t *c, e2e_proto_t proto)
{
    e2e_response_t res;
    CHECK_EQ_INT(get(c, proto, "/metrics", NULL, &res), 200);
    const char *ct = e2e_header(&res, "content-type");
    CHECK(ct != NULL && strncmp(ct, "text/plain", 10) == 0);
    const char *text = res.body;
    char name[160];
    /* the request just made is counted after its text was written */
    unsigned metrics_200 = c->counts[EP_METRICS][0] - 1;
    for (int ep = 0; ep < EP_COUNT; ep++) {
        if (ep == EP_READYZ)
            continue; /* the library polls /readyz while the server starts */
        for (size_t s = 0; s < N_STATUSES; s++) {
            unsigned want = ep == EP_METRICS && s == 0 ? metrics_200 : c->counts[ep][s];
            snprintf(name, sizeof(name), "flightsearch_requests_total{endpoint=\"%s\",status=\"%d\"}", ep_names[ep],
                     counted_statuses[s]);
            long long got = metric(text, name);
            if (want == 0 && got == -1)
                continue; /* a zero counter may be left out */
            CHECK_EQ_INT(got, want);
            if (got != (long long)want)
                fprintf(stderr, "  %s is %lld, this test counted %u answers\n", name, got, want);
        }
    }
    CHECK(c->counts[EP_SEARCH][0] > 50);
    CHECK_EQ_INT(metric(text, "flightsearch_legs"), COUNT(alpha_legs) + COUNT(beta_legs));
    CHECK_EQ_INT(metric(text, "flightsearch_source_legs{source=\"alpha\"}"), COUNT(alpha_legs));
    CHECK_EQ_INT(metric(text, "flightsearch_source_legs{source=\"beta\"}"), COUNT(beta_legs));
    CHECK_EQ_INT(metric(text, "flightsearch_source_sequence{source=\"alpha\"}"), 42);
    CHECK(strstr(text, "source=\"gamma\"") == NULL);
    CHECK_EQ_INT(metric(text, "flightsearch_generation"), c->generation);
    CHECK_EQ_INT(metric(text, "flightsearch_ready"), 1);
#ifdef FS_HAVE_JEMALLOC /* the server links jemalloc except in sanitizer builds */
    CHECK(metric(text, "flightsearch_jemalloc_allocated_bytes") > 0);
#endif
    e2e_response_free(&res);
}

/* ------------------------------------------------------------ the suite */

static void run_suite(ctx_t *c, e2e_proto_t proto)
{
    char step[64];
    snprintf(step, sizeof(step), "the suite over %s", e2e_proto_names[proto]);
    progress(step);
    test_health(c, proto);
    test_search(c, proto);
    test_paging(c, proto);
    test_calendar(c, proto);
    test_routes(c, proto);
    test_etag(c, proto);
    test_json(c, proto);
    test_fields(c, proto);
    test_errors(c, proto);
    test_metrics(c, proto);
}

/* The refused file is named on stderr with its record and field; its source is absent. */
static void test_refused_file(ctx_t *c, const char *data_dir)
{
    char *log = e2e_server_stderr(c->srv);
    char gamma_path[512];
    snprintf(gamma_path, sizeof(gamma_path), "%s/gamma.msgpack", data_dir);
    int found = 0;
    for (char *line = log; line != NULL && *line;) {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        if (strstr(line, gamma_path) != NULL && strstr(line, "record 1") != NULL && strstr(line, "cabins.economy.miles") != NULL)
            found = 1;
        line = end != NULL ? end + 1 : NULL;
    }
    CHECK(found);
    if (!found)
        fprintf(stderr, "  no stderr line names %s, record 1 and cabins.economy.miles; stderr was:\n%s\n", gamma_path, log);
    free(log);

    e2e_mp_t doc;
    if (get_mp(c, E2E_H1, "/v1/search?origin=GIG&destination=JFK&date=2026-12-02&sources=gamma", &doc) == 0) {
        const msgpack_object_array *r = e2e_mp_array(doc.root, "results"), *s = e2e_mp_array(doc.root, "searched");
        CHECK(r != NULL && r->size == 0);
        CHECK(s != NULL && s->size == 0);
        e2e_mp_free(&doc);
    }
}

/* One search over h2c by Upgrade: the answer comes over HTTP/2 and is the model's. */
static void test_h2c_upgrade(ctx_t *c)
{
    e2e_client_t fresh;
    CHECK(e2e_client_init(&fresh) == 0);
    e2e_client_t saved = c->client[E2E_H2C_UPGRADE];
    c->client[E2E_H2C_UPGRADE] = fresh;
    query_t q = {.origin = "GRU,GIG", .destination = "LIS,LHR,JFK", .start_date = "2026-12-01", .end_date = "2026-12-05"};
    static xres_t expected[MAX_X];
    check_search(c, E2E_H2C_UPGRADE, &q, expected); /* fetch() checks the answer came over HTTP/2 */
    e2e_client_free(&c->client[E2E_H2C_UPGRADE]);
    c->client[E2E_H2C_UPGRADE] = saved;
}

/* ------------------------------------------------------------------- TLS */

/* A self-signed certificate and its key, made with the openssl CLI. 0 or -1. */
static int make_cert(const char *cert, const char *key)
{
    char *const argv[] = {
        "openssl", "req",           "-x509",     "-newkey", "ec",         "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes",  "-keyout",       (char *)key, "-out",    (char *)cert, "-days",    "2",
        "-subj",   "/CN=127.0.0.1", NULL};
    char *out = NULL;
    int status = e2e_run(argv, &out, 30000);
    CHECK_EQ_INT(status, 0);
    if (status != 0)
        fprintf(stderr, "  openssl req failed (%d; is the openssl CLI installed?): %s\n", status, out ? out : "");
    free(out);
    return status == 0 ? 0 : -1;
}

static void test_tls(const char *data_dir, const char *cert, const char *key)
{
    e2e_server_t srv;
    if (e2e_server_start_tls(&srv, binary, data_dir, cert, key, NULL) != 0) {
        CHECK(!"the TLS server starts");
        return;
    }
    ctx_t c;
    memset(&c, 0, sizeof(c));
    c.srv = &srv;
    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_init(&c.client[p]);
    static xres_t expected[MAX_X];
    query_t q = {.origin = "GRU,GIG",
                 .destination = "LIS,LHR,JFK",
                 .start_date = "2026-12-01",
                 .end_date = "2026-12-05",
                 .sort = "departure"};
    check_search(&c, E2E_HTTPS, &q, expected); /* fetch() checks h2 was negotiated */
    walk_pages(&c, E2E_HTTPS, &q);
    check_calendar(&c, E2E_HTTPS,
                   &(query_t){.origin = "GRU", .destination = "LIS", .start_date = "2026-11-30", .end_date = "2026-12-06"});
    check_same_document(&c, E2E_HTTPS, "/v1/search?origin=GRU&destination=LIS&date=2026-12-01", NULL);
    check_error(&c, E2E_HTTPS, "GET", S "date=2026-02-30", NULL, 400, "invalid_parameter", "date");
    /* the plain listener serves too */
    check_search(&c, E2E_H1, &q, expected);
    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_free(&c.client[p]);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
}

/* ------------------------------------------------------- graceful stop */

/* A local time at -03:00 from minutes since 1970-01-01 (local). */
static void local_time(int64_t minutes, char out[32])
{
    char date[16];
    e2e_date_format((int32_t)(minutes / 1440), date);
    snprintf(out, 32, "%.10sT%02d:%02d:00-03:00", date, (int)(minutes % 1440 / 60 % 24), (int)(minutes % 60));
}

#define INFLIGHT 50
#define BULK_DAYS 30
#define BULK_PER_DAY 20

typedef struct inflight {
    e2e_transfer_t t;
    int sent;
} inflight_t;

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)h;
    (void)data;
    (void)size;
    inflight_t *f = arg;
    if (type == CURLINFO_HEADER_OUT)
        f->sent = 1;
    return 0;
}

/* A data dir with 600 legs GRU-LIS, two cabins each: a search with limit=500 is ~300 kB of JSON. */
static void write_bulk(const char *dir)
{
    static e2e_leg_t legs[BULK_DAYS * BULK_PER_DAY];
    static char times[BULK_DAYS * BULK_PER_DAY][2][32];
    for (int d = 0; d < BULK_DAYS; d++) {
        for (int k = 0; k < BULK_PER_DAY; k++) {
            int i = d * BULK_PER_DAY + k;
            int64_t dep = (int64_t)e2e_days(2026, 12, d + 1) * 1440 + 6 * 60 + k * 40, arr = dep + 600; /* local, -03:00 */
            local_time(dep, times[i][0]);
            local_time(arr, times[i][1]);
            legs[i] = (e2e_leg_t){"TP",
                                  (unsigned)(100 + k),
                                  "GRU",
                                  "LIS",
                                  times[i][0],
                                  times[i][1],
                                  {Y_(9, 30000 + (unsigned)(i % 97) * 100, 1000, "BRL"), J_(2, 90000, 2000, "BRL")}};
        }
    }
    e2e_feed_t feed = {"bulk", 1, "2026-11-21T20:00:00Z", legs, COUNT(legs)};
    char path[600];
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/bulk.msgpack", dir);
    CHECK(e2e_feed_write_msgpack(path, &feed) == 0);
}

/*
 * SIGTERM while 50 requests are in flight; every one must get a complete 200 and the server must
 * exit 0. The signal goes as soon as every request has been written to its socket.
 *
 * running: 25 requests over HTTP/1.1 (a connection each) and 25 over h2 multiplexed on one TLS
 *   connection (h2 by prior knowledge cannot multiplex with this libcurl, see e2e_curl_setup);
 *   each client reads at 200 kB/s, so answers (280 kB each) are still being received while the
 *   server drains.
 * frozen: the server is stopped (SIGSTOP) while the requests are sent and continued right after
 *   the SIGTERM, as a busy server would be: the drain then begins with connections still in the
 *   accept queues and requests unread in their sockets. 25 over HTTP/1.1, 25 over h2 by prior
 *   knowledge (a connection each; a frozen server does no TLS handshake).
 * --search-budget-ms is raised in both: 50 large answers at once (and, frozen, the pause itself)
 * are event-loop lag, which admission control rightly sheds with 503; the drain is what is tested.
 */
static void test_graceful_stop(const char *dir, const char *cert, const char *key, int frozen)
{
    const char *const budget[] = {"--search-budget-ms", "60000", NULL};
    e2e_server_t srv;
    if (e2e_server_start_tls(&srv, binary, dir, cert, key, budget) != 0) {
        CHECK(!"the server for the graceful stop starts");
        return;
    }
    const char *mode = frozen ? "graceful stop of a frozen server" : "graceful stop of a running server";
    char url[256], tls_url[256];
    const char *query = "/v1/search?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-30&limit=500";
    snprintf(url, sizeof(url), "%s%s", srv.url, query);
    snprintf(tls_url, sizeof(tls_url), "%s%s", srv.tls_url, query);
    if (frozen)
        e2e_server_signal(&srv, SIGSTOP);
    CURLM *multi = curl_multi_init();
    static inflight_t f[INFLIGHT];
    e2e_proto_t protos[INFLIGHT];
    for (int i = 0; i < INFLIGHT; i++) {
        protos[i] = i % 2 == 0 ? E2E_H1 : frozen ? E2E_H2 : E2E_HTTPS;
        e2e_transfer_init(&f[i].t, protos[i], protos[i] == E2E_HTTPS ? tls_url : url, NULL);
        f[i].sent = 0;
        if (protos[i] == E2E_HTTPS)
            curl_easy_setopt(f[i].t.curl, CURLOPT_PIPEWAIT, 1L); /* wait for the TLS connection, then multiplex on it */
        curl_easy_setopt(f[i].t.curl, CURLOPT_VERBOSE, 1L);      /* for on_debug, which sees the request go out */
        curl_easy_setopt(f[i].t.curl, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(f[i].t.curl, CURLOPT_DEBUGDATA, &f[i]);
        if (!frozen)
            curl_easy_setopt(f[i].t.curl, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)200000);
        curl_multi_add_handle(multi, f[i].t.curl);
    }
    int running = 1, signalled = 0, sent = 0;
    int64_t started = e2e_now_ms(), deadline = started + 30000;
    while (running > 0 && e2e_now_ms() < deadline) {
        curl_multi_perform(multi, &running);
        if (!signalled) {
            sent = 0;
            for (int i = 0; i < INFLIGHT; i++)
                sent += f[i].sent;
            if (sent == INFLIGHT || e2e_now_ms() > started + 5000) {
                e2e_server_signal(&srv, SIGTERM);
                if (frozen)
                    e2e_server_signal(&srv, SIGCONT);
                signalled = 1;
            }
        }
        curl_multi_poll(multi, NULL, 0, 20, NULL);
    }
    CHECK(signalled);
    CHECK_EQ_INT(sent, INFLIGHT);
    CHECK_EQ_INT(running, 0);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        e2e_transfer_t *t;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        e2e_transfer_done(t, msg->data.result);
    }
    unsigned complete = 0, failed[E2E_PROTO_COUNT] = {0}, shown = 0;
    for (int i = 0; i < INFLIGHT; i++) {
        e2e_response_t *r = &f[i].t.res;
        msgpack_zone zone;
        msgpack_zone_init(&zone, 65536);
        msgpack_object doc;
        long version = protos[i] == E2E_H1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2_0;
        int ok = r->rc == CURLE_OK && r->status == 200 && r->http_version == version &&
                 e2e_json_parse(r->body, r->body_len, &zone, &doc, NULL) == 0 && e2e_mp_int_or(&doc, "count", -1) == 500 &&
                 e2e_mp_int_or(&doc, "total", -1) == 2 * BULK_DAYS * BULK_PER_DAY;
        complete += ok;
        if (!ok) {
            failed[protos[i]]++;
            if (shown++ < 60)
                fprintf(stderr, "  %s: request %d over %s: curl %d (%s), status %ld, %zu of ~280000 bytes\n", mode, i,
                        e2e_proto_names[protos[i]], (int)r->rc, r->error, r->status, r->body_len);
        }
        msgpack_zone_destroy(&zone);
        curl_multi_remove_handle(multi, f[i].t.curl);
        e2e_transfer_free(&f[i].t);
    }
    curl_multi_cleanup(multi);
    progress(frozen ? "frozen: transfers done" : "running: transfers done");
    /* Every request sent before SIGTERM must get a complete 200: HTTP/1.1, and HTTP/2 streams read
     * slowly (the drain waits for the kernel send queues before the GOAWAY lets libh2o close),
     * including the connections still queued in the kernel when the signal came. */
    CHECK_EQ_INT(complete, INFLIGHT);
    if (complete != INFLIGHT)
        fprintf(stderr, "  %s: %u of %d requests sent before SIGTERM got no complete 200 (%u over HTTP/1.1, %u over %s)\n", mode,
                INFLIGHT - complete, INFLIGHT, failed[E2E_H1], failed[frozen ? E2E_H2 : E2E_HTTPS],
                e2e_proto_names[frozen ? E2E_H2 : E2E_HTTPS]);
    int status = e2e_server_wait(&srv, 20000);
    progress("server exited");
    CHECK_EQ_INT(status, 0);
    if (status != 0) {
        char *log = e2e_server_stderr(&srv);
        size_t len = strlen(log);
        fprintf(stderr, "  %s: exit status %d; the last of its stderr:\n%s\n", mode, status, len > 6000 ? log + len - 6000 : log);
        free(log);
    }
    e2e_server_stop(&srv);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-flightsearch\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    test_started = time(NULL);
    started_ms = e2e_now_ms();
    signal(SIGPIPE, SIG_IGN);
    e2e_http_init();

    char tmp[256], data_dir[300], path[400];
    if (e2e_tmpdir(tmp, sizeof(tmp)) != 0) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    snprintf(data_dir, sizeof(data_dir), "%s/data", tmp);
    mkdir(data_dir, 0755);
    e2e_feed_t alpha = {"alpha", 42, sources[0].generated_at, alpha_legs, COUNT(alpha_legs)};
    e2e_feed_t beta = {"beta", 7, sources[1].generated_at, beta_legs, COUNT(beta_legs)};
    e2e_feed_t gamma = {"gamma", 3, "2026-11-21T20:00:00Z", gamma_legs, COUNT(gamma_legs)};
    snprintf(path, sizeof(path), "%s/alpha.msgpack", data_dir);
    CHECK(e2e_feed_write_msgpack(path, &alpha) == 0);
    snprintf(path, sizeof(path), "%s/beta.json", data_dir);
    CHECK(e2e_feed_write_json(path, &beta) == 0);
    snprintf(path, sizeof(path), "%s/gamma.msgpack", data_dir);
    CHECK(e2e_feed_write_msgpack(path, &gamma) == 0);

    e2e_server_t srv;
    if (e2e_server_start(&srv, binary, data_dir, NULL) != 0) {
        CHECK(!"the server starts with alpha, beta and a refused gamma");
        e2e_rmtree(tmp);
        TEST_DONE();
    }
    ctx_t c;
    memset(&c, 0, sizeof(c));
    c.srv = &srv;
    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_init(&c.client[p]);

    test_refused_file(&c, data_dir);
    run_suite(&c, E2E_H1);
    run_suite(&c, E2E_H2);
    progress("h2c by Upgrade, metrics");
    test_h2c_upgrade(&c);
    test_metrics(&c, E2E_H1);
    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_free(&c.client[p]);
    progress("stop");
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);

    char cert[300], key[300];
    snprintf(cert, sizeof(cert), "%s/cert.pem", tmp);
    snprintf(key, sizeof(key), "%s/key.pem", tmp);
    if (make_cert(cert, key) == 0) {
        progress("TLS");
        test_tls(data_dir, cert, key);
        progress("graceful stop");
        char bulk[300];
        snprintf(bulk, sizeof(bulk), "%s/bulk", tmp);
        write_bulk(bulk);
        test_graceful_stop(bulk, cert, key, 0);
        test_graceful_stop(bulk, cert, key, 1);
    }

    progress("done");
    e2e_rmtree(tmp);
    curl_global_cleanup();
    TEST_DONE();
}
