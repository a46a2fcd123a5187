/*
 * The segment builder's order: legs sorted by (origin, destination, day, dep_minute, carrier,
 * flight), checked against a qsort written here. The hard case is a long run of legs that tie on
 * everything but (carrier, flight): 200,000 of them on one route, day and minute, added in
 * descending (carrier, flight) order. The builder once put tie runs in order by insertion sort,
 * quadratic in the run: this input pinned a loader thread for minutes (ctest's TIMEOUT for this
 * test, tests/CMakeLists.txt, is what fails then; it takes well under a second now).
 *
 * And the fare table after repricing: a delta (a builder seeded from its base with
 * fs_segment_builder_add_segment, plus the legs it replaces) must keep exactly the fares its legs
 * use, each leg pointing at its own price. Once, every delta kept all of its base's fares, so a
 * source that repriced often ran into FS_MAX_FARES_PER_SEGMENT.
 */
#include <stdlib.h>
#include "index/index.h"
#include "tests/test.h"

#define TIES 200000

typedef struct tkey {
    unsigned origin, destination, day, minute, carrier, flight;
} tkey_t;

static int tkey_cmp(const void *pa, const void *pb)
{
    const tkey_t *a = pa, *b = pb;
    const unsigned ka[6] = {a->origin, a->destination, a->day, a->minute, a->carrier, a->flight};
    const unsigned kb[6] = {b->origin, b->destination, b->day, b->minute, b->carrier, b->flight};
    for (int i = 0; i < 6; i++)
        if (ka[i] != kb[i])
            return ka[i] < kb[i] ? -1 : 1;
    return 0;
}

static fs_leg_in_t make_leg(fs_airport_t o, fs_airport_t d, int32_t day, unsigned minute, unsigned carrier, unsigned flight)
{
    fs_leg_in_t l = {0};
    l.carrier = (fs_carrier_t)carrier;
    l.flight = (uint16_t)flight;
    l.origin = o;
    l.destination = d;
    l.departs = (fs_localtime_t){day, (uint16_t)minute, 0};
    l.arrives = (fs_localtime_t){day, (uint16_t)(minute + 60 > 1439 ? 1439 : minute + 60), 0};
    l.cabin_mask = 1;
    l.seats[0] = 1;
    l.fare[0] = (fs_fare_t){10000, 100, 0};
    l.last_seen = 1700000000;
    return l;
}

/* Adds n legs described by keys (in the order given), finishes the segment and compares its leg
 * order with the keys sorted here. */
static void check_order(tkey_t *keys, size_t n)
{
    fs_segment_builder_t *b = fs_segment_builder_new("ties", 1, 1700000000);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        fs_leg_in_t l = make_leg((fs_airport_t)keys[i].origin, (fs_airport_t)keys[i].destination, (int32_t)keys[i].day,
                                 keys[i].minute, keys[i].carrier, keys[i].flight);
        if (fs_segment_builder_add(b, &l) != 0) {
            CHECK(!"add a leg");
            fs_segment_builder_free(b);
            return;
        }
    }
    fs_segment_t *seg = fs_segment_builder_finish(b, 0);
    CHECK(seg != NULL);
    if (seg == NULL)
        return;
    qsort(keys, n, sizeof(*keys), tkey_cmp);
    CHECK_EQ_INT(seg->leg_count, n);
    size_t wrong = 0;
    for (size_t i = 0; i < n && i < seg->leg_count; i++) {
        const fs_leg_t *l = fs_segment_leg_at(seg, (uint32_t)i);
        tkey_t got = {l->origin, l->destination, l->day, l->dep_minute, l->carrier, l->flight};
        if (tkey_cmp(&got, &keys[i]) != 0)
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    fs_segment_free(seg);
}

#define FARE_LEGS 100
#define REPRICED 10
#define DELTAS 200

static unsigned skip_from, skip_to; /* flights replaced by the delta being built */
static int skip_repriced(void *arg, const fs_leg_t *l)
{
    (void)arg;
    return l->flight >= skip_from && l->flight < skip_to;
}

static void check_fares_after_deltas(void)
{
    unsigned model_miles[FARE_LEGS + 1]; /* by flight 1..FARE_LEGS: the economy miles it costs now */
    fs_segment_builder_t *b = fs_segment_builder_new("fares", 1, 1700000000);
    for (unsigned f = 1; f <= FARE_LEGS; f++) {
        model_miles[f] = 1000 + f % 7; /* 7 distinct fares shared by many legs */
        fs_leg_in_t l = make_leg(100, 200, 20000, f, 0, f);
        l.fare[0].miles = model_miles[f];
        CHECK(fs_segment_builder_add(b, &l) == 0);
    }
    fs_segment_t *cur = fs_segment_builder_finish(b, 0);
    unsigned bad_count = 0, bad_price = 0;
    for (unsigned d = 0; d < DELTAS && cur != NULL; d++) {
        skip_from = 1 + (d * REPRICED) % FARE_LEGS;
        skip_to = skip_from + REPRICED;
        b = fs_segment_builder_new("fares", d + 2, 1700000000);
        CHECK(fs_segment_builder_add_segment(b, cur, skip_repriced, NULL) == 0);
        for (unsigned f = skip_from; f < skip_to; f++) {
            model_miles[f] = 50000 + d * REPRICED + (f - skip_from); /* a price never seen before */
            fs_leg_in_t l = make_leg(100, 200, 20000, f, 0, f);
            l.fare[0].miles = model_miles[f];
            CHECK(fs_segment_builder_add(b, &l) == 0);
        }
        fs_segment_free(cur);
        cur = fs_segment_builder_finish(b, 0);
        if (cur == NULL)
            break;
        /* the distinct prices in use, counted from the model */
        unsigned distinct = 0;
        for (unsigned f = 1; f <= FARE_LEGS; f++) {
            unsigned g = 1;
            while (g < f && model_miles[g] != model_miles[f])
                g++;
            distinct += g == f;
        }
        if (cur->fare_count != distinct)
            bad_count++;
        for (uint32_t i = 0; i < cur->leg_count; i++) {
            const fs_leg_t *l = fs_segment_leg_at(cur, i);
            uint32_t fare = FS_CABIN_FARE(l->cabin[0]);
            if (fare >= cur->fare_count || cur->fares[fare].miles != model_miles[l->flight])
                bad_price++;
        }
    }
    CHECK(cur != NULL);
    CHECK_EQ_INT(bad_count, 0);
    CHECK_EQ_INT(bad_price, 0);
    if (cur != NULL)
        fs_segment_free(cur);
}

int main(void)
{
    check_fares_after_deltas();

    /* one route, one day, one minute: 200,000 legs in descending (carrier, flight) order */
    tkey_t *keys = malloc(TIES * sizeof(*keys));
    CHECK(keys != NULL);
    if (keys == NULL)
        TEST_DONE();
    for (size_t i = 0; i < TIES; i++) {
        size_t k = TIES - 1 - i;
        keys[i] = (tkey_t){100, 200, 20000, 600, (unsigned)(k / 9999), (unsigned)(k % 9999) + 1};
    }
    check_order(keys, TIES);

    /* random routes, days and minutes over a few values, so that tie runs of every length occur;
     * (carrier, flight) is unique per leg, so every leg's key is too */
    unsigned long long rng = 0x9e3779b97f4a7c15ull;
    size_t n = TIES;
    for (size_t i = 0; i < n; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        keys[i] = (tkey_t){100 + (unsigned)(rng % 3), 200 + (unsigned)(rng >> 8) % 3, 20000 + (unsigned)(rng >> 16) % 4,
                           (unsigned)(rng >> 24) % 3 * 5, (unsigned)(i / 9999), (unsigned)(i % 9999) + 1};
    }
    for (size_t i = n; i > 1; i--) { /* shuffle */
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t j = rng % i;
        tkey_t t = keys[i - 1];
        keys[i - 1] = keys[j];
        keys[j] = t;
    }
    check_order(keys, n);
    free(keys);
    TEST_DONE();
}
