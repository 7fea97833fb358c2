/*  bench_daemon — a real memd for a benchmark, on throw-away directories.

    Starts the memd binary (by default the one next to the running bench)
    with --data-dir, --run-dir and --endpoint ipc://…/run/memd.sock under a
    directory the caller owns (usually a fresh mkdtemp), logging to
    memd.log there; waits until it answers a ping; and stops it with
    SIGTERM (SIGKILL if it does not exit in time). memd runs in its own
    process group, so a terminal ^C reaches only the bench, and gets
    PR_SET_PDEATHSIG, so it never outlives the bench.

        bench_daemon_t *daemon = bench_daemon_start (NULL, "/tmp/memd-bench-x1y2z3",
                                                     "bench_x", &interrupted);
        memd_client_t *client = memd_client_new (bench_daemon_endpoint (daemon), 5000);
        ...
        memd_client_destroy (&client);
        int status = bench_daemon_stop (&daemon);   //  memd's exit code, or -signal
*/
#ifndef BENCH_DAEMON_H_INCLUDED
#define BENCH_DAEMON_H_INCLUDED

#include <signal.h>
#include <stdbool.h>

typedef struct _bench_daemon_t bench_daemon_t;

/* Starts memd (memd NULL: next to this executable) on base/data and
   base/run and waits up to 10 s for a ping. name prefixes error messages.
   A set *interrupted (may be NULL) abandons the wait. NULL on failure
   (after printing why, with the tail of memd's log); memd is then stopped. */
bench_daemon_t *bench_daemon_start (const char *memd, const char *base, const char *name,
                                    volatile sig_atomic_t *interrupted);

/* The same, with more memd arguments (NULL-terminated), e.g. --set K=V. */
bench_daemon_t *bench_daemon_start_with (const char *memd, const char *base, const char *name,
                                         volatile sig_atomic_t *interrupted,
                                         const char *const *extra);

/* memd's process id (for /proc). */
int bench_daemon_pid (bench_daemon_t *self);

/* Stops memd (SIGTERM, then SIGKILL after 15 s) and frees the daemon.
   Returns memd's exit code, or minus the signal that ended it; prints the
   log tail when that is not 0. Returns 0 for a NULL daemon. */
int bench_daemon_stop (bench_daemon_t **self_p);

/* The endpoint memd serves (borrowed). */
const char *bench_daemon_endpoint (bench_daemon_t *self);

/* Milliseconds from the spawn to the first answered ping. */
double bench_daemon_ready_ms (bench_daemon_t *self);

/* Prints the last lines of memd's log to stderr, to explain a failure. */
void bench_daemon_log_tail (bench_daemon_t *self);

/* A bench's own signal handling (czmq's would make every call fail):
   SIGINT and SIGTERM set *interrupted, SIGPIPE is ignored. */
void bench_daemon_catch_signals (volatile sig_atomic_t *interrupted);

/* Removes a temporary directory and everything below it (a bench's base). */
void bench_daemon_remove_tree (const char *path);

#endif
