/*
 * Readers search while a writer publishes thousands of generations. Every leg of a published
 * segment carries its segment's sequence in last_seen and the leg count is a function of the
 * sequence, so a reader can tell from what it sees alone whether it ever observed a half-built
 * segment or a mix of two generations of one source. Run under TSan by make test: a data race
 * anywhere in publish/read/reclaim fails the run.
 */
#include <sched.h>
#include <stdlib.h>
#include "index/index.h"
#include "tests/test.h"

#define READERS 2
#define PUBLISHES 2000

static fs_index_t *idx;
static int done;
static unsigned long reads[READERS], inconsistencies[READERS], results_seen[READERS];

static unsigned legs_for(uint64_t sequence)
{
    return 20 + (unsigned)(sequence % 13);
}

static fs_segment_t *make_segment(const char *source, uint64_t sequence)
{
    fs_segment_builder_t *b = fs_segment_builder_new(source, sequence, (int64_t)sequence);
    fs_leg_in_t in;
    memset(&in, 0, sizeof(in));
    fs_airport_parse("GRU", 3, &in.origin);
    fs_airport_parse("LIS", 3, &in.destination);
    fs_carrier_parse("TP", 2, &in.carrier);
    in.cabin_mask = 1;
    in.seats[0] = 5;
    in.fare[0].miles = (uint32_t)(1000 + sequence);
    for (unsigned i = 0; i < legs_for(sequence); i++) {
        in.flight = (uint16_t)(i + 1);
        in.departs = (fs_localtime_t){20800 + (int32_t)(i % 3), (uint16_t)(60 * (i % 20)), -180};
        in.arrives = (fs_localtime_t){20800 + (int32_t)(i % 3), (uint16_t)(60 * (i % 20) + 600), 0};
        in.last_seen = (int64_t)sequence;
        if (fs_segment_builder_add(b, &in) != 0)
            abort();
    }
    return fs_segment_builder_finish(b, sequence);
}

static void *reader_main(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    fs_index_thread_t *th = fs_index_thread_get(idx);
    fs_result_t page[100];
    fs_search_query_t q;
    fs_search_query_init(&q);
    fs_airport_parse("GRU", 3, &q.origins[0]);
    fs_airport_parse("LIS", 3, &q.destinations[0]);
    q.origin_count = q.destination_count = 1;
    q.start_day = 20800;
    q.end_day = 20802;
    q.cabin = -1;
    q.seats = 1;
    q.limit = 100;
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        const fs_generation_t *gen = fs_index_read_begin(idx, th);
        for (unsigned s = 0; s < gen->segment_count; s++) {
            const fs_segment_t *seg = gen->segments[s];
            if (seg->leg_count != legs_for(seg->sequence))
                inconsistencies[id]++;
            for (uint32_t r = 0; r < seg->route_count; r++)
                for (uint32_t i = 0; i < seg->routes[r].count; i++) {
                    const fs_leg_t *l = &seg->routes[r].legs[i];
                    if (l->last_seen != seg->sequence || fs_segment_fare(seg, FS_CABIN_FARE(l->cabin[0]))->miles != 1000 + seg->sequence)
                        inconsistencies[id]++;
                }
        }
        fs_search_result_t res;
        fs_search(gen, &q, page, &res);
        uint64_t expected_total = 0;
        for (unsigned s = 0; s < gen->segment_count; s++)
            expected_total += legs_for(gen->segments[s]->sequence);
        if (res.total != expected_total)
            inconsistencies[id]++;
        for (unsigned i = 0; i < res.count; i++)
            if (page[i].leg->last_seen != page[i].segment->sequence)
                inconsistencies[id]++;
        results_seen[id] += res.count;
        fs_index_read_end(idx, th);
        /* Event loops are not inside sections all the time; with three busy threads on two cores,
         * readers that never yield starve the writer for whole scheduler quanta. */
        __atomic_store_n(&reads[id], reads[id] + 1, __ATOMIC_RELEASE);
        if ((reads[id] & 7) == 0)
            sched_yield();
    }
    fs_index_thread_put(idx, th);
    return NULL;
}

int main(void)
{
    idx = fs_index_new();
    fs_index_thread_t writer;
    fs_index_thread_register(idx, &writer);
    pthread_t readers[READERS];
    for (unsigned i = 0; i < READERS; i++)
        pthread_create(&readers[i], NULL, reader_main, (void *)(uintptr_t)i);

    static const char *const sources[] = {"tap", "smiles", "latam"};
    int64_t last = 0, publish_errors = 0;
    for (uint64_t k = 1; k <= PUBLISHES; k++) {
        int64_t g = fs_index_publish_segment(idx, &writer, make_segment(sources[k % 3], k));
        if (g != last + 1)
            publish_errors++;
        last = g;
        if (k % 500 == 0) /* now and then a source leaves and comes back */
            last = fs_index_retire_source(idx, &writer, sources[k % 3]);
        if (k % 50 == 0) {
            /* make the interleaving certain rather than a matter of scheduling: every reader
             * completes new reads while generations keep changing */
            for (unsigned i = 0; i < READERS; i++) {
                unsigned long seen = __atomic_load_n(&reads[i], __ATOMIC_ACQUIRE);
                while (__atomic_load_n(&reads[i], __ATOMIC_ACQUIRE) < seen + 2)
                    sched_yield();
            }
        }
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    unsigned long total_reads = 0, total_bad = 0, total_results = 0;
    for (unsigned i = 0; i < READERS; i++) {
        pthread_join(readers[i], NULL);
        total_reads += reads[i];
        total_bad += inconsistencies[i];
        total_results += results_seen[i];
    }
    printf("%u publishes, %lu reads, %lu results checked\n", PUBLISHES, total_reads, total_results);
    CHECK_EQ_INT(publish_errors, 0);
    CHECK_EQ_INT(total_bad, 0);
    CHECK(total_reads >= 2 * READERS * (PUBLISHES / 50)); /* readers ran throughout */
    CHECK(total_results > 0);
    CHECK_EQ_INT(fs_index_generation_number(idx, &writer), PUBLISHES + PUBLISHES / 500);
    fs_index_free(idx);
    TEST_DONE();
}
