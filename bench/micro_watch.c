/*
 * bench/micro_watch.c: what a registered watch costs in memory (src/watch.h). Adds N watches (a
 * nonstop route each, one origin and one destination airport, one day) to an engine over an empty
 * index, so no watch has matching results: the figure is the fixed cost per watch (its criteria,
 * its evaluation state and its entries in the route index). Bytes are jemalloc's stats.allocated
 * before and after (the server's allocator), or the RSS without jemalloc.
 *
 * usage: micro_watch [N]   (default 100000, the most one process holds). One JSON line on stdout.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "index/index.h"
#include "src/watch.h"
#ifdef FS_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static size_t allocated_bytes(void)
{
#ifdef FS_HAVE_JEMALLOC
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch), allocated = 0, asz = sizeof(allocated);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    if (mallctl("stats.allocated", &allocated, &asz, NULL, 0) == 0)
        return allocated;
#endif
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : FS_WATCH_MAX;
    if (n == 0 || n > FS_WATCH_MAX) {
        fprintf(stderr, "usage: micro_watch [N], N from 1 to %d\n", FS_WATCH_MAX);
        return 2;
    }
    fs_index_t *idx = fs_index_new();
    fs_watches_t *ws = idx != NULL ? fs_watches_new(idx) : NULL;
    if (ws == NULL)
        return 1;
    fs_index_thread_t *th = fs_index_thread_get(idx);
    /* the first add allocates the engine's scratch (FS_WATCH_MAX pointers): not a per-watch cost */
    fs_watch_criteria_t c;
    fs_param_error_t err;
    const char *first = "{\"origin\": [\"AAA\"], \"destination\": [\"AAB\"], \"date\": \"2026-12-01\"}";
    uint64_t id, matching;
    if (fs_watch_parse(first, strlen(first), &c, &err) != 0 || fs_watches_add(ws, th, &c, FS_WATCH_ANY_OWNER, UINT_MAX, &id, &matching) != 0)
        return 1;
    size_t before = allocated_bytes();
    for (unsigned i = 1; i < n; i++) {
        char body[160];
        unsigned o = i % 17576, d = (i * 7919u + 1) % 17576; /* 26^3 codes */
        snprintf(body, sizeof(body), "{\"origin\": [\"%c%c%c\"], \"destination\": [\"%c%c%c\"], \"date\": \"2026-12-%02u\"}",
                 'A' + o / 676, 'A' + o / 26 % 26, 'A' + o % 26, 'A' + d / 676, 'A' + d / 26 % 26, 'A' + d % 26, 1 + i % 28);
        if (fs_watch_parse(body, strlen(body), &c, &err) != 0) {
            fprintf(stderr, "%s: %s\n", body, err.message);
            return 1;
        }
        if (fs_watches_add(ws, th, &c, FS_WATCH_ANY_OWNER, UINT_MAX, &id, &matching) != 0)
            return 1;
    }
    size_t after = allocated_bytes();
    printf("{\"watches\": %u, \"bytes_per_watch\": %.0f, \"measured_with\": \"%s\"}\n", n,
           (double)(after - before) / (double)(n - 1),
#ifdef FS_HAVE_JEMALLOC
           "jemalloc stats.allocated"
#else
           "rss"
#endif
    );
    fs_index_thread_put(idx, th);
    fs_watches_free(ws);
    fs_index_free(idx);
    return 0;
}
