/*  memd_worker — an example external worker for memd's job queue, and a
    usable one: it runs a shell command per job.

        memd_worker [OPTIONS] KIND...

    The pattern every worker follows, in any language (docs/jobs.md):

        1. Lease jobs of its kinds with a wait (long-poll): memd holds the
           request until a job is due, so the worker never polls.
        2. For each job, do the work; while it runs, Extend the lease with
           the job's fence before it expires (a heartbeat).
        3. Complete the job with its fence, or Fail it (retryable, or fatal
           for input that can never succeed). A refusal of Complete/Fail
           with PERMISSION_DENIED (stale fence) means the lease was lost and
           another worker owns the job now: drop the result.

    With --exec CMD, each job runs `sh -c CMD` with the payload on stdin and
    MEMD_JOB_ID, MEMD_JOB_KIND, MEMD_JOB_ATTEMPT in the environment; exit 0
    completes the job, exit 65 (EX_DATAERR) fails it fatally, any other
    status fails it for a retry. Without --exec the payload is printed on
    stdout and the job completed (an echo worker).

    SIGINT/SIGTERM: stop after the job in hand; while waiting for work, stop
    at once (a job memd hands out at that very moment goes back to the
    queue when its lease expires).
*/
#include "memd_client.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FATAL_JOB 65   //  EX_DATAERR: the job's input is bad, do not retry

static volatile sig_atomic_t s_stop = 0;
static volatile sig_atomic_t s_busy = 0;

//  Waiting for work: leave at once. Working: finish the job first.
static void
s_on_signal (int signum)
{
    if (!s_busy)
        _exit (0);
    s_stop = 1;
}

typedef struct {
    const char *exec;            //  NULL: echo the payload
    int64_t lease_ms;
    bool verbose;
} s_opts_t;

//  Runs CMD for one job with the payload on stdin, extending the lease
//  every third of it. Returns the exit status (or -1 if it could not run).
static int
s_run (memd_client_t *client, const s_opts_t *opts, const Memd__V1__Job *job)
{
    char path[] = "/tmp/memd_worker.XXXXXX";
    int fd = mkstemp (path);
    if (fd < 0)
        return -1;
    unlink (path);
    if (write (fd, job->payload.data, job->payload.len) != (ssize_t) job->payload.len
        || lseek (fd, 0, SEEK_SET) != 0) {
        close (fd);
        return -1;
    }
    sigset_t chld, old;
    sigemptyset (&chld);
    sigaddset (&chld, SIGCHLD);
    sigprocmask (SIG_BLOCK, &chld, &old);
    pid_t pid = fork ();
    if (pid == 0) {
        sigprocmask (SIG_SETMASK, &old, NULL);
        dup2 (fd, STDIN_FILENO);
        close (fd);
        char value[32];
        snprintf (value, sizeof value, "%llu", (unsigned long long) job->id);
        setenv ("MEMD_JOB_ID", value, 1);
        setenv ("MEMD_JOB_KIND", job->kind, 1);
        snprintf (value, sizeof value, "%u", job->attempts);
        setenv ("MEMD_JOB_ATTEMPT", value, 1);
        execl ("/bin/sh", "sh", "-c", opts->exec, (char *) NULL);
        _exit (127);
    }
    close (fd);
    int status = -1;
    if (pid > 0) {
        //  Heartbeat: wait for the child a third of a lease at a time.
        int64_t third = opts->lease_ms / 3 > 0 ? opts->lease_ms / 3 : 1000;
        while (waitpid (pid, &status, WNOHANG) == 0) {
            struct timespec ts = {third / 1000, (third % 1000) * 1000000};
            if (sigtimedwait (&chld, NULL, &ts) < 0 && errno == EAGAIN
                && memd_client_job_extend (client, job->id, job->fence, opts->lease_ms, NULL))
                fprintf (stderr, "memd_worker: job %llu: extend: %s\n",
                         (unsigned long long) job->id, memd_client_error (client));
        }
    }
    sigprocmask (SIG_SETMASK, &old, NULL);
    return pid > 0 && WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  Does one job and reports the outcome to memd.
static void
s_handle (memd_client_t *client, const s_opts_t *opts, const Memd__V1__Job *job)
{
    int rc = 0;
    if (opts->exec)
        rc = s_run (client, opts, job);
    else {
        printf ("job %llu %s: %.*s\n", (unsigned long long) job->id, job->kind,
                (int) job->payload.len, (const char *) job->payload.data);
        fflush (stdout);
    }
    int failed;
    if (rc == 0)
        failed = memd_client_job_complete (client, job->id, job->fence, NULL);
    else {
        char error[128];
        snprintf (error, sizeof error, rc < 0 ? "command could not run or was killed"
                                              : "command exited with status %d",
                  rc);
        failed = memd_client_job_fail (client, job->id, job->fence, rc == EXIT_FATAL_JOB, error,
                                       0, NULL);
    }
    if (failed && memd_client_code (client) == MEMD__V1__CODE__PERMISSION_DENIED)
        fprintf (stderr, "memd_worker: job %llu: lease lost, result dropped\n",
                 (unsigned long long) job->id);
    else if (failed)
        fprintf (stderr, "memd_worker: job %llu: %s\n", (unsigned long long) job->id,
                 memd_client_error (client));
    else if (opts->verbose)
        fprintf (stderr, "memd_worker: job %llu %s\n", (unsigned long long) job->id,
                 rc == 0 ? "done" : "failed");
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: memd_worker [OPTIONS] KIND...\n\n"
             "Leases jobs of the KINDs from memd and runs each (see docs/jobs.md).\n\n"
             "  -e, --endpoint EP    memd's API endpoint (default: as memctl)\n"
             "  -x, --exec CMD       run `sh -c CMD` per job, payload on stdin; exit 0 = done,\n"
             "                       65 = fatal (dead letter), other = retry later\n"
             "                       (default: print the payload and complete the job)\n"
             "  -n, --count N        exit after N jobs (default: run until signalled)\n"
             "  -l, --lease MS       lease time, extended while CMD runs (default 30000)\n"
             "  -w, --wait MS        long-poll wait per Lease (default 60000)\n"
             "      --worker NAME    name recorded as the lease owner\n"
             "  -v, --verbose        log each job on stderr\n");
}

int
main (int argc, char *argv[])
{
    zsys_handler_set (NULL);
    static const struct option options[] = {{"endpoint", required_argument, NULL, 'e'},
                                            {"exec", required_argument, NULL, 'x'},
                                            {"count", required_argument, NULL, 'n'},
                                            {"lease", required_argument, NULL, 'l'},
                                            {"wait", required_argument, NULL, 'w'},
                                            {"worker", required_argument, NULL, 'W'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    s_opts_t opts = {NULL, 30000, false};
    const char *endpoint = NULL;
    long long count = -1, wait_ms = 60000;
    char worker[64];
    snprintf (worker, sizeof worker, "memd_worker-%d", (int) getpid ());
    const char *worker_name = worker;
    int c;
    while ((c = getopt_long (argc, argv, "e:x:n:l:w:vh", options, NULL)) != -1) {
        switch (c) {
        case 'e':
            endpoint = optarg;
            break;
        case 'x':
            opts.exec = optarg;
            break;
        case 'n':
            count = atoll (optarg);
            break;
        case 'l':
            opts.lease_ms = atoll (optarg);
            break;
        case 'w':
            wait_ms = atoll (optarg);
            break;
        case 'W':
            worker_name = optarg;
            break;
        case 'v':
            opts.verbose = true;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    if (optind == argc || count == 0 || opts.lease_ms <= 0 || wait_ms < 0) {
        s_usage (stderr);
        return 2;
    }
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);

    memd_client_t *client = memd_client_new (endpoint, 5000);
    if (!client) {
        fprintf (stderr, "memd_worker: cannot use endpoint %s\n", endpoint ? endpoint : "");
        return 2;
    }
    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    lease.kinds = argv + optind;
    lease.n_kinds = (size_t) (argc - optind);
    lease.max_jobs = 1;
    lease.lease_ms = opts.lease_ms;
    lease.wait_ms = wait_ms;
    lease.worker = (char *) worker_name;
    int exit_code = 0;
    long long done = 0;
    while (!s_stop && (count < 0 || done < count)) {
        Memd__V1__Reply *reply = memd_client_job_lease (client, &lease);
        if (!reply) {
            fprintf (stderr, "memd_worker: lease: %s\n", memd_client_error (client));
            if (memd_client_code (client) != MEMD__V1__CODE__UNAVAILABLE) {
                exit_code = 1;
                break;
            }
            sleep (1);   //  memd is away: try again, gently
            continue;
        }
        s_busy = 1;
        for (size_t i = 0; i < reply->job_lease->n_jobs; i++, done++)
            s_handle (client, &opts, reply->job_lease->jobs[i]);
        s_busy = 0;
        memd_client_reply_free (&reply);
    }
    memd_client_destroy (&client);
    return exit_code;
}
