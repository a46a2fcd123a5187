/*
 * tests/unit/test_index_sources.c: how many sources a generation lists.
 *
 *   (a) 1500 sources published in descending name order (each new one sorts first, the case that
 *       once wrote past a fixed array of 250): every one is listed once, in name order, and found
 *   (b) the limit: with max_sources 3, prepared new sources hold their slot until commit or
 *       abort, a 4th new source is FS_ERANGE, and a source already listed can always be replaced
 *   (c) an allocation failure at prepare is FS_ENOMEM and leaves the generation as it was
 * Expectations are the test's own lists of names, not values read back from the index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "index/index.h"
#include "tests/test.h"

static fs_segment_t *empty_segment(const char *source)
{
    return fs_segment_builder_finish(fs_segment_builder_new(source, 1, 1790000000), 0);
}

static void test_many_descending(void)
{
    enum { N = 1500 };
    fs_index_t *idx = fs_index_new();
    fs_index_set_max_sources(idx, 2000);
    fs_index_thread_t *th = fs_index_thread_get(idx);
    for (int i = N - 1; i >= 0; i--) {
        char name[16];
        snprintf(name, sizeof(name), "src%05d", i);
        CHECK(fs_index_publish_segment(idx, th, empty_segment(name)) > 0);
    }
    const fs_generation_t *gen = fs_index_read_begin(idx, th);
    CHECK_EQ_INT(gen->segment_count, N);
    unsigned in_order = 0, found = 0;
    for (int i = 0; i < N && i < (int)gen->segment_count; i++) {
        char name[16];
        snprintf(name, sizeof(name), "src%05d", i);
        in_order += strcmp(gen->segments[i]->source, name) == 0;
        found += fs_generation_source(gen, name) != NULL;
    }
    CHECK_EQ_INT(in_order, N);
    CHECK_EQ_INT(found, N);
    fs_index_read_end(idx, th);
    fs_index_thread_put(idx, th);
    fs_index_free(idx);
}

static void test_limit(void)
{
    fs_index_t *idx = fs_index_new();
    fs_index_set_max_sources(idx, 3);
    fs_index_thread_t *th = fs_index_thread_get(idx);
    CHECK(fs_index_publish_segment(idx, th, empty_segment("c")) > 0);
    fs_publish_t pa, pb, pd;
    CHECK_EQ_INT(fs_index_publish_prepare(idx, "b", &pa), 0);
    CHECK_EQ_INT(fs_index_publish_prepare(idx, "a", &pb), 0);
    /* 1 listed + 2 reserved: a 4th new source is refused before anything is committed */
    CHECK_EQ_INT(fs_index_publish_prepare(idx, "d", &pd), FS_ERANGE);
    CHECK_EQ_INT(fs_index_publish_segment(idx, th, empty_segment("e")), FS_ERANGE);
    /* replacing a listed source needs no slot */
    CHECK(fs_index_publish_segment(idx, th, empty_segment("c")) > 0);
    fs_index_publish_abort(idx, &pb); /* gives its slot back */
    CHECK_EQ_INT(fs_index_publish_prepare(idx, "d", &pd), 0);
    CHECK(fs_index_publish_commit(idx, th, &pa, empty_segment("b")) > 0);
    CHECK(fs_index_publish_commit(idx, th, &pd, empty_segment("d")) > 0);
    CHECK_EQ_INT(fs_index_publish_segment(idx, th, empty_segment("a")), FS_ERANGE);
    CHECK(fs_index_retire_source(idx, th, "c") > 0);
    CHECK(fs_index_publish_segment(idx, th, empty_segment("a")) > 0);
    const fs_generation_t *gen = fs_index_read_begin(idx, th);
    static const char *const expect[] = {"a", "b", "d"};
    CHECK_EQ_INT(gen->segment_count, 3);
    for (unsigned i = 0; i < 3 && i < gen->segment_count; i++)
        CHECK_EQ_STR(gen->segments[i]->source, expect[i]);
    fs_index_read_end(idx, th);
    fs_index_thread_put(idx, th);
    fs_index_free(idx);
}

static void test_alloc_failure(void)
{
    fs_index_t *idx = fs_index_new();
    fs_index_thread_t *th = fs_index_thread_get(idx);
    int64_t g = fs_index_publish_segment(idx, th, empty_segment("x"));
    CHECK(g > 0);
    fs_index_inject_fault(1);
    fs_publish_t p;
    CHECK_EQ_INT(fs_index_publish_prepare(idx, "y", &p), FS_ENOMEM);
    fs_index_inject_fault(0);
    CHECK_EQ_INT(fs_index_generation_number(idx, th), g);
    const fs_generation_t *gen = fs_index_read_begin(idx, th);
    CHECK_EQ_INT(gen->segment_count, 1);
    fs_index_read_end(idx, th);
    fs_index_thread_put(idx, th);
    fs_index_free(idx);
}

int main(void)
{
    test_many_descending();
    test_limit();
    test_alloc_failure();
    TEST_DONE();
}
