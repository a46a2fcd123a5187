/*
 * tests/unit/test_concurrency_keys.c: one key's token bucket taken from four threads at once
 * (fs_key_take_mpmc, what every worker does for a request bearing that key). Run under TSan by
 * make test.
 *
 * The clock is the test's: every thread takes at the same instants, so the bucket's arithmetic
 * alone says how many takes succeed, whatever the interleaving. From a fresh bucket of burst B at
 * time T, exactly B takes succeed at T; at T + k intervals exactly k more; a lost update (two
 * threads both succeeding from one state) would let more through, a spurious failure fewer.
 */
#include <pthread.h>
#include <stdlib.h>
#include "src/internal.h"
#include "tests/test.h"

enum { THREADS = 4, TAKES = 20000, BURST = 5000 };
#define INTERVAL_US 1000u
#define T0_US 1000000000u

static fs_key_account_t account;
static pthread_barrier_t barrier;

typedef struct phase {
    uint64_t now_us;
    unsigned allowed[THREADS];
} phase_t;
static phase_t phases[3] = {{T0_US, {0}}, {T0_US + 7 * INTERVAL_US, {0}}, {T0_US + 7 * INTERVAL_US + 1000 * INTERVAL_US, {0}}};

static void *taker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    for (int p = 0; p < 3; p++) {
        pthread_barrier_wait(&barrier); /* every thread starts the phase together */
        for (int i = 0; i < TAKES; i++)
            phases[p].allowed[id] += fs_key_take_mpmc(&account, phases[p].now_us, INTERVAL_US, BURST).allowed;
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, taker, (void *)(uintptr_t)i);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* phase 0: the fresh bucket's 5000; phase 1: 7 intervals later, 7 came back; phase 2: 1000
     * intervals later, 1000 came back (below the burst, so none is capped away) */
    static const unsigned want[3] = {BURST, 7, 1000};
    for (int p = 0; p < 3; p++) {
        unsigned sum = 0;
        for (unsigned i = 0; i < THREADS; i++)
            sum += phases[p].allowed[i];
        CHECK_EQ_INT(sum, want[p]);
    }
    /* the state after all that: full again at T0 + 1007 intervals + BURST intervals (empty now) */
    CHECK_EQ_INT(account.full_at_us, (uint64_t)T0_US + (1007u + BURST) * INTERVAL_US);
    pthread_barrier_destroy(&barrier);
    TEST_DONE();
}
