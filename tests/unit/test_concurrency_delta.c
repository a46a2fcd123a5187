/*
 * Searches on several threads while one writer publishes thousands of deltas (fs_segment_apply_delta,
 * so successive segments share route arrays and blocks, and reclaiming one frees only what no
 * later segment shares). Delta s sets miles = 1000 + s and last_seen = s on the legs it touches,
 * a set the reader can recompute from s alone (touched(s, leg)), spread over every route; so in
 * the segment of sequence s every leg must carry the sequence of the last delta that touched it,
 * or the reader saw half of a delta (or freed memory: TSan and ASan see that). A subscriber
 * thread drains change sets meanwhile and checks they arrive in publish order (or as a gap).
 * Readers never wait: they only enter and leave read sections.
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "index/index.h"
#include "tests/test.h"

#define READERS 2
#define DELTAS 600
#define ROUTES 8
#define FLIGHTS 40
#define DAY0 20800

static fs_index_t *idx;
static int done;
static unsigned long reads[READERS], bad[READERS];
static fs_airport_t airports[ROUTES + 1];

/* Whether delta s touches flight f of route r. Delta s touches about a tenth of the legs. */
static int touched(uint64_t s, unsigned r, unsigned f)
{
    return ((s * 31 + r * 7 + f * 13) % 10) == 0;
}

/* The sequence of the last delta at or before s that touched (r, f); 1 (the snapshot) if none. */
static uint64_t last_touch(uint64_t s, unsigned r, unsigned f)
{
    for (uint64_t t = s; t >= 2; t--)
        if (touched(t, r, f))
            return t;
    return 1;
}

static fs_leg_in_t leg(unsigned r, unsigned f, uint64_t version)
{
    fs_leg_in_t in;
    memset(&in, 0, sizeof(in));
    fs_carrier_parse("TP", 2, &in.carrier);
    in.flight = (uint16_t)(r * FLIGHTS + f + 1); /* keys (carrier, flight, origin, day) unique */
    in.origin = airports[0];
    in.destination = airports[r + 1];
    in.departs = (fs_localtime_t){DAY0, (uint16_t)(20 * f), 0};
    in.arrives = (fs_localtime_t){DAY0, (uint16_t)(20 * f + 300), 0};
    in.cabin_mask = 1;
    in.seats[0] = 9;
    in.fare[0] = (fs_fare_t){(uint32_t)(1000 + version), 100, 0};
    in.last_seen = (int64_t)version;
    return in;
}

static void *reader_main(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    fs_index_thread_t *th = fs_index_thread_get(idx);
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        const fs_generation_t *gen = fs_index_read_begin(idx, th);
        const fs_segment_t *seg = fs_generation_source(gen, "delta");
        if (seg != NULL) {
            uint64_t s = seg->sequence;
            if (seg->leg_count != ROUTES * FLIGHTS || seg->route_count != ROUTES)
                bad[id]++;
            for (uint32_t r = 0; r < seg->route_count; r++) {
                const fs_route_t *rt = &seg->routes[r];
                for (uint32_t i = 0; i < rt->count; i++) {
                    const fs_leg_t *l = &rt->legs[i];
                    uint64_t want = last_touch(s, r, (unsigned)(l->flight - 1) % FLIGHTS);
                    if (l->last_seen != want || seg->fares[FS_CABIN_FARE(l->cabin[0])].miles != 1000 + want)
                        bad[id]++;
                }
            }
        }
        fs_index_read_end(idx, th);
        reads[id]++;
    }
    fs_index_thread_put(idx, th);
    return NULL;
}

static fs_subscription_t *sub;
static unsigned long sets_seen, gaps, out_of_order;

static void *subscriber_main(void *arg)
{
    (void)arg;
    uint64_t last_generation = 0;
    for (;;) {
        fs_change_set_t *cs;
        uint64_t dropped;
        int r = fs_subscription_next(sub, &cs, &dropped);
        if (r == 1) {
            if (cs->generation <= last_generation)
                out_of_order++;
            last_generation = cs->generation;
            sets_seen++;
            fs_change_set_release(cs);
        } else if (r == FS_ELAGGED) {
            gaps++;
        } else if (__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
            break;
        } else {
            struct pollfd pfd = {.fd = fs_subscription_fd(sub), .events = POLLIN};
            poll(&pfd, 1, 10); /* woken by the next set, or looks again at done */
        }
    }
    return NULL;
}

int main(void)
{
    fs_airport_parse("GRU", 3, &airports[0]);
    /* in code order: a segment's routes are sorted by destination, so route r goes to dests[r] */
    const char *dests[ROUTES] = {"AMS", "CDG", "FCO", "FRA", "LHR", "LIS", "MAD", "ZRH"};
    for (unsigned r = 0; r < ROUTES; r++)
        fs_airport_parse(dests[r], 3, &airports[r + 1]);
    idx = fs_index_new();
    static fs_index_thread_t writer;
    fs_index_thread_register(idx, &writer);
    fs_segment_builder_t *b = fs_segment_builder_new("delta", 1, 1);
    for (unsigned r = 0; r < ROUTES; r++)
        for (unsigned f = 0; f < FLIGHTS; f++) {
            fs_leg_in_t in = leg(r, f, 1);
            CHECK_EQ_INT(fs_segment_builder_add(b, &in), 0);
        }
    CHECK(fs_index_publish_segment(idx, &writer, fs_segment_builder_finish(b, 1)) > 0);
    sub = fs_index_subscribe(idx, 16); /* small: the writer outruns it, and gaps must be told */
    pthread_t readers[READERS], subscriber;
    for (unsigned i = 0; i < READERS; i++)
        pthread_create(&readers[i], NULL, reader_main, (void *)(uintptr_t)i);
    pthread_create(&subscriber, NULL, subscriber_main, NULL);

    static fs_leg_in_t ups[ROUTES * FLIGHTS];
    unsigned long published = 0;
    for (uint64_t s = 2; s < DELTAS + 2; s++) {
        size_t n = 0;
        for (unsigned r = 0; r < ROUTES; r++)
            for (unsigned f = 0; f < FLIGHTS; f++)
                if (touched(s, r, f))
                    ups[n++] = leg(r, f, s);
        const fs_generation_t *gen = fs_index_read_begin(idx, &writer);
        const fs_segment_t *cur = fs_generation_source(gen, "delta");
        fs_index_read_end(idx, &writer); /* the only writer: cur stays until it publishes */
        fs_change_set_t *cs = fs_change_set_new("delta", 1);
        uint64_t hits;
        int rc;
        fs_segment_t *next = fs_segment_apply_delta(cur, "delta", s, (int64_t)s, s, ups, n, NULL, 0, cs, &hits, &rc);
        if (next == NULL) {
            CHECK_EQ_INT(rc, 0);
            fs_change_set_release(cs);
            break;
        }
        fs_publish_t p;
        CHECK_EQ_INT(fs_index_publish_prepare(idx, "delta", &p), 0);
        CHECK(fs_index_publish_commit_changes(idx, &writer, &p, next, cs) > 0);
        published++;
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < READERS; i++)
        pthread_join(readers[i], NULL);
    pthread_join(subscriber, NULL);
    unsigned long total_reads = 0;
    for (unsigned i = 0; i < READERS; i++) {
        CHECK_EQ_INT(bad[i], 0);
        total_reads += reads[i];
    }
    printf("%lu deltas published, %lu reads, %lu change sets received, %lu gaps told\n", published, total_reads, sets_seen,
           gaps);
    CHECK_EQ_INT(published, DELTAS);
    CHECK(total_reads > 0);
    CHECK_EQ_INT(out_of_order, 0);
    CHECK(sets_seen > 0);
    fs_index_unsubscribe(idx, sub);
    fs_index_free(idx);
    TEST_DONE();
}
