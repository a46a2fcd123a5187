/*
 * The watch engine against a brute-force oracle. Random watches (nonstop and 1-stop, party sizes,
 * cabins, max_miles, source filters, several origins and destinations) over random snapshots and
 * deltas of two sources; the change sets come from real publishes (fs_index_publish_commit_changes)
 * through a subscription, as the engine's thread gets them. After each publish:
 *   - each watch's event lists exactly the difference between its matching set before and after,
 *     computed here by enumerating the model's legs and connections (nothing from the index);
 *   - a watch gets at most one event per publish, none when nothing it notifies changed.
 * Now and then a set is not applied and the engine resynchronises instead (what it does after
 * FS_ELAGGED): the event then spans both publishes. Also: the JSON body parser's refusals name the
 * field, and city codes expand.
 *
 * Legs also move: an upsert may give a leg another destination or departure minute (a change
 * set lists it as moved, with its old destination), which can make or break nonstop and 1-stop
 * matches with no count changing; seats, cabins, fares and presence change freely too.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "index/index.h"
#include "src/server.h"
#include "src/watch.h"
#include "tests/test.h"

#define SOURCES 2
#define AIRPORTS 5
#define CARRIERS 2
#define FLIGHTS 4
#define DAYS 8
#define DAY0 20000
#define KEYS (CARRIERS * FLIGHTS * AIRPORTS * DAYS)
#define STEPS 1200
#define WATCHES 40
#define MAX_MATCH 4096

typedef struct mleg {
    int present;
    int dest;        /* airport index */
    unsigned minute; /* local departure minute */
    unsigned mask;
    unsigned seats[FS_CABIN_COUNT], miles[FS_CABIN_COUNT], taxes[FS_CABIN_COUNT];
} mleg_t;

static mleg_t model[SOURCES][KEYS];
static const char *airport_names[AIRPORTS] = {"AAA", "BBB", "CCC", "DDD", "EEE"};
static fs_airport_t airport[AIRPORTS];
static fs_carrier_t carrier_code[CARRIERS];
static const char *carrier_names[CARRIERS] = {"AA", "BB"};
static fs_currency_t usd;
static const char *source_name[SOURCES] = {"alpha", "beta"};
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* key number -> parts; a new leg's destination and minute (an upsert may move it), its duration */
static int k_day(int k) { return k % DAYS; }
static int k_origin(int k) { return (k / DAYS) % AIRPORTS; }
static int k_flight(int k) { return (k / (DAYS * AIRPORTS)) % FLIGHTS + 1; }
static int k_carrier(int k) { return k / (DAYS * AIRPORTS * FLIGHTS); }
static int k_dest(int k) { return (k_origin(k) + 1 + (int)((unsigned)(k * 7 + k / 3) % (AIRPORTS - 1))) % AIRPORTS; }
static unsigned k_minute(int k) { static const unsigned m[] = {60, 300, 600, 900, 1300}; return m[(k * 13 + k / 5) % 5]; }
static unsigned k_duration(int k) { return (k % 3) ? 90 : 400; }

static const unsigned miles_levels[] = {10000, 12000, 15000};
static const unsigned taxes_levels[] = {100, 250};

static void random_cabins(mleg_t *l)
{
    l->present = 1;
    l->mask = 1 + rnd(15);
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        l->seats[c] = (l->mask & (1u << c)) ? rnd(4) : 0;
        l->miles[c] = (l->mask & (1u << c)) ? miles_levels[rnd(3)] : 0;
        l->taxes[c] = (l->mask & (1u << c)) ? taxes_levels[rnd(2)] : 0;
    }
}

static void mutate(int k, mleg_t *l)
{
    if (rnd(5) == 0) { /* the leg moves: another destination or another departure minute */
        static const unsigned m[] = {60, 300, 600, 900, 1300};
        if (rnd(2))
            l->dest = (k_origin(k) + 1 + (int)rnd(AIRPORTS - 1)) % AIRPORTS;
        else
            l->minute = m[rnd(5)];
        return;
    }
    int c = (int)rnd(FS_CABIN_COUNT);
    if (!(l->mask & (1u << c)))
        return;
    if (rnd(2))
        l->seats[c] = rnd(4);
    else
        l->miles[c] = miles_levels[rnd(3)], l->taxes[c] = taxes_levels[rnd(2)];
}

static uint64_t key_of(int k)
{
    return fs_leg_key(carrier_code[k_carrier(k)], (uint16_t)k_flight(k), airport[k_origin(k)], DAY0 + k_day(k));
}

static fs_leg_in_t to_in(int k, const mleg_t *l)
{
    fs_leg_in_t in;
    memset(&in, 0, sizeof(in));
    in.carrier = carrier_code[k_carrier(k)];
    in.flight = (uint16_t)k_flight(k);
    in.origin = airport[k_origin(k)];
    in.destination = airport[l->dest];
    unsigned arr = l->minute + k_duration(k);
    in.departs = (fs_localtime_t){DAY0 + k_day(k), (uint16_t)l->minute, 0};
    in.arrives = (fs_localtime_t){DAY0 + k_day(k) + (int32_t)(arr / 1440), (uint16_t)(arr % 1440), 0};
    in.cabin_mask = (uint8_t)l->mask;
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        in.seats[c] = (uint8_t)l->seats[c];
        in.fare[c] = (fs_fare_t){l->miles[c], l->taxes[c], usd};
    }
    in.last_seen = 1700000000;
    return in;
}

/* ------------------------------------------------------------ the oracle */

typedef struct match {
    char id[FS_ID_MAX];
    unsigned miles, taxes;
} match_t;

typedef struct oracle_watch {
    fs_watch_criteria_t c;
    uint64_t id;
    match_t *set; /* the matching set the engine last saw, sorted by id */
    unsigned count;
} oracle_watch_t;

static oracle_watch_t watches[WATCHES];

static int in_list(const fs_airport_t *l, unsigned n, fs_airport_t a)
{
    for (unsigned i = 0; i < n; i++)
        if (l[i] == a)
            return 1;
    return 0;
}

static int source_ok(const fs_watch_criteria_t *c, int s)
{
    if (c->q.source_count == 0)
        return 1;
    for (unsigned i = 0; i < c->q.source_count; i++)
        if (strcmp(c->q.sources[i], source_name[s]) == 0)
            return 1;
    return 0;
}

/* The id as docs/api.md states it: source-CARRIERflight-ORIGIN-yyyymmdd-cabinletter. */
static void leg_id(int s, int k, int c, char *out, size_t cap)
{
    char date[11];
    fs_date_format(DAY0 + k_day(k), date);
    snprintf(out, cap, "%s-%s%d-%s-%.4s%.2s%.2s-%c", source_name[s], carrier_names[k_carrier(k)], k_flight(k),
             airport_names[k_origin(k)], date, date + 5, date + 8, "YWJF"[c]);
}

static int open_for(const mleg_t *l, int c, unsigned seats)
{
    return l->present && (l->mask & (1u << c)) && l->seats[c] >= seats;
}

static int match_cmp(const void *a, const void *b)
{
    return strcmp(((const match_t *)a)->id, ((const match_t *)b)->id);
}

static unsigned brute_force(const fs_watch_criteria_t *c, match_t *out)
{
    unsigned n = 0;
    int c0 = c->q.cabin < 0 ? 0 : c->q.cabin, c1 = c->q.cabin < 0 ? FS_CABIN_COUNT : c->q.cabin + 1;
    for (int s = 0; s < SOURCES; s++) {
        if (!source_ok(c, s))
            continue;
        for (int k = 0; k < KEYS; k++) {
            const mleg_t *l = &model[s][k];
            int32_t day = DAY0 + k_day(k);
            if (!l->present || day < c->q.start_day || day > c->q.end_day ||
                !in_list(c->q.origins, c->q.origin_count, airport[k_origin(k)]))
                continue;
            /* nonstop */
            if (in_list(c->q.destinations, c->q.destination_count, airport[l->dest]))
                for (int cb = c0; cb < c1; cb++)
                    if (open_for(l, cb, c->q.seats) && (c->max_miles == 0 || l->miles[cb] <= c->max_miles)) {
                        leg_id(s, k, cb, out[n].id, sizeof(out[n].id));
                        out[n].miles = l->miles[cb];
                        out[n].taxes = l->taxes[cb];
                        n++;
                    }
            if (c->q.max_stops == 0)
                continue;
            /* 1-stop: k to X, then X to B */
            int x = l->dest;
            int64_t arr1 = (int64_t)day * 1440 + l->minute + k_duration(k);
            for (int s2 = 0; s2 < SOURCES; s2++) {
                if (!source_ok(c, s2))
                    continue;
                for (int k2 = 0; k2 < KEYS; k2++) {
                    const mleg_t *l2 = &model[s2][k2];
                    if (!l2->present || k_origin(k2) != x || l2->dest == k_origin(k) ||
                        !in_list(c->q.destinations, c->q.destination_count, airport[l2->dest]))
                        continue;
                    int64_t dep2 = (int64_t)(DAY0 + k_day(k2)) * 1440 + l2->minute;
                    if (dep2 < arr1 + 60 || dep2 > arr1 + 720)
                        continue;
                    for (int cb = c0; cb < c1; cb++) {
                        unsigned miles = l->miles[cb] + l2->miles[cb];
                        if (!open_for(l, cb, c->q.seats) || !open_for(l2, cb, c->q.seats) ||
                            (c->max_miles != 0 && miles > c->max_miles))
                            continue;
                        leg_id(s, k, cb, out[n].id, sizeof(out[n].id));
                        size_t used = strlen(out[n].id);
                        out[n].id[used++] = '+';
                        leg_id(s2, k2, cb, out[n].id + used, sizeof(out[n].id) - used);
                        out[n].miles = miles;
                        out[n].taxes = l->taxes[cb] + l2->taxes[cb];
                        n++;
                    }
                }
            }
        }
    }
    qsort(out, n, sizeof(*out), match_cmp);
    return n;
}

/* ------------------------------------------------------------ events */

typedef struct change {
    char kind[12];
    char id[FS_ID_MAX];
} change_t;

typedef struct got_event {
    uint64_t watch_id;
    change_t changes[512];
    unsigned count;
} got_event_t;

static got_event_t got[WATCHES * 4];
static unsigned got_count, bad_parse;

/* The string after "name": at or after p; NULL when absent. */
static const char *field_str(const char *p, const char *name, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    const char *f = strstr(p, pat);
    if (f == NULL)
        return NULL;
    f += strlen(pat);
    const char *e = strchr(f, '"');
    size_t n = (size_t)(e - f) < cap - 1 ? (size_t)(e - f) : cap - 1;
    memcpy(out, f, n);
    out[n] = '\0';
    return e;
}

static void collect(void *arg, uint64_t id, const char *json, size_t len)
{
    (void)arg, (void)id, (void)len;
    if (got_count >= sizeof(got) / sizeof(got[0])) {
        bad_parse++;
        return;
    }
    got_event_t *g = &got[got_count++];
    g->count = 0;
    const char *w = strstr(json, "\"watch_id\":");
    g->watch_id = w != NULL ? strtoull(w + 11, NULL, 10) : 0;
    const char *p = json;
    change_t ch;
    while ((p = field_str(p, "kind", ch.kind, sizeof(ch.kind))) != NULL) {
        /* the result's own id is the first "id" after the kind */
        p = field_str(p, "id", ch.id, sizeof(ch.id));
        if (p == NULL || g->count >= 512) {
            bad_parse++;
            return;
        }
        g->changes[g->count++] = ch;
    }
}

static int change_cmp(const void *a, const void *b)
{
    const change_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c != 0 ? c : strcmp(x->kind, y->kind);
}

static unsigned bad_events, events_seen, changes_seen, opened_seen, closed_seen, repriced_seen, one_stop_seen;
static match_t scratch[MAX_MATCH];
static change_t expected[MAX_MATCH * 2];

/* Compares what the engine told each watch with the oracle's diff, then moves the baselines. */
static void check_events(fs_watches_t *ws, uint64_t *after)
{
    got_count = 0;
    int gap = 0;
    *after = fs_watches_events_after(ws, *after, 0, FS_WATCH_ANY_OWNER, SIZE_MAX, collect, NULL, &gap);
    CHECK(!gap);
    for (unsigned w = 0; w < WATCHES; w++) {
        oracle_watch_t *o = &watches[w];
        if (o->id == 0)
            continue; /* not created yet */
        unsigned n = brute_force(&o->c, scratch), ne = 0, i = 0, j = 0;
        while (i < o->count || j < n) {
            int c = i >= o->count ? 1 : j >= n ? -1 : strcmp(o->set[i].id, scratch[j].id);
            if (c < 0) {
                if (o->c.notify & FS_WATCH_CLOSED)
                    expected[ne] = (change_t){"closed", ""}, strcpy(expected[ne++].id, o->set[i].id);
                i++;
            } else if (c > 0) {
                if (o->c.notify & FS_WATCH_OPENED)
                    expected[ne] = (change_t){"opened", ""}, strcpy(expected[ne++].id, scratch[j].id);
                j++;
            } else {
                if ((o->c.notify & FS_WATCH_REPRICED) &&
                    (o->set[i].miles != scratch[j].miles || o->set[i].taxes != scratch[j].taxes))
                    expected[ne] = (change_t){"repriced", ""}, strcpy(expected[ne++].id, scratch[j].id);
                i++, j++;
            }
        }
        qsort(expected, ne, sizeof(*expected), change_cmp);
        const got_event_t *g = NULL;
        unsigned found = 0;
        for (unsigned e = 0; e < got_count; e++)
            if (got[e].watch_id == o->id)
                g = &got[e], found++;
        if (found > 1 || (ne == 0 && g != NULL) || (ne > 0 && (g == NULL || g->count != ne))) {
            if (bad_events++ < 5) {
                fprintf(stderr, "watch %u: %u events, expected %u changes, got %u\n", w, found, ne, g ? g->count : 0);
                for (unsigned e = 0; e < ne; e++)
                    fprintf(stderr, "  want %s %s\n", expected[e].kind, expected[e].id);
                for (unsigned e = 0; g && e < g->count; e++)
                    fprintf(stderr, "  got %s %s\n", g->changes[e].kind, g->changes[e].id);
            }
        } else if (g != NULL) {
            change_t sorted[512];
            memcpy(sorted, g->changes, g->count * sizeof(change_t));
            qsort(sorted, g->count, sizeof(change_t), change_cmp);
            for (unsigned e = 0; e < ne; e++)
                if (change_cmp(&sorted[e], &expected[e]) != 0) {
                    if (bad_events++ < 5)
                        fprintf(stderr, "watch %u: expected %s %s, got %s %s\n", w, expected[e].kind, expected[e].id,
                                sorted[e].kind, sorted[e].id);
                    break;
                }
            events_seen++;
            for (unsigned e = 0; e < ne; e++) {
                changes_seen++;
                opened_seen += expected[e].kind[0] == 'o';
                closed_seen += expected[e].kind[0] == 'c';
                repriced_seen += expected[e].kind[0] == 'r';
                one_stop_seen += strchr(expected[e].id, '+') != NULL;
            }
        }
        memcpy(o->set, scratch, n * sizeof(match_t));
        o->count = n;
    }
}

static void random_criteria(fs_watch_criteria_t *c)
{
    memset(c, 0, sizeof(*c));
    fs_search_query_init(&c->q);
    c->q.origin_count = 1 + rnd(2);
    c->q.origins[0] = airport[rnd(AIRPORTS)];
    if (c->q.origin_count == 2) {
        c->q.origins[1] = airport[rnd(AIRPORTS)];
        if (c->q.origins[1] == c->q.origins[0])
            c->q.origin_count = 1;
    }
    c->q.destination_count = 1 + rnd(2);
    for (unsigned i = 0; i < c->q.destination_count; i++) {
        do
            c->q.destinations[i] = airport[rnd(AIRPORTS)];
        while (in_list(c->q.origins, c->q.origin_count, c->q.destinations[i]));
    }
    if (c->q.destination_count == 2 && c->q.destinations[0] == c->q.destinations[1])
        c->q.destination_count = 1;
    c->q.start_day = DAY0 + (int32_t)rnd(DAYS);
    c->q.end_day = c->q.start_day + (int32_t)rnd(DAYS);
    c->q.cabin = rnd(3) == 0 ? -1 : (int)rnd(FS_CABIN_COUNT);
    c->q.seats = 1 + rnd(3);
    c->q.max_stops = rnd(2);
    if (rnd(4) == 0) {
        snprintf(c->q.sources[0], sizeof(c->q.sources[0]), "%s", source_name[rnd(SOURCES)]);
        c->q.source_count = 1;
    }
    c->max_miles = rnd(3) == 0 ? 0 : (unsigned[]){10000, 12000, 22000, 27000}[rnd(4)];
    c->notify = rnd(4) == 0 ? 1 + rnd(7) : FS_WATCH_OPENED | FS_WATCH_CLOSED | FS_WATCH_REPRICED;
}

/* ------------------------------------------------------------ the parser */

static void check_parse(void)
{
    fs_watch_criteria_t c;
    fs_param_error_t err;
    const char *ok = "{\"origin\": [\"AAA\", \"BBB\"], \"destination\": \"CCC\", \"start_date\": \"2024-09-01\", "
                     "\"end_date\": \"2025-08-31\", \"cabin\": \"business\", \"seats\": 2, \"max_miles\": 60000, "
                     "\"max_stops\": 1, \"notify\": [\"opened\", \"repriced\"]}";
    CHECK_EQ_INT(fs_watch_parse(ok, strlen(ok), &c, &err), 0);
    CHECK_EQ_INT(c.q.origin_count, 2);
    CHECK_EQ_INT(c.q.origins[1], airport[1]);
    CHECK_EQ_INT(c.q.end_day - c.q.start_day + 1, 365);
    CHECK_EQ_INT(c.q.cabin, FS_CABIN_BUSINESS);
    CHECK_EQ_INT(c.q.seats, 2);
    CHECK_EQ_INT(c.max_miles, 60000);
    CHECK_EQ_INT(c.q.max_stops, 1);
    CHECK_EQ_INT(c.notify, FS_WATCH_OPENED | FS_WATCH_REPRICED);

    const char *dflt = "{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\"}";
    CHECK_EQ_INT(fs_watch_parse(dflt, strlen(dflt), &c, &err), 0);
    CHECK_EQ_INT(c.notify, FS_WATCH_OPENED);
    CHECK_EQ_INT(c.q.seats, 1);
    CHECK_EQ_INT(c.max_miles, 0);
    CHECK_EQ_INT(c.q.start_day, c.q.end_day);

    /* NYC is a built-in city code of three airports */
    const char *city = "{\"origin\":[\"NYC\"],\"destination\":[\"LHR\"],\"date\":\"2024-09-01\"}";
    CHECK_EQ_INT(fs_watch_parse(city, strlen(city), &c, &err), 0);
    CHECK_EQ_INT(c.q.origin_count, 3);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"destination\":[\"BBB\"],\"date\":\"2024-09-01\"}", "origin"},
        {"{\"origin\":[\"AAA\"],\"date\":\"2024-09-01\"}", "destination"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"]}", "date"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"start_date\":\"2024-01-01\",\"end_date\":\"2025-01-02\"}", "end_date"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\",\"seats\":0}", "seats"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\",\"max_stops\":2}", "max_stops"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\",\"max_miles\":0}", "max_miles"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\",\"notify\":[\"sold\"]}", "notify"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\",\"notify\":[]}", "notify"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\",\"cabin\":\"coach\"}", "cabin"},
        {"{\"origin\":[\"AAA\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\",\"colour\":\"red\"}", "colour"},
        {"{\"origin\":[\"aa&b\"],\"destination\":[\"BBB\"],\"date\":\"2024-09-01\"}", "origin"},
        {"{\"origin\":[\"AAA\"],\"origin\":[\"BBB\"],\"destination\":[\"CCC\"],\"date\":\"2024-09-01\"}", "origin"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = fs_watch_parse(bad[i].body, strlen(bad[i].body), &c, &err);
        CHECK_EQ_INT(rc, FS_EINVAL);
        CHECK_EQ_STR(err.parameter, bad[i].field);
    }
    CHECK_EQ_INT(fs_watch_parse("[1]", 3, &c, &err), FS_EINVAL);
    CHECK_EQ_INT(fs_watch_parse("{\"origin\": ", 11, &c, &err), FS_EINVAL);
}

/* ------------------------------------------------------------ the run */

/* A watch keeps its criteria packed (src/watch.c): what the engine answers for it must be what
 * was parsed, for criteria with every list filled to different lengths. The expected text is the
 * parsed criteria written by the same writer, independently of the packing. */
static void check_packed_criteria(void)
{
    static const char *const bodies[] = {
        "{\"origin\": [\"GRU\"], \"destination\": [\"LIS\"], \"date\": \"2026-12-01\"}",
        "{\"origin\": [\"SAO\", \"RIO\"], \"destination\": [\"LON\", \"MAD\", \"LIS\"], \"start_date\": \"2026-12-01\", "
        "\"end_date\": \"2027-12-01\", \"cabin\": \"business\", \"seats\": 9, \"max_miles\": 250000, \"max_stops\": 1, "
        "\"sources\": [\"tap\", \"smiles\", \"a-source-name-of-thirty-two-char\"], \"carriers\": [\"TP\", \"G3\", \"LA\"], "
        "\"notify\": [\"opened\", \"closed\", \"repriced\"]}",
        "{\"origin\": [\"JFK\"], \"destination\": [\"NYC\"], \"date\": \"2026-12-31\", \"sources\": [\"x\"], \"notify\": "
        "[\"repriced\"], \"webhook\": {\"url\": \"https://alerts.example.com/hook\", \"secret\": \"whsec_0123456789abcdef\"}}",
    };
    fs_index_t *idx = fs_index_new();
    fs_watches_t *ws = fs_watches_new(idx);
    fs_index_thread_t *th = fs_index_thread_get(idx);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        fs_watch_criteria_t c;
        fs_param_error_t err;
        CHECK_EQ_INT(fs_watch_parse(bodies[i], strlen(bodies[i]), &c, &err), 0);
        uint64_t id = 0, matching;
        CHECK_EQ_INT(fs_watches_add(ws, th, &c, FS_WATCH_ANY_OWNER, UINT_MAX, &id, &matching), 0);
        fs_enc_t want, got;
        fs_enc_init(&want, FS_ENC_JSON, NULL, 1024);
        fs_enc_map_begin(&want);
        fs_watch_encode_criteria(&want, &c);
        fs_enc_map_end(&want);
        fs_enc_init(&got, FS_ENC_JSON, NULL, 1024);
        CHECK_EQ_INT(fs_watches_encode(ws, id, FS_WATCH_ANY_OWNER, &got), 0);
        h2o_iovec_t w = fs_enc_result(&want), g = fs_enc_result(&got);
        /* {"id":N, + the criteria's members + ,"webhook":... */
        char *members = strndup(w.base + 1, w.len - 2), *text = strndup(g.base, g.len);
        CHECK(strstr(text, members) != NULL);
        if (strstr(text, members) == NULL)
            fprintf(stderr, "  want %s\n  in   %s\n", members, text);
        if (c.webhook_url != NULL)
            CHECK(strstr(text, "\"webhook\":{\"url\":\"https://alerts.example.com/hook\"") != NULL &&
                  strstr(text, "whsec_") == NULL);
        free(members);
        free(text);
        fs_enc_dispose(&want);
        fs_enc_dispose(&got);
        fs_watch_criteria_dispose(&c);
    }
    fs_index_thread_put(idx, th);
    fs_watches_free(ws);
    fs_index_free(idx);
}

/* A watch on city codes that expand past 10 airports (LON 6, NYC 3, PAR 3, SAO 3: 15) is stored
 * with its airports, and a restart must take them back: it once refused the whole watches file
 * ("origin: at most 10 codes") and restored nothing. */
static void check_wide_watch_restores(void)
{
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t *th = fs_index_thread_get(idx);
    char dir[] = "/tmp/fs-watch-wide-XXXXXX", err[300];
    CHECK(mkdtemp(dir) != NULL);
    fs_watches_t *a = fs_watches_new(idx);
    CHECK_EQ_INT(fs_watches_restore(a, th, dir, err, sizeof(err)), 0);
    const char *body = "{\"origin\": [\"LON\", \"NYC\", \"PAR\", \"SAO\"], \"destination\": [\"LIS\"], \"date\": \"2026-12-01\"}";
    fs_watch_criteria_t c;
    fs_param_error_t perr;
    CHECK_EQ_INT(fs_watch_parse(body, strlen(body), &c, &perr), 0);
    CHECK_EQ_INT(c.q.origin_count, 15);
    uint64_t id, m;
    CHECK_EQ_INT(fs_watches_add(a, th, &c, FS_WATCH_ANY_OWNER, UINT_MAX, &id, &m), 0);
    fs_watches_free(a);
    fs_watches_t *b = fs_watches_new(idx);
    CHECK_EQ_INT(fs_watches_restore(b, th, dir, err, sizeof(err)), 1);
    fs_enc_t got, want;
    fs_enc_init(&got, FS_ENC_JSON, NULL, 512);
    fs_enc_init(&want, FS_ENC_JSON, NULL, 512);
    CHECK_EQ_INT(fs_watches_encode(b, id, FS_WATCH_ANY_OWNER, &got), 0);
    fs_enc_map_begin(&want);
    fs_watch_encode_criteria(&want, &c);
    fs_enc_map_end(&want);
    h2o_iovec_t g = fs_enc_result(&got), w = fs_enc_result(&want);
    CHECK(g.base != NULL && w.base != NULL && h2o_strstr(g.base, g.len, w.base + 1, w.len - 2) != SIZE_MAX);
    fs_enc_dispose(&got);
    fs_enc_dispose(&want);
    fs_watch_criteria_dispose(&c);
    fs_watches_free(b);
    char path[80];
    snprintf(path, sizeof(path), "%s/watches", dir);
    unlink(path);
    rmdir(dir);
    fs_index_thread_put(idx, th);
    fs_index_free(idx);
}

int main(void)
{
    for (int a = 0; a < AIRPORTS; a++)
        fs_airport_parse(airport_names[a], 3, &airport[a]);
    for (int c = 0; c < CARRIERS; c++)
        fs_carrier_parse(carrier_names[c], 2, &carrier_code[c]);
    fs_currency_parse("USD", 3, &usd);
    char cerr[200];
    CHECK_EQ_INT(fs_cities_load(NULL, cerr, sizeof(cerr)), 0);
    check_parse();
    check_packed_criteria();
    check_wide_watch_restores();

    fs_index_t *idx = fs_index_new();
    static fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    fs_watches_t *ws = fs_watches_new(idx);
    CHECK(ws != NULL);
    fs_subscription_t *sub = fs_index_subscribe(idx, 64);
    static fs_leg_in_t upserts[64];
    uint64_t removes[64], after = 0;
    int published[SOURCES] = {0};
    unsigned resyncs = 0, bad_matching = 0;
    int lagging = 0;

    for (unsigned step = 0; step < STEPS; step++) {
        /* watches come and go */
        if (step < WATCHES || rnd(10) == 0) {
            unsigned w = step < WATCHES ? step : rnd(WATCHES);
            oracle_watch_t *o = &watches[w];
            if (o->id != 0)
                CHECK_EQ_INT(fs_watches_remove(ws, o->id, FS_WATCH_ANY_OWNER), 0);
            random_criteria(&o->c);
            if (o->set == NULL)
                o->set = malloc(MAX_MATCH * sizeof(match_t));
            uint64_t matching = 0;
            CHECK_EQ_INT(fs_watches_add(ws, &th, &o->c, FS_WATCH_ANY_OWNER, UINT_MAX, &o->id, &matching), 0);
            o->count = brute_force(&o->c, o->set);
            if (matching != o->count)
                bad_matching++;
        }
        int s = (int)rnd(SOURCES);
        const fs_generation_t *gen = fs_index_read_begin(idx, &th);
        const fs_segment_t *cur = fs_generation_source(gen, source_name[s]);
        fs_index_read_end(idx, &th);
        fs_change_set_t *cs = fs_change_set_new(source_name[s], fs_index_has_subscribers(idx));
        fs_segment_t *next;
        if (!published[s] || rnd(100) < 5) {
            fs_segment_builder_t *b = fs_segment_builder_new(source_name[s], step + 1, 1700000000);
            for (int k = 0; k < KEYS; k++) {
                model[s][k].present = 0;
                if (rnd(3) == 0) {
                    random_cabins(&model[s][k]);
                    model[s][k].dest = k_dest(k);
                    model[s][k].minute = k_minute(k);
                    fs_leg_in_t in = to_in(k, &model[s][k]);
                    CHECK_EQ_INT(fs_segment_builder_add(b, &in), 0);
                }
            }
            next = fs_segment_builder_finish(b, step);
            CHECK(next != NULL && fs_segment_diff(cur, next, cs) == 0);
        } else {
            size_t nu = 0, nr = 0;
            static char used[KEYS];
            memset(used, 0, sizeof(used));
            unsigned want_up = 1 + rnd(12), want_rm = rnd(4);
            for (unsigned i = 0; i < want_rm; i++) {
                int k = (int)rnd(KEYS);
                removes[nr++] = key_of(k);
                model[s][k].present = 0;
            }
            for (unsigned i = 0; i < want_up; i++) {
                int k = (int)rnd(KEYS);
                if (used[k])
                    continue;
                used[k] = 1;
                if (model[s][k].present && rnd(3) != 0) {
                    mutate(k, &model[s][k]);
                } else {
                    random_cabins(&model[s][k]);
                    model[s][k].dest = k_dest(k);
                    model[s][k].minute = k_minute(k);
                }
                upserts[nu++] = to_in(k, &model[s][k]);
            }
            uint64_t hits;
            int rc = 0;
            next = fs_segment_apply_delta(cur, source_name[s], step + 1, 1700000000, step, upserts, nu, removes, nr, cs,
                                          &hits, &rc);
            CHECK(next != NULL && rc == 0);
        }
        if (next == NULL)
            break;
        fs_publish_t p;
        CHECK_EQ_INT(fs_index_publish_prepare(idx, source_name[s], &p), 0);
        CHECK(fs_index_publish_commit_changes(idx, &th, &p, next, cs) > 0);
        published[s] = 1;

        fs_change_set_t *got_cs;
        uint64_t dropped;
        CHECK_EQ_INT(fs_subscription_next(sub, &got_cs, &dropped), 1);
        if (lagging || rnd(25) == 0) {
            /* as if this set were dropped (FS_ELAGGED follows): resynchronise now, or after one more
             * dropped publish, so that one event spans both */
            fs_change_set_release(got_cs);
            if (lagging || rnd(2)) {
                resyncs++;
                lagging = 0;
                CHECK_EQ_INT(fs_watches_resync(ws, &th), 0);
                check_events(ws, &after);
            } else {
                lagging = 1;
            }
            continue;
        }
        CHECK_EQ_INT(fs_watches_apply(ws, &th, got_cs), 0);
        fs_change_set_release(got_cs);
        check_events(ws, &after);
    }
    printf("%u events, %u changes (%u opened, %u closed, %u repriced; %u 1-stop), %u resyncs\n", events_seen, changes_seen,
           opened_seen, closed_seen, repriced_seen, one_stop_seen, resyncs);
    CHECK_EQ_INT(bad_events, 0);
    CHECK_EQ_INT(bad_parse, 0);
    CHECK_EQ_INT(bad_matching, 0);
    CHECK(events_seen > 100 && opened_seen > 50 && closed_seen > 50 && repriced_seen > 20 && one_stop_seen > 20 && resyncs > 2);

    /* the encoded watch states its criteria and its matching count */
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, NULL, 256);
    CHECK_EQ_INT(fs_watches_encode(ws, watches[0].id, FS_WATCH_ANY_OWNER, &e), 0);
    h2o_iovec_t doc = fs_enc_result(&e);
    char want[64];
    snprintf(want, sizeof(want), "\"matching\":%u", watches[0].count);
    CHECK(doc.base != NULL && h2o_strstr(doc.base, doc.len, want, strlen(want)) != SIZE_MAX);
    fs_enc_dispose(&e);
    CHECK_EQ_INT(fs_watches_remove(ws, watches[0].id, FS_WATCH_ANY_OWNER), 0);
    CHECK_EQ_INT(fs_watches_remove(ws, watches[0].id, FS_WATCH_ANY_OWNER), FS_ENOENT);
    CHECK_EQ_INT(fs_watches_count(ws), WATCHES - 1);

    /* durability: what a second engine restores from the first one's file, and a damaged file */
    char dir[] = "/tmp/fs-watch-test-XXXXXX", path[64], err[300];
    CHECK(mkdtemp(dir) != NULL);
    fs_watches_t *a = fs_watches_new(idx);
    CHECK_EQ_INT(fs_watches_restore(a, &th, dir, err, sizeof(err)), 0);
    uint64_t ids[3], matching[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(fs_watches_add(a, &th, &watches[i + 1].c, FS_WATCH_ANY_OWNER, UINT_MAX, &ids[i], &matching[i]), 0);
    CHECK_EQ_INT(fs_watches_remove(a, ids[1], FS_WATCH_ANY_OWNER), 0);
    /* an owner's watch: its quota holds, another owner does not see it, and it stays its owner's */
    uint32_t alpha = fs_watches_owner(a, "alpha"), beta = fs_watches_owner(a, "beta");
    uint64_t alpha_id, alpha_m, refused;
    CHECK(alpha != beta && alpha != 0 && alpha != FS_WATCH_ANY_OWNER && fs_watches_owner(a, "alpha") == alpha);
    CHECK_EQ_INT(fs_watches_add(a, &th, &watches[5].c, alpha, 1, &alpha_id, &alpha_m), 0);
    CHECK_EQ_INT(fs_watches_add(a, &th, &watches[6].c, alpha, 1, &refused, &alpha_m), FS_ENOSPC);
    CHECK(fs_watches_exists(a, alpha_id, alpha) && !fs_watches_exists(a, alpha_id, beta) && !fs_watches_exists(a, ids[0], alpha));
    CHECK_EQ_INT(fs_watches_remove(a, alpha_id, beta), FS_ENOENT);
    fs_watches_free(a);
    fs_watches_t *b = fs_watches_new(idx);
    CHECK_EQ_INT(fs_watches_restore(b, &th, dir, err, sizeof(err)), 3);
    alpha = fs_watches_owner(b, "alpha");
    CHECK(fs_watches_exists(b, alpha_id, alpha) && !fs_watches_exists(b, alpha_id, fs_watches_owner(b, "beta")));
    CHECK_EQ_INT(fs_watches_add(b, &th, &watches[6].c, alpha, 1, &refused, &alpha_m), FS_ENOSPC);
    CHECK(fs_watches_exists(b, ids[0], FS_WATCH_ANY_OWNER) && !fs_watches_exists(b, ids[1], FS_WATCH_ANY_OWNER) && fs_watches_exists(b, ids[2], FS_WATCH_ANY_OWNER));
    uint64_t next, m;
    CHECK_EQ_INT(fs_watches_add(b, &th, &watches[4].c, FS_WATCH_ANY_OWNER, UINT_MAX, &next, &m), 0);
    CHECK(next > ids[2]); /* ids are not reused */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 256);
    CHECK_EQ_INT(fs_watches_encode(b, ids[2], FS_WATCH_ANY_OWNER, &e), 0);
    doc = fs_enc_result(&e);
    snprintf(want, sizeof(want), "\"matching\":%llu", (unsigned long long)matching[2]);
    CHECK(doc.base != NULL && h2o_strstr(doc.base, doc.len, want, strlen(want)) != SIZE_MAX);
    fs_enc_dispose(&e);
    fs_watches_free(b);
    snprintf(path, sizeof(path), "%s/watches", dir);
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    fputs("watch 99 0 {\"origin\": [\"AAA\"]}\n", f); /* no destination */
    fclose(f);
    fs_watches_t *c = fs_watches_new(idx);
    CHECK_EQ_INT(fs_watches_restore(c, &th, dir, err, sizeof(err)), FS_EINVAL);
    CHECK(strstr(err, "line 6") != NULL && strstr(err, "destination") != NULL);
    CHECK_EQ_INT(fs_watches_count(c), 0);
    fs_watches_free(c);
    unlink(path);
    rmdir(dir);

    fs_index_unsubscribe(idx, sub);
    fs_watches_free(ws);
    for (unsigned w = 0; w < WATCHES; w++)
        free(watches[w].set);
    fs_index_free(idx);
    TEST_DONE();
}
