/*  mem_latency — a latency histogram over a recent window, for status.

    Log-scale buckets (exact below 8 µs, then four per power of two, so a
    reported value is within about 12 % of the truth) in two time slots:
    the current one and the one before it. Percentiles cover both, that is
    the last slot_ms to 2 × slot_ms. Slots rotate when a value is recorded
    or a summary is read, never on a timer: an idle histogram costs nothing.

    A plain struct the owner embeds (no allocation, one thread):

        mem_latency_t lat;
        mem_latency_init (&lat, 10000);
        mem_latency_record (&lat, mem_mono_ms (), 1250);     //  1.25 ms
        mem_latency_summary_t s;
        mem_latency_summary (&lat, mem_mono_ms (), &s);       //  s.p50_us, s.p99_us
*/
#ifndef MEM_LATENCY_H_INCLUDED
#define MEM_LATENCY_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define MEM_LATENCY_BUCKETS 144   /* up to 2^36 µs (19 h); longer counts in the last */

typedef struct {
    uint32_t buckets[2][MEM_LATENCY_BUCKETS];   /* [current slot, previous slot] */
    uint64_t count[2];
    int64_t slot_start_ms;        /* monotonic start of the current slot */
    int64_t slot_ms;
    bool previous_valid;          /* the previous slot is the one just before */
} mem_latency_t;

typedef struct {
    uint64_t p50_us, p99_us;      /* 0 when count is 0 */
    uint64_t count;               /* values in the window */
    int64_t window_ms;            /* how far back the window reaches */
} mem_latency_summary_t;

/* Empties the histogram; slots of slot_ms (> 0). */
void mem_latency_init (mem_latency_t *self, int64_t slot_ms);

/* Records one latency of us microseconds at monotonic time now_ms. */
void mem_latency_record (mem_latency_t *self, int64_t now_ms, uint64_t us);

/* Percentiles of the window ending at now_ms. */
void mem_latency_summary (mem_latency_t *self, int64_t now_ms, mem_latency_summary_t *out);

void mem_latency_test (bool verbose);

#endif
