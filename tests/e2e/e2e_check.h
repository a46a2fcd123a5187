/*
 * tests/e2e/e2e_check.h: field checks on decoded answers, shared by the e2e tests. They are
 * static inline because tests/test.h keeps its pass/fail counts per file: each test counts its
 * own checks. `what` names what is being checked; it is printed with a failure.
 */
#ifndef FS_E2E_CHECK_H
#define FS_E2E_CHECK_H

#include <stdio.h>
#include <string.h>
#include "tests/e2e/lib_server.h"
#include "tests/test.h"

static inline void e2e_check_str(const char *what, const msgpack_object *map, const char *key, const char *expected)
{
    char buf[512];
    const char *got = e2e_mp_str(map, key, buf, sizeof(buf));
    CHECK_EQ_STR(got, expected);
    if (got == NULL || strcmp(got, expected) != 0)
        fprintf(stderr, "  field \"%s\" in %s\n", key, what);
}

static inline void e2e_check_int(const char *what, const msgpack_object *map, const char *key, int64_t expected)
{
    int64_t v = 0;
    int ok = e2e_mp_int(map, key, &v);
    CHECK(ok);
    CHECK_EQ_INT(v, expected);
    if (!ok || v != expected)
        fprintf(stderr, "  field \"%s\" in %s\n", key, what);
}

#endif
