/*  mem_latency — latency percentiles over a recent window; see mem_latency.h. */
#include "mem_latency.h"
#include <stdio.h>
#include <string.h>

//  Bucket of a value: 0..7 exact, then 4 buckets per power of two.
static unsigned
s_bucket (uint64_t us)
{
    if (us < 8)
        return (unsigned) us;
    unsigned e = 63 - (unsigned) __builtin_clzll (us);   //  floor (log2 (us)), >= 3
    unsigned m = (unsigned) (us >> (e - 2)) & 3;           //  the two bits after the top one
    unsigned b = 8 + (e - 3) * 4 + m;
    return b < MEM_LATENCY_BUCKETS ? b : MEM_LATENCY_BUCKETS - 1;
}

//  The value a bucket stands for: its middle.
static uint64_t
s_value (unsigned b)
{
    if (b < 8)
        return b;
    unsigned e = (b - 8) / 4 + 3, m = (b - 8) % 4;
    uint64_t low = (uint64_t) (4 + m) << (e - 2), width = (uint64_t) 1 << (e - 2);
    return low + width / 2;
}

void
mem_latency_init (mem_latency_t *self, int64_t slot_ms)
{
    memset (self, 0, sizeof *self);
    self->slot_ms = slot_ms > 0 ? slot_ms : 1;
}

//  Moves to the slot holding now_ms; the old current becomes the previous
//  slot only if it is the one just before.
static void
s_rotate (mem_latency_t *self, int64_t now_ms)
{
    if (self->count[0] == 0 && !self->previous_valid) {
        self->slot_start_ms = now_ms;   //  nothing recorded: start afresh
        return;
    }
    int64_t elapsed = now_ms - self->slot_start_ms;
    if (elapsed < self->slot_ms)
        return;
    int64_t slots = elapsed / self->slot_ms;
    if (slots == 1) {
        memcpy (self->buckets[1], self->buckets[0], sizeof self->buckets[0]);
        self->count[1] = self->count[0];
        self->previous_valid = true;
    }
    else {
        memset (self->buckets[1], 0, sizeof self->buckets[1]);
        self->count[1] = 0;
        self->previous_valid = false;
    }
    memset (self->buckets[0], 0, sizeof self->buckets[0]);
    self->count[0] = 0;
    self->slot_start_ms += slots * self->slot_ms;
}

void
mem_latency_record (mem_latency_t *self, int64_t now_ms, uint64_t us)
{
    s_rotate (self, now_ms);
    self->buckets[0][s_bucket (us)]++;
    self->count[0]++;
}

//  The value at rank (1-based) of the merged slots.
static uint64_t
s_rank_value (const mem_latency_t *self, uint64_t rank)
{
    uint64_t seen = 0;
    for (unsigned b = 0; b < MEM_LATENCY_BUCKETS; b++) {
        seen += (uint64_t) self->buckets[0][b] + self->buckets[1][b];
        if (seen >= rank)
            return s_value (b);
    }
    return s_value (MEM_LATENCY_BUCKETS - 1);
}

void
mem_latency_summary (mem_latency_t *self, int64_t now_ms, mem_latency_summary_t *out)
{
    s_rotate (self, now_ms);
    memset (out, 0, sizeof *out);
    out->count = self->count[0] + self->count[1];
    out->window_ms = now_ms - self->slot_start_ms + (self->previous_valid ? self->slot_ms : 0);
    if (out->count == 0)
        return;
    //  Nearest rank: the smallest value with at least p % of values at or below it.
    out->p50_us = s_rank_value (self, (out->count * 50 + 99) / 100);
    out->p99_us = s_rank_value (self, (out->count * 99 + 99) / 100);
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
mem_latency_test (bool verbose)
{
    printf (" * mem_latency: ");
    //  Buckets: exact at the bottom, within 12.5 % above, monotonic.
    for (uint64_t v = 0; v < 8; v++)
        assert (s_value (s_bucket (v)) == v);
    unsigned last = 0;
    for (uint64_t v = 1; v < ((uint64_t) 1 << 36); v = v * 9 / 8 + 1) {
        unsigned b = s_bucket (v);
        assert (b >= last);
        last = b;
        uint64_t r = s_value (b);
        assert (r * 8 >= v * 7 && r * 8 <= v * 9);
    }
    assert (s_bucket (UINT64_MAX) == MEM_LATENCY_BUCKETS - 1);

    mem_latency_t lat;
    mem_latency_init (&lat, 1000);
    mem_latency_summary_t s;
    mem_latency_summary (&lat, 5000, &s);
    assert (s.count == 0 && s.p50_us == 0 && s.p99_us == 0);

    //  100 values: 1..99 ms and one of 2 s; p50 ≈ 50 ms, p99 ≈ 99 ms.
    for (int i = 1; i <= 99; i++)
        mem_latency_record (&lat, 5000 + i - 1, (uint64_t) i * 1000);
    mem_latency_record (&lat, 5100, 2000000);
    mem_latency_summary (&lat, 5200, &s);
    assert (s.count == 100);
    assert (s.p50_us * 8 >= 50000 * 7 && s.p50_us * 8 <= 50000 * 9);
    assert (s.p99_us * 8 >= 99000 * 7 && s.p99_us * 8 <= 99000 * 9);
    if (verbose)
        printf ("p50 %llu p99 %llu window %lld ms ", (unsigned long long) s.p50_us,
                (unsigned long long) s.p99_us, (long long) s.window_ms);

    //  The next slot still sees them (previous slot); two slots later, gone.
    mem_latency_record (&lat, 6100, 10);
    mem_latency_summary (&lat, 6500, &s);
    assert (s.count == 101 && s.window_ms == 1500);
    mem_latency_summary (&lat, 7050, &s);
    assert (s.count == 1 && s.p50_us == s_value (s_bucket (10)));
    mem_latency_summary (&lat, 9000, &s);
    assert (s.count == 0 && s.p99_us == 0);

    //  A long idle gap drops everything at once.
    mem_latency_record (&lat, 10000, 5);
    mem_latency_summary (&lat, 100000, &s);
    assert (s.count == 0);
    printf ("OK\n");
}
