/*
 * fs_index_generation_number (what /readyz reports) called in a tight loop by reader threads while
 * a writer publishes generations as fast as it can; each publish frees the generation it replaced
 * as soon as no reader is inside a section.
 *
 * A version that loads the current generation outside a read section and then reads its number
 * reads freed memory whenever its thread loses the core between the load and the read and the
 * writer reclaims meanwhile. With three busy threads on two cores that happens within the run:
 * the ASan tree (make test) reports the heap-use-after-free (its quarantine keeps every freed
 * generation poisoned), the TSan tree a race between that read and the writer's free. Written
 * that way (as /readyz read it before e141446) the test failed 10 of 10 runs in each tree, ASan's
 * within 0.5 s. Without a sanitizer the test checks what a reader can see: its numbers never go
 * down and never pass the one the writer has announced.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include "index/index.h"
#include "tests/test.h"

#define READERS 2
/* publishes go on for RUN_MS and at least MIN_PUBLISHES (a slow tree runs longer rather than
 * checking less), at most MAX_PUBLISHES; every INTERLEAVE of them the writer waits until every
 * reader has read again */
#define RUN_MS 3000
#define MIN_PUBLISHES 1024u
#define MAX_PUBLISHES 5000000u
#define INTERLEAVE 256u

static fs_index_t *idx;
static int done;
/* the number the writer publishes next, stored before the publish: a reader can never see more */
static uint64_t announced;

typedef struct reader {
    pthread_t thread;
    unsigned long reads;    /* atomic: the writer waits on it */
    unsigned long backward; /* a number lower than one read before */
    unsigned long ahead;    /* a number not yet announced */
} reader_t;

static reader_t readers[READERS];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    fs_index_thread_t *th = fs_index_thread_get(idx);
    uint64_t last = 0;
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        uint64_t n = fs_index_generation_number(idx, th);
        if (n < last)
            r->backward++;
        if (n > __atomic_load_n(&announced, __ATOMIC_ACQUIRE))
            r->ahead++;
        last = n;
        __atomic_store_n(&r->reads, r->reads + 1, __ATOMIC_RELEASE);
    }
    fs_index_thread_put(idx, th);
    return NULL;
}

int main(void)
{
    idx = fs_index_new();
    fs_index_thread_t writer;
    fs_index_thread_register(idx, &writer);
    for (unsigned i = 0; i < READERS; i++)
        pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]);

    /* renumber is the cheapest publish (no segment to build), so the most reclaims per second:
     * it swaps in a new generation and frees the old one like every other publish */
    int64_t start = now_ms();
    uint64_t published = 0, publish_errors = 0;
    while (published < MAX_PUBLISHES && (published < MIN_PUBLISHES || now_ms() - start < RUN_MS)) {
        uint64_t k = published + 1;
        __atomic_store_n(&announced, k, __ATOMIC_RELEASE);
        if (fs_index_renumber(idx, &writer, k) != (int64_t)k)
            publish_errors++;
        published = k;
        if (k % INTERLEAVE == 0) {
            /* readers must run throughout, not only before or after the publishes */
            for (unsigned i = 0; i < READERS; i++) {
                unsigned long seen = __atomic_load_n(&readers[i].reads, __ATOMIC_ACQUIRE);
                while (__atomic_load_n(&readers[i].reads, __ATOMIC_ACQUIRE) < seen + 2)
                    sched_yield();
            }
        }
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    unsigned long reads = 0, backward = 0, ahead = 0;
    for (unsigned i = 0; i < READERS; i++) {
        pthread_join(readers[i].thread, NULL);
        reads += readers[i].reads;
        backward += readers[i].backward;
        ahead += readers[i].ahead;
    }
    printf("%llu publishes, %lu reads of the generation number\n", (unsigned long long)published, reads);
    CHECK_EQ_INT(publish_errors, 0);
    CHECK_EQ_INT(backward, 0);
    CHECK_EQ_INT(ahead, 0);
    CHECK(published >= MIN_PUBLISHES);
    CHECK(reads >= 2 * READERS * (published / INTERLEAVE)); /* readers ran throughout */
    CHECK_EQ_INT(fs_index_generation_number(idx, &writer), published);
    fs_index_free(idx);
    TEST_DONE();
}
