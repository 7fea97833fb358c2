/*  bench_clients — recall throughput with several concurrent clients.

    Starts n threads, each with its own memd client (a client is one
    socket, used by one thread), and has them send `total` recalls between
    them (query i by thread i mod n, one request at a time per thread), all
    released together. Reports the throughput over the wall time from that
    release to the last reply, and the latency percentiles of every call.
*/
#ifndef BENCH_CLIENTS_H_INCLUDED
#define BENCH_CLIENTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    size_t clients, calls;
    double seconds;
    double qps;                 /* calls / seconds */
    double p50_us, p99_us, mean_us;
} bench_clients_result_t;

/* Runs the recalls: queries[i % n_queries] (with embeddings + (i % n_queries)
   x dims as its query embedding when embeddings is not NULL), k hits each,
   for agent at endpoint. 0, or -1 when a call failed (with a message on
   stderr). */
int bench_clients_run (const char *endpoint, const char *agent, const char *const *queries,
                       const float *embeddings, size_t dims, size_t n_queries, size_t total,
                       size_t n_clients, unsigned k, bench_clients_result_t *out);

#endif
