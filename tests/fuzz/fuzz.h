/*
 * tests/fuzz/fuzz.h: what every fuzz target shares. A target is one file, fuzz_<name>.c, that
 * defines LLVMFuzzerTestOneInput and nothing else public. It is linked two ways:
 *   - with libFuzzer (clang, build-fuzz/, make fuzz): coverage-guided runs, tests/fuzz/run.sh;
 *   - with replay_main.c (gcc, build/ and build-asan/, ctest): every file of its corpus and of
 *     its crashes/ folder run once, as the regression test fuzz_replay_<name>.
 * So a target uses no libFuzzer API, initialises itself on first use, frees what it allocates
 * (LeakSanitizer checks it) and reports a broken property with FUZZ_ASSERT, which aborts: both
 * drivers turn an abort into a failure with the input that caused it.
 */
#ifndef FS_TESTS_FUZZ_H
#define FS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the code under test promises did not hold: say which, then abort. */
#define FUZZ_ASSERT(cond, ...)                                                                                             \
    do {                                                                                                                   \
        if (!(cond)) {                                                                                                     \
            fprintf(stderr, "%s:%d: property failed: %s\n  ", __FILE__, __LINE__, #cond);                                  \
            fprintf(stderr, __VA_ARGS__);                                                                                  \
            fputc('\n', stderr);                                                                                           \
            abort();                                                                                                       \
        }                                                                                                                  \
    } while (0)

/* True when s is NUL-terminated within cap bytes and holds only printable ASCII. */
static inline int fuzz_printable(const char *s, size_t cap)
{
    for (size_t i = 0; i < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0')
            return 1;
        if (c < 0x20 || c >= 0x7f)
            return 0;
    }
    return 0;
}

/* True when s is NUL-terminated within cap bytes. */
static inline int fuzz_terminated(const char *s, size_t cap)
{
    for (size_t i = 0; i < cap; i++)
        if (s[i] == '\0')
            return 1;
    return 0;
}

#endif
