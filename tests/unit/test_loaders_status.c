/*
 * The feeds status (GET /v1/feeds) never waits for a loader. It runs on an event loop; it once
 * took a mutex that every loader took to record a push, and found each source by a linear scan
 * (quadratic listing). Here a loader is held in the middle of recording a refused push, and the
 * status is read meanwhile: it must answer (with the state before that push) rather than block.
 * Then the listing of published and refused-only sources is checked against a list the test
 * builds itself: sorted by name, every source exactly once, a retired source gone.
 */
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>
#include "loaders/loaders.h"
#include "tests/test.h"

static sem_t loader_held, loader_go, finished;
static int pause_armed;

/* Runs on the loader with the status writers' lock held, before the new table is published. */
static void pause_once(void)
{
    if (!__atomic_exchange_n(&pause_armed, 0, __ATOMIC_ACQ_REL))
        return;
    sem_post(&loader_held);
    while (sem_wait(&loader_go) != 0)
        ;
}

static void done(fs_feed_job_t *job)
{
    fs_feed_job_free(job);
    sem_post(&finished);
}

static void wait_finished(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        while (sem_wait(&finished) != 0)
            ;
}

/* A job the loader refuses with 400 (the body is not a feed), or a DELETE of source. */
static void submit(fs_feeds_t *f, const char *source, fs_feed_op_t op)
{
    fs_feed_job_t *j = calloc(1, sizeof(*j));
    j->op = op;
    j->format = FS_FEED_JSON;
    snprintf(j->source, sizeof(j->source), "%s", source);
    if (op != FS_FEED_OP_DELETE) {
        j->body = malloc(8);
        memcpy(j->body, "notafeed", 8);
        j->len = 8;
    }
    j->origin = "test";
    j->done = done;
    CHECK_EQ_INT(fs_feeds_submit(f, j), 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sources of a status list, in the order listed. */
static unsigned listed_sources(const char *doc, char names[][64], unsigned cap)
{
    unsigned n = 0;
    for (const char *p = strstr(doc, "\"source\": \""); p != NULL && n < cap; p = strstr(p, "\"source\": \"")) {
        p += strlen("\"source\": \"");
        const char *end = strchr(p, '"');
        snprintf(names[n++], 64, "%.*s", (int)(end - p), p);
    }
    return n;
}

/* The "refused" count in a single source's status document. */
static long refused_count(const char *doc)
{
    const char *p = strstr(doc, "\"refused\": ");
    return p != NULL ? strtol(p + strlen("\"refused\": "), NULL, 10) : -1;
}

int main(void)
{
    alarm(60); /* a status read that blocks on the held loader fails here instead of hanging */
    sem_init(&loader_held, 0, 0);
    sem_init(&loader_go, 0, 0);
    sem_init(&finished, 0, 0);
    char dir[] = "/tmp/fs-status-XXXXXX", err[256];
    CHECK(mkdtemp(dir) != NULL);
    fs_store_t *st = fs_store_open(dir, err, sizeof(err));
    fs_index_t *idx = fs_index_new();
    CHECK(st != NULL && idx != NULL);
    if (st == NULL || idx == NULL)
        TEST_DONE();
    fs_index_thread_t *th = fs_index_thread_get(idx);

    /* published sources, straight into the index (empty segments are enough for a status) */
    const char *published[] = {"kappa", "alpha", "omega", "delta"};
    for (unsigned i = 0; i < 4; i++) {
        fs_segment_builder_t *b = fs_segment_builder_new(published[i], 1, 1700000000);
        CHECK(fs_index_publish_segment(idx, th, fs_segment_builder_finish(b, 0)) > 0);
    }
    fs_feeds_config_t cfg = {.loaders = 1, .queue_depth = 64, .compact_deltas = 64, .spool_interval_ms = 0};
    fs_feeds_t *f = fs_feeds_start(idx, st, &cfg);
    CHECK(f != NULL);
    if (f == NULL)
        TEST_DONE();
    fs_feeds_inject_status_pause(f, pause_once);

    /* hold the loader while it records a refused push for "zeta", and read the status meanwhile */
    __atomic_store_n(&pause_armed, 1, __ATOMIC_RELEASE);
    submit(f, "zeta", FS_FEED_OP_SNAPSHOT);
    while (sem_wait(&loader_held) != 0)
        ;
    size_t len = 0;
    char *doc = fs_feeds_status_json(f, th, NULL, &len);
    CHECK(doc != NULL);
    CHECK(doc != NULL && strstr(doc, "\"zeta\"") == NULL); /* not published yet: the state before */
    CHECK(doc != NULL && strstr(doc, "\"kappa\"") != NULL);
    free(doc);
    CHECK(fs_feeds_status_json(f, th, "zeta", &len) == NULL);
    sem_post(&loader_go);
    wait_finished(1);
    doc = fs_feeds_status_json(f, th, "zeta", &len);
    CHECK(doc != NULL && refused_count(doc) == 1);
    free(doc);

    /* refused pushes for 40 more sources in scrambled order, twice for some, and one for a
     * published source: each listed once, all sorted */
    const char *expected[64];
    unsigned n_expected = 0;
    char refused_names[40][16];
    for (unsigned i = 0; i < 40; i++) {
        snprintf(refused_names[i], sizeof(refused_names[i]), "src%02u", (i * 17) % 40);
        submit(f, refused_names[i], FS_FEED_OP_SNAPSHOT);
        expected[n_expected++] = refused_names[i];
    }
    submit(f, "src07", FS_FEED_OP_DELTA);
    submit(f, "kappa", FS_FEED_OP_SNAPSHOT);
    wait_finished(42);
    for (unsigned i = 0; i < 4; i++)
        expected[n_expected++] = published[i];
    expected[n_expected++] = "zeta";
    qsort(expected, n_expected, sizeof(expected[0]), by_name);

    static char names[128][64];
    doc = fs_feeds_status_json(f, th, NULL, &len);
    CHECK(doc != NULL);
    unsigned listed = doc != NULL ? listed_sources(doc, names, 128) : 0;
    CHECK_EQ_INT(listed, n_expected);
    for (unsigned i = 0; i < listed && i < n_expected; i++)
        CHECK_EQ_STR(names[i], expected[i]);
    free(doc);
    doc = fs_feeds_status_json(f, th, "src07", &len);
    CHECK(doc != NULL && refused_count(doc) == 2);
    free(doc);
    doc = fs_feeds_status_json(f, th, "kappa", &len); /* published and refused once */
    CHECK(doc != NULL && refused_count(doc) == 1 && strstr(doc, "\"sequence\": 1") != NULL);
    free(doc);

    /* retiring kappa removes it from both lists */
    submit(f, "kappa", FS_FEED_OP_DELETE);
    wait_finished(1);
    CHECK(fs_feeds_status_json(f, th, "kappa", &len) == NULL);
    doc = fs_feeds_status_json(f, th, NULL, &len);
    CHECK(doc != NULL && listed_sources(doc, names, 128) == n_expected - 1 && strstr(doc, "\"kappa\"") == NULL);
    free(doc);

    fs_feeds_stop(f);
    fs_index_thread_put(idx, th);
    fs_store_close(st);
    fs_index_free(idx);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TEST_DONE();
}
