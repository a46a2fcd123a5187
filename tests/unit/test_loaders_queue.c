/*
 * The feed queues' bounds, with the one loader held still: a source may have cfg.source_jobs jobs
 * and half the byte budget queued, all sources together cfg.queued_bytes; past its share a source
 * is refused alone, and another source sharing the same loader is still taken. Once, each loader
 * had one ring of 63 jobs for every source it served: one partner's flood refused everyone on
 * that loader, and 63 copies of bodies of up to 1 GiB could wait at once.
 */
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>
#include "loaders/loaders.h"
#include "tests/test.h"

#define SOURCE_JOBS 8
#define BUDGET (1u << 20)

static sem_t loader_held, loader_go, finished;

/* The first job's completion: tells the test the loader is inside it, then waits. */
static void hold_done(fs_feed_job_t *job)
{
    fs_feed_job_free(job);
    sem_post(&loader_held);
    while (sem_wait(&loader_go) != 0)
        ;
    sem_post(&finished);
}

static void count_done(fs_feed_job_t *job)
{
    fs_feed_job_free(job);
    sem_post(&finished);
}

static fs_feed_job_t *job(const char *source, size_t body_len, void (*done)(fs_feed_job_t *))
{
    fs_feed_job_t *j = calloc(1, sizeof(*j));
    j->op = FS_FEED_OP_SNAPSHOT;
    j->format = FS_FEED_JSON;
    snprintf(j->source, sizeof(j->source), "%s", source);
    j->body = malloc(body_len);
    memset(j->body, 'x', body_len); /* not a feed: refused 400 once the loader gets to it */
    j->len = body_len;
    j->origin = "test";
    j->done = done;
    return j;
}

static unsigned submitted; /* jobs accepted, each posts finished once */

/* Submits; returns the code, counting accepted jobs and freeing refused ones. */
static int submit(fs_feeds_t *f, const char *source, size_t len)
{
    fs_feed_job_t *j = job(source, len, count_done);
    int r = fs_feeds_submit(f, j);
    if (r == 0)
        submitted++;
    else
        fs_feed_job_free(j);
    return r;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    sem_init(&loader_held, 0, 0);
    sem_init(&loader_go, 0, 0);
    sem_init(&finished, 0, 0);
    char dir[] = "/tmp/fs-queue-XXXXXX", err[256];
    CHECK(mkdtemp(dir) != NULL);
    fs_store_t *st = fs_store_open(dir, err, sizeof(err));
    fs_index_t *idx = fs_index_new();
    CHECK(st != NULL && idx != NULL);
    if (st == NULL || idx == NULL)
        TEST_DONE();
    fs_feeds_config_t cfg = {.loaders = 1, .queue_depth = 64, .compact_deltas = 64, .spool_interval_ms = 0,
                             .source_jobs = SOURCE_JOBS, .queued_bytes = BUDGET};
    fs_feeds_t *f = fs_feeds_start(idx, st, &cfg);

    /* hold the loader inside its first job */
    CHECK_EQ_INT(fs_feeds_submit(f, job("first", 16, hold_done)), 0);
    while (sem_wait(&loader_held) != 0)
        ;

    /* one source floods: exactly SOURCE_JOBS are taken, then it alone is refused, for as long as
     * the flood goes on (100 tries: more than the old ring held) */
    unsigned taken = 0, refused = 0;
    for (int i = 0; i < 100; i++) {
        if (submit(f, "flood", 64) == 0)
            taken++;
        else
            refused++;
    }
    CHECK_EQ_INT(taken, SOURCE_JOBS);
    CHECK_EQ_INT(refused, 100 - SOURCE_JOBS);
    /* other sources on the same (only) loader are still taken */
    CHECK_EQ_INT(submit(f, "other", 64), 0);
    CHECK_EQ_INT(submit(f, "third", 64), 0);

    /* bytes: a source may hold half the budget, all sources the budget */
    size_t used = (size_t)(SOURCE_JOBS + 2) * 64; /* what is queued now (the held job was released) */
    uint64_t qjobs, qbytes; /* what /metrics exports as the loaders' queue depth */
    fs_feeds_queued(f, &qjobs, &qbytes);
    CHECK_EQ_INT(qjobs, SOURCE_JOBS + 2);
    CHECK_EQ_INT(qbytes, used);
    CHECK_EQ_INT(submit(f, "big1", BUDGET / 2 - 100), 0);
    CHECK(submit(f, "big1", 200) != 0); /* past big1's half */
    used += BUDGET / 2 - 100;
    size_t room = BUDGET - used;
    CHECK_EQ_INT(submit(f, "big2", room), 0); /* exactly the rest of the budget */
    CHECK(submit(f, "big3", 1) != 0);         /* one byte over */
    CHECK_EQ_INT(submit(f, "other", 0), 0);   /* a job with no body (DELETE) still fits */
    fs_feeds_queued(f, &qjobs, &qbytes);
    CHECK_EQ_INT(qjobs, SOURCE_JOBS + 2 + 3);
    CHECK_EQ_INT(qbytes, BUDGET);

    /* let the loader go: everything taken completes, and the bounds are free again */
    sem_post(&loader_go);
    for (unsigned i = 0; i < submitted + 1; i++)
        while (sem_wait(&finished) != 0)
            ;
    fs_feeds_queued(f, &qjobs, &qbytes);
    CHECK_EQ_INT(qjobs, 0);
    CHECK_EQ_INT(qbytes, 0);
    CHECK_EQ_INT(submit(f, "big3", BUDGET / 2), 0);
    CHECK_EQ_INT(submit(f, "flood", 64), 0);
    for (int i = 0; i < 2; i++)
        while (sem_wait(&finished) != 0)
            ;
    fs_feeds_stop(f);
    fs_store_close(st);
    fs_index_free(idx);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TEST_DONE();
}
