/*
 * The spool (DATA_DIR/inbox/) takes regular files only and keeps what a passing failure did not
 * ingest:
 *   - a symbolic link is refused into failed/ with a .error saying why (once, it was followed:
 *     any file the server could read was ingested);
 *   - a FIFO is refused the same way (once, it was skipped at every scan, forever, with no word;
 *     and one swapped in between the scan and the open would hang the spool thread in open);
 *   - a snapshot whose write fails (an injected I/O error, as a full disk gives) stays in inbox/
 *     and is ingested by a later scan (once, it went to failed/ like an invalid file).
 * Every wait is bounded: a file that never reaches its place fails the check.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "loaders/loaders.h"
#include "tests/test.h"

static const char *const feed_json =
    "{\"source\": \"spooled\", \"sequence\": 1, \"generated_at\": \"2026-11-21T20:00:00Z\", \"legs\": ["
    "{\"carrier\": \"TP\", \"flight\": 82, \"origin\": \"GRU\", \"destination\": \"LIS\","
    " \"departs_at\": \"2026-12-01T21:35:00-03:00\", \"arrives_at\": \"2026-12-02T11:05:00+00:00\","
    " \"cabins\": {\"economy\": {\"seats\": 9, \"miles\": 35000, \"taxes_cents\": 12345, \"currency\": \"BRL\"}}}]}";

/* The same leg from another source: what the storage-fault case pushes. */
static const char *const other_feed_json =
    "{\"source\": \"retried\", \"sequence\": 1, \"generated_at\": \"2026-11-21T20:00:00Z\", \"legs\": ["
    "{\"carrier\": \"TP\", \"flight\": 82, \"origin\": \"GRU\", \"destination\": \"LIS\","
    " \"departs_at\": \"2026-12-01T21:35:00-03:00\", \"arrives_at\": \"2026-12-02T11:05:00+00:00\","
    " \"cabins\": {\"economy\": {\"seats\": 9, \"miles\": 35000, \"taxes_cents\": 12345, \"currency\": \"BRL\"}}}]}";

static int write_old_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        return -1;
    fputs(text, fp);
    fclose(fp);
    /* the spool waits until a file has been still for a second: make it old */
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 10;
    tv[1] = tv[0];
    return utimes(path, tv);
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Waits up to 10 s for path to exist. */
static int appears(const char *path)
{
    for (int i = 0; i < 1000; i++) {
        if (exists(path))
            return 1;
        usleep(10 * 1000);
    }
    return 0;
}

static int file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
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
    char dir[] = "/tmp/fs-spool-XXXXXX", err[256], path[512], target[512], other[512];
    CHECK(mkdtemp(dir) != NULL);
    fs_store_t *st = fs_store_open(dir, err, sizeof(err));
    fs_index_t *idx = fs_index_new();
    CHECK(st != NULL && idx != NULL);
    if (st == NULL || idx == NULL)
        TEST_DONE();

    /* a valid feed outside the inbox, and a link to it inside */
    snprintf(target, sizeof(target), "%s/outside.json", dir);
    CHECK(write_old_file(target, feed_json) == 0);
    snprintf(path, sizeof(path), "%s/inbox/link.json", dir);
    CHECK(symlink(target, path) == 0);
    /* a FIFO */
    snprintf(path, sizeof(path), "%s/inbox/pipe.json", dir);
    CHECK(mkfifo(path, 0600) == 0);

    fs_feeds_config_t cfg = {.loaders = 1, .queue_depth = 64, .compact_deltas = 64, .spool_interval_ms = 20};
    fs_feeds_t *f = fs_feeds_start(idx, st, &cfg);

    snprintf(path, sizeof(path), "%s/inbox/failed/link.json.error", dir);
    CHECK(appears(path) && file_has(path, "not_a_regular_file") && file_has(path, "symbolic link"));
    snprintf(path, sizeof(path), "%s/inbox/done/link.json", dir);
    CHECK(!exists(path));
    snprintf(path, sizeof(path), "%s/inbox/failed/pipe.json.error", dir);
    CHECK(appears(path) && file_has(path, "not_a_regular_file"));
    snprintf(path, sizeof(path), "%s/inbox/pipe.json", dir);
    CHECK(!exists(path));
    fs_index_thread_t *th = fs_index_thread_get(idx);
    CHECK_EQ_INT(fs_index_leg_count(idx, th), 0); /* nothing was ingested through the link */

    /* the next store I/O step fails: the snapshot is not applied, stays, and a later scan takes it */
    fs_store_inject_fault(1);
    snprintf(path, sizeof(path), "%s/inbox/.tap.json.part", dir);
    snprintf(other, sizeof(other), "%s/inbox/tap.json", dir);
    CHECK(write_old_file(path, other_feed_json) == 0 && rename(path, other) == 0);
    snprintf(path, sizeof(path), "%s/inbox/done/tap.json", dir);
    CHECK(appears(path));
    snprintf(path, sizeof(path), "%s/inbox/failed/tap.json", dir);
    CHECK(!exists(path));
    CHECK_EQ_INT(fs_index_leg_count(idx, th), 1);
    fs_index_thread_put(idx, th);

    fs_feeds_stop(f);
    fs_store_close(st);
    fs_index_free(idx);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TEST_DONE();
}
