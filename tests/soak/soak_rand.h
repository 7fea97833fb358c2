/*  soak_rand — the small fast random numbers the crash and soak drivers
    share (xorshift64*: not for anything but test load). A state must not
    be 0; each thread keeps its own. */
#ifndef SOAK_RAND_H_INCLUDED
#define SOAK_RAND_H_INCLUDED

#include <stdint.h>

static inline uint64_t
soak_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

#endif
