/*  bench_clients — concurrent recall clients; see bench_clients.h. */
#include "bench_clients.h"
#include "memd_client.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *endpoint, *agent;
    const char *const *queries;
    const float *embeddings;
    size_t dims, n_queries, total, n_clients, index;
    unsigned k;
    double *latency;            //  per call, shared (each thread its own slots)
    struct s_start *start;
    int rc;
} s_thread_t;

//  The start line: threads check in, then wait for go (or abort).
struct s_start {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t ready;
    bool go, abort;
};

static double
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static void *
s_client (void *arg)
{
    s_thread_t *t = arg;
    memd_client_t *client = memd_client_new (t->endpoint, 60000);
    //  Connect before the start line, so connecting is not measured.
    if (!client || memd_client_ping (client))
        t->rc = -1;
    pthread_mutex_lock (&t->start->lock);
    t->start->ready++;
    pthread_cond_broadcast (&t->start->cond);
    while (!t->start->go)
        pthread_cond_wait (&t->start->cond, &t->start->lock);
    if (t->start->abort)
        t->rc = -1;
    pthread_mutex_unlock (&t->start->lock);
    for (size_t i = t->index; i < t->total && !t->rc; i += t->n_clients) {
        size_t q = i % t->n_queries;
        Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
        recall.query = (char *) t->queries[q];
        recall.k = t->k;
        if (t->embeddings) {
            recall.query_embedding = (float *) (t->embeddings + q * t->dims);
            recall.n_query_embedding = t->dims;
        }
        double sent = s_now_us ();
        Memd__V1__Reply *reply = memd_client_recall (client, t->agent, &recall);
        t->latency[i] = s_now_us () - sent;
        if (!reply) {
            fprintf (stderr, "bench_clients: recall failed: %s\n", memd_client_error (client));
            t->rc = -1;
        }
        memd_client_reply_free (&reply);
    }
    memd_client_destroy (&client);
    return NULL;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int
bench_clients_run (const char *endpoint, const char *agent, const char *const *queries,
                   const float *embeddings, size_t dims, size_t n_queries, size_t total,
                   size_t n_clients, unsigned k, bench_clients_result_t *out)
{
    memset (out, 0, sizeof *out);
    double *latency = calloc (total ? total : 1, sizeof *latency);
    s_thread_t *threads = calloc (n_clients, sizeof *threads);
    pthread_t *ids = calloc (n_clients, sizeof *ids);
    struct s_start start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false};
    if (!latency || !threads || !ids) {
        free (latency);
        free (threads);
        free (ids);
        return -1;
    }
    size_t started = 0;
    for (; started < n_clients; started++) {
        threads[started] = (s_thread_t){endpoint, agent, queries, embeddings, dims, n_queries,
                                        total, n_clients, started, k, latency, &start, 0};
        if (pthread_create (&ids[started], NULL, s_client, &threads[started]))
            break;
    }
    int rc = started == n_clients ? 0 : -1;
    //  Every thread started is connected and waiting: release them together
    //  (or tell them to stop, when one could not start).
    pthread_mutex_lock (&start.lock);
    while (start.ready < started)
        pthread_cond_wait (&start.cond, &start.lock);
    start.go = true;
    start.abort = rc != 0;
    pthread_cond_broadcast (&start.cond);
    pthread_mutex_unlock (&start.lock);
    double begin = s_now_us ();
    for (size_t i = 0; i < started; i++) {
        pthread_join (ids[i], NULL);
        rc = rc ? rc : threads[i].rc;
    }
    double end = s_now_us ();
    if (!rc) {
        out->clients = n_clients;
        out->calls = total;
        out->seconds = (end - begin) / 1e6;
        out->qps = (double) total / out->seconds;
        double sum = 0;
        for (size_t i = 0; i < total; i++)
            sum += latency[i];
        qsort (latency, total, sizeof *latency, s_cmp);
        size_t r50 = (size_t) ceil (0.5 * (double) total), r99 = (size_t) ceil (0.99 * (double) total);
        out->p50_us = latency[(r50 ? r50 : 1) - 1];
        out->p99_us = latency[(r99 ? r99 : 1) - 1];
        out->mean_us = sum / (double) total;
    }
    free (latency);
    free (threads);
    free (ids);
    return rc;
}
