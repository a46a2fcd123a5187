/*
 * Deltas and change sets against a brute-force model. Thousands of random snapshots and deltas
 * (adds, removes, seat and price changes, legs that move to another destination or minute,
 * same-key upserts, removes of absent legs, empty deltas) over three sources; after each publish:
 *   - every route's search and calendar for that source equal what the model computes by
 *     scanning all its legs;
 *   - the change set equals the model's diff of its previous and next state, cabin by cabin
 *     (counts and every entry);
 * and now and then the source is compacted (flattened), which must change nothing.
 * The model is a plain array indexed by key number ((carrier, flight, origin, day) in mixed radix); nothing in it comes from the index.
 */
#include <stdlib.h>
#include <string.h>
#include "index/index.h"
#include "tests/test.h"

#define SOURCES 3
#define AIRPORTS 4
#define CARRIERS 2
#define FLIGHTS 6
#define DAYS 5
#define DAY0 20000
#define KEYS (CARRIERS * FLIGHTS * AIRPORTS * DAYS)
#define STEPS 3000

typedef struct mleg {
    int present;
    int carrier, flight, origin, day; /* the key */
    int destination;
    unsigned minute;
    unsigned mask;
    unsigned seats[FS_CABIN_COUNT], miles[FS_CABIN_COUNT], taxes[FS_CABIN_COUNT];
} mleg_t;

static mleg_t model[SOURCES][KEYS];
static fs_airport_t airport[AIRPORTS];
static fs_carrier_t carrier_code[CARRIERS];
static fs_currency_t usd;
static const char *source_name[SOURCES] = {"alpha", "beta", "gamma"};
static uint64_t rng = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void key_parts(int id, mleg_t *l)
{
    l->day = id % DAYS;
    id /= DAYS;
    l->origin = id % AIRPORTS;
    id /= AIRPORTS;
    l->flight = id % FLIGHTS + 1;
    l->carrier = id / FLIGHTS;
}

static uint64_t key_of(const mleg_t *l)
{
    return fs_leg_key(carrier_code[l->carrier], (uint16_t)l->flight, airport[l->origin], DAY0 + l->day);
}

static const unsigned minutes[] = {60, 300, 600, 900};
static const unsigned miles_levels[] = {10000, 12000, 15000};
static const unsigned taxes_levels[] = {100, 250};

static void random_cabins(mleg_t *l)
{
    l->mask = 1 + rnd(15);
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        l->seats[c] = (l->mask & (1u << c)) ? rnd(4) : 0;
        l->miles[c] = (l->mask & (1u << c)) ? miles_levels[rnd(3)] : 0;
        l->taxes[c] = (l->mask & (1u << c)) ? taxes_levels[rnd(2)] : 0;
    }
}

static mleg_t random_leg(int id)
{
    mleg_t l;
    memset(&l, 0, sizeof(l));
    key_parts(id, &l);
    l.present = 1;
    l.destination = (l.origin + 1 + (int)rnd(AIRPORTS - 1)) % AIRPORTS;
    l.minute = minutes[rnd(4)];
    random_cabins(&l);
    return l;
}

/* An upsert of an existing leg: one attribute changed (or none: a same-key upsert). */
static mleg_t mutate(const mleg_t *old)
{
    mleg_t l = *old;
    int c = (int)rnd(FS_CABIN_COUNT);
    switch (rnd(7)) {
    case 0: /* seats */
        if (l.mask & (1u << c))
            l.seats[c] = rnd(4);
        break;
    case 1: /* price */
        if (l.mask & (1u << c)) {
            l.miles[c] = miles_levels[rnd(3)];
            l.taxes[c] = taxes_levels[rnd(2)];
        }
        break;
    case 2: /* the cabin appears or disappears */
        l.mask ^= 1u << c;
        if (l.mask == 0)
            l.mask = 1u << c;
        if (l.mask & (1u << c)) {
            l.seats[c] = rnd(4);
            l.miles[c] = miles_levels[rnd(3)];
            l.taxes[c] = taxes_levels[rnd(2)];
        } else {
            l.seats[c] = l.miles[c] = l.taxes[c] = 0;
        }
        break;
    case 3: /* another minute */
        l.minute = minutes[rnd(4)];
        break;
    case 4: /* another destination: the leg moves route */
        l.destination = (l.origin + 1 + (int)rnd(AIRPORTS - 1)) % AIRPORTS;
        break;
    case 5:
        random_cabins(&l);
        break;
    default: /* the same leg again */
        break;
    }
    return l;
}

static fs_leg_in_t to_in(const mleg_t *l)
{
    fs_leg_in_t in;
    memset(&in, 0, sizeof(in));
    in.carrier = carrier_code[l->carrier];
    in.flight = (uint16_t)l->flight;
    in.origin = airport[l->origin];
    in.destination = airport[l->destination];
    in.departs = (fs_localtime_t){DAY0 + l->day, (uint16_t)l->minute, 0};
    in.arrives = (fs_localtime_t){DAY0 + l->day, (uint16_t)(l->minute + 90), 0};
    in.cabin_mask = (uint8_t)l->mask;
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        in.seats[c] = (uint8_t)l->seats[c];
        in.fare[c] = (fs_fare_t){l->miles[c], l->taxes[c], usd};
    }
    in.last_seen = 1700000000;
    return in;
}

/* ------------------------------------------------------------ the model's diff */

static fs_change_t expected[KEYS];
static size_t expected_count;
static fs_change_counts_t expected_counts;

static int is_open(const mleg_t *l, int c)
{
    return l->present && (l->mask & (1u << c)) && l->seats[c] >= 1;
}

static void model_diff(const mleg_t *before, const mleg_t *after)
{
    expected_count = 0;
    memset(&expected_counts, 0, sizeof(expected_counts));
    for (int k = 0; k < KEYS; k++) {
        const mleg_t *o = &before[k], *n = &after[k];
        if (!o->present && !n->present)
            continue;
        fs_change_t ch;
        memset(&ch, 0, sizeof(ch));
        ch.key = key_of(n->present ? n : o);
        ch.destination = airport[n->present ? n->destination : o->destination];
        ch.old_destination = airport[o->present ? o->destination : n->destination];
        ch.added = !o->present;
        ch.removed = !n->present;
        /* the model's legs keep their offsets and duration; destination and minute may change */
        ch.moved = o->present && n->present && (o->destination != n->destination || o->minute != n->minute);
        for (int c = 0; c < FS_CABIN_COUNT; c++) {
            int op = o->present && (o->mask & (1u << c)), np = n->present && (n->mask & (1u << c));
            ch.old_seats[c] = op ? (uint8_t)o->seats[c] : 0;
            ch.new_seats[c] = np ? (uint8_t)n->seats[c] : 0;
            ch.old_miles[c] = op ? o->miles[c] : 0;
            ch.new_miles[c] = np ? n->miles[c] : 0;
            if (!is_open(o, c) && is_open(n, c))
                ch.opened |= (uint8_t)(1u << c), expected_counts.opened++;
            if (is_open(o, c) && !is_open(n, c))
                ch.closed |= (uint8_t)(1u << c), expected_counts.closed++;
            if (is_open(o, c) && is_open(n, c) && o->seats[c] != n->seats[c])
                ch.seats |= (uint8_t)(1u << c), expected_counts.seats++;
            if (op && np && (o->miles[c] != n->miles[c] || o->taxes[c] != n->taxes[c]))
                ch.repriced |= (uint8_t)(1u << c), expected_counts.repriced++;
        }
        expected_counts.added += ch.added;
        expected_counts.removed += ch.removed;
        if (ch.added || ch.removed || ch.moved || ch.opened || ch.closed || ch.seats || ch.repriced)
            expected[expected_count++] = ch;
    }
}

static int change_cmp(const void *pa, const void *pb)
{
    const fs_change_t *a = pa, *b = pb;
    return a->key < b->key ? -1 : a->key > b->key;
}

static unsigned bad_changes, bad_searches, bad_calendars, bad_flatten;

static void check_changes(fs_change_set_t *cs)
{
    if (memcmp(&cs->counts, &expected_counts, sizeof(expected_counts)) != 0 || cs->entry_count != expected_count) {
        if (bad_changes++ < 5)
            fprintf(stderr, "change counts: got o%llu c%llu s%llu r%llu a%llu d%llu (%zu entries), model o%llu c%llu s%llu r%llu a%llu d%llu (%zu)\n",
                    (unsigned long long)cs->counts.opened, (unsigned long long)cs->counts.closed,
                    (unsigned long long)cs->counts.seats, (unsigned long long)cs->counts.repriced,
                    (unsigned long long)cs->counts.added, (unsigned long long)cs->counts.removed, cs->entry_count,
                    (unsigned long long)expected_counts.opened, (unsigned long long)expected_counts.closed,
                    (unsigned long long)expected_counts.seats, (unsigned long long)expected_counts.repriced,
                    (unsigned long long)expected_counts.added, (unsigned long long)expected_counts.removed, expected_count);
        return;
    }
    if (expected_count == 0)
        return;
    qsort(cs->entries, cs->entry_count, sizeof(fs_change_t), change_cmp);
    qsort(expected, expected_count, sizeof(fs_change_t), change_cmp);
    for (size_t i = 0; i < expected_count; i++) {
        const fs_change_t *g = &cs->entries[i], *e = &expected[i];
        if (g->key != e->key || g->destination != e->destination || g->old_destination != e->old_destination ||
            g->moved != e->moved || g->added != e->added || g->removed != e->removed ||
            g->opened != e->opened || g->closed != e->closed || g->seats != e->seats || g->repriced != e->repriced ||
            memcmp(g->old_seats, e->old_seats, sizeof(e->old_seats)) != 0 ||
            memcmp(g->new_seats, e->new_seats, sizeof(e->new_seats)) != 0 ||
            memcmp(g->old_miles, e->old_miles, sizeof(e->old_miles)) != 0 ||
            memcmp(g->new_miles, e->new_miles, sizeof(e->new_miles)) != 0) {
            if (bad_changes++ < 5)
                fprintf(stderr, "change entry %zu differs (key %llx)\n", i, (unsigned long long)e->key);
            return;
        }
    }
}

/* ------------------------------------------------------------ searches */

typedef struct hit {
    uint64_t key;
    unsigned cabin, seats, miles;
} hit_t;

static int hit_cmp(const void *pa, const void *pb)
{
    const hit_t *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->cabin < b->cabin ? -1 : a->cabin > b->cabin;
}

static fs_result_t results[FS_SEARCH_MAX_LIMIT];
static fs_calendar_cell_t cells[DAYS * FS_CABIN_COUNT];

/* The route table of source s against the model: each route's count, first and last days and
 * sole carrier (explore answers from these alone), after snapshots, deltas and compactions. */
static unsigned bad_route_tables;

static void check_route_table(const fs_segment_t *seg, int s)
{
    unsigned count[AIRPORTS][AIRPORTS] = {{0}};
    int first[AIRPORTS][AIRPORTS], last[AIRPORTS][AIRPORTS], carrier[AIRPORTS][AIRPORTS];
    for (int k = 0; k < KEYS; k++) {
        const mleg_t *l = &model[s][k];
        if (!l->present)
            continue;
        int o = l->origin, d = l->destination;
        if (count[o][d]++ == 0) {
            first[o][d] = last[o][d] = l->day;
            carrier[o][d] = (int)carrier_code[l->carrier];
        }
        first[o][d] = l->day < first[o][d] ? l->day : first[o][d];
        last[o][d] = l->day > last[o][d] ? l->day : last[o][d];
        if (carrier[o][d] != (int)carrier_code[l->carrier])
            carrier[o][d] = FS_ROUTE_CARRIERS_MIXED;
    }
    unsigned routes = 0;
    for (int o = 0; o < AIRPORTS; o++)
        for (int d = 0; d < AIRPORTS; d++) {
            if (count[o][d] == 0)
                continue;
            routes++;
            const fs_route_t *r = seg != NULL ? fs_segment_route(seg, airport[o], airport[d]) : NULL;
            if (r == NULL || r->count != count[o][d] || r->first_day != DAY0 + first[o][d] || r->last_day != DAY0 + last[o][d] ||
                r->carrier != carrier[o][d])
                bad_route_tables++;
        }
    if ((seg != NULL ? seg->route_count : 0) != routes)
        bad_route_tables++;
}

/* Explore from every airport over source s with one carrier asked (routes one carrier flies are
 * answered from the route table), nonstop and with max_stops=1, against the model. */
static void check_explore(const fs_generation_t *gen, int s)
{
    static fs_route_summary_t out[FS_AIRPORT_COUNT];
    int want_carrier = (int)rnd(CARRIERS), max_stops = (int)rnd(2);
    unsigned count[AIRPORTS][AIRPORTS] = {{0}};
    int first[AIRPORTS][AIRPORTS], last[AIRPORTS][AIRPORTS];
    for (int k = 0; k < KEYS; k++) {
        const mleg_t *l = &model[s][k];
        if (!l->present || l->carrier != want_carrier)
            continue;
        int o = l->origin, d = l->destination;
        if (count[o][d]++ == 0)
            first[o][d] = last[o][d] = l->day;
        first[o][d] = l->day < first[o][d] ? l->day : first[o][d];
        last[o][d] = l->day > last[o][d] ? l->day : last[o][d];
    }
    fs_search_query_t f;
    fs_search_query_init(&f);
    f.start_day = 0;
    f.end_day = UINT16_MAX;
    f.carriers[0] = carrier_code[want_carrier];
    f.carrier_count = 1;
    snprintf(f.sources[0], sizeof(f.sources[0]), "%s", source_name[s]);
    f.source_count = 1;
    f.max_stops = (unsigned)max_stops;
    for (int o = 0; o < AIRPORTS; o++) {
        int n = fs_routes_from(gen, airport[o], &f, out, FS_AIRPORT_COUNT), expected_n = 0;
        for (int d = 0; d < AIRPORTS; d++) {
            unsigned legs = count[o][d];
            int stops = 0, fd = 0, ld = 0;
            if (legs > 0) {
                fd = first[o][d];
                ld = last[o][d];
            } else {
                stops = -1;
                for (int x = 0; x < AIRPORTS && max_stops == 1 && d != o; x++) {
                    if (x == o || count[o][x] == 0 || count[x][d] == 0)
                        continue;
                    fd = stops < 0 || first[x][d] < fd ? first[x][d] : fd;
                    ld = stops < 0 || last[x][d] > ld ? last[x][d] : ld;
                    stops = 1;
                }
                if (stops < 0)
                    continue;
            }
            expected_n++;
            int found = 0;
            for (int k = 0; k < n; k++)
                if (out[k].destination == airport[d]) {
                    found = 1;
                    if (out[k].stops != stops || out[k].legs != legs || out[k].first_day != DAY0 + fd ||
                        out[k].last_day != DAY0 + ld)
                        bad_route_tables++;
                }
            if (!found)
                bad_route_tables++;
        }
        if (n != expected_n)
            bad_route_tables++;
    }
}

static void check_routes(const fs_generation_t *gen, int s)
{
    for (int o = 0; o < AIRPORTS; o++)
        for (int d = 0; d < AIRPORTS; d++) {
            if (o == d)
                continue;
            fs_search_query_t q;
            fs_search_query_init(&q);
            q.origins[0] = airport[o];
            q.origin_count = 1;
            q.destinations[0] = airport[d];
            q.destination_count = 1;
            q.start_day = DAY0;
            q.end_day = DAY0 + DAYS - 1;
            snprintf(q.sources[0], sizeof(q.sources[0]), "%s", source_name[s]);
            q.source_count = 1;
            q.limit = FS_SEARCH_MAX_LIMIT;
            fs_search_result_t res;
            hit_t got[KEYS * FS_CABIN_COUNT], want[KEYS * FS_CABIN_COUNT];
            size_t ng = 0, nw = 0;
            if (fs_search(gen, &q, results, &res) != 0) {
                bad_searches++;
                continue;
            }
            for (unsigned i = 0; i < res.count && ng < KEYS * FS_CABIN_COUNT; i++) {
                const fs_leg_t *l = results[i].leg;
                got[ng++] = (hit_t){fs_leg_key(l->carrier, l->flight, l->origin, l->day), results[i].leg_cabin[0],
                                    results[i].seats, results[i].miles};
            }
            /* the model: every leg of this route, every open cabin; and the calendar cells */
            uint32_t cnt[DAYS][FS_CABIN_COUNT] = {{0}}, min_miles[DAYS][FS_CABIN_COUNT] = {{0}},
                     max_seats[DAYS][FS_CABIN_COUNT] = {{0}};
            for (int k = 0; k < KEYS; k++) {
                const mleg_t *l = &model[s][k];
                if (!l->present || l->origin != o || l->destination != d)
                    continue;
                for (int c = 0; c < FS_CABIN_COUNT; c++) {
                    if (!is_open(l, c))
                        continue;
                    want[nw++] = (hit_t){key_of(l), (unsigned)c, l->seats[c], l->miles[c]};
                    if (cnt[l->day][c] == 0 || l->miles[c] < min_miles[l->day][c])
                        min_miles[l->day][c] = l->miles[c];
                    if (l->seats[c] > max_seats[l->day][c])
                        max_seats[l->day][c] = l->seats[c];
                    cnt[l->day][c]++;
                }
            }
            qsort(got, ng, sizeof(hit_t), hit_cmp);
            qsort(want, nw, sizeof(hit_t), hit_cmp);
            if (ng != nw || res.total != nw || memcmp(got, want, nw * sizeof(hit_t)) != 0) {
                if (bad_searches++ < 5)
                    fprintf(stderr, "search %s %d->%d: %zu results (total %llu), model %zu\n", source_name[s], o, d, ng,
                            (unsigned long long)res.total, nw);
            }
            memset(cells, 0, sizeof(cells));
            if (fs_calendar(gen, &q, cells) != 0) {
                bad_calendars++;
                continue;
            }
            for (int day = 0; day < DAYS; day++)
                for (int c = 0; c < FS_CABIN_COUNT; c++) {
                    const fs_calendar_cell_t *cell = &cells[day * FS_CABIN_COUNT + c];
                    if (cell->count != cnt[day][c] ||
                        (cnt[day][c] > 0 && (cell->min_miles != min_miles[day][c] || cell->max_seats != max_seats[day][c]))) {
                        if (bad_calendars++ < 5)
                            fprintf(stderr, "calendar %s %d->%d day %d cabin %d: count %u model %u\n", source_name[s], o, d,
                                    day, c, cell->count, cnt[day][c]);
                    }
                }
        }
}

/* ------------------------------------------------------------ the run */

int main(void)
{
    fs_airport_parse("AAA", 3, &airport[0]);
    fs_airport_parse("BBB", 3, &airport[1]);
    fs_airport_parse("CCC", 3, &airport[2]);
    fs_airport_parse("DDD", 3, &airport[3]);
    fs_carrier_parse("AA", 2, &carrier_code[0]);
    fs_carrier_parse("BB", 2, &carrier_code[1]);
    fs_currency_parse("USD", 3, &usd);
    fs_index_t *idx = fs_index_new();
    static fs_index_thread_t th;
    fs_index_thread_register(idx, &th);
    static mleg_t before[KEYS];
    static fs_leg_in_t upserts[64];
    uint64_t removes[64];
    int published[SOURCES] = {0};
    unsigned snapshots = 0, deltas = 0, flattens = 0, whole_seen = 0, shared_seen = 0, large = 0;

    for (unsigned step = 0; step < STEPS; step++) {
        int s = (int)rnd(SOURCES);
        memcpy(before, model[s], sizeof(before));
        const fs_generation_t *gen = fs_index_read_begin(idx, &th);
        const fs_segment_t *cur = fs_generation_source(gen, source_name[s]);
        fs_index_read_end(idx, &th); /* this thread is the only writer: cur stays */
        fs_change_set_t *cs = fs_change_set_new(source_name[s], 1);
        fs_segment_t *next = NULL;
        if (!published[s] || rnd(100) < 8) {
            /* a snapshot: about half the keys, fresh */
            fs_segment_builder_t *b = fs_segment_builder_new(source_name[s], step + 1, 1700000000);
            for (int k = 0; k < KEYS; k++) {
                model[s][k].present = 0;
                if (rnd(2)) {
                    model[s][k] = random_leg(k);
                    fs_leg_in_t in = to_in(&model[s][k]);
                    CHECK_EQ_INT(fs_segment_builder_add(b, &in), 0);
                }
            }
            next = fs_segment_builder_finish(b, step);
            CHECK(next != NULL && fs_segment_diff(cur, next, cs) == 0);
            snapshots++;
        } else if (rnd(100) < 4 && cur != NULL) {
            /* compaction: the same state in one block; nothing may change */
            next = fs_segment_flatten(cur);
            CHECK(next != NULL && fs_segment_diff(cur, next, cs) == 0);
            flattens++;
            if (cs->entry_count != 0)
                bad_flatten++;
        } else {
            /* a delta: upserts of new and existing keys, removes of present and absent ones */
            size_t nu = 0, nr = 0;
            unsigned want_up = rnd(9), want_rm = rnd(5);
            if (rnd(20) == 0)
                want_up = want_rm = 0; /* an empty delta */
            if (rnd(40) == 0)
                want_up = 60; /* a large one: the whole-source path */
            static char used[KEYS];
            memset(used, 0, sizeof(used));
            for (unsigned i = 0; i < want_rm; i++) {
                int k = (int)rnd(KEYS);
                mleg_t l;
                key_parts(k, &l);
                removes[nr++] = key_of(&l);
                model[s][k].present = 0;
            }
            for (unsigned i = 0; i < want_up && nu < 64; i++) {
                int k = (int)rnd(KEYS);
                if (used[k])
                    continue; /* keys are unique among a delta's upserts */
                used[k] = 1;
                mleg_t l = before[k].present && rnd(4) != 0 ? mutate(&before[k]) : random_leg(k);
                model[s][k] = l;
                upserts[nu++] = to_in(&l);
            }
            uint64_t hits = 0;
            int rc = 0;
            next = fs_segment_apply_delta(cur, source_name[s], step + 1, 1700000000, step, upserts, nu, removes, nr, cs,
                                          &hits, &rc);
            CHECK(next != NULL && rc == 0);
            int shares = 0; /* the incremental path shares blocks with its base (unless it drained them all) */
            for (unsigned i = 0; next != NULL && cur != NULL && i < next->block_count; i++)
                for (unsigned j = 0; j < cur->block_count; j++)
                    shares |= next->blocks[i] == cur->blocks[j];
            shared_seen += shares;
            /* over a quarter of the source's ~120 legs: rebuilt whole (index.h), sharing nothing */
            if (want_up == 60 && next != NULL && cur != NULL) {
                large++;
                whole_seen += !shares;
            }
            deltas++;
        }
        if (next == NULL)
            break;
        model_diff(before, model[s]);
        check_changes(cs);
        fs_change_set_release(cs);
        CHECK(fs_index_publish_segment(idx, &th, next) > 0);
        published[s] = 1;
        gen = fs_index_read_begin(idx, &th);
        check_routes(gen, s);
        check_route_table(fs_generation_source(gen, source_name[s]), s);
        check_explore(gen, s);
        fs_index_read_end(idx, &th);
    }
    printf("%u snapshots, %u deltas (%u sharing blocks with their base, %u large, %u of them rebuilt whole), %u compactions\n",
           snapshots, deltas, shared_seen, large, whole_seen, flattens);
    CHECK_EQ_INT(bad_changes, 0);
    CHECK_EQ_INT(bad_searches, 0);
    CHECK_EQ_INT(bad_calendars, 0);
    CHECK_EQ_INT(bad_flatten, 0);
    CHECK_EQ_INT(bad_route_tables, 0);
    CHECK(deltas > STEPS / 2 && snapshots > 10 && flattens > 10 && shared_seen > STEPS / 5 && large > 10);
    CHECK_EQ_INT(whole_seen, large);

    /* a subscriber that does not drain: its ring holds what it can, the rest is dropped and told
     * as one gap after the sets it did get; publishing never waited */
    fs_subscription_t *sub = fs_index_subscribe(idx, 4); /* a ring of 8 holds 7 */
    CHECK(sub != NULL);
    for (unsigned i = 0; i < 20; i++) {
        const fs_generation_t *gen = fs_index_read_begin(idx, &th);
        const fs_segment_t *cur = fs_generation_source(gen, "alpha");
        fs_index_read_end(idx, &th);
        fs_change_set_t *cs = fs_change_set_new("alpha", 0);
        fs_publish_t p;
        CHECK_EQ_INT(fs_index_publish_prepare(idx, "alpha", &p), 0);
        CHECK(fs_index_publish_commit_changes(idx, &th, &p, fs_segment_flatten(cur), cs) > 0);
    }
    fs_change_set_t *got;
    uint64_t dropped = 0, last = 0;
    unsigned received = 0;
    int r;
    while ((r = fs_subscription_next(sub, &got, &dropped)) == 1) {
        CHECK(got->generation > last);
        last = got->generation;
        received++;
        fs_change_set_release(got);
    }
    CHECK_EQ_INT(r, FS_ELAGGED);
    CHECK_EQ_INT(received, 7);
    CHECK_EQ_INT(dropped, 13);
    CHECK_EQ_INT(fs_subscription_next(sub, &got, &dropped), 0); /* told once; nothing more */

    /* retiring a source: its change set removes every leg the model holds and closes every open
     * cabin, and reaches the subscriber */
    uint64_t want_removed = 0, want_closed = 0;
    for (int k = 0; k < KEYS; k++)
        if (model[1][k].present) {
            want_removed++;
            for (int c = 0; c < FS_CABIN_COUNT; c++)
                want_closed += (unsigned)is_open(&model[1][k], c);
        }
    const fs_generation_t *gen = fs_index_read_begin(idx, &th);
    const fs_segment_t *beta = fs_generation_source(gen, "beta");
    fs_index_read_end(idx, &th);
    fs_change_set_t *cs = fs_change_set_new("beta", 1);
    CHECK(beta != NULL && fs_segment_diff(beta, NULL, cs) == 0);
    CHECK(fs_index_retire_source_changes(idx, &th, "beta", cs) > 0);
    CHECK_EQ_INT(fs_subscription_next(sub, &got, &dropped), 1);
    CHECK_EQ_INT(got->counts.removed, want_removed);
    CHECK_EQ_INT(got->counts.closed, want_closed);
    CHECK_EQ_INT(got->counts.added + got->counts.opened + got->counts.seats + got->counts.repriced, 0);
    fs_change_set_release(got);
    fs_index_unsubscribe(idx, sub);
    fs_index_free(idx);
    TEST_DONE();
}
