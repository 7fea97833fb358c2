/*  test_check — the CHECK of the integration test programs (tests/test_*.c).

    A failed condition is reported on stderr with its file, line and a
    printf-style message, and counted in s_failures; the program goes on,
    and returns non-zero at the end when s_failures is not 0. One test
    program is one translation unit, so the counter is a static. */
#ifndef TEST_CHECK_H_INCLUDED
#define TEST_CHECK_H_INCLUDED

#include <stdio.h>

static int s_failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf (stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                          \
            fprintf (stderr, __VA_ARGS__);                                                 \
            fprintf (stderr, "\n");                                                        \
            s_failures++;                                                                  \
        }                                                                                  \
    } while (0)

#endif
