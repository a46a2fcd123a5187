/*
 * tests/test.h: the whole unit-test framework. A test program is a main() that runs CHECKs and
 * ends with TEST_DONE(), which prints "N passed, N failed" and returns nonzero on any failure.
 * Expected values in CHECKs come from the test itself (hand-worked or brute force), never from
 * the code under test.
 */
#ifndef FS_TEST_H
#define FS_TEST_H

#include <stdio.h>
#include <string.h>
#include <inttypes.h>

static unsigned test_passed_, test_failed_;

#define CHECK(cond)                                                                                                        \
    do {                                                                                                                   \
        if (cond) {                                                                                                        \
            test_passed_++;                                                                                                \
        } else {                                                                                                           \
            test_failed_++;                                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                      \
        }                                                                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                                                 \
    do {                                                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                                                \
        if (a_ == b_) {                                                                                                    \
            test_passed_++;                                                                                                \
        } else {                                                                                                           \
            test_failed_++;                                                                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, a_, b_);                \
        }                                                                                                                  \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                                                 \
    do {                                                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                                                   \
        if (a_ != NULL && b_ != NULL && strcmp(a_, b_) == 0) {                                                             \
            test_passed_++;                                                                                                \
        } else {                                                                                                           \
            test_failed_++;                                                                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",  \
                    b_ ? b_ : "(null)");                                                                                   \
        }                                                                                                                  \
    } while (0)

#define TEST_DONE()                                                                                                        \
    do {                                                                                                                   \
        printf("%u passed, %u failed\n", test_passed_, test_failed_);                                                     \
        return test_failed_ == 0 && test_passed_ > 0 ? 0 : 1;                                                             \
    } while (0)

#endif
