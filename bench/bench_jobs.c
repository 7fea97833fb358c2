/*  bench_jobs — memd's job queue benchmark.

    Against a real memd this program starts on fresh temporary directories
    (and stops at the end), over ipc with the C client, it measures:

    - throughput: jobs per second through enqueue → lease → complete, with
      one producer thread enqueueing N jobs while W worker threads lease
      (long-poll, one job per lease) and complete them, for W = 1 and 8;
      timed from the first enqueue to the last complete;
    - wake-up latency: one worker parked in a Lease on an empty queue, then
      an enqueue; the time from sending the enqueue to the lease's reply
      (and from the enqueue's ack to the lease's reply), p50/p99 over R
      rounds.

    Every call is durable per memd's store/sync (default full: each commit
    fsynced; --sync none measures the queue without the disk). It prints a
    table and writes the numbers as JSON (bench/results/jobs.json).

        bench_jobs [--jobs N] [--rounds R] [--sync full|batch|none]
                   [--memd PATH] [--json PATH]
*/
#include <czmq.h>
#include "memd_client.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_READY_MS 10000   //  how long to wait for memd to answer a ping
#define S_STOP_MS  15000   //  how long to wait for memd to exit on SIGTERM

typedef struct {
    size_t jobs;
    size_t rounds;
    const char *sync;
    const char *memd;
    const char *json;
} s_opts_t;

typedef struct {
    double p50, p99, mean, max;    //  microseconds
} s_stats_t;

typedef struct {
    int workers;
    size_t jobs;
    double seconds;
    double jobs_per_s;
} s_throughput_t;

static char s_endpoint[PATH_MAX];
static char s_base[64];
static pid_t s_memd_pid;

static double
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static s_stats_t
s_stats (double *samples, size_t n)
{
    s_stats_t st = {0, 0, 0, 0};
    if (n == 0)
        return st;
    qsort (samples, n, sizeof *samples, s_compare);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += samples[i];
    st.p50 = samples[n / 2];
    st.p99 = samples[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    st.mean = sum / n;
    st.max = samples[n - 1];
    return st;
}

//  --------------------------------------------------------------------------
//  memd

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove (path);
}

static void
s_memd_stop (void)
{
    if (s_memd_pid <= 0)
        return;
    kill (s_memd_pid, SIGTERM);
    for (int waited = 0; waited < S_STOP_MS; waited += 10) {
        if (waitpid (s_memd_pid, NULL, WNOHANG) == s_memd_pid) {
            s_memd_pid = 0;
            return;
        }
        zclock_sleep (10);
    }
    fprintf (stderr, "bench_jobs: memd did not stop; killing it\n");
    kill (s_memd_pid, SIGKILL);
    waitpid (s_memd_pid, NULL, 0);
    s_memd_pid = 0;
}

//  Starts memd on fresh directories and waits until it answers.
static int
s_memd_start (const s_opts_t *opts)
{
    snprintf (s_base, sizeof s_base, "/tmp/bench_jobs.XXXXXX");
    if (!mkdtemp (s_base)) {
        fprintf (stderr, "bench_jobs: mkdtemp: %s\n", strerror (errno));
        s_base[0] = 0;
        return -1;
    }
    char data[128], run[128], log[128], sync[64];
    snprintf (data, sizeof data, "%s/data", s_base);
    snprintf (run, sizeof run, "%s/run", s_base);
    snprintf (log, sizeof log, "%s/memd.log", s_base);
    snprintf (s_endpoint, sizeof s_endpoint, "ipc://%s/memd.sock", run);
    snprintf (sync, sizeof sync, "store/sync=%s", opts->sync);
    char *argv[] = {(char *) opts->memd, "--data-dir", data, "--run-dir", run, "--endpoint",
                    s_endpoint, "--set", sync, NULL};
    pid_t parent = getpid ();
    fflush (NULL);
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid (0, 0);
        prctl (PR_SET_PDEATHSIG, SIGTERM);   //  never outlive the bench
        if (getppid () != parent)
            _exit (1);
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
            close (fd);
        }
        execv (opts->memd, argv);
        _exit (127);
    }
    s_memd_pid = pid;
    memd_client_t *client = memd_client_new (s_endpoint, 200);
    for (int waited = 0; client && waited < S_READY_MS; waited += 10) {
        if (memd_client_ping (client) == 0) {
            memd_client_destroy (&client);
            return 0;
        }
        if (waitpid (pid, NULL, WNOHANG) == pid) {
            s_memd_pid = 0;
            break;
        }
        zclock_sleep (10);
    }
    memd_client_destroy (&client);
    fprintf (stderr, "bench_jobs: memd did not start (log: %s)\n", log);
    return -1;
}

//  --------------------------------------------------------------------------
//  Throughput

typedef struct {
    const char *kind;
    size_t total;
    size_t done;
    bool failed;
    pthread_mutex_t lock;
} s_run_t;

static void *
s_producer (void *arg)
{
    s_run_t *run = (s_run_t *) arg;
    memd_client_t *client = memd_client_new (s_endpoint, 60000);
    Memd__V1__JobEnqueue job = MEMD__V1__JOB_ENQUEUE__INIT;
    job.kind = (char *) run->kind;
    job.payload.data = (uint8_t *) "{\"record\": 12345, \"op\": \"summarise\"}";
    job.payload.len = strlen ((char *) job.payload.data);
    for (size_t i = 0; i < run->total && client; i++)
        if (memd_client_job_enqueue (client, &job, NULL, NULL)) {
            fprintf (stderr, "bench_jobs: enqueue: %s\n", memd_client_error (client));
            run->failed = true;
            break;
        }
    memd_client_destroy (&client);
    return NULL;
}

static void *
s_worker (void *arg)
{
    s_run_t *run = (s_run_t *) arg;
    memd_client_t *client = memd_client_new (s_endpoint, 60000);
    char *kinds[] = {(char *) run->kind};
    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    lease.kinds = kinds;
    lease.n_kinds = 1;
    lease.max_jobs = 1;
    lease.wait_ms = 200;
    while (client) {
        pthread_mutex_lock (&run->lock);
        bool finished = run->done >= run->total || run->failed;
        pthread_mutex_unlock (&run->lock);
        if (finished)
            break;
        Memd__V1__Reply *reply = memd_client_job_lease (client, &lease);
        if (!reply) {
            fprintf (stderr, "bench_jobs: lease: %s\n", memd_client_error (client));
            run->failed = true;
            break;
        }
        for (size_t i = 0; i < reply->job_lease->n_jobs; i++) {
            const Memd__V1__Job *job = reply->job_lease->jobs[i];
            if (memd_client_job_complete (client, job->id, job->fence, NULL)) {
                fprintf (stderr, "bench_jobs: complete: %s\n", memd_client_error (client));
                run->failed = true;
            }
            pthread_mutex_lock (&run->lock);
            run->done++;
            pthread_mutex_unlock (&run->lock);
        }
        memd_client_reply_free (&reply);
    }
    memd_client_destroy (&client);
    return NULL;
}

static int
s_throughput (int workers, size_t jobs, s_throughput_t *out)
{
    char kind[32];
    snprintf (kind, sizeof kind, "tput-%d", workers);
    s_run_t run = {kind, jobs, 0, false, PTHREAD_MUTEX_INITIALIZER};
    pthread_t producer, threads[64];
    double t0 = s_now_us ();
    pthread_create (&producer, NULL, s_producer, &run);
    for (int i = 0; i < workers; i++)
        pthread_create (&threads[i], NULL, s_worker, &run);
    pthread_join (producer, NULL);
    for (int i = 0; i < workers; i++)
        pthread_join (threads[i], NULL);
    double seconds = (s_now_us () - t0) / 1e6;
    *out = (s_throughput_t){workers, jobs, seconds, jobs / seconds};
    return run.failed ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Wake-up latency

typedef struct {
    double returned_us;
    bool got;
} s_parked_t;

static void *
s_parked (void *arg)
{
    s_parked_t *p = (s_parked_t *) arg;
    memd_client_t *client = memd_client_new (s_endpoint, 10000);
    char *kinds[] = {"wake"};
    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    lease.kinds = kinds;
    lease.n_kinds = 1;
    lease.wait_ms = 10000;
    Memd__V1__Reply *reply = client ? memd_client_job_lease (client, &lease) : NULL;
    p->returned_us = s_now_us ();
    p->got = reply && reply->job_lease->n_jobs == 1;
    if (p->got)
        memd_client_job_complete (client, reply->job_lease->jobs[0]->id,
                                  reply->job_lease->jobs[0]->fence, NULL);
    memd_client_reply_free (&reply);
    memd_client_destroy (&client);
    return NULL;
}

//  Waits until memd reports one parked Lease.
static int
s_wait_parked (memd_client_t *client)
{
    for (int i = 0; i < 2000; i++) {
        Memd__V1__Reply *reply = memd_client_job_stats (client);
        bool parked = reply && reply->job_stats->waiting_workers == 1;
        memd_client_reply_free (&reply);
        if (parked)
            return 0;
        zclock_sleep (1);
    }
    return -1;
}

static int
s_latency (size_t rounds, s_stats_t *from_send, s_stats_t *from_ack)
{
    memd_client_t *client = memd_client_new (s_endpoint, 10000);
    double *sent = calloc (rounds, sizeof *sent), *acked = calloc (rounds, sizeof *acked);
    Memd__V1__JobEnqueue job = MEMD__V1__JOB_ENQUEUE__INIT;
    job.kind = "wake";
    int rc = client && sent && acked ? 0 : -1;
    for (size_t i = 0; i < rounds && rc == 0; i++) {
        s_parked_t parked = {0, false};
        pthread_t thread;
        pthread_create (&thread, NULL, s_parked, &parked);
        rc = s_wait_parked (client);
        double t0 = s_now_us ();
        if (rc == 0 && memd_client_job_enqueue (client, &job, NULL, NULL))
            rc = -1;
        double t1 = s_now_us ();
        pthread_join (thread, NULL);
        if (rc == 0 && !parked.got)
            rc = -1;
        sent[i] = parked.returned_us - t0;
        acked[i] = parked.returned_us - t1;
    }
    if (rc == 0) {
        *from_send = s_stats (sent, rounds);
        *from_ack = s_stats (acked, rounds);
    }
    else
        fprintf (stderr, "bench_jobs: latency round failed: %s\n",
                 client ? memd_client_error (client) : "no client");
    free (sent);
    free (acked);
    memd_client_destroy (&client);
    return rc;
}

//  --------------------------------------------------------------------------
//  Output

static int
s_write_json (const s_opts_t *opts, const s_throughput_t *tput, size_t n_tput,
              const s_stats_t *from_send, const s_stats_t *from_ack)
{
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s", opts->json);
    char *slash = strrchr (dir, '/');
    if (slash) {
        *slash = 0;
        mkdir (dir, 0755);
    }
    FILE *file = fopen (opts->json, "w");
    if (!file) {
        fprintf (stderr, "bench_jobs: cannot write %s: %s\n", opts->json, strerror (errno));
        return -1;
    }
    fprintf (file, "{\n  \"bench\": \"jobs\",\n  \"sync\": \"%s\",\n  \"cores\": %ld,\n",
             opts->sync, sysconf (_SC_NPROCESSORS_ONLN));
    fprintf (file, "  \"throughput\": [");
    for (size_t i = 0; i < n_tput; i++)
        fprintf (file, "%s\n    {\"workers\": %d, \"jobs\": %zu, \"seconds\": %.3f, "
                       "\"jobs_per_s\": %.1f}",
                 i ? "," : "", tput[i].workers, tput[i].jobs, tput[i].seconds,
                 tput[i].jobs_per_s);
    fprintf (file, "\n  ],\n  \"wake_latency_us\": {\n");
    fprintf (file, "    \"rounds\": %zu,\n", opts->rounds);
    fprintf (file, "    \"from_enqueue_sent\": {\"p50\": %.1f, \"p99\": %.1f, \"mean\": %.1f, "
                   "\"max\": %.1f},\n",
             from_send->p50, from_send->p99, from_send->mean, from_send->max);
    fprintf (file, "    \"from_enqueue_acked\": {\"p50\": %.1f, \"p99\": %.1f, \"mean\": %.1f, "
                   "\"max\": %.1f}\n  }\n}\n",
             from_ack->p50, from_ack->p99, from_ack->mean, from_ack->max);
    fclose (file);
    return 0;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: bench_jobs [--jobs N] [--rounds R] [--sync full|batch|none]\n"
                  "                  [--memd PATH] [--json PATH]\n"
                  "  --jobs N     jobs per throughput run (default 5000)\n"
                  "  --rounds R   wake-up latency rounds (default 200)\n"
                  "  --sync S     memd's store/sync (default full, as shipped)\n"
                  "  --memd PATH  the memd binary (default: next to bench_jobs)\n"
                  "  --json PATH  results file (default bench/results/jobs.json)\n");
}

int
main (int argc, char *argv[])
{
    zsys_handler_set (NULL);
    static const struct option options[] = {{"jobs", required_argument, NULL, 'n'},
                                            {"rounds", required_argument, NULL, 'r'},
                                            {"sync", required_argument, NULL, 's'},
                                            {"memd", required_argument, NULL, 'm'},
                                            {"json", required_argument, NULL, 'j'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    static char memd_path[PATH_MAX];
    s_opts_t opts = {5000, 200, "full", NULL, "bench/results/jobs.json"};
    int c;
    while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            opts.jobs = (size_t) atoll (optarg);
            break;
        case 'r':
            opts.rounds = (size_t) atoll (optarg);
            break;
        case 's':
            opts.sync = optarg;
            break;
        case 'm':
            opts.memd = optarg;
            break;
        case 'j':
            opts.json = optarg;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    if (opts.jobs == 0 || opts.rounds == 0) {
        s_usage (stderr);
        return 2;
    }
    if (!opts.memd) {
        ssize_t len = readlink ("/proc/self/exe", memd_path, sizeof memd_path - 1);
        memd_path[len > 0 ? len : 0] = 0;
        char *slash = strrchr (memd_path, '/');
        if (slash)
            snprintf (slash + 1, sizeof memd_path - (size_t) (slash + 1 - memd_path), "memd");
        opts.memd = memd_path;
    }
    signal (SIGPIPE, SIG_IGN);
    int rc = s_memd_start (&opts);
    s_throughput_t tput[2];
    s_stats_t from_send = {0, 0, 0, 0}, from_ack = {0, 0, 0, 0};
    int worker_counts[2] = {1, 8};
    for (int i = 0; i < 2 && rc == 0; i++) {
        fprintf (stderr, "bench_jobs: %zu jobs, %d worker(s)...\n", opts.jobs,
                 worker_counts[i]);
        rc = s_throughput (worker_counts[i], opts.jobs, &tput[i]);
    }
    if (rc == 0) {
        fprintf (stderr, "bench_jobs: wake-up latency, %zu rounds...\n", opts.rounds);
        rc = s_latency (opts.rounds, &from_send, &from_ack);
    }
    s_memd_stop ();
    if (*s_base)
        nftw (s_base, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc) {
        fprintf (stderr, "bench_jobs: failed\n");
        return 1;
    }
    printf ("memd job queue (store/sync=%s, %ld cores)\n\n", opts.sync,
            sysconf (_SC_NPROCESSORS_ONLN));
    printf ("%-44s %12s\n", "throughput: enqueue -> lease -> complete", "jobs/s");
    for (int i = 0; i < 2; i++)
        printf ("  %d worker%-35s %12.0f\n", tput[i].workers, tput[i].workers == 1 ? "" : "s",
                tput[i].jobs_per_s);
    printf ("\n%-44s %10s %10s %10s\n", "lease wake-up after enqueue", "p50 us", "p99 us",
            "max us");
    printf ("  %-42s %10.0f %10.0f %10.0f\n", "from sending the enqueue", from_send.p50,
            from_send.p99, from_send.max);
    printf ("  %-42s %10.0f %10.0f %10.0f\n", "from the enqueue's ack", from_ack.p50,
            from_ack.p99, from_ack.max);
    if (s_write_json (&opts, tput, 2, &from_send, &from_ack) == 0)
        printf ("\nresults: %s\n", opts.json);
    return 0;
}
