/*
 * tests/unit/test_concurrency_feeds.c: readers search at full speed while the loader pipeline
 * applies thousands of pushes (snapshots as JSON, deltas as msgpack, compaction every two deltas)
 * for three sources, submitted from another thread. Run under TSan by make test: a data race in
 * submit/decode/build/persist/publish/reclaim, or in the status document, fails the run.
 *
 * The data lets a reader judge what it sees alone. A source at sequence s has exactly the legs
 * TP1..TP(legs_for(s)), flight f on day DAY0 + f % 3, and every one of them carries, in cabin c,
 * miles 1000 * s + c, seats 1 + (s + c) % 9 and last_seen BASE_TS + s. A snapshot writes them
 * all; the delta to s rewrites every leg and removes the flights beyond legs_for(s). So a segment
 * in which any leg disagrees with the segment's own sequence, or whose flights are not exactly
 * 1..legs_for(s), mixes two generations (or a half-applied push), and a search total that is not
 * the sum over the generation's segments means the search saw something else than the segments.
 * A source's sequence never goes back from one read to the next.
 */
#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <msgpack.h>
#include "loaders/loaders.h"
#include "tests/test.h"

#if defined(__SANITIZE_THREAD__)
#define FS_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FS_TEST_TSAN 1
#endif
#endif

#ifdef FS_TEST_TSAN
#define PUSHES_PER_SOURCE 600 /* TSan runs this 10-20 times slower: ~20 s on 2 cores */
/* The first report fails the run at once: a race on the push path repeats for every push, and
 * symbolizing thousands of reports would outlast ctest's timeout. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "halt_on_error=1";
}
#elif defined(__SANITIZE_ADDRESS__)
#define PUSHES_PER_SOURCE 1000 /* ~6 s under ASan */
#else
#define PUSHES_PER_SOURCE 3000 /* ~2-5 s */
#endif
#define SOURCES 3
#define READERS 2
#define MAX_LEGS 24
#define DAY0 20788           /* 2026-12-01, worked by hand in test_loaders_store.c */
#define BASE_TS 1795219200LL /* 2026-11-21T00:00:00Z */

static const char *const source_names[SOURCES] = {"s0", "s1", "s2"};

static unsigned legs_for(uint64_t seq)
{
    return 12 + (unsigned)(seq % 9);
}

static unsigned miles_of(uint64_t seq, unsigned cabin)
{
    return (unsigned)(1000 * seq + cabin);
}

static unsigned seats_of(uint64_t seq, unsigned cabin)
{
    return 1 + (unsigned)((seq + cabin) % 9);
}

static int is_snapshot(uint64_t seq)
{
    return seq % 3 == 1;
}

/* ---------------------------------------------------------------- bodies */

static void leg_times(unsigned flight, char dep[32], char arr[32])
{
    unsigned day = 1 + flight % 3, h = 1 + flight % 8, mi = 5 * (flight % 12);
    snprintf(dep, 32, "2026-12-%02uT%02u:%02u:00-03:00", day, h, mi);
    snprintf(arr, 32, "2026-12-%02uT%02u:%02u:00Z", day, h + 13, mi);
}

static void json_leg(char **p, char *end, unsigned flight, uint64_t seq)
{
    char dep[32], arr[32];
    leg_times(flight, dep, arr);
    *p += snprintf(*p, (size_t)(end - *p),
                   "{\"carrier\": \"TP\", \"flight\": %u, \"origin\": \"GRU\", \"destination\": \"LIS\", \"departs_at\": \"%s\", "
                   "\"arrives_at\": \"%s\", \"cabins\": {",
                   flight, dep, arr);
    for (unsigned c = 0; c < FS_CABIN_COUNT; c++)
        *p += snprintf(*p, (size_t)(end - *p),
                       "%s\"%s\": {\"seats\": %u, \"miles\": %u, \"taxes_cents\": 500, \"currency\": \"EUR\"}", c ? ", " : "",
                       fs_cabin_names[c], seats_of(seq, c), miles_of(seq, c));
    *p += snprintf(*p, (size_t)(end - *p), "}}");
}

static uint8_t *snapshot_json(const char *source, uint64_t seq, size_t *len)
{
    size_t cap = 1024 + MAX_LEGS * 640;
    char *body = malloc(cap), *p = body, *end = body + cap;
    unsigned s = (unsigned)(seq % 86400);
    p += snprintf(p, (size_t)(end - p),
                  "{\"source\": \"%s\", \"sequence\": %llu, \"generated_at\": \"2026-11-21T%02u:%02u:%02uZ\", \"legs\": [", source,
                  (unsigned long long)seq, s / 3600, s / 60 % 60, s % 60);
    for (unsigned f = 1; f <= legs_for(seq); f++) {
        if (f > 1)
            p += snprintf(p, (size_t)(end - p), ", ");
        json_leg(&p, end, f, seq);
    }
    p += snprintf(p, (size_t)(end - p), "]}");
    *len = (size_t)(p - body);
    return (uint8_t *)body;
}

static void mp_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* The delta from seq - 1 to seq, as msgpack: every leg of seq upserted, the flights beyond
 * legs_for(seq) that seq - 1 had removed. */
static uint8_t *delta_msgpack(const char *source, uint64_t seq, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char ts[32];
    unsigned s = (unsigned)(seq % 86400);
    snprintf(ts, sizeof(ts), "2026-11-21T%02u:%02u:%02uZ", s / 3600, s / 60 % 60, s % 60);
    msgpack_pack_map(&pk, 5);
    mp_str(&pk, "source");
    mp_str(&pk, source);
    mp_str(&pk, "sequence");
    msgpack_pack_uint64(&pk, seq);
    mp_str(&pk, "generated_at");
    mp_str(&pk, ts);
    mp_str(&pk, "upsert");
    msgpack_pack_array(&pk, legs_for(seq));
    for (unsigned f = 1; f <= legs_for(seq); f++) {
        char dep[32], arr[32];
        leg_times(f, dep, arr);
        msgpack_pack_map(&pk, 7);
        mp_str(&pk, "carrier");
        mp_str(&pk, "TP");
        mp_str(&pk, "flight");
        msgpack_pack_unsigned_int(&pk, f);
        mp_str(&pk, "origin");
        mp_str(&pk, "GRU");
        mp_str(&pk, "destination");
        mp_str(&pk, "LIS");
        mp_str(&pk, "departs_at");
        mp_str(&pk, dep);
        mp_str(&pk, "arrives_at");
        mp_str(&pk, arr);
        mp_str(&pk, "cabins");
        msgpack_pack_map(&pk, FS_CABIN_COUNT);
        for (unsigned c = 0; c < FS_CABIN_COUNT; c++) {
            mp_str(&pk, fs_cabin_names[c]);
            msgpack_pack_map(&pk, 4);
            mp_str(&pk, "seats");
            msgpack_pack_unsigned_int(&pk, seats_of(seq, c));
            mp_str(&pk, "miles");
            msgpack_pack_unsigned_int(&pk, miles_of(seq, c));
            mp_str(&pk, "taxes_cents");
            msgpack_pack_unsigned_int(&pk, 500);
            mp_str(&pk, "currency");
            mp_str(&pk, "EUR");
        }
    }
    unsigned before = legs_for(seq - 1), after = legs_for(seq);
    mp_str(&pk, "remove");
    msgpack_pack_array(&pk, before > after ? before - after : 0);
    for (unsigned f = after + 1; f <= before; f++) {
        char date[16];
        snprintf(date, sizeof(date), "2026-12-%02u", 1 + f % 3);
        msgpack_pack_map(&pk, 4);
        mp_str(&pk, "carrier");
        mp_str(&pk, "TP");
        mp_str(&pk, "flight");
        msgpack_pack_unsigned_int(&pk, f);
        mp_str(&pk, "origin");
        mp_str(&pk, "GRU");
        mp_str(&pk, "date");
        mp_str(&pk, date);
    }
    *len = sb.size;
    return (uint8_t *)sb.data; /* malloc'd by msgpack_sbuffer: the pipeline frees it */
}

/* ------------------------------------------------------------- checking */

/* Problems in one segment judged by itself: 0 when consistent. */
static unsigned segment_problems(const fs_segment_t *seg)
{
    uint64_t s = seg->sequence;
    unsigned bad = 0;
    if (seg->leg_count != legs_for(s))
        return 1;
    uint32_t flights = 0; /* bit f: flight f seen */
    for (uint32_t i = 0; i < seg->leg_count; i++) {
        const fs_leg_t *l = fs_segment_leg_at(seg, i);
        if (l->flight < 1 || l->flight > legs_for(s) || (flights & (1u << l->flight)) || l->day != DAY0 + l->flight % 3 ||
            l->last_seen != (uint32_t)(BASE_TS + (int64_t)s) || l->cabin_mask != (1u << FS_CABIN_COUNT) - 1) {
            bad++;
            continue;
        }
        flights |= 1u << l->flight;
        for (unsigned c = 0; c < FS_CABIN_COUNT; c++)
            if (seg->fares[FS_CABIN_FARE(l->cabin[c])].miles != miles_of(s, c) || FS_CABIN_SEATS(l->cabin[c]) != seats_of(s, c))
                bad++;
    }
    return bad;
}

static fs_index_t *idx;
static fs_feeds_t *feeds;
static int stop_readers;
static unsigned long reads[READERS], inconsistencies[READERS], results_seen[READERS], status_docs[READERS];

static void *reader_main(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    fs_index_thread_t *th = fs_index_thread_get(idx);
    static fs_result_t pages[READERS][FS_SEARCH_MAX_LIMIT];
    fs_result_t *page = pages[id];
    fs_search_query_t q;
    memset(&q, 0, sizeof(q));
    fs_airport_parse("GRU", 3, &q.origins[0]);
    fs_airport_parse("LIS", 3, &q.destinations[0]);
    q.origin_count = q.destination_count = 1;
    q.start_day = DAY0;
    q.end_day = DAY0 + 2;
    q.cabin = -1;
    q.seats = 1;
    q.depart_after = q.depart_before = -1;
    q.sort = FS_SORT_MILES;
    q.limit = FS_SEARCH_MAX_LIMIT;
    uint64_t last_seq[SOURCES] = {0}, last_gen = 0;
    while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
        const fs_generation_t *gen = fs_index_read_begin(idx, th);
        unsigned long bad = 0;
        uint64_t expected_total = 0;
        if (gen->number < last_gen)
            bad++;
        last_gen = gen->number;
        for (unsigned i = 0; i < gen->segment_count; i++) {
            const fs_segment_t *seg = gen->segments[i];
            bad += segment_problems(seg);
            expected_total += (uint64_t)legs_for(seg->sequence) * FS_CABIN_COUNT;
            for (unsigned s = 0; s < SOURCES; s++)
                if (strcmp(seg->source, source_names[s]) == 0) {
                    if (seg->sequence < last_seq[s])
                        bad++;
                    last_seq[s] = seg->sequence;
                }
        }
        fs_search_result_t res;
        if (fs_search(gen, &q, page, &res) != 0 || res.total != expected_total)
            bad++;
        for (unsigned i = 0; i < res.count; i++) {
            const fs_result_t *r = &page[i];
            uint64_t s = r->segment->sequence;
            if (r->miles != miles_of(s, r->cabin) || r->seats != seats_of(s, r->cabin) ||
                r->leg->last_seen != (uint32_t)(BASE_TS + (int64_t)s))
                bad++;
        }
        results_seen[id] += res.count;
        fs_index_read_end(idx, th);
        if (bad && inconsistencies[id] == 0)
            fprintf(stderr, "reader %u: inconsistent view of generation %llu\n", id, (unsigned long long)last_gen);
        inconsistencies[id] += bad;
        /* now and then the status document, as GET /v1/feeds builds it on an event loop */
        if (id == 0 && (reads[id] & 63) == 0) {
            size_t len;
            char *doc = fs_feeds_status_json(feeds, th, NULL, &len);
            if (doc == NULL || strncmp(doc, "{\"generation\": ", 15) != 0 || len != strlen(doc))
                inconsistencies[id]++;
            free(doc);
            status_docs[id]++;
        }
        if ((++reads[id] & 7) == 0)
            sched_yield(); /* event loops are not inside sections all the time */
    }
    fs_index_thread_put(idx, th);
    return NULL;
}

/* ---------------------------------------------------------- submitting */

static unsigned completed, refused, queue_full;
static pthread_mutex_t refused_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_done(fs_feed_job_t *job)
{
    if (job->status != 200) {
        pthread_mutex_lock(&refused_lock);
        if (refused++ < 5)
            fprintf(stderr, "push %s refused: %d %s\n", job->source, job->status, job->response ? job->response : "");
        pthread_mutex_unlock(&refused_lock);
    }
    fs_feed_job_free(job);
    __atomic_add_fetch(&completed, 1, __ATOMIC_ACQ_REL);
}

static void *submitter_main(void *arg)
{
    (void)arg;
    for (uint64_t seq = 1; seq <= PUSHES_PER_SOURCE; seq++)
        for (unsigned s = 0; s < SOURCES; s++) {
            fs_feed_job_t *job = calloc(1, sizeof(*job));
            if (is_snapshot(seq)) {
                job->op = FS_FEED_OP_SNAPSHOT;
                job->format = FS_FEED_JSON;
                job->body = snapshot_json(source_names[s], seq, &job->len);
            } else {
                job->op = FS_FEED_OP_DELTA;
                job->format = FS_FEED_MSGPACK;
                job->body = delta_msgpack(source_names[s], seq, &job->len);
            }
            snprintf(job->source, sizeof(job->source), "%s", source_names[s]);
            job->origin = "push";
            job->done = on_done;
            while (fs_feeds_submit(feeds, job) != 0) { /* the loader's queue is full: back off */
                queue_full++;
                usleep(200);
            }
        }
    return NULL;
}

/* ---------------------------------------------------------------- main */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The final state of every source in idx: sequence PUSHES_PER_SOURCE, consistent. */
static int final_state_ok(fs_index_t *x)
{
    fs_index_thread_t *th = fs_index_thread_get(x);
    const fs_generation_t *gen = fs_index_read_begin(x, th);
    int ok = gen->segment_count == SOURCES;
    for (unsigned s = 0; s < SOURCES; s++) {
        const fs_segment_t *seg = fs_generation_source(gen, source_names[s]);
        if (seg == NULL || seg->sequence != PUSHES_PER_SOURCE || segment_problems(seg) != 0) {
            fprintf(stderr, "source %s: %s at sequence %llu with %u inconsistent legs, expected sequence %u\n", source_names[s],
                    seg ? "present" : "absent", seg ? (unsigned long long)seg->sequence : 0ull, seg ? segment_problems(seg) : 0,
                    PUSHES_PER_SOURCE);
            ok = 0;
        }
    }
    fs_index_read_end(x, th);
    fs_index_thread_put(x, th);
    return ok;
}

int main(void)
{
    /* The data dir: on tmpfs when there is one (this test is about threads, not disks; fsync
     * there costs nothing), else /tmp. */
    char dir[64];
    struct stat sb;
    snprintf(dir, sizeof(dir), "%s/fs-feeds-conc-XXXXXX", stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char err[256];
    fs_store_t *st = fs_store_open(dir, err, sizeof(err));
    CHECK(st != NULL);
    if (st == NULL)
        return 1;
    idx = fs_index_new();
    fs_feeds_config_t cfg = {.loaders = 2, .queue_depth = 64, .compact_deltas = 2, .spool_interval_ms = 0};
    feeds = fs_feeds_start(idx, st, &cfg);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t readers[READERS], submitter;
    for (unsigned i = 0; i < READERS; i++)
        pthread_create(&readers[i], NULL, reader_main, (void *)(uintptr_t)i);
    pthread_create(&submitter, NULL, submitter_main, NULL);
    pthread_join(submitter, NULL);
    const unsigned total = PUSHES_PER_SOURCE * SOURCES;
    while (__atomic_load_n(&completed, __ATOMIC_ACQUIRE) < total)
        usleep(1000);
    /* the last answers are out; let the readers see the final generation for a moment */
    usleep(20000);
    __atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
    unsigned long total_reads = 0, total_bad = 0, total_results = 0, total_status = 0;
    for (unsigned i = 0; i < READERS; i++) {
        pthread_join(readers[i], NULL);
        total_reads += reads[i];
        total_bad += inconsistencies[i];
        total_results += results_seen[i];
        total_status += status_docs[i];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ_INT(refused, 0);
    CHECK_EQ_INT(total_bad, 0);
    CHECK(total_reads > READERS * 10); /* every reader ran */
    CHECK(total_results > 0);
    CHECK(total_status > 0);
    CHECK(final_state_ok(idx));

    /* what the store holds after all that (compactions included) restores the same state */
    fs_feeds_stop(feeds);
    fs_index_free(idx);
    fs_index_t *again = fs_index_new();
    fs_index_thread_t *th = fs_index_thread_get(again);
    CHECK_EQ_INT(fs_store_recover(st, again, th), SOURCES);
    fs_index_thread_put(again, th);
    CHECK(final_state_ok(again));
    fs_index_free(again);
    fs_store_close(st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

    printf("feeds concurrency: %u pushes (%u sources, %u readers) in %.2f s, %lu reads, %lu results, %lu status documents, "
           "%u queue-full retries\n",
           total, SOURCES, READERS, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, total_reads, total_results,
           total_status, queue_full);
    TEST_DONE();
}
